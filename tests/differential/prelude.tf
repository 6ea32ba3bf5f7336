# Shared by every corpus batch (copied beside main.tf, for Terraform and fgform alike):
# locals and typed variables the expressions refer to.
locals {
  tpl_hello = "Hello, $${name}!"
  tpl_loop  = "%%{ for x in xs }<$${x}>%%{ endfor }"
  str_set   = toset(["b", "a", "c"])
  num_set   = toset([3, 1, 2])
  a_map     = { b = 2, a = 1, c = 3 }
  a_list    = ["x", "y", "z"]
  objs      = [{ name = "a", n = 1, tags = ["t1"] }, { name = "b", n = 2, tags = [] }]
  obj_map   = { one = { id = 1 }, two = { id = 2 } }
  secret    = sensitive("hunter2")
  nothing   = null
}

variable "typed_list" {
  type    = list(number)
  default = [1, 2, 3]
}

variable "typed_map" {
  type    = map(string)
  default = { a = "x", b = "y" }
}

variable "typed_set" {
  type    = set(string)
  default = ["b", "a"]
}

variable "typed_obj" {
  type = object({ name = string, port = optional(number, 80), tags = optional(list(string)) })
  default = { name = "web" }
}

variable "any_value" {
  type    = any
  default = { a = [1, 2], b = "s" }
}

variable "nullable_str" {
  type    = string
  default = null
}
