resource "fg_cluster" "main" {
  # Page onepage two of the notes
  name = "demo cluster"
}

resource "fg_service" "web" {
  cluster       = fg_cluster.main.id
  desired_count =
}
