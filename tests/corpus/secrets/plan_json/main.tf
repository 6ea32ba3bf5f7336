variable "db_password" {
  type      = string
  sensitive = true
}

resource "fg_cluster" "main" {
  name = var.db_password
}

output "password" {
  value     = var.db_password
  sensitive = true
}

output "literal" {
  value     = "hunter2-literal"
  sensitive = true
}
