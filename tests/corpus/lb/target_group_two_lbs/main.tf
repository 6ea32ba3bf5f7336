resource "fg_cluster" "main" {}

resource "fg_target_group" "web" {}

resource "fg_load_balancer" "public" {
  cluster = fg_cluster.main.id
  listener {
    port                 = 8080
    default_target_group = fg_target_group.web.id
  }
}

resource "fg_load_balancer" "internal" {
  cluster = fg_cluster.main.id
  listener {
    port = 9090
    forward {
      target_group {
        id = fg_target_group.web.id
      }
    }
  }
}
