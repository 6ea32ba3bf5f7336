"""fgform: Terraform-style provisioning for a local, Docker-based Fargate/ECS fleet."""

__version__ = "0.1.0"
