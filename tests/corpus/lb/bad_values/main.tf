resource "fg_cluster" "main" {}

resource "fg_target_group" "web" {
  health_check {
    matcher = "200-600"
    port    = "trafic-port"
  }
}

resource "fg_target_group" "canary" {}

resource "fg_load_balancer" "front" {
  cluster = fg_cluster.main.id

  listener {
    port = 8080
    forward {
      target_group {
        id     = fg_target_group.web.id
        weight = 1000
      }
      target_group {
        id     = fg_target_group.canary.id
        weight = -1
      }
    }

    rule {
      priority             = 1
      source_ips           = ["10.0.0.300/8", "192.0.2.7"]
      http_request_methods = ["get"]
      http_headers {
        name   = "X Env"
        values = ["canary"]
      }
      redirect {
        status_code = "HTTP_307"
      }
    }
  }
}
