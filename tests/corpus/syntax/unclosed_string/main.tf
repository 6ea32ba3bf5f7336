resource "fg_cluster" "main" {
  name = "demo
}

resource "fg_service" "web" {
  cluster = fg_cluster.main.id
  name    = "web"
}
