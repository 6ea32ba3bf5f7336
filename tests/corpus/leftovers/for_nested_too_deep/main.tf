locals {
  # 1024 x 1024 is within the limit.
  grid = [for i in range(1024) : [for j in range(1024) : i * j]]

  # 1024 x 1024 x 1024 is not, nor its template twin.
  cube = [
    for i in range(1024) : [
      for j in range(1024) : [for k in range(1024) : k]
    ]
  ]
  text = "%{for i in range(1024)}%{for j in range(1024)}%{for k in range(1024)}%{endfor}%{endfor}%{endfor}"
}

output "sizes" {
  value = [length(local.grid), length(local.cube), length(local.text)]
}
