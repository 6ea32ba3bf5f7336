# A pull request must not make the plan that CI runs on it read files elsewhere on the
# runner: every file function is confined to the root module's directory and the calling
# module's (the module below reads its caller's data.txt, which is fine).
locals {
  absolute = file("/etc/passwd")
  parent   = file("${path.root}/../secret")
  link     = filebase64("link")
  exists   = fileexists("/etc/shadow")
  template = templatefile("/etc/hosts", {})
  nul      = file("data.txt\u0000")
  inside   = file("${path.module}/data.txt")
}

module "m" {
  source = "./m"
}

output "all" {
  value = [local.absolute, local.parent, local.link, local.exists, local.template, local.nul,
  local.inside, module.m.caller_data]
}
