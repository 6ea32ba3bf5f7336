variable "api_keys" {
  type      = list(string)
  sensitive = true
}
