resource "fg_registry" "main" {
  port = 5001

  lifecycle {
    prevent_destroy = true
  }
}

resource "fg_cluster" "web" {
  count = 2
  name  = "web-${count.index}"
}
