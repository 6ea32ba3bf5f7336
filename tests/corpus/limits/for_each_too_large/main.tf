locals {
  # 120 x 100 = 12,000 keys
  pairs = { for p in setproduct(range(120), range(100)) : "${p[0]}-${p[1]}" => p }
}

resource "fg_target_group" "each" {
  for_each = local.pairs
  port     = 80
}
