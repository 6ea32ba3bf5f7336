"""Ports and counts are whole numbers: 80.5 is an error at validate, not a surprise later."""

from __future__ import annotations

from pathlib import Path

from fgform.analysis import validate_config
from fgform.config.loader import load_config

CONFIG = '''
resource "fg_target_group" "a" {
  port = 80.5
}

resource "fg_target_group" "ok" {
  port = 8080.0
}

resource "fg_cluster" "c" {
  capacity {
    instance_count = 2.5
  }
}

resource "fg_task_definition" "t" {
  family = "t"
  container "x" {
    image = "x"
    port_mapping {
      container_port = 8080.5
    }
  }
}

resource "fg_service" "s" {
  cluster         = fg_cluster.c.id
  task_definition = fg_task_definition.t.arn
  desired_count   = 1.5
}
'''


def test_fractional_ports_and_counts_are_refused(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(CONFIG)
    config, diags = load_config(tmp_path, use_cache=False)
    assert not diags
    found = validate_config(config, cwd=str(tmp_path))
    lines = sorted(d.range.start_line for d in found if d.range)
    assert lines == [3, 12, 21, 29], [(d.summary, d.detail) for d in found]
    text = " ".join(d.detail for d in found)
    assert "80.5 is not a TCP port" in text and "1.5 is not a whole number" in text
