resource "fg_cluster" "c" {}
