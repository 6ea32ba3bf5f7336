"""Generate an N-resource fgform configuration for benchmarks.

The shape: one cluster, then task definitions (with a nested container block, environment,
port mapping and health check) and services referencing them, half and half.

    python bench/gen_config.py 1000 /tmp/cfg1000
"""

from __future__ import annotations

import sys
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


def generate(n: int, out: Path, files: int = 10) -> None:
    """Write about n resources (n // 2 task definitions + as many services + 1 cluster)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.tf"):
        old.unlink()
    pairs = max(1, (n - 1) // 2)
    per_file = max(1, pairs // files)
    (out / "main.tf").write_text(HEADER)
    chunk: list[str] = []
    fileno = 0
    for i in range(pairs):
        digest = f"{i:064x}"
        chunk.append(TASK.format(i=i, digest=digest))
        chunk.append(SERVICE.format(i=i))
        if len(chunk) >= 2 * per_file:
            (out / f"apps{fileno:03d}.tf").write_text("".join(chunk))
            chunk, fileno = [], fileno + 1
    if chunk:
        (out / f"apps{fileno:03d}.tf").write_text("".join(chunk))


if __name__ == "__main__":
    generate(int(sys.argv[1]), Path(sys.argv[2]))
