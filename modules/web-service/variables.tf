variable "name" {
  type        = string
  description = "Service name; also the task definition family and target group name."
}

variable "cluster_id" {
  type        = string
  description = "The `id` of the cluster the service runs on."
}

variable "image" {
  type        = string
  description = "Image to run, e.g. an fg_image `uri`."
}

variable "cpu" {
  type    = number
  default = 256
}

variable "memory" {
  type    = number
  default = 128
}

variable "port" {
  type    = number
  default = 8080
}

variable "desired_count" {
  type    = number
  default = 1

  validation {
    condition     = var.desired_count >= 0
    error_message = "desired_count cannot be negative."
  }
}

variable "path_pattern" {
  type        = string
  default     = "/*"
  description = "Requests whose path matches go to this service."
}

variable "health_path" {
  type    = string
  default = "/health"
}

variable "environment" {
  type    = map(string)
  default = {}
}
