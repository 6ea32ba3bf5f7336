"""The command line, driven in-process through its real error boundary (`fgform.cli.run`)
with click's CliRunner: flags with one and two dashes, exit codes, output shapes, and no
traceback on bad input. Nothing here needs Docker: `plan -refresh=false` and the state
commands never talk to the engine (DOCKER_HOST points nowhere to prove it).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fgform import __version__, cli
from fgform.cli import ExitStatus, app, run

from helpers.cli import Boundary as _Boundary
from helpers.cli import fails, fg

REPO = Path(__file__).resolve().parents[2]
HELLO = REPO / "examples" / "hello"
# -- fixtures -----------------------------------------------------------------------------
SIMPLE = """\
variable "replicas" {
  type    = number
  default = 2
}

variable "name" {
  type    = string
  default = "web"
}

resource "fg_cluster" "main" {
  name = var.name
}

resource "fg_task_definition" "web" {
  family = var.name
  container "web" {
    image = "nginx:alpine"
    port_mapping {
      container_port = 8080
    }
  }
}

resource "fg_service" "web" {
  cluster         = fg_cluster.main.id
  task_definition = fg_task_definition.web.arn
  desired_count   = var.replicas
}

output "family" {
  value = fg_task_definition.web.family
}
"""

OUTPUTS_ONLY = """\
variable "x" {
  default = "a"
}

output "o" {
  value = var.x
}
"""


@pytest.fixture
def simple(tmp_path: Path) -> Path:
    d = tmp_path / "cfg"
    d.mkdir()
    (d / "main.tf").write_text(SIMPLE)
    return d


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    d = tmp_path / "hello"
    shutil.copytree(HELLO, d, ignore=shutil.ignore_patterns(".fgform", "state"))
    return d


def _instance(attrs: dict, index_key=None) -> dict:
    return {"index_key": index_key, "status": "ready", "attributes": attrs,
            "sensitive_paths": [], "dependencies": [], "create_before_destroy": False}


STATE = {
    "version": 1, "fgform_version": __version__, "serial": 3,
    "lineage": "11111111-2222-3333-4444-555555555555",
    "outputs": {
        "url": {"value": "http://127.0.0.1:8080", "sensitive": False},
        "token": {"value": "s3cret", "sensitive": True},
        "ports": {"value": [8080, 8081], "sensitive": False},
    },
    "resources": [
        {"module": "", "type": "fg_registry", "name": "main", "instances": [
            _instance({"id": "reg-1", "port": 5000, "bind_address": "127.0.0.1",
                       "endpoint": "127.0.0.1:5000"})]},
        {"module": "", "type": "fg_cluster", "name": "main", "instances": [
            _instance({"id": "c0", "name": "a"}, 0), _instance({"id": "c1", "name": "b"}, 1)]},
    ],
}


@pytest.fixture
def stated(tmp_path: Path) -> Path:
    """A directory with no configuration and a hand-made state file."""
    d = tmp_path / "st"
    (d / "state").mkdir(parents=True)
    (d / "state" / "default.fgstate.json").write_text(json.dumps(STATE, indent=2))
    return d


def _state(d: Path) -> dict:
    return json.loads((d / "state" / "default.fgstate.json").read_text())


# -- version ---------------------------------------------------------------------------------
def test_version() -> None:
    r = fg("version")
    assert r.exit_code == 0 and r.stdout == f"fgform v{__version__}\n"
    for flag in ("-json", "--json"):
        r = fg("version", flag)
        assert r.exit_code == 0
        assert json.loads(r.stdout) == {"fgform_version": __version__}


def test_help_with_terraform_spellings() -> None:
    for flag in ("-h", "-help", "--help"):
        r = fg(flag)
        assert r.exit_code == 0 and "validate" in r.stdout
    r = fg("plan", "-help")
    assert r.exit_code == 0 and "-detailed-exitcode" in r.stdout


# -- validate -------------------------------------------------------------------------------
def test_validate_ok(simple: Path) -> None:
    r = fg(f"-chdir={simple}", "validate")
    assert r.exit_code == 0
    assert r.stdout == "Success! The configuration is valid.\n" and r.stderr == ""


def test_validate_errors_text(simple: Path) -> None:
    (simple / "main.tf").write_text(SIMPLE.replace("desired_count", "desired_cont"))
    err = fails(fg("-chdir", str(simple), "validate"))
    assert err.startswith("Error: Unsupported argument\n\n  on main.tf line 28, column 3:\n")
    assert "    28:   desired_cont   = var.replicas\n" in err
    assert "\n          ^^^^^^^^^^^^\n" in err
    assert 'Hint: Did you mean "desired_count"?' in err
    assert str(simple) not in err


def test_validate_json_shape(simple: Path) -> None:
    r = fg(f"--chdir={simple}", "validate", "-json")
    assert r.exit_code == 0
    assert json.loads(r.stdout) == {"format_version": "1.0", "valid": True, "error_count": 0,
                                    "warning_count": 0, "diagnostics": []}
    (simple / "main.tf").write_text(SIMPLE.replace("desired_count", "desired_cont"))
    r = fg(f"-chdir={simple}", "validate", "--json")
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data["valid"] is False and data["error_count"] == 1 and data["warning_count"] == 0
    (d,) = data["diagnostics"]
    assert d["severity"] == "error" and d["summary"] == "Unsupported argument"
    assert "desired_count" in d["detail"]
    assert d["range"]["filename"] == "main.tf"  # relative, as Terraform prints it
    assert d["range"]["start"]["line"] == 28 and d["range"]["start"]["column"] == 3
    text = (simple / "main.tf").read_bytes()
    start, end = d["range"]["start"]["byte"], d["range"]["end"]["byte"]
    assert text[start:end] == b"desired_cont"
    snip = d["snippet"]
    assert snip["start_line"] == 28
    assert snip["code"][snip["highlight_start_offset"]:snip["highlight_end_offset"]] == \
        "desired_cont"


def test_validate_needs_no_variable_values(tmp_path: Path) -> None:
    # As terraform validate: a variable nobody set is unknown, and so is a count from it.
    d = tmp_path / "cfg"
    d.mkdir()
    (d / "main.tf").write_text(
        'variable "n" {\n  type = number\n}\n\n'
        'resource "fg_cluster" "main" {\n  count = var.n\n  name  = "c${count.index}"\n}\n')
    r = fg(f"-chdir={d}", "validate")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "Success! The configuration is valid.\n", "")
    r = fg(f"-chdir={d}", "validate", "-json")
    assert r.exit_code == 0 and json.loads(r.stdout)["diagnostics"] == []
    r = fg(f"-chdir={REPO / 'modules' / 'web-service'}", "validate")
    assert r.exit_code == 0, r.stderr
    # plan needs the value
    assert "No value for required variable" in fails(fg(f"-chdir={d}", "plan",
                                                        "-refresh=false"))


# -- fmt ------------------------------------------------------------------------------------
UGLY = 'resource "fg_cluster" "main" {\nname="x"\n  cidr_block   =   "10.0.0.0/24"\n}\n'
PRETTY = 'resource "fg_cluster" "main" {\n  name       = "x"\n  cidr_block = "10.0.0.0/24"\n}\n'


@pytest.fixture
def ugly(tmp_path: Path) -> Path:
    d = tmp_path / "fmt"
    (d / "sub").mkdir(parents=True)
    (d / "main.tf").write_text(UGLY)
    (d / "ok.tf").write_text(PRETTY)
    (d / "sub" / "nested.tf").write_text(UGLY)
    return d


def test_fmt_check_exit_3_and_no_write(ugly: Path) -> None:
    r = fg(f"-chdir={ugly}", "fmt", "-check")
    assert r.exit_code == 3 and r.stdout == "main.tf\n"
    assert (ugly / "main.tf").read_text() == UGLY
    r = fg(f"-chdir={ugly}", "fmt", "--check", "--recursive")
    assert r.exit_code == 3 and r.stdout == "main.tf\nsub/nested.tf\n"
    assert (ugly / "sub" / "nested.tf").read_text() == UGLY


def test_fmt_diff(ugly: Path) -> None:
    r = fg(f"-chdir={ugly}", "fmt", "-check", "-diff")
    assert r.exit_code == 3
    assert "--- old/main.tf\n+++ new/main.tf\n" in r.stdout
    assert '-name="x"\n' in r.stdout and '+  name       = "x"\n' in r.stdout
    assert (ugly / "main.tf").read_text() == UGLY


def test_fmt_write_and_recursive(ugly: Path) -> None:
    r = fg(f"-chdir={ugly}", "fmt")
    assert r.exit_code == 0 and r.stdout == "main.tf\n"
    assert (ugly / "main.tf").read_text() == PRETTY
    assert (ugly / "sub" / "nested.tf").read_text() == UGLY
    r = fg(f"-chdir={ugly}", "fmt", "-recursive")
    assert r.exit_code == 0 and r.stdout == "sub/nested.tf\n"
    assert (ugly / "sub" / "nested.tf").read_text() == PRETTY
    r = fg(f"-chdir={ugly}", "fmt", "-check", "-recursive")
    assert r.exit_code == 0 and r.stdout == ""


def test_fmt_write_false_and_list_false(ugly: Path) -> None:
    r = fg(f"-chdir={ugly}", "fmt", "-write=false")
    assert r.exit_code == 0 and r.stdout == "main.tf\n"
    assert (ugly / "main.tf").read_text() == UGLY
    r = fg(f"-chdir={ugly}", "fmt", "-list=false")
    assert r.exit_code == 0 and r.stdout == ""
    assert (ugly / "main.tf").read_text() == PRETTY


def test_fmt_one_file(ugly: Path) -> None:
    r = fg(f"-chdir={ugly}", "fmt", "-check", "sub/nested.tf")
    assert r.exit_code == 3 and r.stdout == "sub/nested.tf\n"


def test_fmt_stdin() -> None:
    r = fg("fmt", "-", input=UGLY)
    assert r.exit_code == 0 and r.stdout == PRETTY
    r = fg("fmt", "-", input='a   = 1')
    assert r.exit_code == 0 and r.stdout == "a = 1\n"
    r = fg("fmt", "-check", "-", input=UGLY)
    assert r.exit_code == 3 and r.stdout == ""
    r = fg("fmt", "-check", "-", input=PRETTY)
    assert r.exit_code == 0 and r.stdout == ""
    r = fg("fmt", "-diff", "-", input="a   = 1\n")
    assert r.exit_code == 0
    assert r.stdout == "--- old/<stdin>\n+++ new/<stdin>\n@@ -1 +1 @@\n-a   = 1\n+a = 1\n"
    # terraform fmt exits 2 on what it cannot format, stdin too (recorded from 1.11).
    err = fails(fg("fmt", "-", input="a = \n"), 2)
    assert err.startswith("Error: Invalid syntax") and "on <stdin> line 1" in err
    fails(fg("fmt", "-", input=b"\xff\xfe"), 2)
    # A byte order mark is dropped, as terraform fmt - does.
    r = fg("fmt", "-", input="\ufeffq   = 1\n".encode())
    assert r.exit_code == 0 and r.stdout == "q = 1\n"


def test_fmt_syntax_error_names_the_file(ugly: Path) -> None:
    (ugly / "broken.tf").write_text('resource "a" "b" {\n  x = \n}\n')
    err = fails(fg(f"-chdir={ugly}", "fmt", "-check"), 2)
    assert "on broken.tf line 2" in err and str(ugly) not in err
    assert (ugly / "broken.tf").read_text() == 'resource "a" "b" {\n  x = \n}\n'
    # The other targets are still formatted (terraform fmt broken.tf main.tf: exit 2,
    # main.tf listed and written).
    r = fg(f"-chdir={ugly}", "fmt", "broken.tf", "main.tf")
    assert r.exit_code == 2 and r.stdout == "main.tf\n"
    assert (ugly / "main.tf").read_text() == PRETTY


def test_fmt_missing_target(ugly: Path) -> None:
    # terraform fmt: "Error: No file or directory at nope.tf", exit 2, and the targets
    # after it are not touched.
    err = fails(fg(f"-chdir={ugly}", "fmt", "nope.tf", "main.tf"), 2)
    assert err.startswith("Error: No file or directory at nope.tf")
    assert (ugly / "main.tf").read_text() == UGLY


def test_fmt_several_targets_and_a_byte_order_mark(ugly: Path) -> None:
    """As `terraform fmt a.tf dir b.tf`: each target in order, files under a directory
    named through it; a byte order mark is dropped (the file is listed as changed)."""
    (ugly / "bom.tf").write_bytes(b"\xef\xbb\xbf" + PRETTY.encode())
    r = fg(f"-chdir={ugly}", "fmt", "sub/nested.tf", "ok.tf", "sub", "bom.tf", "main.tf")
    assert r.exit_code == 0 and r.stdout == "sub/nested.tf\nbom.tf\nmain.tf\n"
    assert (ugly / "bom.tf").read_bytes() == PRETTY.encode()
    assert (ugly / "main.tf").read_text() == PRETTY
    # `-` anywhere but first is a missing file, as in terraform fmt.
    assert "No file or directory at -" in fails(fg(f"-chdir={ugly}", "fmt", "ok.tf", "-"), 2)


# -- graph ----------------------------------------------------------------------------------
def test_graph_dot_is_deterministic(hello: Path) -> None:
    r1 = fg(f"-chdir={hello}", "graph")
    assert r1.exit_code == 0
    assert r1.stdout.startswith("digraph {")
    assert '"fg_service.web" -> "fg_cluster.main"' in r1.stdout
    r2 = fg(f"-chdir={hello}", "graph")
    assert r2.stdout == r1.stdout
    # and in another process with another hash seed
    p = subprocess.run([sys.executable, "-m", "fgform", f"-chdir={hello}", "graph"],
                       capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "7"},
                       check=True)
    assert p.stdout == r1.stdout


# -- plan / show ----------------------------------------------------------------------------
def test_plan_without_state_needs_no_docker(simple: Path) -> None:
    r = fg(f"-chdir={simple}", "plan", "-refresh=false")
    assert r.exit_code == 0, r.stderr
    assert "fg_service.web will be created" in r.stdout
    assert "3 to add, 0 to change, 0 to destroy" in r.stdout
    r = fg(f"-chdir={simple}", "plan", "-refresh=false", "-detailed-exitcode")
    assert r.exit_code == 2
    r = fg(f"-chdir={simple}", "plan", "--refresh", "false", "--detailed-exitcode")
    assert r.exit_code == 2
    # with no state there is nothing to refresh, so the default (refresh on) needs no Docker
    r = fg(f"-chdir={simple}", "plan", "-detailed-exitcode=true")
    assert r.exit_code == 2, r.stderr
    assert not (simple / "state").exists() or not any((simple / "state").iterdir())


def test_plan_no_changes_detailed_exitcode_0(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('variable "x" {\n  default = 1\n}\n')
    r = fg(f"-chdir={tmp_path}", "plan", "-refresh=false", "-detailed-exitcode")
    assert r.exit_code == 0, r.stderr
    assert "No changes." in r.stdout


def test_plan_vars_one_and_two_dashes(simple: Path) -> None:
    for args in (["-var", "replicas=5"], ["-var=replicas=5"], ["--var", "replicas=5"],
                 ["--var=replicas=5"]):
        r = fg(f"-chdir={simple}", "plan", "-refresh=false", "-json", *args)
        assert r.exit_code == 0, (args, r.stderr)
        assert json.loads(r.stdout)["variables"]["replicas"] == {"value": 5}, args


def test_plan_var_and_var_file_in_command_line_order(simple: Path) -> None:
    (simple / "three.fgvars").write_text("replicas = 3\n")

    def replicas(*args: str) -> int:
        r = fg(f"-chdir={simple}", "plan", "-refresh=false", "-json", *args)
        assert r.exit_code == 0, r.stderr
        return json.loads(r.stdout)["variables"]["replicas"]["value"]

    assert replicas("-var", "replicas=5", "-var-file", "three.fgvars") == 3
    assert replicas("-var-file=three.fgvars", "-var=replicas=5") == 5
    assert replicas("--var-file", "three.fgvars", "--var", "replicas=5", "-var",
                    "replicas=4") == 4


def test_plan_out_then_show(simple: Path) -> None:
    r = fg(f"-chdir={simple}", "plan", "-refresh=false", "-out", "tf.plan")
    assert r.exit_code == 0, r.stderr
    assert "Saved the plan to: tf.plan" in r.stdout
    assert (simple / "tf.plan").is_file()
    text = fg(f"-chdir={simple}", "show", "tf.plan")
    assert text.exit_code == 0 and "3 to add, 0 to change, 0 to destroy" in text.stdout

    js = fg(f"-chdir={simple}", "show", "-json", "tf.plan")
    assert js.exit_code == 0
    data = json.loads(js.stdout)
    assert data["format_version"]
    changes = {c["address"]: c for c in data["resource_changes"]}
    assert set(changes) == {"fg_cluster.main", "fg_task_definition.web", "fg_service.web"}
    svc = changes["fg_service.web"]["change"]
    assert svc["actions"] == ["create"] and svc["before"] is None
    assert svc["after"]["desired_count"] == 2
    assert svc["after_unknown"]["id"] is True
    assert "family" in data["output_changes"]

    md = fg(f"-chdir={simple}", "show", "--markdown", "tf.plan")
    assert md.exit_code == 0
    assert "**3** to add" in md.stdout

    # -out=FILE and --out FILE are the same flag
    r = fg(f"-chdir={simple}", "plan", "-refresh=false", "--out=other.plan")
    assert r.exit_code == 0 and (simple / "other.plan").is_file()


def test_show_bad_plan_files(simple: Path) -> None:
    fails(fg(f"-chdir={simple}", "show", "missing.plan"))
    (simple / "garbage.plan").write_bytes(b"\x00\x01 not a plan")
    fails(fg(f"-chdir={simple}", "show", "garbage.plan"))
    (simple / "empty.plan").write_text("{}")
    fails(fg(f"-chdir={simple}", "show", "-json", "empty.plan"))


def test_show_empty_state(simple: Path) -> None:
    r = fg(f"-chdir={simple}", "show")
    assert r.exit_code == 0 and "The state file is empty" in r.stdout


def test_apply_saved_plan_refuses_planning_flags(simple: Path) -> None:
    assert fg(f"-chdir={simple}", "plan", "-refresh=false", "-out=p.plan").exit_code == 0
    for flags in (["-var", "replicas=1"], ["--var=replicas=1"], ["-refresh=false"],
                  ["-target", "fg_cluster.main"], ["-destroy"], ["--replace=fg_cluster.main"],
                  ["-var-file", "x.fgvars"], ["-refresh-only"]):
        err = fails(fg(f"-chdir={simple}", "apply", "p.plan", *flags))
        assert "planning options cannot be used with a saved plan file" in err, flags


def test_apply_auto_approve_one_and_two_dashes(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(OUTPUTS_ONLY)
    r = fg(f"-chdir={tmp_path}", "apply", "-auto-approve")
    assert r.exit_code == 0, r.stderr
    assert 'o = "a"' in r.stdout
    r = fg("--chdir", str(tmp_path), "apply", "--auto-approve", "-var", "x=b")
    assert r.exit_code == 0, r.stderr
    assert 'o = "b"' in r.stdout
    r = fg(f"-chdir={tmp_path}", "output", "-raw", "o")
    assert r.stdout == "b"


def test_apply_without_approval_is_cancelled(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(OUTPUTS_ONLY)
    err = fails(fg(f"-chdir={tmp_path}", "apply", input="no\n"))
    assert "cancelled" in err


def test_destroy_and_refresh_only_conflict(simple: Path) -> None:
    fails(fg(f"-chdir={simple}", "plan", "-refresh=false", "-destroy", "-refresh-only"))


# -- state and output -----------------------------------------------------------------------
def test_state_list_and_show(stated: Path) -> None:
    r = fg(f"-chdir={stated}", "state", "list")
    assert r.exit_code == 0
    assert r.stdout == "fg_cluster.main[0]\nfg_cluster.main[1]\nfg_registry.main\n"
    r = fg(f"-chdir={stated}", "state", "list", "fg_cluster.main")
    assert r.stdout == "fg_cluster.main[0]\nfg_cluster.main[1]\n"
    r = fg(f"-chdir={stated}", "state", "show", "fg_registry.main")
    assert r.exit_code == 0
    assert r.stdout.startswith('# fg_registry.main:\nresource "fg_registry" "main" {\n')
    assert 'endpoint     = "127.0.0.1:5000"' in r.stdout
    r = fg(f"-chdir={stated}", "state", "show", "fg_cluster.main[1]")
    assert 'id   = "c1"' in r.stdout
    fails(fg(f"-chdir={stated}", "state", "show", "fg_nope.x"))
    fails(fg(f"-chdir={stated}", "state", "show", "not an address"))


def test_state_pull(stated: Path) -> None:
    r = fg(f"-chdir={stated}", "state", "pull")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["lineage"] == STATE["lineage"]


def test_state_rm(stated: Path) -> None:
    r = fg(f"-chdir={stated}", "state", "rm", "fg_cluster.main[0]")
    assert r.exit_code == 0, r.stderr
    assert "Removed fg_cluster.main[0]" in r.stdout
    st = _state(stated)
    assert st["serial"] > STATE["serial"]
    clusters = [r for r in st["resources"] if r["type"] == "fg_cluster"]
    assert [i["index_key"] for i in clusters[0]["instances"]] == [1]
    assert (stated / "state" / "default.fgstate.json.backup").exists()
    fails(fg(f"-chdir={stated}", "state", "rm", "fg_nope.x"))
    r = fg(f"-chdir={stated}", "state", "rm")
    assert r.exit_code == 1 and r.stderr.startswith("Error: ")


def test_state_mv(stated: Path) -> None:
    r = fg(f"-chdir={stated}", "state", "mv", "fg_registry.main", "fg_registry.other")
    assert r.exit_code == 0, r.stderr
    assert 'Move "fg_registry.main" to "fg_registry.other"' in r.stdout
    r = fg(f"-chdir={stated}", "state", "list")
    assert "fg_registry.other" in r.stdout.splitlines()
    fails(fg(f"-chdir={stated}", "state", "mv", "fg_nope.x", "fg_nope.y"))


def test_state_file_flag(stated: Path) -> None:
    shutil.move(stated / "state" / "default.fgstate.json", stated / "other.json")
    r = fg(f"-chdir={stated}", "state", "list", "-state=other.json")
    assert r.exit_code == 0 and "fg_registry.main" in r.stdout
    r = fg(f"-chdir={stated}", "state", "list", "--state", "other.json")
    assert "fg_registry.main" in r.stdout
    (stated / "garbage.json").write_text("garbage")
    fails(fg(f"-chdir={stated}", "state", "list", "-state=garbage.json"))
    fails(fg(f"-chdir={stated}", "output", "-state=garbage.json"))


def test_output(stated: Path) -> None:
    r = fg(f"-chdir={stated}", "output")
    assert r.exit_code == 0
    assert r.stdout == ('ports = [\n  8080,\n  8081,\n]\ntoken = <sensitive>\n'
                        'url = "http://127.0.0.1:8080"\n')
    r = fg(f"-chdir={stated}", "output", "-json")
    data = json.loads(r.stdout)
    assert data["url"] == {"sensitive": False, "type": "string",
                           "value": "http://127.0.0.1:8080"}
    assert data["token"]["sensitive"] is True
    r = fg(f"-chdir={stated}", "output", "url")
    assert r.stdout == '"http://127.0.0.1:8080"\n'
    r = fg(f"-chdir={stated}", "output", "--raw", "url")
    assert r.exit_code == 0 and r.stdout == "http://127.0.0.1:8080"
    r = fg(f"-chdir={stated}", "output", "-json", "ports")
    assert json.loads(r.stdout) == [8080, 8081]
    fails(fg(f"-chdir={stated}", "output", "-raw", "ports"))
    fails(fg(f"-chdir={stated}", "output", "nope"))


def test_output_no_state(tmp_path: Path) -> None:
    r = fg(f"-chdir={tmp_path}", "output")
    assert r.exit_code == 0 and "No outputs found" in r.stderr


# -- force-unlock ---------------------------------------------------------------------------
def test_force_unlock(stated: Path) -> None:
    from fgform.state.lock import acquire, read_lock

    state_path = stated / "state" / "default.fgstate.json"
    err = fails(fg(f"-chdir={stated}", "force-unlock", "-force", "some-id"))
    assert err == "Error: Failed to unlock state: no lock is held on " \
        "state/default.fgstate.json\n"  # paths inside the directory shown relative
    lock = acquire(state_path, "OperationTypeApply")
    try:
        err = fails(fg(f"-chdir={stated}", "force-unlock", "-force", "wrong-id"))
        assert "does not match" in err
        assert read_lock(state_path) is not None
        err = fails(fg(f"-chdir={stated}", "force-unlock", lock.info.ID, input="no\n"))
        assert "cancelled" in err
        assert read_lock(state_path) is not None
        r = fg(f"-chdir={stated}", "force-unlock", "--force", lock.info.ID)
        assert r.exit_code == 0 and "successfully unlocked" in r.stdout
        assert read_lock(state_path) is None
    finally:
        lock.release()


# -- -chdir and flags -----------------------------------------------------------------------
def test_chdir_missing_dir(tmp_path: Path) -> None:
    for args in ([f"-chdir={tmp_path}/nope"], ["--chdir", f"{tmp_path}/nope"]):
        err = fails(fg(*args, "validate"))
        assert "nope is not a directory" in err


def test_chdir_one_and_two_dashes(simple: Path) -> None:
    for args in ([f"-chdir={simple}"], [f"--chdir={simple}"], ["-chdir", str(simple)],
                 ["--chdir", str(simple)]):
        assert fg(*args, "validate").exit_code == 0, args


def test_no_configuration(tmp_path: Path) -> None:
    for cmd in (["validate"], ["plan", "-refresh=false"], ["graph"]):
        err = fails(fg(f"-chdir={tmp_path}", *cmd))
        assert "no configuration files" in err


def test_unknown_flag_and_command() -> None:
    err = fails(fg("plan", "-refrsh=false"))
    assert "-refrsh" in err and "Did you mean -refresh?" in err
    err = fails(fg("plan", "-bogus"))
    assert "flag provided but not defined: -bogus" in err
    err = fails(fg("bogus"))
    assert "No such command" in err
    err = fails(fg("apply", "-parallelism=0"))
    assert "parallelism" in err
    err = fails(fg("plan", "-var"))
    assert "-var" in err


# -- the error boundary ---------------------------------------------------------------------
def test_internal_error_is_one_line_without_traceback(monkeypatch, simple: Path) -> None:
    from fgform import workflow

    def boom(*a, **k):
        raise RuntimeError("kaboom hunter2")  # an unexpected error that quotes a secret

    monkeypatch.setattr(workflow, "validate", boom)
    r = fg(f"-chdir={simple}", "validate")
    assert r.exit_code == 1
    lines = r.stderr.splitlines()
    assert lines[0] == ("Error: internal error: RuntimeError (its message is not shown: it may "
                        "hold a sensitive value)")
    assert "please report it" in lines[1] and "FGFORM_LOG=debug" in lines[1]
    assert len(lines) == 2 and "Traceback" not in r.stderr and "hunter2" not in r.stderr

    # The traceback, message included, only when asked for.
    r = CliRunner().invoke(_Boundary(), [f"-chdir={simple}", "validate"],
                           env={"FGFORM_LOG": "debug"})
    assert r.exit_code == 1
    assert "Traceback (most recent call last)" in r.stderr
    assert "RuntimeError: kaboom hunter2" in r.stderr
    assert r.stderr.rstrip().splitlines()[-2].startswith("Error: internal error: RuntimeError (")


def test_main_exits_with_run_code(monkeypatch) -> None:
    monkeypatch.setattr(app, "run", lambda argv=None: 3)
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 3


def test_run_on_an_injected_environment(tmp_path: Path) -> None:
    """The streams, variables and working directory come from the Environment handed to
    `run`, not from the process: -chdir is relative to its cwd, errors go to its stderr."""
    import io

    from fgform.cli import Environment

    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "main.tf").write_text('output "o" {\n  value = 1\n}\n')

    def env(stdin: str = "") -> Environment:
        return Environment(stdin=io.StringIO(stdin), stdout=io.StringIO(),
                           stderr=io.StringIO(), environ={"TERM": "xterm"}, cwd=tmp_path)

    e = env()
    assert run(["-chdir=conf", "validate"], e) == 0
    assert e.stdout.getvalue() == "Success! The configuration is valid.\n"
    assert e.dir == tmp_path / "conf" and not e.color  # not a terminal
    e = env()
    assert run(["-chdir=nowhere", "plan"], e) == 1
    assert e.stderr.getvalue() == "Error: -chdir: nowhere is not a directory\n"
    assert e.stdout.getvalue() == ""
    e = env("a=1\n")
    assert run(["fmt", "-"], e) == 0 and e.stdout.getvalue() == "a = 1\n"
    e = env("a=1\n")
    assert run(["fmt", "-check", "-"], e) == ExitStatus.UNFORMATTED == 3
    (tmp_path / "conf" / "main.tf").write_text('resource "fg_task_definition" "t" {\n'
                                               '  family = "t"\n  container "c" {\n'
                                               '    image = "busybox"\n  }\n}\n')
    e = env("no\n")  # the approval is read from its stdin
    assert run(["-chdir=conf", "apply", "-refresh=false"], e) == 1
    assert e.stdout.getvalue().endswith("  Enter a value: ")
    assert e.stderr.getvalue() == "Error: Apply cancelled.\n"
    assert not list((tmp_path / "conf").glob("**/*.fgstate.json"))  # nothing applied


def test_exit_statuses_are_terraform_s() -> None:
    assert [int(s) for s in ExitStatus] == [0, 1, 2, 3, 130]


def test_gc_policy_defers_collection_then_freezes_and_collects() -> None:
    """The script turns collection off; once a command has run `grace` seconds it freezes
    what it built and collects as usual; the GC's state is restored afterwards."""
    import gc
    import time

    from fgform.cli.gcpolicy import deferred_collection, script_run

    assert gc.isenabled()
    try:
        with deferred_collection(grace=0.05):
            assert not gc.isenabled()
            deadline = time.monotonic() + 10
            while not gc.isenabled() and time.monotonic() < deadline:
                time.sleep(0.01)
            assert gc.isenabled() and gc.get_freeze_count() > 0
        assert gc.isenabled()
        with deferred_collection(grace=60):  # a short command: the timer never fires
            assert not gc.isenabled()
        assert gc.isenabled()
        gc.unfreeze()
        # The script: the command's code; what it built frozen for the exit.
        assert script_run(lambda: 7 if not gc.isenabled() else 0) == 7
        assert gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.enable()


def test_script_entry_point(simple: Path) -> None:
    """The real process: exit code and stderr through `python -m fgform`."""
    (simple / "main.tf").write_text(SIMPLE.replace("var.replicas", "var.replica"))
    p = subprocess.run([sys.executable, "-m", "fgform", f"-chdir={simple}", "validate"],
                       capture_output=True, text=True)
    assert p.returncode == 1
    assert p.stderr.startswith("Error: Reference to undeclared input variable")
    assert "Traceback" not in p.stderr


# -- no traceback, whatever the input --------------------------------------------------------
def _mutations(seed: int, n: int) -> list[str]:
    src = (HELLO / "main.tf").read_text()
    rng = random.Random(seed)
    tokens = ["${", "}", "{", "]", "for x in", ":", "=>", "...", "[*]", "count.index",
              "each.key", "var.", "-1", "1e999", '"\\u00"', "<<EOF\n", "%{ if", "~}", "null",
              "try(", "0x", "/*", "\\", "\t", "\r", "\x00", "é", "module.", "#", "=", ".."]
    out = []
    for _ in range(n):
        s = src
        for _ in range(rng.randint(1, 3)):
            k = rng.randrange(5)
            i = rng.randrange(len(s))
            if k == 0:
                s = s[:i]
            elif k == 1:
                s = s[:i] + s[i + rng.randrange(1, 40):]
            elif k == 2:
                j = rng.randrange(len(s))
                s = s[:i] + s[j:j + 30] + s[i:]
            elif k == 3:
                lines = s.splitlines(True)
                rng.shuffle(lines)
                s = "".join(lines)
            else:
                s = s[:i] + rng.choice(tokens) + s[i:]
        out.append(s)
    return out


MALFORMED = {
    "empty": b"",
    "binary": bytes(random.Random(1).randrange(256) for _ in range(300)),
    "nul": b'resource "fg_cluster" "main" {\x00}\n',
    "bom": b'\xef\xbb\xbfresource "fg_cluster" "main" {}\n',
    "latin1": b'output "x" {\n  value = "caf\xe9"\n}\n',
    "only_comment": b"# nothing here\n",
    "unclosed": b'resource "fg_cluster" "main" {\n',
    "heredoc": b'output "x" {\n  value = <<EOF\nhello\n}\n',
    "deep": b"output \"x\" {\n  value = " + b"[" * 500 + b"]" * 500 + b"\n}\n",
    "huge_number": b'resource "fg_cluster" "main" {\n  count = 1e400\n}\n',
    "bad_label": b'resource "fg_cluster" {}\n',
    "attr_at_top": b'name = "x"\n',
    "crlf": b'resource "fg_cluster" "main" {\r\n  name = "a"\r\n}\r\n',
    "cr_only": b'resource "fg_cluster" "main" {\r  name = "a"\r}\r',
}

COMMANDS = [["validate"], ["plan", "-refresh=false"], ["fmt", "-check"], ["graph"]]


def _check_no_traceback(d: Path, what: str) -> None:
    for cmd in COMMANDS:
        r = fg(f"-chdir={d}", *cmd)
        ok = (0, 3) if cmd[0] == "fmt" else (0, 2)
        if r.exit_code in ok:
            continue
        # terraform fmt exits 2 on input it cannot format.
        assert r.exit_code == (2 if cmd[0] == "fmt" else 1), (what, cmd, r.exit_code,
                                                              r.stderr)
        assert r.stderr.startswith("Error: "), (what, cmd, r.stderr)
        assert "internal error" not in r.stderr, (what, cmd, r.stderr)


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_files(name: str, tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_bytes(MALFORMED[name])
    _check_no_traceback(tmp_path, name)


def test_mutated_example(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    for i, text in enumerate(_mutations(seed=20240601, n=25)):
        (tmp_path / "main.tf").write_text(text)
        _check_no_traceback(tmp_path, f"mutation {i}:\n{text}")


def test_unreadable_file(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "main.tf").write_text(OUTPUTS_ONLY)
    secret = tmp_path / "secret.tf"
    secret.write_text('output "s" {\n  value = 1\n}\n')
    secret.chmod(0)
    real_read_bytes = Path.read_bytes
    real_read_text = Path.read_text

    def deny(path: Path):  # root reads anything: make the denial explicit
        if path.name == "secret.tf":
            raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Path, "read_bytes", lambda p: deny(p) or real_read_bytes(p))
    monkeypatch.setattr(Path, "read_text",
                        lambda p, *a, **k: deny(p) or real_read_text(p, *a, **k))
    try:
        for cmd in COMMANDS:
            r = fg(f"-chdir={tmp_path}", *cmd)
            err = fails(r, 2 if cmd[0] == "fmt" else 1)  # terraform fmt's errors exit 2
            assert "secret.tf" in err and "internal error" not in err, (cmd, err)
            assert str(tmp_path) not in err, (cmd, err)
    finally:
        secret.chmod(0o644)


def test_bad_variables(simple: Path) -> None:
    (simple / "garbage.fgvars").write_bytes(b"\x00\xff = = {\n")
    (simple / "garbage.json").write_text("{not json")
    (simple / "list.json").write_text("[1, 2]")
    cases = [
        ["-var-file=garbage.fgvars"], ["-var-file", "garbage.json"], ["-var-file=list.json"],
        ["-var-file=missing.fgvars"], ["-var", "nope=1"], ["-var", "replicas=abc"],
        ["-var", "replicas"], ["-var", "=1"], ["-var", "replicas={"],
        ["-var", "replicas=[1]"],
    ]
    for args in cases:
        for cmd in (["validate"], ["plan", "-refresh=false"]):
            err = fails(fg(f"-chdir={simple}", *cmd, *args))
            assert "internal error" not in err, (cmd, args, err)
            assert str(simple) not in err, (cmd, args, err)


def test_garbage_auto_vars_file(simple: Path) -> None:
    (simple / "x.auto.fgvars").write_bytes(b"replicas = \n")
    err = fails(fg(f"-chdir={simple}", "plan", "-refresh=false"))
    assert "on x.auto.fgvars line 1" in err


def test_garbage_state_file(simple: Path) -> None:
    (simple / "state").mkdir()
    (simple / "state" / "default.fgstate.json").write_text("{garbage")
    for cmd in (["plan", "-refresh=false"], ["show"], ["output"], ["state", "list"],
                ["state", "pull"]):
        err = fails(fg(f"-chdir={simple}", *cmd))
        assert "internal error" not in err, (cmd, err)
