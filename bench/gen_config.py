"""Generate an N-resource fgform configuration for benchmarks.

The shape: one cluster, then task definitions (with a nested container block, environment,
port mapping and health check) and services referencing them, half and half.
`kind="task_definitions"` writes N task definitions only (pure state: no Docker object, so
apply benchmarks need no fleet). `generate_terraform` writes the same shapes as
`terraform_data` resources (the attributes under `input = {...}`, references to another
resource's computed `id`), for comparing with Terraform.

    python bench/gen_config.py 1000 DIR                            # the mixed shape
    python bench/gen_config.py 1000 DIR --kind task_definitions
    python bench/gen_config.py 1000 DIR --terraform [--kind ...]
"""

from __future__ import annotations

from pathlib import Path

TASK = '''resource "fg_task_definition" "app{i}" {{
  family = "app{i}"
  cpu    = 256
  memory = 128

  container "web" {{
    image = "127.0.0.1:5000/app@sha256:{digest}"
    environment = {{
      INDEX = "{i}"
      MODE  = var.mode
    }}
    port_mapping {{
      container_port = 8080
    }}
    health_check {{
      command  = ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1"]
      interval = 2
    }}
  }}
}}

'''

SERVICE = '''resource "fg_service" "app{i}" {{
  cluster         = fg_cluster.main.id
  task_definition = fg_task_definition.app{i}.arn
  desired_count   = var.replicas
  deployment {{
    minimum_healthy_percent = 50
    maximum_percent         = 200
  }}
}}

'''

HEADER = '''variable "replicas" {
  type    = number
  default = 0
}

variable "mode" {
  type    = string
  default = "bench"
}

resource "fg_cluster" "main" {
  name = "bench"
  capacity {
    instance_count  = 4
    instance_cpu    = 4096
    instance_memory = 8192
  }
}

'''


TF_TASK = '''resource "terraform_data" "td_app{i}" {{
  input = {{
    family = "app{i}"
    cpu    = 256
    memory = 128
    container = [{{
      name  = "web"
      image = "127.0.0.1:5000/app@sha256:{digest}"
      environment = {{
        INDEX = "{i}"
        MODE  = var.mode
      }}
      port_mapping = [{{
        container_port = 8080
      }}]
      health_check = {{
        command  = ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1"]
        interval = 2
      }}
    }}]
  }}
}}

'''

TF_SERVICE = '''resource "terraform_data" "svc_app{i}" {{
  input = {{
    cluster         = terraform_data.cluster_main.id
    task_definition = terraform_data.td_app{i}.id
    desired_count   = var.replicas
    deployment = {{
      minimum_healthy_percent = 50
      maximum_percent         = 200
    }}
  }}
}}

'''

TF_CLUSTER = '''resource "terraform_data" "cluster_main" {
  input = {
    name = "bench"
    capacity = {
      instance_count  = 4
      instance_cpu    = 4096
      instance_memory = 8192
    }
  }
}

'''

KINDS = ("mixed", "task_definitions")


def generate(n: int, out: Path, files: int = 10, kind: str = "mixed") -> None:
    """Write about n resources: `mixed` is n // 2 task definitions + as many services + 1
    cluster; `task_definitions` is exactly n task definitions."""
    _write(n, out, files, kind, HEADER, TASK, SERVICE)


def generate_terraform(n: int, out: Path, files: int = 10, kind: str = "mixed") -> None:
    """The same shapes as `generate`, as Terraform `terraform_data` resources."""
    _write(n, out, files, kind, HEADER.split('resource "fg_cluster"')[0] + TF_CLUSTER,
           TF_TASK, TF_SERVICE)


def _write(n: int, out: Path, files: int, kind: str, header: str, task: str,
           service: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.tf"):
        old.unlink()
    if kind == "task_definitions":
        header = header.split("resource ")[0]  # the variables only: no cluster
        groups, templates = max(1, n), (task,)
    else:
        groups, templates = max(1, (n - 1) // 2), (task, service)
    per_file = max(1, groups // files)
    (out / "main.tf").write_text(header)
    chunk: list[str] = []
    fileno = 0
    for i in range(groups):
        digest = f"{i:064x}"
        chunk.extend(t.format(i=i, digest=digest) for t in templates)
        if len(chunk) >= len(templates) * per_file:
            (out / f"apps{fileno:03d}.tf").write_text("".join(chunk))
            chunk, fileno = [], fileno + 1
    if chunk:
        (out / f"apps{fileno:03d}.tf").write_text("".join(chunk))


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int)
    ap.add_argument("out", type=Path)
    ap.add_argument("--kind", choices=KINDS, default="mixed")
    ap.add_argument("--terraform", action="store_true", help="terraform_data resources")
    ap.add_argument("--files", type=int, default=10)
    args = ap.parse_args()
    gen = generate_terraform if args.terraform else generate
    gen(args.n, args.out, files=args.files, kind=args.kind)
