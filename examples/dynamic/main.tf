# Nested blocks written from data with `dynamic` blocks: the task definition's containers,
# their port mappings and health checks, the load balancer's listeners and their rules, and
# the service's load balancer attachments all come from the variables and locals below.
# Change a variable and the plan shows the blocks it adds or removes.

variable "replicas" {
  type    = number
  default = 2
}

variable "listener_ports" {
  type        = list(number)
  default     = [8085, 8086]
  description = "One listener per port, each forwarding to the service."
}

variable "fixed_paths" {
  type = map(string)
  default = {
    "/ping"    = "pong"
    "/version" = "dynamic-example 1"
  }
  description = "Paths the load balancer answers itself (path => body), on every listener."
}

locals {
  # Both containers run the same image (busybox httpd), on their own ports: they share the
  # task's network namespace. Only "web" is behind the load balancer.
  containers = {
    web = {
      port    = 8080
      command = null
      health  = "/health"
      behind  = true
    }
    admin = {
      port    = 8081
      command = ["busybox", "httpd", "-f", "-v", "-p", "8081", "-h", "/www"]
      health  = null
      behind  = false
    }
  }
}

resource "fg_registry" "main" {
  port = 5004
}

resource "fg_image" "web" {
  registry   = fg_registry.main.id
  repository = "dynamic-web"
  context    = "${path.module}/app"
}

resource "fg_task_definition" "web" {
  family = "dynamic-web"
  cpu    = 256
  memory = 128

  dynamic "container" {
    for_each = local.containers
    iterator = c
    labels   = [c.key]

    content {
      image     = fg_image.web.uri
      command   = c.value.command
      essential = c.key == "web"

      dynamic "port_mapping" {
        for_each = [c.value.port]
        content {
          container_port = port_mapping.value
        }
      }

      # A health check only where the container has a health path: a dynamic block over
      # a list of zero or one elements is an optional block.
      dynamic "health_check" {
        for_each = c.value.health == null ? [] : [c.value.health]
        iterator = hp
        content {
          command  = ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:${c.value.port}${hp.value} || exit 1"]
          interval = 2
          retries  = 3
        }
      }
    }
  }
}

resource "fg_cluster" "main" {
  name       = "dynamic"
  cidr_block = "10.213.50.0/24"

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

  dynamic "listener" {
    for_each = var.listener_ports
    content {
      port                 = listener.value
      default_target_group = fg_target_group.web.id

      # Rules numbered from 10 in the map's (lexical) key order.
      dynamic "rule" {
        for_each = { for i, p in sort(keys(var.fixed_paths)) : p => i }
        content {
          priority      = 10 + rule.value
          path_patterns = [rule.key]

          fixed_response {
            status_code = 200
            body        = var.fixed_paths[rule.key]
          }
        }
      }
    }
  }
}

resource "fg_service" "web" {
  name            = "dynamic-web"
  cluster         = fg_cluster.main.id
  task_definition = fg_task_definition.web.arn
  desired_count   = var.replicas

  dynamic "load_balancer" {
    for_each = { for name, c in local.containers : name => c if c.behind }
    content {
      target_group   = fg_target_group.web.id
      container_name = load_balancer.key
      container_port = load_balancer.value.port
    }
  }
}

output "urls" {
  description = "One URL per listener; each serves the app, and /ping and /version itself."
  value       = fg_load_balancer.front.endpoints
}

output "containers" {
  value = [for c in fg_task_definition.web.container : "${c.name}:${c.port_mapping[0].container_port}"]
}

# The image as the registry holds it, read back by repository and tag: a data source. It
# depends on the push, so on a first apply it is read once the image is there (the plan
# shows "<= read (data resources)"); afterwards every plan reads it.
data "fg_image" "web" {
  registry   = fg_registry.main.id
  repository = "dynamic-web"
  tag        = "latest"

  depends_on = [fg_image.web]
}

output "image_digest" {
  value = data.fg_image.web.digest
}

# The service was first declared as fg_service.app. This block moves it in state for
# anyone who applied that version: the plan shows "has moved to", and nothing is replaced.
moved {
  from = fg_service.app
  to   = fg_service.web
}
