variable "negative" {
  type      = number
  default   = -3
  sensitive = true
}

variable "fraction" {
  type      = number
  default   = 2.5
  sensitive = true
}

variable "huge" {
  type      = number
  default   = 987654
  sensitive = true
}

module "a" {
  source = "./mod"
  count  = var.negative
}

module "b" {
  source = "./mod"
  count  = var.fraction
}

module "c" {
  source = "./mod"
  count  = var.huge
}
