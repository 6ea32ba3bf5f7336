variable "db_password" {
  type      = number
  sensitive = true
}

output "ok" {
  value = "fine"
}
