variable "token" {
  type      = string
  sensitive = true
  default   = "tok-SECRET-1234"
}

resource "fg_cluster" "main" {
  name = "main"
}
