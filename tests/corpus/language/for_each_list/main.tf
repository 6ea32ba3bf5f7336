variable "zones" {
  type    = list(string)
  default = ["a", "b"]
}

variable "names" {
  type    = set(string)
  default = ["web", "api"]
}

# A set, a set-typed variable and a map are what for_each takes.
resource "fg_target_group" "by_set" {
  for_each = toset(var.zones)
  name     = "tg-${each.key}"
}

resource "fg_target_group" "by_set_variable" {
  for_each = var.names
  name     = "tg-${each.key}"
}

resource "fg_target_group" "by_map" {
  for_each = { a = 80, b = 81 }
  port     = each.value
}

# A list is not: its order would name the instances.
resource "fg_cluster" "by_list" {
  for_each = var.zones
  name     = "c-${each.key}"
}

resource "fg_cluster" "by_tuple" {
  for_each = ["x", "y"]
  name     = "c-${each.key}"
}

resource "fg_cluster" "by_numbers" {
  for_each = toset([1, 2])
}
