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

resource "fg_cluster" "counted" {
  count = upper(var.db_password)
  name  = "counted"
}

resource "fg_cluster" "main" {
  name               = "main"
  placement_strategy = upper(var.db_password)
}
