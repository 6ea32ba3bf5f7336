resource "fg_cluster" "main" {}

resource "fg_task_definition" "web" {
  family = "web"
  container "web" {
    image = "nginx:alpine"
  }
}

resource "fg_service" "web" {
  cluster         = fg_cluster.main.id
  task_definition = fg_task_definition.web.arn
  desired_count   = 4

  deployment {
    minimum_healthy_percent = 100
    maximum_percent         = 100
  }
}

resource "fg_service" "single" {
  cluster         = fg_cluster.main.id
  task_definition = fg_task_definition.web.arn

  deployment {
    minimum_healthy_percent = 50
    maximum_percent         = 150
  }
}

resource "fg_service" "fine" {
  cluster         = fg_cluster.main.id
  task_definition = fg_task_definition.web.arn
  desired_count   = 2

  deployment {
    minimum_healthy_percent = 50
    maximum_percent         = 100
  }
}
