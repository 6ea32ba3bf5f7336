resource "fg_registry" "main" {}

resource "fg_image" "web" {
  registry   = fg_registry.main.id
  repository = "web"
  context    = "${path.module}/app"
}

resource "fg_image" "api" {
  registry   = fg_registry.main.id
  repository = "api"
  context    = "main.tf"
}
