"""Decoding resource bodies by schema: defaults, nested blocks, types, checks."""

from __future__ import annotations

from typing import Any

from fgform.config.decode import check_value, decode_body
from fgform.config.expr import EvalContext
from fgform.config.functions import call as call_function
from fgform.config.hcl import parse_file_text
from fgform.config.schema import SCHEMAS
from fgform.errors import Diagnostic
from fgform.values import UNKNOWN, Sensitive


def decode(rtype: str, text: str, **ctx: Any) -> tuple[dict, list[Diagnostic]]:
    body, diags = parse_file_text(text, "main.hcl")
    assert not diags
    return decode_body(body, SCHEMAS[rtype].body, EvalContext(functions=call_function, **ctx))


def test_defaults_and_nested_block_shapes() -> None:
    cfg, diags = decode("fg_task_definition", '''
family = "web"
container "web" {
  image = "nginx"
  port_mapping {
    container_port = "8080"
  }
  health_check {
    command = ["CMD", "true"]
  }
}
container "log" {
  image = "busybox"
}
''')
    assert diags == []
    assert cfg["cpu"] == 256 and cfg["memory"] == 512
    assert "arn" not in cfg and "revision" not in cfg  # computed: the planner's to fill
    web, log = cfg["container"]
    assert web["name"] == "web" and list(web)[0] == "name"
    assert web["port_mapping"] == [{"container_port": 8080, "host_port": None,
                                    "protocol": "tcp"}]
    assert web["health_check"]["interval"] == 30
    assert log["health_check"] is None and log["port_mapping"] == []
    assert log["environment"] == {}


def test_unknown_and_sensitive_values_skip_checks() -> None:
    cfg, diags = decode("fg_service", '''
cluster         = var.cluster
task_definition = "web:1"
desired_count   = var.count
''', variables={"cluster": UNKNOWN, "count": Sensitive(3)})
    assert diags == []
    assert cfg["cluster"] is UNKNOWN and cfg["desired_count"] == Sensitive(3)


def test_null_means_unset() -> None:
    cfg, diags = decode("fg_service", '''
cluster         = null
task_definition = "web:1"
desired_count   = null
''')
    assert cfg["desired_count"] == 1
    assert [d.summary for d in diags] == ["Missing required argument"]


def test_errors_point_at_the_value() -> None:
    _, diags = decode("fg_service", '''
cluster         = "c"
task_definition = "web:1"
desired_count   = 5000
running_count   = 1
''')
    assert [(d.summary, d.range.start_line) for d in diags] == [
        ("Value for unconfigurable attribute", 5),
        ("Invalid attribute value", 4),
    ]
    assert "expected desired_count to be in the range (0 - 1000), got 5000" in diags[1].detail


def test_evaluation_errors_become_diagnostics() -> None:
    cfg, diags = decode("fg_cluster", 'name = var.missing\n')
    assert cfg["name"] is UNKNOWN
    assert diags[0].summary == "Reference to undeclared input variable"


def test_labels_and_block_counts() -> None:
    _, diags = decode("fg_task_definition", '''
family = "x"
container {
  image = "a"
}
''')
    assert [d.summary for d in diags] == ["Missing name for container"]
    _, diags = decode("fg_cluster", '''
capacity "big" {
  instance_count = 1
}
''')
    assert [d.summary for d in diags] == ["Extraneous label for capacity"]


def test_check_value() -> None:
    schema = SCHEMAS["fg_cluster"]
    assert check_value(schema.attr("placement_strategy"), "binpack") is None
    assert "expected one of" in check_value(schema.attr("placement_strategy"), "x")
    assert check_value(schema.attr("cidr_block"), UNKNOWN) is None
    assert "too small" in check_value(schema.attr("cidr_block"), "10.0.0.0/29")
