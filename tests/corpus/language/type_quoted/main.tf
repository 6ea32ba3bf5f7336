variable "image" {
  type    = "string"
  default = "nginx"
}

variable "zones" {
  type = "list"
}
