variable "db_password" {
  type      = string
  sensitive = true
  default   = "hunter2-secret"
}

variable "settings" {
  type      = map(string)
  sensitive = true
  default   = { region = "hunter2-region" }
}

locals {
  sum     = var.db_password + 1
  chosen  = var.db_password ? "a" : "b"
  negated = !var.db_password
  text    = "%{if var.db_password}yes%{endif}"
  keys    = { for k in [var.db_password, var.db_password] : k => 1 }
}
