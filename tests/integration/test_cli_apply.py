"""`fgform apply / plan / destroy / tasks / run-task` end to end: the real CLI (a subprocess),
the real engine, registry, image build and task containers.

One fleet is applied for the module (the image build and first push are the slow part) and
the tests below take it through its life in file order: each leaves it converged at
`replicas = 2`; the last one destroys it. Run alone, each test still works (the fixture
applies the fleet when needed).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import docker
import pytest
from fixtures.fgcli import Fleet, clean_up, ensure_base_image, http_get

pytestmark = pytest.mark.docker

CONFIG = """
variable "replicas" {
  type    = number
  default = 2
}

resource "fg_registry" "main" {
  port = $port
}

resource "fg_image" "web" {
  registry   = fg_registry.main.id
  repository = "web"
  context    = "$${path.module}/app"
}

resource "fg_task_definition" "web" {
  family = "$name-web"
  cpu    = 128
  memory = 64

  container "web" {
    image        = fg_image.web.uri
    stop_timeout = 1
    port_mapping {
      container_port = 8080
    }
    health_check {
      command  = $health
      interval = 1
      retries  = 3
    }
  }
}

resource "fg_cluster" "main" {
  name       = "$name"
  cidr_block = "$cidr"

  capacity {
    instance_count  = 2
    instance_cpu    = 1024
    instance_memory = 512
  }
}

resource "fg_service" "web" {
  name                 = "web"
  cluster              = fg_cluster.main.id
  task_definition      = fg_task_definition.web.arn
  desired_count        = var.replicas
  steady_state_timeout = 60
}

output "task_addresses" {
  value = [for t in fg_service.web.tasks : "http://$${t.address}:8080/"]
}
"""


@pytest.fixture(scope="module")
def fleet(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Fleet]:
    ensure_base_image(docker_client)
    f = Fleet(tmp_path_factory.mktemp("cli-apply"), docker_client)
    f.copy_app()
    f.write(CONFIG)
    try:
        yield f
    finally:
        clean_up(docker_client, [f])


@pytest.fixture
def applied(fleet: Fleet) -> Fleet:
    """The fleet, applied at replicas = 2 (a no-op when it already is)."""
    fleet.ok("apply", "-auto-approve")
    return fleet


def running(fleet: Fleet) -> list[dict]:
    rows = fleet.tasks()
    assert all(r["status"] == "RUNNING" for r in rows), rows
    return rows


def test_apply_from_nothing_serves_http(fleet: Fleet) -> None:
    assert fleet.state() is None or not fleet.resources()
    res = fleet.ok("apply", "-auto-approve")
    assert "Apply complete! Resources: 5 added, 0 changed, 0 destroyed." in res.out
    rows = running(fleet)
    assert len(rows) == 2
    assert {r["health"] for r in rows} == {"HEALTHY"}
    assert {r["revision"] for r in rows} == {f"{fleet.name}-web:1"}
    for r in rows:
        assert r["address"].startswith(fleet.cidr.rsplit(".", 1)[0] + ".")
        assert http_get(f"http://{r['address']}:8080/").strip() == "fgform cli test v1"
    # The output lists the same addresses.
    out = json.loads(fleet.ok("output", "-json").out)
    assert sorted(out["task_addresses"]["value"]) == sorted(
        f"http://{r['address']}:8080/" for r in rows)
    # Everything carries the lineage; the registry's volume too.
    objs = fleet.objects()
    assert len(objs["containers"]) == 3  # the registry + two tasks
    assert objs["networks"] == [f"fgform-{fleet.name}"]
    assert len(objs["volumes"]) == 1
    fleet.assert_no_orphans()


def test_second_plan_has_no_changes(applied: Fleet) -> None:
    res = applied.ok("plan", "-detailed-exitcode")
    assert "No changes." in res.out
    # A different count is a change: -detailed-exitcode says 2.
    res = applied.run("plan", "-detailed-exitcode", "-var", "replicas=3")
    assert res.code == 2, str(res)
    assert "1 to change" in res.out


def test_scale_with_var(applied: Fleet) -> None:
    for count in (3, 1, 2):
        res = applied.ok("apply", "-auto-approve", "-var", f"replicas={count}")
        assert "1 changed" in res.out, str(res)
        rows = running(applied)
        assert len(rows) == count, rows
        assert {r["health"] for r in rows} == {"HEALTHY"}
        svc = applied.resources()["fg_service.web"]["attributes"]
        assert svc["running_count"] == count
        assert sorted(t["id"] for t in svc["tasks"]) == sorted(r["task_id"] for r in rows)
        applied.assert_no_orphans()


def test_drift_removed_task_is_restored(applied: Fleet) -> None:
    before = running(applied)
    victim = applied.containers(task_id=before[0]["task_id"])
    assert len(victim) == 1
    applied.client.api.remove_container(victim[0]["Id"], force=True)  # docker rm -f

    res = applied.run("plan", "-detailed-exitcode")
    assert res.code == 2, str(res)
    assert "Objects have changed outside of fgform" in res.out
    assert "fg_service.web will be updated in-place" in res.out
    assert "running_count is 1 but desired_count is 2" in res.out

    applied.ok("apply", "-auto-approve")
    after = running(applied)
    assert len(after) == 2
    assert before[0]["task_id"] not in {r["task_id"] for r in after}
    assert before[1]["task_id"] in {r["task_id"] for r in after}
    applied.assert_no_orphans()
    assert "No changes." in applied.ok("plan", "-detailed-exitcode").out


def test_image_edit_rolls_out_new_revision(applied: Fleet) -> None:
    old = {r["task_id"] for r in running(applied)}
    rev = applied.resources()["fg_task_definition.web"]["attributes"]["revision"]
    (applied.dir / "app" / "www" / "index.html").write_text("fgform cli test v2\n")

    res = applied.run("plan", "-detailed-exitcode")
    assert res.code == 2, str(res)
    assert "fg_image.web will be updated in-place" in res.out
    assert "context_sha256" in res.out
    assert "fg_task_definition.web will be updated in-place" in res.out
    assert "fg_service.web will be updated in-place" in res.out
    assert "0 to add, 3 to change, 0 to destroy" in res.out

    applied.ok("apply", "-auto-approve")
    rows = running(applied)
    assert len(rows) == 2
    assert {r["revision"] for r in rows} == {f"{applied.name}-web:{rev + 1}"}
    assert not old & {r["task_id"] for r in rows}  # every task replaced
    for r in rows:
        assert http_get(f"http://{r['address']}:8080/").strip() == "fgform cli test v2"
    td = applied.resources()["fg_task_definition.web"]["attributes"]
    assert td["arn"] == f"{applied.name}-web:{rev + 1}"
    assert [(r["revision"], r["status"]) for r in td["revisions"]][-1] == (rev, "INACTIVE")
    applied.assert_no_orphans()
    assert "No changes." in applied.ok("plan", "-detailed-exitcode").out


def test_run_task_exit_codes_and_logs(applied: Fleet) -> None:
    family = f"{applied.name}-web"
    res = applied.run("run-task", family, "-override-command",
                      "busybox sh -c 'echo hello from the task; echo on stderr >&2'")
    assert res.code == 0, str(res)
    assert "hello from the task" in res.out
    assert "on stderr" in res.out

    res = applied.run("run-task", family, "-override-command",
                      "busybox sh -c 'echo failing now; exit 3'")
    assert res.code == 3, str(res)
    assert "failing now" in res.out
    assert "Traceback" not in res.text

    # The one-off tasks are gone; the service's are untouched.
    assert applied.containers(kind="run-task") == []
    assert len(running(applied)) == 2

    res = applied.fails("run-task", "no-such-family")
    assert "no task definition family 'no-such-family'" in res.err


def test_destroy_removes_everything(applied: Fleet) -> None:
    lineage = applied.lineage
    assert lineage and any(applied.objects().values())
    res = applied.ok("destroy", "-auto-approve")
    assert "Destroy complete! Resources: 5 destroyed." in res.out
    assert applied.resources() == {}
    assert applied.state()["lineage"] == lineage
    applied.assert_nothing_left()
    # Nothing of the lineage is left in the image store either (every build of fg_image.web,
    # the one v2 untagged included).
    imgs = applied.client.api.images(filters={"label": [f"fgform.lineage={lineage}"]})
    assert imgs == [], [i.get("RepoTags") for i in imgs]
    assert "No changes." in applied.ok("destroy", "-auto-approve").out
