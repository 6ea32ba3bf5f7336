module "m" {
  source = "./m\u0000"
}
