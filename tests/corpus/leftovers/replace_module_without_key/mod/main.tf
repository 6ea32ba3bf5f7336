resource "fg_cluster" "web" {
  name = "web"
}
