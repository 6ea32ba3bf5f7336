# A web service: a task definition, the target group the load balancer sends its traffic
# to, and the service that keeps desired_count tasks registered in that group.

resource "fg_task_definition" "this" {
  family = var.name
  cpu    = var.cpu
  memory = var.memory

  container "app" {
    image       = var.image
    environment = merge({ SERVICE_NAME = var.name }, var.environment)
    port_mapping {
      container_port = var.port
    }
    health_check {
      command  = ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:${var.port}${var.health_path} || exit 1"]
      interval = 2
    }
  }
}

resource "fg_target_group" "this" {
  name = var.name
  port = var.port

  health_check {
    path     = var.health_path
    interval = 2
  }
}

resource "fg_service" "this" {
  name            = var.name
  cluster         = var.cluster_id
  task_definition = fg_task_definition.this.arn
  desired_count   = var.desired_count

  load_balancer {
    target_group   = fg_target_group.this.id
    container_name = "app"
    container_port = var.port
  }
}
