# Two services behind one load balancer that routes by path: /api/* to the api service,
# everything else to the web service; /docs redirects to /api/, and /healthz answers itself.

resource "fg_registry" "main" {
  port = 5001
}

resource "fg_image" "api" {
  registry   = fg_registry.main.id
  repository = "two-services-api"
  context    = "${path.module}/api"
}

resource "fg_image" "web" {
  registry   = fg_registry.main.id
  repository = "two-services-web"
  context    = "${path.module}/web"
}

resource "fg_cluster" "main" {
  name       = "two-services"
  cidr_block = "10.213.20.0/24"
}

module "api" {
  source        = "../../modules/web-service"
  name          = "api"
  cluster_id    = fg_cluster.main.id
  image         = fg_image.api.uri
  desired_count = 2
  path_pattern  = "/api/*"
}

module "web" {
  source     = "../../modules/web-service"
  name       = "web"
  cluster_id = fg_cluster.main.id
  image      = fg_image.web.uri
}

resource "fg_load_balancer" "front" {
  cluster = fg_cluster.main.id

  listener {
    port                 = 8081
    default_target_group = module.web.target_group_id

    rule {
      priority      = 10
      path_patterns = [module.api.path_pattern]
      target_group  = module.api.target_group_id
    }

    rule {
      priority      = 20
      path_patterns = ["/docs", "/docs/*"]
      redirect {
        path        = "/api/"
        query       = ""
        status_code = "HTTP_302"
      }
    }

    rule {
      priority             = 30
      path_patterns        = ["/healthz"]
      http_request_methods = ["GET", "HEAD"]
      fixed_response {
        status_code  = 200
        content_type = "application/json"
        body         = "{\"status\": \"ok\"}"
      }
    }
  }
}

output "url" {
  value = fg_load_balancer.front.endpoints[0]
}
