resource "fg_registry" "main" {}

# A pull request must not make the plan read, or the apply send to Docker, files from
# elsewhere on the machine that runs it.
resource "fg_image" "absolute" {
  registry   = fg_registry.main.id
  repository = "absolute"
  context    = "/etc"
}

resource "fg_image" "parent" {
  registry   = fg_registry.main.id
  repository = "parent"
  context    = "${path.module}/.."
}

resource "fg_image" "symlink" {
  registry   = fg_registry.main.id
  repository = "symlink"
  context    = "linked"
}

resource "fg_image" "dockerfile" {
  registry   = fg_registry.main.id
  repository = "dockerfile"
  context    = "app"
  dockerfile = "../../../../../../../../etc/passwd"
}

resource "fg_image" "fine" {
  registry   = fg_registry.main.id
  repository = "fine"
  context    = "${path.module}/app"
}
