locals {
  padded   = format("%999999999d", 1)
  precise  = format("%.99999999f", 1)
  grid     = setproduct(range(1000), range(1000))
  doubled  = replace(format("%1000000s", "x"), " ", "  ")
  indented = indent(2000000, "a\nb")
  wide     = join(",", [for i in range(1000) : format("%2000s", i)])
  flat     = flatten([for i in range(200) : range(1000)])
}

output "all" {
  value = [local.padded, local.precise, length(local.grid), local.doubled, local.indented,
           local.wide, length(local.flat)]
}
