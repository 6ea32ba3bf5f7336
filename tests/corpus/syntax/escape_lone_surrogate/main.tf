resource "fg_cluster" "main" {
  name = "smile-\uD83D"
}
