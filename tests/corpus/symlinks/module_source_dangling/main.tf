output "ok" {
  value = 1
}

module "app" {
  source = "./modules/app"
}
