resource "fg_registry" "main" {}

resource "fg_image" "web" {
  registry   = fg_registry.main.id
  repository = "web"
  context    = "${path.module}/app"
}

resource "fg_image" "prod" {
  registry   = fg_registry.main.id
  repository = "prod"
  context    = "${path.module}/app"
  dockerfile = "Dockerfile.prod"
}
