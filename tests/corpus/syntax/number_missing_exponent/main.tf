variable "replicas" {
  type    = number
  default = 5e
}

output "replicas" {
  value = var.replicas
}
