"""fgform/placement_rules.py (ECS's cluster query language, placements), the local capacity
manager's constraints and strategies, the DAEMON count at plan time, and the Swarm
translation (fgform/fleet/swarm/placement.py)."""

from __future__ import annotations

import pytest

from fgform.addresses import Address
from fgform.fleet.capacity import Instance, InsufficientCapacityError, fits_count, place
from fgform.fleet.swarm.placement import (
    SwarmPlacementError,
    check_nodes,
    node_attributes,
    service_swarm_placement,
    swarm_placement,
)
from fgform.placement_rules import (
    And,
    Cond,
    Constraint,
    ExpressionError,
    Not,
    Or,
    check_expression,
    check_strategy,
    constraints_of,
    daemon_task_count,
    eligible,
    instance_attributes,
    matches,
    parse,
    placement_of,
)
from fgform.plan.daemon import with_daemon_count
from fgform.values import UNKNOWN

T2 = {"ecs.instance-type": "t2.small", "ecs.availability-zone": "us-east-1a",
      "ecs.instance-id": "i-0", "stack": "prod"}
M4 = {"ecs.instance-type": "m4.large", "ecs.availability-zone": "us-east-1d",
      "ecs.instance-id": "i-1"}


# -- the language: ECS's documented examples -------------------------------------------------
@pytest.mark.parametrize(("expr", "t2", "m4"), [
    ("attribute:ecs.instance-type == t2.small", True, False),
    ("attribute:ecs.instance-type != t2.small", False, True),
    ("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]", True, False),
    ("attribute:ecs.availability-zone !in [us-east-1a, us-east-1b]", False, True),
    ("attribute:ecs.availability-zone not in [us-east-1a]", False, True),
    ("attribute:ecs.instance-type =~ t2.*", True, False),
    ("attribute:ecs.instance-type !~ t2.*", False, True),
    ("attribute:ecs.instance-type =~ g2.*", False, False),
    ("attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone != us-east-1d",
     True, False),
    ("attribute:ecs.instance-type =~ t2.* or attribute:ecs.instance-type =~ m4.*", True, True),
    ("not(attribute:ecs.instance-type == t2.small)", False, True),
    ("!(attribute:ecs.instance-type == t2.small) && attribute:stack !exists", False, True),
    ("attribute:stack exists", True, False),
    ("ec2InstanceId in ['i-0', 'i-9']", True, False),
    ("(attribute:stack == prod || ec2InstanceId == i-1) and attribute:ecs.instance-id != i-5",
     True, True),
    ('attribute:ecs.instance-type == "t2.small"', True, False),
])
def test_ecs_examples(expr: str, t2: bool, m4: bool) -> None:
    assert (matches(expr, T2), matches(expr, M4)) == (t2, m4)


def test_the_tree() -> None:
    assert parse("attribute:a == x and not attribute:b in [y, z] or attribute:c exists") == Or((
        And((Cond("a", "==", ("x",), 0), Not(Cond("b", "in", ("y", "z"), 25)))),
        Cond("c", "exists", (), 50)))


def test_a_missing_attribute() -> None:
    assert not matches("attribute:gpu == yes", {})
    assert matches("attribute:gpu != yes", {})
    assert not matches("attribute:gpu in [a]", {})
    assert matches("attribute:gpu !in [a]", {})
    assert not matches("attribute:gpu =~ .*", {})


def test_regex_matches_the_whole_value() -> None:
    assert not matches("attribute:t =~ t2", {"t": "t2.small"})
    assert matches("attribute:t =~ 't2\\..*'", {"t": "t2.small"})


@pytest.mark.parametrize(("expr", "where", "says"), [
    ("attribute:zone = a", 15, "expected an operator"),
    ("attribute:zone ==", 17, "expected a value"),
    ("attribute:zone in [a, b", 23, "expected , or ]"),
    ("attribute:zone in a", 18, "a list of values in brackets"),
    ("(attribute:a == b", 17, "expected ) to close the ( opened at character 1"),
    ("task:group == database", 0, "task:group is not supported"),
    ("runningTasksCount > 1", 0, "runningTasksCount is not supported"),
    ("attribute:zone > 1", 15, "the operator > is not supported"),
    ("attribute:a =~ '('", 15, "is not a regular expression"),
    ("attribute:a == b c", 17, "unexpected 'c'"),
    ("zone == a", 0, "expected a subject"),
    ("attribute:a == 'b", 15, "unterminated quoted value"),
    ("", 0, "the expression is empty"),
])
def test_errors_say_where(expr: str, where: int, says: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(expr)
    assert info.value.position == where and says in info.value.message
    text = check_expression(expr)
    assert text is not None and text.splitlines()[-1] == "  " + " " * where + "^"
    assert f"at character {where + 1} of the expression" in text


def test_strategy_fields() -> None:
    assert check_strategy("spread", "instanceId") is None
    assert check_strategy("spread", "attribute:ecs.availability-zone") is None
    assert check_strategy("binpack", "memory") is None and check_strategy("random", "") is None
    assert "binpack needs" in (check_strategy("binpack", "attribute:zone") or "")
    assert "spread needs" in (check_strategy("spread", "cpu") or "")
    assert "random takes no field" in (check_strategy("random", "cpu") or "")


# -- instances and placements ----------------------------------------------------------------
def test_instance_attributes_round_robin() -> None:
    cap = {"instance_count": 4, "attribute": [
        {"name": "zone", "values": ["a", "b", "c"], "value": None},
        {"name": "disk", "value": "ssd", "values": None}]}
    got = instance_attributes(cap)
    assert [a["zone"] for a in got] == ["a", "b", "c", "a"]
    assert {a["disk"] for a in got} == {"ssd"}
    assert [a["ecs.instance-id"] for a in got] == ["i-0", "i-1", "i-2", "i-3"]
    assert instance_attributes(None) == [{"ecs.instance-id": "i-0", "ecs.os-type": "linux"}]


def test_task_definition_and_service_constraints_add_up() -> None:
    td = {"placement_constraints": [{"type": "memberOf", "expression": "attribute:zone != c"}]}
    svc = {"placement_constraints": [{"type": "memberOf", "expression": "attribute:zone != a"},
                                     {"type": "distinctInstance", "expression": None}],
           "placement_strategy": [{"type": "spread", "field": "attribute:zone"}],
           "scheduling_strategy": "REPLICA"}
    p = placement_of(svc, td)
    assert [c.expression for c in p.constraints] == ["attribute:zone != c",
                                                     "attribute:zone != a"]
    assert p.distinct and not p.daemon and p.strategies == (("spread", "attribute:zone"),)
    insts = instance_attributes({"instance_count": 3, "attribute": [
        {"name": "zone", "values": ["a", "b", "c"]}]})
    assert eligible(p, insts) == ["i-1"]
    assert daemon_task_count({**svc, "scheduling_strategy": "DAEMON"},
                             {"capacity": {"instance_count": 3, "attribute": [
                                 {"name": "zone", "values": ["a", "b", "c"]}]}}, td) == 1


def _fleet(n: int = 6) -> list[Instance]:
    return [Instance(f"i-{k}", 1024, 1024, (("zone", "abc"[k % 3]),)) for k in range(n)]


def _p(**svc: object) -> object:
    return placement_of(svc)


def test_capacity_member_of_and_distinct() -> None:
    p = _p(placement_constraints=[{"type": "memberOf", "expression": "attribute:zone != c"},
                                  {"type": "distinctInstance"}])
    assert place([(128, 128)] * 4, _fleet(), {}, placement=p) == ["i-0", "i-1", "i-3", "i-4"]
    # i-0 holds one of this revision already: distinctInstance skips it
    assert place([(128, 128)] * 2, _fleet(), {}, placement=p, group={"i-0": 1}) == \
        ["i-1", "i-3"]
    with pytest.raises(InsufficientCapacityError) as info:
        place([(128, 128)] * 5, _fleet(), {}, placement=p, what="web:1")
    assert info.value.resource == "DistinctInstance" and "4 of the cluster's 6" in \
        info.value.message
    assert fits_count((128, 128), _fleet(), {}, placement=p) == 4
    assert fits_count((128, 128), _fleet(), {}, placement=p, group={"i-0": 1}) == 3


def test_capacity_constraint_nobody_meets() -> None:
    p = _p(placement_constraints=[{"type": "memberOf", "expression": "attribute:zone == z"}])
    with pytest.raises(InsufficientCapacityError) as info:
        place([(128, 128)], _fleet(), {}, placement=p, what="web:1")
    assert 'memberOf "attribute:zone == z"' in info.value.message
    assert info.value.resource == "MemberOf"


def test_capacity_ordered_strategies() -> None:
    p = _p(placement_strategy=[{"type": "spread", "field": "attribute:zone"},
                               {"type": "binpack", "field": "memory"}])
    # one per zone, then binpack inside the zones: the fullest instance of each
    assert place([(128, 128)] * 6, _fleet(), {}, placement=p) == \
        ["i-0", "i-1", "i-2", "i-0", "i-1", "i-2"]
    p = _p(placement_strategy=[{"type": "spread", "field": "instanceId"}])
    assert place([(128, 128)] * 3, _fleet(3), {}, placement=p, group={"i-0": 2}) == \
        ["i-1", "i-2", "i-1"]
    p = _p(placement_strategy=[{"type": "binpack", "field": "cpu"}])
    assert place([(128, 128)] * 3, _fleet(3), {"i-2": (512, 0)}, placement=p) == ["i-2"] * 3


def test_capacity_random_is_repeatable() -> None:
    p = _p(placement_strategy=[{"type": "random"}])
    first = place([(128, 128)] * 5, _fleet(), {}, placement=p, what="web:1")
    assert first == place([(128, 128)] * 5, _fleet(), {}, placement=p, what="web:1")
    assert len(set(first)) > 1


def test_capacity_still_checks_room_with_constraints() -> None:
    p = _p(placement_constraints=[{"type": "memberOf", "expression": "attribute:zone == a"}])
    with pytest.raises(InsufficientCapacityError) as info:
        place([(1024, 1024)] * 3, _fleet(), {}, placement=p, what="web:1")
    assert info.value.resource == "RESOURCE:MEMORY"


def test_no_placement_is_the_old_behaviour() -> None:
    plain = placement_of({})
    assert plain.plain
    assert place([(128, 128)] * 3, _fleet(3), {}, "binpack", placement=plain) == \
        place([(128, 128)] * 3, _fleet(3), {}, "binpack")


# -- DAEMON at plan time -----------------------------------------------------------------------
class _Change:
    def __init__(self, after: dict) -> None:
        self.after = after


def test_daemon_count_from_the_cluster() -> None:
    cluster = {"id": "main", "capacity": {"instance_count": 4, "attribute": [
        {"name": "zone", "values": ["a", "b"]}]}}
    changes = {Address("fg_cluster", "main"): _Change(cluster),
               Address("fg_task_definition", "app"): _Change(
                   {"arn": "app:1", "placement_constraints": [
                       {"type": "memberOf", "expression": "attribute:zone == a"}]})}
    svc = {"cluster": "main", "task_definition": "app:1", "desired_count": 1,
           "scheduling_strategy": "DAEMON", "placement_constraints": []}
    deps = ["fg_cluster.main", "fg_task_definition.app"]
    assert with_daemon_count(svc, deps, changes)["desired_count"] == 2
    replica = dict(svc, scheduling_strategy="REPLICA")
    assert with_daemon_count(replica, deps, changes) is replica
    unknown = {Address("fg_cluster", "main"): _Change({"id": "main", "capacity": UNKNOWN})}
    assert with_daemon_count(svc, ["fg_cluster.main"], unknown)["desired_count"] is UNKNOWN
    swarm = {Address("fg_cluster", "main"): _Change(dict(cluster, engine="swarm"))}
    # Swarm: the nodes decide; the count the fleet reported is kept
    assert with_daemon_count(svc, ["fg_cluster.main"], swarm)["desired_count"] is UNKNOWN
    assert with_daemon_count(svc, ["fg_cluster.main"], swarm,
                             {"desired_count": 3})["desired_count"] == 3


# -- Swarm ---------------------------------------------------------------------------------------
def _cons(*exprs: str) -> list[Constraint]:
    return constraints_of({"placement_constraints": [
        {"type": "memberOf", "expression": e} if e != "distinct" else
        {"type": "distinctInstance"} for e in exprs]})


def test_swarm_constraints() -> None:
    sp = swarm_placement(_cons("attribute:zone == a and ec2InstanceId != vm",
                               "attribute:zone !in [b, c]", "attribute:disk in [ssd]",
                               "not(attribute:ecs.os-type != linux)", "distinct"))
    assert sp.constraints == ["node.labels.zone==a", "node.hostname!=vm",
                              "node.labels.zone!=b", "node.labels.zone!=c",
                              "node.labels.disk==ssd", "node.platform.os==linux"]
    assert sp.max_replicas == 1 and sp.preferences == [] and sp.warnings == []
    assert sp.docker_placement() == {"Constraints": sp.constraints, "MaxReplicas": 1}
    # not(a or b) is (not a) and (not b): expressible
    sp = swarm_placement(_cons("not(attribute:zone == a or attribute:zone == b)"))
    assert sp.constraints == ["node.labels.zone!=a", "node.labels.zone!=b"]


@pytest.mark.parametrize(("expr", "why"), [
    ("attribute:zone in [a, b]", "one of several values"),
    ("attribute:zone == a or attribute:disk == ssd", 'needs an "or"'),
    ("not(attribute:zone == a and attribute:disk == ssd)", 'needs an "or"'),
    ("attribute:type =~ t2.*", "regular expression"),
    ("attribute:gpu exists", "whether a label exists"),
])
def test_swarm_refuses_what_it_cannot_say(expr: str, why: str) -> None:
    with pytest.raises(SwarmPlacementError) as info:
        swarm_placement(_cons(expr))
    assert why in info.value.message and f'memberOf "{expr}"' in info.value.message


def test_swarm_strategies() -> None:
    sp = swarm_placement([], [("spread", "attribute:zone"), ("spread", "instanceId"),
                              ("spread", "attribute:rack")])
    assert sp.preferences == [{"Spread": {"SpreadDescriptor": "node.labels.zone"}},
                              {"Spread": {"SpreadDescriptor": "node.labels.rack"}}]
    sp = swarm_placement([], [("binpack", "memory")])
    assert sp.preferences == [] and "binpack(memory) has no Swarm equivalent" in sp.warnings[0]
    assert "binpack" in swarm_placement([], [], "binpack").warnings[0]
    assert swarm_placement([], [], "spread").warnings == []
    sp = service_swarm_placement(
        {"placement_strategy": [{"type": "spread", "field": "attribute:zone"}],
         "placement_constraints": [{"type": "distinctInstance"}]},
        {"placement_constraints": [{"type": "memberOf", "expression": "attribute:zone != c"}]})
    assert sp.docker_placement() == {
        "Constraints": ["node.labels.zone!=c"],
        "Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.zone"}}],
        "MaxReplicas": 1}


def test_swarm_nodes_check() -> None:
    nodes = [node_attributes("vm", {"zone": "a"}), node_attributes("node-2", {"zone": "b"})]
    assert check_nodes(_cons("attribute:zone in [a, b]"), nodes) == []
    errors = check_nodes(_cons("attribute:zone == c"), nodes, "fg_service.web")
    assert errors == ['No node satisfies the placement constraint memberOf "attribute:zone == '
                      'c" of fg_service.web (nodes: vm [zone=a]; node-2 [zone=b])']
    errors = check_nodes(_cons("attribute:zone == a", "ec2InstanceId == node-2"), nodes)
    assert len(errors) == 1 and "all the placement constraints" in errors[0]


# -- state written before these settings existed -----------------------------------------------
def test_prior_state_without_placement_settings_plans_no_change() -> None:
    from fgform.config.model import Lifecycle
    from fgform.config.schema import SCHEMAS
    from fgform.plan.decide import decide, upgrade_prior
    from fgform.plan.model import Action
    from fgform.state.model import InstanceState

    svc = {"name": None, "cluster": "c1", "task_definition": "web:1", "desired_count": 2,
           "health_check_grace_period": 0, "wait_for_steady_state": True,
           "steady_state_timeout": 300, "load_balancer": [], "deployment": None,
           "scheduling_strategy": "REPLICA", "placement_constraints": [],
           "placement_strategy": []}
    old = {k: v for k, v in svc.items() if not k.startswith(("placement", "scheduling"))}
    prior = InstanceState(None, old | {"id": "s-1", "running_count": 2, "tasks": []})
    assert decide(prior, svc, SCHEMAS["fg_service"], Lifecycle()).action is Action.NOOP
    cluster = InstanceState(None, {"name": None, "cidr_block": "10.0.0.0/24", "id": "c",
                                   "placement_strategy": "spread", "network_name": "n",
                                   "capacity": {"instance_count": 2}})
    up = upgrade_prior(cluster, SCHEMAS["fg_cluster"])
    assert up is not None and up.attributes["capacity"]["attribute"] == []
    assert upgrade_prior(up, SCHEMAS["fg_cluster"]) is up
