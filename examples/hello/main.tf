# The smallest fgform fleet: one image, built and pushed to fgform's own registry, run as a
# service of two tasks on a cluster, behind a load balancer that ends the apply with its URL.

variable "replicas" {
  type        = number
  default     = 2
  description = "How many tasks the service keeps running."

  validation {
    condition     = var.replicas >= 0 && var.replicas <= 20
    error_message = "replicas must be between 0 and 20."
  }
}

variable "message" {
  type    = string
  default = "Hello from fgform"
}

resource "fg_registry" "main" {
  port = 5000
}

resource "fg_image" "web" {
  registry   = fg_registry.main.id
  repository = "hello-web"
  context    = "${path.module}/app"
}

resource "fg_task_definition" "web" {
  family = "hello-web"
  cpu    = 256
  memory = 128

  container "web" {
    image = fg_image.web.uri
    environment = {
      MESSAGE = var.message
    }
    port_mapping {
      container_port = 8080
    }
    health_check {
      command  = ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/health || exit 1"]
      interval = 2
      retries  = 3
    }
  }
}

resource "fg_cluster" "main" {
  name       = "hello"
  cidr_block = "10.213.10.0/24"

  capacity {
    instance_count  = 2
    instance_cpu    = 1024
    instance_memory = 1024
  }
}

resource "fg_target_group" "web" {
  port = 8080

  health_check {
    path     = "/health"
    interval = 2
  }
}

resource "fg_load_balancer" "front" {
  cluster = fg_cluster.main.id

  listener {
    port                 = 8080
    default_target_group = fg_target_group.web.id
  }
}

resource "fg_service" "web" {
  name            = "web"
  cluster         = fg_cluster.main.id
  task_definition = fg_task_definition.web.arn
  desired_count   = var.replicas

  load_balancer {
    target_group   = fg_target_group.web.id
    container_name = "web"
    container_port = 8080
  }
}

output "url" {
  description = "The load balancer: each request goes to one of the healthy tasks."
  value       = fg_load_balancer.front.endpoints[0]
}

output "task_definition" {
  value = fg_task_definition.web.arn
}

output "image" {
  value = fg_image.web.uri
}

output "task_addresses" {
  description = "Where each task answers, inside the cluster subnet (reachable from the host)."
  value       = [for t in fg_service.web.tasks : "http://${t.address}:8080/"]
}
