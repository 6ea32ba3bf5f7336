resource "fg_cluster" "c" {
  cidr_block = "10.213.0.0/24"
}

resource "fg_load_balancer" "lb" {
  cluster = fg_cluster.c.id

  listener {
    port = 1e400
  }
}
