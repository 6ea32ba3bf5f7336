variable "region" {
  default = "eu"
}

variable "cluster_name" {
  default = "fleet-${var.region}"
}

locals {
  suffix = "x"
}

variable "name" {
  type    = string
  default = local.suffix
}

module "net" {
  source = "./net"
}
