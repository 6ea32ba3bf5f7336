variable "replicas" {
  default = 1000000000
}

resource "fg_cluster" "many" {
  count = var.replicas
}

module "fleet" {
  source = "./fleet"
  count  = 10001
}
