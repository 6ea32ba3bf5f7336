resource "fg_cluster" "main cluster" {
}

resource "fg_registry" "1st" {
}

output "url.public" {
  value = "x"
}
