resource "fg_registry" "main" {
  port = 5000
}

# port defaults to 5000 on 127.0.0.1 too.
resource "fg_registry" "mirror" {
}

resource "fg_cluster" "main" {}

resource "fg_load_balancer" "front" {
  cluster      = fg_cluster.main.id
  bind_address = "0.0.0.0"
  listener {
    port = 8080
  }
  listener {
    port = 8443
  }
}

# 0.0.0.0 takes the port on every address, 127.0.0.2 included.
resource "fg_registry" "cache" {
  port         = 8443
  bind_address = "127.0.0.2"
}

# Another address, another port: fine.
resource "fg_registry" "other" {
  port         = 5000
  bind_address = "127.0.0.3"
}
