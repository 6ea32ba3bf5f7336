resource "fg_cluster" "main" {
  name = "demo"
}

output "motd" {
  value = <<EOF
Welcome to the demo cluster.
