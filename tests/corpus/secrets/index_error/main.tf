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
  by_key  = { a = 1 }[var.db_password]
  missing = var.settings["zone"]
  attr    = var.settings.regoin
}
