resource "fg_cluster" "main" {}

resource "fg_target_group" "web" {}

resource "fg_target_group" "api" {}

resource "fg_load_balancer" "front" {
  cluster = fg_cluster.main.id

  listener {
    port                 = 8080
    default_target_group = fg_target_group.web.id
    fixed_response {
      status_code = 404
    }

    rule {
      priority      = 10
      path_patterns = ["/api/*"]
      target_group  = fg_target_group.api.id
    }

    # Same priority as the rule above.
    rule {
      priority     = 10
      host_headers = ["api.example.com"]
      target_group = fg_target_group.api.id
    }

    # No condition: it would match everything.
    rule {
      priority     = 20
      target_group = fg_target_group.web.id
    }

    # No action.
    rule {
      priority             = 30
      http_request_methods = ["POST"]
    }

    # Two actions.
    rule {
      priority     = 40
      source_ips   = ["10.0.0.0/8"]
      target_group = fg_target_group.web.id
      redirect {
        status_code = "HTTP_301"
      }
    }
  }
}
