"""States for tests: one that uses every feature of the state file."""

from __future__ import annotations

from fgform.addresses import parse_address
from fgform.state.model import InstanceState, InstanceStatus, OutputState, StateFile


def rich_state() -> StateFile:
    """Every kind of entry: count/for_each keys, modules, deposed objects, sensitive paths,
    a tainted instance, outputs."""
    st = StateFile()
    st.set(parse_address("fg_cluster.main"), InstanceState(None, {
        "id": "cl-1", "cidr_block": "10.123.0.0/16",
        "capacity": {"instance_count": 2, "instance_cpu": 1024, "instance_memory": 1024}}))
    st.set(parse_address("fg_service.web[0]"), InstanceState(0, {
        "load_balancer": [{"target_group": "tg", "container_port": 8080}],
        "desired_count": 2, "deployment": None}, dependencies=["fg_cluster.main"],
        create_before_destroy=True, deposed={"0a1b2c3d": {"desired_count": 1}},
        labelled_as="fg_service.app[0]"))  # moved from there by a `moved` block
    # An instance whose replacement was interrupted before the new object existed: only a
    # deposed object, no current one.
    st.set(parse_address("fg_service.web[1]"), InstanceState(1, None, deposed={
        "deadbeef": {"desired_count": 2}}))
    st.set(parse_address('module.m["a b"].module.n[3].fg_task_definition.td["x"]'),
           InstanceState("x", {"container": [{"name": "web", "environment": {"K": "v"}}]},
                         sensitive_paths=[["container", 0, "environment", "K"]],
                         status=InstanceStatus.TAINTED))
    st.outputs["url"] = OutputState("http://127.0.0.1:8080")
    st.outputs["secret"] = OutputState({"a": [1, 2.5, None]}, sensitive=True)
    return st
