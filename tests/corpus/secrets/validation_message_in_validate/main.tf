variable "api_token" {
  type      = string
  sensitive = true
  default   = "hunter2-default"

  validation {
    condition     = startswith(var.api_token, "tok-")
    error_message = "The token ${var.api_token} must start with \"tok-\"."
  }
}
