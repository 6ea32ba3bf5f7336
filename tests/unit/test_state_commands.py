"""state list/show/rm/mv/pull and output: golden text, Terraform's formats."""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path

import pytest

from fgform.addresses import parse_address
from fgform.errors import FgformError
from fgform.render.state_hcl import outputs, state_show
from fgform.state.model import InstanceState, InstanceStatus, OutputState, StateFile
from fgform.state.store import StateStore
from fgform.state.surgery import state_list, state_mv, state_pull, state_rm
from fgform.values import cty_type


def golden(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def inst(**attrs: object) -> InstanceState:
    return InstanceState(None, dict(attrs))


@pytest.fixture
def state() -> StateFile:
    st = StateFile(lineage="6f1c0b6e-1f2d-4d9e-9a51-2f0c3d8e7a10", serial=4)
    st.set(parse_address("fg_cluster.main"), inst(id="cl-1", name="main"))
    st.set(parse_address("fg_task_definition.web"), InstanceState(None, {
        "family": "web", "cpu": 256, "memory": 128, "id": "web", "revision": 2,
        "arn": "web:2", "revisions": [{"revision": 1, "arn": "web:1"}], "note": None,
        "container": [{
            "name": "web", "image": "127.0.0.1:5000/web@sha256:ab", "essential": True,
            "command": ["sh", "-c", "echo \"hi\""], "entry_point": None,
            "environment": {"A": "1", "PASSWORD": "hunter2", "LONG_NAME": "x"},
            "stop_timeout": 10,
            "port_mapping": [{"container_port": 8080, "protocol": "tcp"}],
            "health_check": {"command": ["CMD", "true"], "interval": 2.0, "timeout": 5,
                             "retries": 3, "start_period": 0},
        }],
    }, sensitive_paths=[["container", 0, "environment", "PASSWORD"]],
        dependencies=["fg_image.web"]))
    for i in range(3):
        st.set(parse_address(f"fg_service.api[{i}]"),
               inst(id=f"svc-{i}", desired_count=1, task_definition="fg_task_definition.web"))
    st.set(parse_address('module.edge["eu"].fg_load_balancer.front'),
           InstanceState(None, {"id": "lb-eu", "script": "line1\nline2\n", "listener": []},
                         status=InstanceStatus.TAINTED, dependencies=["fg_cluster.main"]))
    st.set(parse_address('module.edge["us"].fg_load_balancer.front'), inst(id="lb-us"))
    st.set(parse_address('module.edge["us"].module.inner.fg_target_group.tg'), inst(id="tg"))
    st.outputs = {
        "url": OutputState("http://127.0.0.1:8080"),
        "password": OutputState("s3cret", sensitive=True),
        "ids": OutputState(["a", "b"]),
        "config": OutputState({"replicas": 2, "tags": {"env": "prod"}, "flags": [True, None],
                               "empty": []}),
        "ratio": OutputState(0.25),
        "count": OutputState(3.0),
        "motd": OutputState("hello\nworld\n"),
    }
    return st


# -- list ------------------------------------------------------------------------------------

def test_state_list(state: StateFile) -> None:
    assert state_list(state) == [
        "fg_cluster.main",
        "fg_service.api[0]",
        "fg_service.api[1]",
        "fg_service.api[2]",
        "fg_task_definition.web",
        'module.edge["eu"].fg_load_balancer.front',
        'module.edge["us"].fg_load_balancer.front',
        'module.edge["us"].module.inner.fg_target_group.tg',
    ]


@pytest.mark.parametrize(("filters", "expected"), [
    (["fg_service.api"], ["fg_service.api[0]", "fg_service.api[1]", "fg_service.api[2]"]),
    (["fg_service.api[1]"], ["fg_service.api[1]"]),
    ("fg_cluster.main", ["fg_cluster.main"]),
    (['module.edge["us"]'], ['module.edge["us"].fg_load_balancer.front',
                             'module.edge["us"].module.inner.fg_target_group.tg']),
    (["module.edge.fg_load_balancer.front"], ['module.edge["eu"].fg_load_balancer.front',
                                              'module.edge["us"].fg_load_balancer.front']),
    (["module.edge.module.inner"], ['module.edge["us"].module.inner.fg_target_group.tg']),
    (["fg_service.api[2]", "fg_cluster.main"], ["fg_cluster.main", "fg_service.api[2]"]),
    (["fg_service.nope"], []),
    (["fg_load_balancer.front"], []),  # resources in modules need their module path
])
def test_state_list_filters(state: StateFile, filters: list[str] | str,
                            expected: list[str]) -> None:
    assert state_list(state, filters) == expected


def test_state_list_bad_address(state: StateFile) -> None:
    with pytest.raises(FgformError, match="invalid address"):
        state_list(state, ["fg_service"])


# -- show ------------------------------------------------------------------------------------

def test_state_show_golden(state: StateFile) -> None:
    assert state_show(state, "fg_task_definition.web") == golden('''
        # fg_task_definition.web:
        resource "fg_task_definition" "web" {
            arn       = "web:2"
            cpu       = 256
            family    = "web"
            id        = "web"
            memory    = 128
            revision  = 2
            revisions = [
                {
                    "arn"      = "web:1"
                    "revision" = 1
                },
            ]

            container "web" {
                command      = [
                    "sh",
                    "-c",
                    "echo \\"hi\\"",
                ]
                environment  = {
                    "A"         = "1"
                    "LONG_NAME" = "x"
                    "PASSWORD"  = (sensitive value)
                }
                essential    = true
                image        = "127.0.0.1:5000/web@sha256:ab"
                stop_timeout = 10

                health_check {
                    command      = [
                        "CMD",
                        "true",
                    ]
                    interval     = 2
                    retries      = 3
                    start_period = 0
                    timeout      = 5
                }

                port_mapping {
                    container_port = 8080
                    protocol       = "tcp"
                }
            }
        }
    ''')


def test_state_show_tainted_heredoc_and_module(state: StateFile) -> None:
    assert state_show(state, 'module.edge["eu"].fg_load_balancer.front') == golden('''
        # module.edge["eu"].fg_load_balancer.front: (tainted)
        resource "fg_load_balancer" "front" {
            id     = "lb-eu"
            script = <<-EOT
                line1
                line2
            EOT
        }
    ''')


def test_state_show_schema_sensitive_and_instance(state: StateFile) -> None:
    assert state_show(state, "fg_service.api[1]") == golden('''
        # fg_service.api[1]:
        resource "fg_service" "api" {
            desired_count   = 1
            id              = "svc-1"
            task_definition = "fg_task_definition.web"
        }
    ''')


def test_state_show_errors(state: StateFile) -> None:
    with pytest.raises(FgformError, match="several instances") as ei:
        state_show(state, "fg_service.api")
    assert "fg_service.api[0], fg_service.api[1], fg_service.api[2]" in ei.value.message
    with pytest.raises(FgformError, match="No instance found"):
        state_show(state, "fg_service.api[7]")
    with pytest.raises(FgformError, match="invalid address"):
        state_show(state, "nope")


# -- rm --------------------------------------------------------------------------------------

def test_state_rm_instance_resource_and_module(state: StateFile) -> None:
    assert state_rm(state, ["fg_service.api[1]"]) == ["fg_service.api[1]"]
    assert state_rm(state, "fg_service.api") == ["fg_service.api[0]", "fg_service.api[2]"]
    assert state_rm(state, ['module.edge["us"]']) == [
        'module.edge["us"].fg_load_balancer.front',
        'module.edge["us"].module.inner.fg_target_group.tg',
    ]
    assert state_list(state) == ["fg_cluster.main", "fg_task_definition.web",
                                 'module.edge["eu"].fg_load_balancer.front']


def test_state_rm_unknown_address_removes_nothing(state: StateFile) -> None:
    before = state_list(state)
    with pytest.raises(FgformError, match="fg_service.nope") as ei:
        state_rm(state, ["fg_cluster.main", "fg_service.nope"])
    assert "no matching objects" in ei.value.message and "state list" in ei.value.hint
    assert state_list(state) == before


# -- mv --------------------------------------------------------------------------------------

def test_state_mv_whole_resource_keeps_keys_and_updates_dependencies(state: StateFile) -> None:
    moved = state_mv(state, "fg_cluster.main", "fg_cluster.primary")
    assert moved == [("fg_cluster.main", "fg_cluster.primary")]
    lb = state.get(parse_address('module.edge["eu"].fg_load_balancer.front'))
    assert lb is not None and lb.dependencies == ["fg_cluster.primary"]
    assert state_mv(state, "fg_service.api", "module.m.fg_service.api") == [
        (f"fg_service.api[{i}]", f"module.m.fg_service.api[{i}]") for i in range(3)]
    inst_ = state.get(parse_address("module.m.fg_service.api[2]"))
    assert inst_ is not None and inst_.attributes["id"] == "svc-2"
    assert "fg_service.api[0]" not in state_list(state)


def test_state_mv_instances(state: StateFile) -> None:
    assert state_mv(state, "fg_service.api[2]", "fg_service.api[5]") == [
        ("fg_service.api[2]", "fg_service.api[5]")]
    assert state_mv(state, "fg_service.api[5]", 'fg_service.other["x"]') == [
        ("fg_service.api[5]", 'fg_service.other["x"]')]
    # Adding count to a resource: its one unkeyed instance becomes [0].
    assert state_mv(state, "fg_cluster.main", "fg_cluster.main[0]") == [
        ("fg_cluster.main", "fg_cluster.main[0]")]
    assert state_list(state, ["fg_cluster.main", "fg_service"][:1]) == ["fg_cluster.main[0]"]
    # ...and back.
    state_mv(state, "fg_cluster.main[0]", "fg_cluster.main")
    assert state.get(parse_address("fg_cluster.main")) is not None


def test_state_mv_module(state: StateFile) -> None:
    moved = state_mv(state, 'module.edge["us"]', "module.west")
    assert moved == [
        ('module.edge["us"].fg_load_balancer.front', "module.west.fg_load_balancer.front"),
        ('module.edge["us"].module.inner.fg_target_group.tg',
         "module.west.module.inner.fg_target_group.tg"),
    ]


@pytest.mark.parametrize(("src", "dst", "error"), [
    ("fg_cluster.main", "fg_service.main", "resource types don't match"),
    ("fg_service.api[0]", "fg_service.api[1]", "already exists"),
    ("fg_service.api", "fg_task_definition.web", "resource types don't match"),
    ("fg_task_definition.web", "fg_task_definition.web", "already exists"),
    ("fg_service.api", "fg_service.x[0]", "all instances"),
    ("fg_service.api[0]", "fg_service.api", "give the destination a key"),
    ("fg_service.nope", "fg_service.x", "no object fg_service.nope"),
    ("fg_service.api[9]", "fg_service.x", "no object fg_service.api[9]"),
    ('module.edge["us"]', 'module.edge["eu"]', "already exists"),
    ("module.edge", "module.edge.module.x", "into itself"),
    ("module.nope", "module.x", "no objects"),
    ("module.edge", "fg_service.x", "cannot move"),
])
def test_state_mv_errors_change_nothing(state: StateFile, src: str, dst: str,
                                        error: str) -> None:
    before = state.to_dict()
    with pytest.raises(FgformError, match=re.escape(error)):
        state_mv(state, src, dst)
    assert state.to_dict() == before


# -- pull ------------------------------------------------------------------------------------

def test_state_pull_is_the_file(state: StateFile, tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    store.write(state)
    assert state_pull(state) == store.path.read_text()
    assert json.loads(state_pull(state))["serial"] == 5


# -- output ----------------------------------------------------------------------------------

def test_outputs_list_form(state: StateFile) -> None:
    assert outputs(state) == golden('''
        config = {
          "empty" = []
          "flags" = [
            true,
            null,
          ]
          "replicas" = 2
          "tags" = {
            "env" = "prod"
          }
        }
        count = 3
        ids = [
          "a",
          "b",
        ]
        motd = <<EOT
        hello
        world
        EOT
        password = <sensitive>
        ratio = 0.25
        url = "http://127.0.0.1:8080"
    ''')
    assert outputs(StateFile()) == ""


def test_outputs_by_name(state: StateFile) -> None:
    assert outputs(state, "url") == '"http://127.0.0.1:8080"'
    assert outputs(state, "password") == '"s3cret"'  # asked for by name: shown
    assert outputs(state, "ids") == '[\n  "a",\n  "b",\n]'
    with pytest.raises(FgformError, match='Output "nope" not found') as ei:
        outputs(state, "nope")
    assert "fgform apply" in ei.value.hint


def test_outputs_json(state: StateFile) -> None:
    doc = json.loads(outputs(state, json=True))
    assert doc["password"] == {"sensitive": True, "type": "string", "value": "s3cret"}
    assert doc["ids"] == {"sensitive": False, "type": ["tuple", ["string", "string"]],
                          "value": ["a", "b"]}
    assert doc["config"]["type"] == ["object", {
        "empty": ["tuple", []], "flags": ["tuple", ["bool", "dynamic"]], "replicas": "number",
        "tags": ["object", {"env": "string"}]}]
    assert list(doc) == sorted(doc)
    assert outputs(state, json=True).startswith('{\n  "config": {\n    "sensitive": false,')
    assert outputs(state, "config", json=True) == (
        '{"empty":[],"flags":[true,null],"replicas":2,"tags":{"env":"prod"}}')
    assert outputs(StateFile(), json=True) == "{}"


def test_outputs_raw(state: StateFile) -> None:
    assert outputs(state, "url", raw=True) == "http://127.0.0.1:8080"
    assert outputs(state, "count", raw=True) == "3"
    assert outputs(state, "ratio", raw=True) == "0.25"
    assert outputs(state, "motd", raw=True) == "hello\nworld\n"
    state.outputs["on"] = OutputState(True)
    assert outputs(state, "on", raw=True) == "true"
    with pytest.raises(FgformError, match="Unsupported value for raw output") as ei:
        outputs(state, "config", raw=True)
    assert 'output value "config" is object' in ei.value.hint and "-json" in ei.value.hint
    # Terraform 1.11 keeps no null output: `terraform output -raw NAME` of one is
    # 'Output "NAME" not found', and `output -json` leaves it out.
    state.outputs["nothing"] = OutputState(None)
    with pytest.raises(FgformError, match='Output "nothing" not found'):
        outputs(state, "nothing", raw=True)
    assert "nothing" not in json.loads(outputs(state, json=True))
    assert "nothing =" not in outputs(state)
    with pytest.raises(FgformError, match="Output name required"):
        outputs(state, raw=True)
    with pytest.raises(FgformError, match="mutually exclusive"):
        outputs(state, "url", json=True, raw=True)


def test_numbers_print_like_terraform() -> None:
    st = StateFile(outputs={"a": OutputState(1e-7), "b": OutputState(1e22),
                            "c": OutputState(-2.0), "d": OutputState(10**20)})
    assert outputs(st) == "a = 0.0000001\nb = 10000000000000000000000\nc = -2\n" \
                          "d = 100000000000000000000"
    assert cty_type({"x": [1, "a"]}) == ["object", {"x": ["tuple", ["number", "string"]]}]


def test_a_deeply_nested_output_prints_without_recursion() -> None:
    # Printed through an explicit stack: the recursive printer hit the interpreter's limit
    # here, and copied every inner line once per enclosing level (4 s at 1,000 levels).
    depth = 2000
    value: object = "x"
    for _ in range(depth):
        value = [value]
    expected = "\n".join(["  " * i + "[" for i in range(depth)] + ["  " * depth + '"x",']
                          + ["  " * i + "]," for i in reversed(range(1, depth))] + ["]"])
    st = StateFile(outputs={"deep": OutputState(value), "map": OutputState({"a": value})})
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # as a plain process has it
    try:
        printed = outputs(st, "deep")
        in_map = outputs(st, "map")
    finally:
        sys.setrecursionlimit(limit)
    same = printed == expected  # not compared by pytest: its diff of 4 MB strings is slow
    assert same
    same = in_map == "{\n  \"a\" = " + expected.replace("\n", "\n  ") + "\n}"
    assert same
