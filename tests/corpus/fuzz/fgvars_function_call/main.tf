variable "a" {}

variable "b" {
  default = []
}
