# Python's JSON decoder recurses once per level: a deep document is an error at the call.
locals {
  deep = jsondecode(file("${path.module}/deep.json"))
}

output "o" {
  value = local.deep
}
