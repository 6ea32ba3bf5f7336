resource "fg_cluster" "main" {
  name = "demo"
}

output "motd" {
  value = <<EOT
Welcome to the demo cluster.
EOF
}
