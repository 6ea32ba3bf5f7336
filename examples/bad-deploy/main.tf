# A bad revision, stopped by the circuit breaker and rolled back. Apply once (revision 1
# runs), then apply with `-var app_version=2 -var health_path=/missing`: the new revision's
# health check fails, the breaker trips after 3 failed tasks, the service rolls back to
# revision 1 while the load balancer keeps answering, and the apply fails naming revision 2,
# the reason and the failed task's health-check output. `fgform events web` tells the story.

variable "app_version" {
  type        = string
  default     = "1"
  description = "Changing it makes a new task definition revision (it is in the environment)."
}

variable "health_path" {
  type        = string
  default     = "/health"
  description = "Path the container health check fetches; a missing one never passes."
}

resource "fg_registry" "main" {
  port = 5003
}

resource "fg_image" "web" {
  registry   = fg_registry.main.id
  repository = "bad-deploy-web"
  context    = "${path.module}/app"
}

resource "fg_task_definition" "web" {
  family = "bad-deploy-web"
  cpu    = 256
  memory = 128

  container "web" {
    image = fg_image.web.uri
    environment = {
      MESSAGE = "version ${var.app_version}"
    }
    port_mapping {
      container_port = 8080
    }
    health_check {
      command  = ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080${var.health_path} || exit 1"]
      interval = 2
      retries  = 2
    }
  }
}

resource "fg_cluster" "main" {
  name       = "bad-deploy"
  cidr_block = "10.213.40.0/24"
}

resource "fg_target_group" "web" {
  port                 = 8080
  deregistration_delay = 2

  health_check {
    path     = "/health"
    interval = 2
  }
}

resource "fg_load_balancer" "front" {
  cluster = fg_cluster.main.id

  listener {
    port                 = 8084
    default_target_group = fg_target_group.web.id
  }
}

resource "fg_service" "web" {
  name            = "web"
  cluster         = fg_cluster.main.id
  task_definition = fg_task_definition.web.arn
  desired_count   = 2

  load_balancer {
    target_group   = fg_target_group.web.id
    container_name = "web"
    container_port = 8080
  }

  deployment {
    minimum_healthy_percent = 50
    maximum_percent         = 150

    circuit_breaker {
      enable   = true
      rollback = true
    }
  }
}

output "url" {
  value = fg_load_balancer.front.endpoints[0]
}
