variable "name" {
  type    = string
  default = "web"
}

output "greeting" {
  value = "hello ${var.name}"
}
