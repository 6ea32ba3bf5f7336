resource "fg_registry" "main" {}
