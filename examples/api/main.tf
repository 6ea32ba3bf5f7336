# The fleet the API walk-through drives (README.md): examples/hello's registry, image, task
# definition, cluster, load balancer and service `web`, on ports and a subnet of their own so
# both examples can run side by side. `fgform serve` then lets the aws CLI scale `web`.

variable "replicas" {
  type        = number
  default     = 2
  description = "How many tasks the configuration says `web` runs (the API may change it: drift)."
}

resource "fg_registry" "main" {
  port = 5005
}

resource "fg_image" "web" {
  registry   = fg_registry.main.id
  repository = "api-web"
  context    = "${path.module}/app"
}

resource "fg_task_definition" "web" {
  family = "api-web"
  cpu    = 256
  memory = 128

  container "web" {
    image = fg_image.web.uri
    environment = {
      MESSAGE = "Hello from a service the aws CLI scales"
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
  name       = "api"
  cidr_block = "10.213.60.0/24"

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
    port                 = 8085
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

  # Uncomment to let the API (an autoscaler, a script) own the count, as Terraform users do
  # with autoscaled ECS services: `plan` then no longer shows an UpdateService as drift.
  # lifecycle {
  #   ignore_changes = [desired_count]
  # }
}

output "url" {
  description = "The load balancer: each request goes to one of the healthy tasks."
  value       = fg_load_balancer.front.endpoints[0]
}
