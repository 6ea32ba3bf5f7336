"""Terraform's JSON plan and state formats (`terraform show -json`), so plan-review and policy
tools that read Terraform's output read fgform's.

Checked field by field against Terraform 1.11 (`tests/unit/fixtures/plan/terraform_1.11_*`):
unknown values are omitted from `after` (null inside lists) and flagged in `after_unknown`;
sensitive values stay in `before`/`after` (as Terraform does) and are flagged in
`before_sensitive`/`after_sensitive`, which, like `after_unknown`, mirror the value with `true`
leaves, objects omitting `false` and lists keeping it.

That is the export of a saved plan (`show -json FILE`), read by policy tools. `plan -json`
prints to a terminal or a CI log: `mask_plan_json` turns the same document into one where
every sensitive value is null (its `*_sensitive` marker still says it is there).
"""

from __future__ import annotations

from typing import Any

from fgform import __version__, numbers
from fgform.addresses import Address
from fgform.plan.model import (
    Action,
    ActionReason,
    CheckResult,
    OutputChange,
    Plan,
    PlanMode,
    ResourceChange,
)
from fgform.state.model import InstanceStatus, StateFile
from fgform.values import UNKNOWN, Path, Sensitive, copy_value, cty_type, unmark

FORMAT_VERSION = "1.2"
STATE_FORMAT_VERSION = "1.0"
PROVIDER = "fgform"


# -- value helpers ----------------------------------------------------------------------------


def omit_unknowns(value: Any) -> Any:
    """Terraform's omitUnknowns: drop unknown object attributes, null unknown list items."""
    if isinstance(value, dict):
        return {k: omit_unknowns(v) for k, v in value.items() if v is not UNKNOWN}
    if isinstance(value, (list, tuple)):
        return [None if v is UNKNOWN else omit_unknowns(v) for v in value]
    return None if value is UNKNOWN else value


def unknown_as_bool(value: Any) -> Any:
    """Terraform's unknownAsBool: the shape of the value with true where unknown."""
    if value is UNKNOWN:
        return True
    if value is None:
        return False
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            b = unknown_as_bool(v)
            if b is not False:
                out[k] = b
        return out
    if isinstance(value, (list, tuple)):
        return [unknown_as_bool(v) for v in value]
    return False


def sensitive_as_bool(value: Any, paths: list[Path] | list[list[str | int]]) -> Any:
    """The shape of the value with true at the sensitive paths (Terraform's
    `sensitive_values`/`*_sensitive`)."""
    marked = {tuple(p) for p in paths}
    return _sens(value, (), marked)


def _sens(value: Any, path: Path, marked: set[Path]) -> Any:
    if path in marked:
        return True
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            b = _sens(v, (*path, k), marked)
            if b is not False:
                out[k] = b
        return out
    if isinstance(value, (list, tuple)):
        return [_sens(v, (*path, i), marked) for i, v in enumerate(value)]
    return False


# One walk for what a resource change shows of a value with no sensitive paths: the value
# without unknowns, its unknown_as_bool and its sensitive_as_bool shapes, built together and
# visiting leaves only once (the three walks above made up most of `show -json`).
_LEAF = frozenset({str, int, float, numbers.Num, bool, type(None)})


def _shapes(value: Any) -> tuple[Any, Any, Any]:
    """(omit_unknowns(value), unknown_as_bool(value), sensitive_as_bool(value, []))."""
    t = type(value)
    if t is dict:
        return _shapes_dict(value)
    if t is list or t is tuple:
        return _shapes_list(value)
    if value is UNKNOWN:
        return None, True, False
    if t in _LEAF:
        return value, False, False
    return omit_unknowns(value), unknown_as_bool(value), _sens(value, (), set())


def _shapes_dict(value: dict) -> tuple[dict, dict, dict]:
    omitted: dict[Any, Any] = {}
    unknown: dict[Any, Any] = {}
    sens: dict[Any, Any] = {}
    for k, v in value.items():
        t = type(v)
        if t in _LEAF:
            omitted[k] = v
        elif v is UNKNOWN:
            unknown[k] = True
        else:
            o, u, s = _shapes(v)
            omitted[k] = o
            if u is not False:
                unknown[k] = u
            if s is not False:
                sens[k] = s
    return omitted, unknown, sens


def _shapes_list(value: list | tuple) -> tuple[list, list, list]:
    omitted: list[Any] = []
    unknown: list[Any] = []
    sens: list[Any] = []
    for v in value:
        if type(v) in _LEAF:
            omitted.append(v)
            unknown.append(False)
            sens.append(False)
        else:
            o, u, s = _shapes(v)
            omitted.append(o)
            unknown.append(u)
            sens.append(s)
    return omitted, unknown, sens


def _change_values(value: Any, sensitive: list) -> tuple[Any, Any, Any]:
    """(omit_unknowns, after_unknown, *_sensitive) of a change's before or after value."""
    if value is None:
        return None, {}, False
    if not sensitive:
        return _shapes(value)
    return omit_unknowns(value), unknown_as_bool(value), sensitive_as_bool(value, sensitive)


# -- resources --------------------------------------------------------------------------------

_JSON_ACTIONS = {a: tuple(a.json_actions) for a in Action}


def _addr_fields(addr: Address) -> dict[str, Any]:
    out: dict[str, Any] = {"address": str(addr)}
    if addr.module:
        out["module_address"] = addr.module_address
    out.update({"mode": addr.mode, "type": addr.type, "name": addr.name})
    if addr.key is not None:
        out["index"] = addr.key
    out["provider_name"] = PROVIDER
    return out


def resource_change_json(rc: ResourceChange,
                         after: tuple[Any, Any, Any] | None = None) -> dict[str, Any]:
    """One entry of `resource_changes` (or `resource_drift`); `after` is
    `_change_values(rc.after, rc.after_sensitive)` when the caller has it already."""
    out = _addr_fields(rc.address)
    if rc.previous_address is not None:
        # Terraform's place for it: right after the address.
        out = {"address": out.pop("address"), "previous_address": str(rc.previous_address),
               **out}
    if rc.deposed:
        # Terraform's place for it: after the address fields, before provider_name.
        provider = out.pop("provider_name")
        out["deposed"] = rc.deposed
        out["provider_name"] = provider
    before_v, _, before_s = _change_values(rc.before, rc.before_sensitive)
    after_v, after_u, after_s = after or _change_values(rc.after, rc.after_sensitive)
    change: dict[str, Any] = {
        "actions": list(_JSON_ACTIONS[rc.action]),
        "before": before_v,
        "after": after_v,
        "after_unknown": after_u,
        "before_sensitive": before_s,
        "after_sensitive": after_s,
    }
    if rc.replace_paths:
        change["replace_paths"] = [list(p) for p in rc.replace_paths]
    if rc.importing_id is not None:
        change["importing"] = {"id": rc.importing_id}
    out["change"] = change
    if rc.reason is not ActionReason.NONE:
        out["action_reason"] = rc.reason.value
    return out


def output_change_json(oc: OutputChange) -> dict[str, Any]:
    before = oc.before if oc.action is not Action.CREATE else None
    after = oc.after if oc.action is not Action.DELETE else None
    out: dict[str, Any] = {"actions": list(_JSON_ACTIONS[oc.action]),
                           "before": omit_unknowns(before)}
    if after is not UNKNOWN:
        out["after"] = omit_unknowns(after)
    out["after_unknown"] = unknown_as_bool(after) if after is not None else False
    out["before_sensitive"] = oc.sensitive
    out["after_sensitive"] = oc.sensitive
    return out


def _resource_value(addr: Address, values: dict[str, Any], sensitive: list,
                    depends_on: list[str] | None = None, tainted: bool = False,
                    shapes: tuple[Any, Any, Any] | None = None,
                    deposed_key: str = "") -> dict[str, Any]:
    out = _addr_fields(addr)
    out.pop("module_address", None)  # state/planned_values resources don't carry it
    out["schema_version"] = 0
    if shapes is None:
        shapes = _shapes(values) if not sensitive else \
            (omit_unknowns(values), None, sensitive_as_bool(values, sensitive))
    out["values"] = shapes[0]
    out["sensitive_values"] = shapes[2]
    if depends_on:
        out["depends_on"] = sorted(depends_on)
    if tainted:
        out["tainted"] = True
    if deposed_key:
        out["deposed_key"] = deposed_key
    return out


def _module_tree(entries: list[tuple[Address, dict[str, Any]]]) -> dict[str, Any]:
    """Nest resources into root_module / child_modules by module path, as Terraform does."""
    root: dict[str, Any] = {"resources": []}
    children: dict[tuple, dict[str, Any]] = {}

    def node(path: tuple) -> dict[str, Any]:
        if not path:
            return root
        if path not in children:
            parent = node(path[:-1])
            children[path] = {"resources": [],
                              "address": ".".join(str(s) for s in path)}
            parent.setdefault("child_modules", []).append(children[path])
        return children[path]

    for addr, res in sorted(entries, key=lambda e: e[0].sort_key()):
        node(addr.module)["resources"].append(res)
    if not root["resources"]:
        del root["resources"]
    for mod in children.values():
        if not mod["resources"]:
            del mod["resources"]
    return root


def state_values_json(state: StateFile | None) -> dict[str, Any]:
    """Terraform's state `values`: outputs and the module tree of resources."""
    if state is None:
        return {}
    outputs = {
        k: {"sensitive": v.sensitive, "value": v.value, "type": cty_type(v.value)}
        for k, v in sorted(state.outputs.items())
        if v.value is not None  # Terraform keeps no null output in its state
    }
    entries = []
    for addr, inst in state.sorted_instances():
        assert inst is not None
        entries.append((addr, _resource_value(addr, inst.attributes, inst.sensitive_paths,
                                              inst.dependencies, inst.status is InstanceStatus.TAINTED)))
    # Terraform lists each deposed object as a resource of its own, with its deposed_key
    # (after the instance's current object: the module tree's sort is stable).
    for addr, key, attrs, holder in state.deposed_objects():
        entries.append((addr, _resource_value(addr, attrs, holder.sensitive_paths,
                                              holder.dependencies, deposed_key=key)))
    out: dict[str, Any] = {}
    if outputs:
        out["outputs"] = outputs
    out["root_module"] = _module_tree(entries)
    return out


def state_json(state: StateFile | None) -> dict[str, Any]:
    """`show -json` without a plan: Terraform's state JSON."""
    out: dict[str, Any] = {"format_version": STATE_FORMAT_VERSION}
    if state is None:
        return out
    out["terraform_version"] = __version__
    out["values"] = state_values_json(state)
    return out


def planned_values_json(plan: Plan,
                        afters: list[tuple[Any, Any, Any]] | None = None) -> dict[str, Any]:
    """`planned_values`; `afters` holds `_change_values` of each change's after value (in
    plan.changes order) when the caller has them already."""
    if afters is None:
        afters = [_change_values(rc.after, rc.after_sensitive) for rc in plan.changes]
    outputs: dict[str, Any] = {}
    for oc in plan.output_changes:
        if oc.action is Action.DELETE:
            continue
        entry: dict[str, Any] = {"sensitive": oc.sensitive}
        if oc.after is not UNKNOWN:
            entry["type"] = cty_type(oc.after)
            entry["value"] = omit_unknowns(oc.after)
        outputs[oc.name] = entry
    entries = [
        (rc.address, _resource_value(rc.address, rc.after, rc.after_sensitive, shapes=shapes))
        for rc, shapes in zip(plan.changes, afters, strict=True) if rc.after is not None
    ]
    out: dict[str, Any] = {}
    if outputs:
        out["outputs"] = outputs
    out["root_module"] = _module_tree(entries)
    return out


def plan_json(plan: Plan) -> dict[str, Any]:
    """The whole plan in Terraform's JSON plan format (format_version 1.2)."""
    out: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        # Terraform's key, holding fgform's version, so tools that read it keep working.
        "terraform_version": __version__,
    }
    if plan.variables:
        # Terraform includes sensitive variables' values here too (only the flag is elsewhere).
        out["variables"] = {k: {"value": unmark(v)[0]} for k, v in sorted(plan.variables.items())}
    # planned_values and resource_changes show each after value the same way: work it out
    # once (the output shares those objects; json.dumps writes each occurrence).
    afters = [_change_values(rc.after, rc.after_sensitive) for rc in plan.changes]
    out["planned_values"] = planned_values_json(plan, afters)
    if plan.drift:
        out["resource_drift"] = [resource_change_json(rc) for rc in plan.drift]
    out["resource_changes"] = [resource_change_json(rc, a)
                               for rc, a in zip(plan.changes, afters, strict=True)]
    out["output_changes"] = {oc.name: output_change_json(oc) for oc in plan.output_changes}
    if plan.prior_state is not None:
        out["prior_state"] = {"format_version": STATE_FORMAT_VERSION,
                              "terraform_version": __version__,
                              "values": state_values_json(plan.prior_state)}
    if plan.checks:
        out["checks"] = checks_json(plan.checks)
    out["configuration"] = plan.configuration or {
        "provider_config": {PROVIDER: {"name": PROVIDER, "full_name": PROVIDER}},
        "root_module": {},
    }
    out["timestamp"] = plan.timestamp
    out["applyable"] = plan.has_changes or bool(plan.drift and plan.mode is
                                                PlanMode.REFRESH_ONLY)
    # Terraform marks a targeted plan incomplete: applying it does not converge everything.
    out["complete"] = not plan.targets and not plan.errored
    out["errored"] = plan.errored
    return out


def checks_json(checks: list[CheckResult]) -> list[dict[str, Any]]:
    """Terraform's `checks`: each check block's status (over all instances of its module),
    each instance's status and failed assertions' messages (sorted, as Terraform sorts
    them). `checks` comes in Terraform's order (plan/checks.py)."""
    out: list[dict[str, Any]] = []
    by_block: dict[tuple[str, str], dict[str, Any]] = {}
    for c in checks:
        static = c.static_module if not c.no_instances else c.module
        block = by_block.get((static, c.name))
        if block is None:
            address: dict[str, Any] = {"kind": "check"}
            if static:
                address["module"] = static
            display = f"{static}.check.{c.name}" if static else f"check.{c.name}"
            address.update(name=c.name, to_display=display)
            block = by_block[(static, c.name)] = {"address": address, "status": "pass"}
            out.append(block)
        if c.no_instances:
            continue
        instance: dict[str, Any] = {"address": {"to_display": f"check.{c.name}"},
                                    "status": c.status}
        if c.module:
            instance["address"] = {"module": c.module,
                                   "to_display": f"{c.module}.check.{c.name}"}
        problems = sorted(p.message for p in c.problems if not p.unknown and
                          not p.message_line)  # (Terraform lists no hidden message)
        if problems:
            instance["problems"] = [{"message": m} for m in problems]
        block.setdefault("instances", []).append(instance)
        # any instance failing fails the block; else any unknown makes it unknown
        if c.status == "fail" or (c.status == "unknown" and block["status"] == "pass"):
            block["status"] = c.status
    return out


# -- masking, for output meant for a terminal -----------------------------------------------


def _null_at(value: Any, marks: Any) -> Any:
    """`value` with null wherever `marks` (a *_sensitive shape) holds true."""
    if marks is True:
        return None
    if isinstance(value, dict) and isinstance(marks, dict):
        return {k: _null_at(v, marks[k]) if k in marks else v for k, v in value.items()}
    if isinstance(value, list) and isinstance(marks, list):
        return [_null_at(v, m) for v, m in zip(value, marks, strict=False)] + \
            value[len(marks):]
    return value


def _mask_change(change: dict[str, Any]) -> None:
    for side in ("before", "after"):
        if side in change:
            change[side] = _null_at(change[side], change.get(f"{side}_sensitive", False))


def _mask_state_values(values: dict[str, Any]) -> None:
    for out in values.get("outputs", {}).values():
        if out.get("sensitive"):
            out["value"] = None
    stack = [values.get("root_module", {})]
    while stack:
        mod = stack.pop()
        for res in mod.get("resources", []):
            res["values"] = _null_at(res.get("values"), res.get("sensitive_values", False))
        stack.extend(mod.get("child_modules", []))


def _mask_configuration(module: dict[str, Any]) -> None:
    for var in module.get("variables", {}).values():
        if var.get("sensitive"):
            var.pop("default", None)
    for out in module.get("outputs", {}).values():
        if out.get("sensitive"):
            out.get("expression", {}).pop("constant_value", None)
    for call in module.get("module_calls", {}).values():
        _mask_configuration(call.get("module", {}))


def mask_plan_json(doc: dict[str, Any], plan: Plan) -> dict[str, Any]:
    """`plan_json(plan)` with every sensitive value replaced by null, in place: variables,
    planned values, resource and output changes, drift, prior state and the defaults of
    sensitive variables in `configuration`."""
    for name, var in doc.get("variables", {}).items():
        if isinstance(plan.variables.get(name), Sensitive):
            var["value"] = None
    for rc in doc.get("resource_changes", []) + doc.get("resource_drift", []):
        _mask_change(rc["change"])
    for oc in doc.get("output_changes", {}).values():
        _mask_change(oc)
    _mask_state_values(doc.get("planned_values", {}))
    _mask_state_values(doc.get("prior_state", {}).get("values", {}))
    if "configuration" in doc:
        # plan.configuration is shared with the plan: mask a copy.
        doc["configuration"] = copy_value(doc["configuration"])
        _mask_configuration(doc["configuration"].get("root_module", {}))
    return doc

