# Python's backtracking `re` takes exponential time on this pattern; RE2 (Terraform's engine)
# answers at once.
locals {
  slow = regexall("(a+)+$", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!")
  bad  = regex("(a)\\1", "aa")
}

output "slow" {
  value = local.slow
}

output "bad" {
  value = local.bad
}
