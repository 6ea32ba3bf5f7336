"""`dynamic` blocks in resource bodies (config/dynamic.py): expansion against the real
schemas, nesting, iterators, the graph, and Terraform's errors for bad dynamic blocks.

Messages marked "Terraform 1.11" were recorded from `terraform validate` on the same
constructs in an aws_lb_listener_rule (its `condition` / `path_pattern` nested blocks):
hcl's dynblock extension words them, whatever the provider.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fgform.config.decode import decode_body
from fgform.config.expr import EvalContext
from fgform.config.functions import call as call_function
from fgform.config.hcl import parse_file_text
from fgform.config.loader import load_config
from fgform.config.schema import SCHEMAS
from fgform.errors import Diagnostic
from fgform.graph import build_graph
from fgform.values import UNKNOWN, Sensitive, SetValue

from helpers.cli import fg


def decode(rtype: str, text: str, **ctx: Any) -> tuple[dict, list[Diagnostic]]:
    body, diags = parse_file_text(text, "main.tf")
    assert not diags
    return decode_body(body, SCHEMAS[rtype].body, EvalContext(functions=call_function, **ctx))


def errors(diags: list[Diagnostic]) -> list[tuple[str, str, int]]:
    return [(d.summary, d.detail, d.range.start_line if d.range else 0) for d in diags]


def ports(container: dict) -> list[int]:
    return [p["container_port"] for p in container["port_mapping"]]


# -- expansion ---------------------------------------------------------------------------------
def test_list_map_and_set_iteration_with_default_and_named_iterators() -> None:
    cfg, diags = decode("fg_task_definition", '''
family = "web"
container "web" {
  image = "nginx"
  port_mapping {
    container_port = 80
  }
  dynamic "port_mapping" {
    for_each = var.ports
    content {
      container_port = port_mapping.value + port_mapping.key
    }
  }
  port_mapping {
    container_port = 99
  }
}
dynamic "container" {
  for_each = var.sidecars
  iterator = sc
  labels   = ["${sc.key}-side"]
  content {
    image   = sc.value
    command = [sc.key]
  }
}
dynamic "container" {
  for_each = var.names
  labels   = [container.key]
  content {
    image = container.value
  }
}
''', variables={"ports": [8000, 9000], "sidecars": {"m": "busybox", "a": "alpine"},
                "names": SetValue(["x", "y"])})
    assert diags == []
    names = [c["name"] for c in cfg["container"]]
    # Source order; a map in lexical key order; a set's key is its element.
    assert names == ["web", "a-side", "m-side", "x", "y"]
    web, a, m, x, _ = cfg["container"]
    # Literal and generated blocks keep their places; a list's key is its index.
    assert ports(web) == [80, 8000, 9001, 99]
    assert web["port_mapping"][1] == {"container_port": 8000, "host_port": None,
                                      "protocol": "tcp"}  # schema defaults filled in
    assert (a["image"], a["command"], m["image"]) == ("alpine", ["a"], "busybox")
    assert x["image"] == "x" and x["essential"] is True


def test_nested_dynamic_sees_the_outer_iterator_and_each() -> None:
    cfg, diags = decode("fg_task_definition", '''
family = each.key
dynamic "container" {
  for_each = var.containers
  iterator = c
  labels   = [c.key]
  content {
    image = "${c.value.image}:${each.value}"
    dynamic "port_mapping" {
      for_each = c.value.ports
      iterator = p
      content {
        container_port = p.value
        protocol       = c.key == "dns" ? "udp" : "tcp"
      }
    }
    dynamic "health_check" {
      for_each = c.value.check ? [1] : []
      content {
        command = ["CMD", c.key]
      }
    }
  }
}
''', variables={"containers": {"web": {"image": "nginx", "ports": [80, 443], "check": True},
                               "dns": {"image": "coredns", "ports": [53], "check": False}}},
        has_each=True, each_key="web", each_value="v2")
    assert diags == []
    dns, web = cfg["container"]
    assert (dns["name"], dns["image"], ports(dns)) == ("dns", "coredns:v2", [53])
    assert dns["port_mapping"][0]["protocol"] == "udp" and dns["health_check"] is None
    assert (web["image"], ports(web)) == ("nginx:v2", [80, 443])
    assert web["health_check"]["command"] == ["CMD", "web"]
    assert cfg["family"] == "web"


def test_empty_for_each_makes_no_blocks_and_single_blocks_stay_single() -> None:
    cfg, diags = decode("fg_service", '''
cluster         = "c"
task_definition = "web:1"
dynamic "load_balancer" {
  for_each = []
  content {
    target_group   = "tg"
    container_name = "web"
    container_port = 80
  }
}
dynamic "deployment" {
  for_each = { x = 50 }
  content {
    minimum_healthy_percent = deployment.value
  }
}
''')
    assert diags == []
    assert cfg["load_balancer"] == []
    assert cfg["deployment"]["minimum_healthy_percent"] == 50  # a dict, as a literal block


def test_unknown_for_each_makes_the_blocks_unknown() -> None:
    # Terraform 1.11 plans such a block as "condition (known after apply)".
    cfg, diags = decode("fg_load_balancer", '''
cluster = "c"
listener {
  port = 80
  fixed_response {
    status_code = 200
  }
  dynamic "rule" {
    for_each = var.rules
    content {
      priority      = rule.key + 1
      path_patterns = [rule.value]
      fixed_response {
        status_code = 404
      }
    }
  }
}
''', variables={"rules": UNKNOWN})
    assert diags == []
    assert cfg["listener"][0]["rule"] is UNKNOWN
    assert cfg["listener"][0]["port"] == 80


def test_sensitive_for_each_marks_what_the_iterator_gives() -> None:
    # Terraform 1.11 accepts a sensitive collection in a dynamic for_each.
    cfg, diags = decode("fg_task_definition", '''
family = "web"
container "web" {
  image = "nginx"
  dynamic "port_mapping" {
    for_each = var.ports
    content {
      container_port = port_mapping.value
    }
  }
}
''', variables={"ports": Sensitive([8080])})
    assert diags == []
    assert cfg["container"][0]["port_mapping"][0]["container_port"] == Sensitive(8080)


# -- errors ------------------------------------------------------------------------------------
BAD = '''
family = "web"
dynamic "containr" {
  for_each = ["a"]
  labels   = ["a"]
  content {
    image = "x"
  }
}
dynamic "container" {
  for_each = "abc"
  labels   = ["b"]
  content {
    image = "x"
  }
}
dynamic "container" {
  for_each = null
  labels   = ["c"]
  content {
    image = "x"
  }
}
dynamic "container" {
  for_each = 3
  labels   = ["d"]
  content {
    image = "x"
  }
}
dynamic "container" {
  for_each = ["e"]
  labels   = [container.value]
  content {
    image  = "x"
    imagee = "y"
    port_mappin {
      container_port = 1
    }
  }
}
'''


def test_bad_dynamic_blocks_are_reported_as_terraform_does() -> None:
    _, diags = decode("fg_task_definition", BAD)
    assert errors(diags) == [
        # Terraform 1.11: the same text, at the label (no suggestion in Terraform's).
        ("Unsupported block type", 'Blocks of type "containr" are not expected here.', 3),
        ("Unsupported argument", 'An argument named "imagee" is not expected here.', 36),
        ("Unsupported block type", 'Blocks of type "port_mappin" are not expected here.', 37),
        ("Invalid dynamic for_each value",
         "Cannot use a string value in for_each. An iterable collection is required.", 11),
        ("Invalid dynamic for_each value", "Cannot use a null value in for_each.", 18),
        ("Invalid dynamic for_each value",
         "Cannot use a number value in for_each. An iterable collection is required.", 25),
    ]
    hints = {d.detail: d.hint for d in diags}
    assert hints['Blocks of type "containr" are not expected here.'] == \
        'Did you mean "container"?'
    assert hints['Blocks of type "port_mappin" are not expected here.'] == \
        'Did you mean "port_mapping"?'


def test_dynamic_block_shape_errors() -> None:
    _, diags = decode("fg_task_definition", '''
family = "web"
container "web" {
  image = "x"
  dynamic "port_mapping" {
    content {
      container_port = 1
    }
  }
  dynamic "port_mapping" {
    for_each = [1]
  }
  dynamic "port_mapping" {
    for_each = [1]
    content {
      container_port = 1
    }
    content {
      container_port = 2
    }
  }
  dynamic "port_mapping" {
    for_each = [1]
    iterator = a.b
    content {
      container_port = 1
    }
  }
  dynamic "port_mapping" {
    for_each = [1]
    iterator = "a"
    content {
      container_port = 1
    }
  }
  dynamic "port_mapping" {
    for_each = [1]
    labels   = ["a"]
    content {
      container_port = 1
    }
  }
  dynamic "port_mapping" "extra" {
    for_each = [1]
  }
  dynamic {
    for_each = [1]
  }
}
''')
    # Each as Terraform 1.11 words it.
    assert errors(diags) == [
        ("Missing required argument",
         'The argument "for_each" is required, but no definition was found.', 5),
        ("Missing dynamic content block", 'A dynamic block must have a nested block of type '
         '"content" to describe the body of each generated block.', 10),
        ("Extraneous dynamic content block",
         "Only one nested content block is allowed for each dynamic block.", 18),
        ("Invalid dynamic iterator name", "Dynamic iterator must be a single variable name.",
         24),
        ("Invalid expression", "A single static variable reference is required: only "
         "attribute access and indexing with constant keys. No calculations, function calls, "
         "template expressions, etc are allowed here.", 31),
        ("Unsupported argument", 'An argument named "labels" is not expected here.', 38),
        ("Extraneous label for dynamic",
         "Only 1 labels (type) are expected for dynamic blocks.", 43),
        ("Missing type for dynamic", "All dynamic blocks must have 1 labels (type).", 46),
    ]


def test_labels_of_labelled_block_types() -> None:
    _, diags = decode("fg_task_definition", '''
family = "web"
dynamic "container" {
  for_each = ["a"]
  content {
    image = "x"
  }
}
dynamic "container" {
  for_each = ["a"]
  labels   = ["a", "b"]
  content {
    image = "x"
  }
}
dynamic "container" {
  for_each = ["a"]
  labels   = []
  content {
    image = "x"
  }
}
dynamic "container" {
  for_each = [null, ["x"]]
  labels   = [container.value]
  content {
    image = "x"
  }
}
dynamic "container" {
  for_each = ["web", "web"]
  labels   = [container.value]
  content {
    image = "x"
  }
}
''')
    # The first three and the null/list label: hcl's dynblock wording.
    assert errors(diags) == [
        ("Missing required argument",
         'The argument "labels" is required, but no definition was found.', 3),
        ("Extraneous dynamic block label", 'Blocks of type "container" require 1 label(s).',
         11),
        ("Insufficient dynamic block labels",
         'Blocks of type "container" require 1 label(s).', 18),
        ("Invalid dynamic block label", "Cannot use a null value as a dynamic block label.",
         25),
        ("Invalid dynamic block label",
         "Cannot use this value as a dynamic block label: string required.", 25),
        ('Duplicate container "web"', 'A container named "web" was already defined at '
         "main.tf:30,1. Names must be unique within a resource.", 30),
    ]


def test_block_counts_are_checked_after_expansion() -> None:
    _, diags = decode("fg_task_definition", '''
family = "web"
dynamic "container" {
  for_each = {}
  labels   = [container.key]
  content {
    image = "x"
  }
}
''')
    assert errors(diags) == [("Insufficient container blocks",
                              'At least 1 "container" block required.', 1)]
    _, diags = decode("fg_task_definition", '''
family = "web"
dynamic "container" {
  for_each = var.x
  labels   = [container.key]
  content {
    image = "x"
  }
}
''', variables={"x": UNKNOWN})
    assert diags == []  # how many is not known yet
    _, diags = decode("fg_service", '''
cluster         = "c"
task_definition = "web:1"
dynamic "deployment" {
  for_each = [1, 2]
  content {
  }
}
''')
    assert errors(diags) == [("Too many deployment blocks",
                              'No more than 1 "deployment" block is allowed.', 4)]


# -- the graph and the CLI ---------------------------------------------------------------------
CONFIG = '''
variable "ports" {
  type    = list(number)
  default = [8080, 9090]
}

resource "fg_cluster" "main" {}

resource "fg_target_group" "web" {
  for_each = toset(["a", "b"])
  port     = 8080
}

resource "fg_task_definition" "web" {
  family = "web"

  dynamic "container" {
    for_each = { web = var.ports }
    iterator = c
    labels   = [c.key]
    content {
      image = "nginx"
      dynamic "port_mapping" {
        for_each = c.value
        content {
          container_port = port_mapping.value
        }
      }
    }
  }
}

resource "fg_service" "web" {
  cluster         = fg_cluster.main.id
  task_definition = fg_task_definition.web.arn

  dynamic "load_balancer" {
    for_each = fg_target_group.web
    iterator = tg
    content {
      target_group   = tg.value.id
      container_name = "web"
      container_port = 8080
    }
  }
}

resource "fg_load_balancer" "front" {
  cluster = fg_cluster.main.id

  dynamic "listener" {
    for_each = fg_cluster.main.id == "" ? [] : [8080]
    content {
      port                 = listener.value
      default_target_group = fg_target_group.web["a"].id
    }
  }
}
'''


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "main.tf").write_text(text)
    return tmp_path


def test_references_inside_dynamic_blocks_are_dependencies(tmp_path: Path) -> None:
    config, diags = load_config(_write(tmp_path, CONFIG))
    assert diags == []
    g = build_graph(config)
    assert g.diagnostics == []  # iterators (c, port_mapping, tg, listener) name no node
    assert g.deps["fg_service.web"] == {"fg_cluster.main", "fg_target_group.web",
                                        "fg_task_definition.web"}
    assert g.deps["fg_task_definition.web"] == {"var.ports"}
    assert g.deps["fg_load_balancer.front"] == {"fg_cluster.main", "fg_target_group.web"}


def test_an_iterator_outside_its_dynamic_block_is_no_name(tmp_path: Path) -> None:
    d = _write(tmp_path, CONFIG.replace('image = "nginx"', "image = tg.value"))
    r = fg(f"-chdir={d}", "validate")
    assert r.exit_code == 1
    assert 'A resource "tg" "value" has not been declared' in r.stderr


def test_validate_and_plan_through_the_cli(tmp_path: Path) -> None:
    d = _write(tmp_path, CONFIG)
    r = fg(f"-chdir={d}", "validate")
    assert r.exit_code == 0, r.stderr
    r = fg(f"-chdir={d}", "plan", "-refresh=false", "-json")
    assert r.exit_code == 0, r.stderr
    plan = json.loads(r.stdout)
    values = {res["address"]: res["values"]
              for res in plan["planned_values"]["root_module"]["resources"]}
    (web,) = values["fg_task_definition.web"]["container"]
    assert web["name"] == "web" and ports(web) == [8080, 9090]
    assert len(values["fg_service.web"]["load_balancer"]) == 2
    changes = {c["address"]: c["change"] for c in plan["resource_changes"]}
    # for_each not known until the cluster exists: the listeners are unknown as a whole.
    assert changes["fg_load_balancer.front"]["after_unknown"]["listener"] is True
    # Terraform 1.11's `show -json` leaves dynamic blocks out of `configuration`.
    conf = {res["address"]: res["expressions"]
            for res in plan["configuration"]["root_module"]["resources"]}
    assert "dynamic" not in conf["fg_service.web"] and "load_balancer" not in \
        conf["fg_service.web"]
    r = fg(f"-chdir={d}", "plan", "-refresh=false")
    assert r.exit_code == 0, r.stderr
    assert 'container_port = 9090' in r.stdout
    assert "+ listener {\n          (known after apply)" in r.stdout


def test_validate_reports_bad_dynamic_blocks_with_file_and_line(tmp_path: Path) -> None:
    d = _write(tmp_path, 'resource "fg_task_definition" "web" {' + BAD + "}\n")
    r = fg(f"-chdir={d}", "validate")
    assert r.exit_code == 1
    assert "on main.tf line 3" in r.stderr and 'Did you mean "container"?' in r.stderr
    assert "Cannot use a null value in for_each." in r.stderr
    assert "Traceback" not in r.stderr


def test_fmt_formats_dynamic_blocks_as_terraform_fmt(tmp_path: Path) -> None:
    # Expected output: `terraform fmt` (1.11) of the same text.
    (tmp_path / "main.tf").write_text('''resource "fg_service" "web" {
  dynamic "load_balancer" {
  for_each = var.x
  iterator = tg
  labels = ["a"]
  content {
  target_group = tg.value
  container_port = 80
  }
  }
}
''')
    r = fg(f"-chdir={tmp_path}", "fmt")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "main.tf").read_text() == '''resource "fg_service" "web" {
  dynamic "load_balancer" {
    for_each = var.x
    iterator = tg
    labels   = ["a"]
    content {
      target_group   = tg.value
      container_port = 80
    }
  }
}
'''


# -- plan and apply on a fleet -----------------------------------------------------------------
FLEET_CONFIG = '''
variable "ports" {
  type    = list(number)
  default = [8080, 8081]
}

resource "fg_cluster" "main" {}

resource "fg_target_group" "web" {
  port = 8080
}

resource "fg_task_definition" "web" {
  family = "web"
  memory = MEMORY
  dynamic "container" {
    for_each = toset(["web"])
    labels   = [container.key]
    content {
      image = "nginx"
      dynamic "port_mapping" {
        for_each = var.ports
        content {
          container_port = port_mapping.value
        }
      }
    }
  }
}

resource "fg_load_balancer" "front" {
  cluster = fg_cluster.main.id
  dynamic "listener" {
    for_each = FOR_EACH
    content {
      port                 = listener.value
      default_target_group = fg_target_group.web.id
    }
  }
}
'''


def test_a_for_each_known_after_apply_is_planned_unknown_then_applied(tmp_path: Path) -> None:
    from fgform import workflow
    from fgform.plan.model import Action

    from helpers.fakefleet import FakeFleet

    main = tmp_path / "main.tf"
    main.write_text(FLEET_CONFIG.replace("MEMORY", "128").replace("FOR_EACH", "var.ports"))
    fleet = FakeFleet()
    wd = workflow.open_working_dir(tmp_path)
    outcome = workflow.apply(wd, fleet, workflow.make_plan(wd, fleet))
    assert outcome.result.ok, outcome.result.errors
    lbs = [o for (_, t, _), o in fleet.objects.items() if t == "fg_load_balancer"]
    assert [lst["port"] for lst in lbs[0]["listener"]] == [8080, 8081]
    # The listeners now wait on the task definition's new revision (its arn is recomputed
    # on update): unknown in the plan, made at apply.
    main.write_text(FLEET_CONFIG.replace("MEMORY", "256").replace(
        "FOR_EACH", 'fg_task_definition.web.arn == "" ? [] : var.ports'))
    wd = workflow.open_working_dir(tmp_path)
    plan = workflow.make_plan(wd, fleet)
    changes = {str(c.address): c for c in plan.changes}
    lb = changes["fg_load_balancer.front"]
    assert lb.action is Action.UPDATE and lb.after["listener"] is UNKNOWN
    assert lb.after["endpoints"] is UNKNOWN  # one per listener: not known either
    outcome = workflow.apply(wd, fleet, plan)
    assert outcome.result.ok, outcome.result.errors
    lbs = [o for (_, t, _), o in fleet.objects.items() if t == "fg_load_balancer"]
    assert [lst["port"] for lst in lbs[0]["listener"]] == [8080, 8081]
    assert not workflow.make_plan(workflow.open_working_dir(tmp_path), fleet).has_changes


def test_count_index_inside_dynamic_content(tmp_path: Path) -> None:
    d = _write(tmp_path, '''resource "fg_task_definition" "web" {
  family = "web"
  count  = 2
  container "web" {
    image = "x"
    dynamic "port_mapping" {
      for_each = [1, 10]
      content {
        container_port = 8000 + count.index + port_mapping.value
      }
    }
  }
}
''')
    r = fg(f"-chdir={d}", "plan", "-refresh=false", "-json")
    assert r.exit_code == 0, r.stderr
    found = [[p["container_port"] for p in res["values"]["container"][0]["port_mapping"]]
             for res in json.loads(r.stdout)["planned_values"]["root_module"]["resources"]]
    assert found == [[8001, 8010], [8002, 8011]]


def test_nested_dynamic_blocks_are_limited_as_a_whole() -> None:
    import time

    start = time.monotonic()
    _, diags = decode("fg_load_balancer", '''
cluster = "c"
dynamic "listener" {
  for_each = range(1000)
  content {
    port = listener.value + 1
    dynamic "rule" {
      for_each = range(1000)
      content {
        priority      = rule.value + 1
        path_patterns = ["/"]
      }
    }
  }
}
''')
    assert time.monotonic() - start < 10
    assert errors(diags) == [
        ("Too many dynamic blocks", "The dynamic blocks of this resource make more than "
         "10000 blocks, nested ones included: fgform's limit for one resource.", 8)]
