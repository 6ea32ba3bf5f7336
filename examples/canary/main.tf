# A canary release: one load balancer splits traffic 90/10 between the stable service and
# the canary with a weighted forward. Move `canary_weight` up as the canary proves itself;
# stickiness keeps each client on the version it first got.

variable "canary_weight" {
  type        = number
  default     = 10
  description = "Share of requests (out of 100) that go to the canary."

  validation {
    condition     = var.canary_weight >= 0 && var.canary_weight <= 100
    error_message = "canary_weight must be between 0 and 100."
  }
}

resource "fg_registry" "main" {
  port = 5002
}

resource "fg_image" "app" {
  registry   = fg_registry.main.id
  repository = "canary-app"
  context    = "${path.module}/app"
}

resource "fg_cluster" "main" {
  name       = "canary"
  cidr_block = "10.213.30.0/24"
}

module "stable" {
  source        = "../../modules/web-service"
  name          = "stable"
  cluster_id    = fg_cluster.main.id
  image         = fg_image.app.uri
  desired_count = 2
  environment   = { MESSAGE = "stable" }
}

module "canary" {
  source      = "../../modules/web-service"
  name        = "canary"
  cluster_id  = fg_cluster.main.id
  image       = fg_image.app.uri
  environment = { MESSAGE = "canary" }
}

resource "fg_load_balancer" "front" {
  cluster = fg_cluster.main.id

  listener {
    port = 8082
    forward {
      target_group {
        id     = module.stable.target_group_id
        weight = 100 - var.canary_weight
      }
      target_group {
        id     = module.canary.target_group_id
        weight = var.canary_weight
      }
      stickiness {
        enabled  = true
        duration = 600
      }
    }
  }
}

output "url" {
  value = fg_load_balancer.front.endpoints[0]
}
