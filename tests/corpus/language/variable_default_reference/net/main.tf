variable "prefix" {
  default = "net"
}

# In a module too, and even when what it names does not exist.
variable "name" {
  default = "${var.prefix}-${local.missing}"
}

output "name" {
  value = var.name
}
