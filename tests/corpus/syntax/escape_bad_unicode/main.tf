resource "fg_cluster" "main" {
  name = "caf\uZZZZ-cluster"
}
