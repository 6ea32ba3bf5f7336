variable "replicas" {
  type    = number
  default = 1
}

output "replicas" {
  value = var.replicas
}
