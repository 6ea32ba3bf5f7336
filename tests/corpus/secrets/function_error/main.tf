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
  port   = parseint(var.db_password, 10)
  lookup = lookup({ a = 1 }, var.db_password)
  number = tonumber(var.db_password)
}
