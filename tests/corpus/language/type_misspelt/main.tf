variable "image" {
  type = strin
}

variable "settings" {
  type = object({
    mode = optional(string, "a", "b")
  })
}
