output "caller_data" {
  value = file("${path.module}/../data.txt")
}
