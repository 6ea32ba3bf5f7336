"""Saved plans (`fgform plan -out FILE`, `fgform apply FILE`) and their staleness check.

A plan file is JSON: `{"format": "fgform-plan", "format_version": 1, ...}` holding the
configuration hash, the variables (sensitive ones flagged), the lineage and serial of the
state the plan was made against (null when there was none), the mode, the targets, and every
change. UNKNOWN is encoded losslessly as `{"__fgform_unknown__": true}`; a dict that happens
to have that key is escaped as `{"__fgform_escaped__": {...}}`.

Like Terraform's, a plan file may hold secrets (sensitive variables' values are needed to
apply it): treat it as a secret.

`config_hash` covers every `*.hcl`, `*.tf` and `*.fgvars` file of the configuration
directory and all its (non-hidden) subdirectories, plus the directories of modules outside
it (given the loaded Config). Image build contexts are not hashed here: their content is already
in the plan as each fg_image's planned `context_sha256`, which apply can compare.
"""

from __future__ import annotations

import json
import os
from pathlib import Path as FsPath
from typing import Any

from fgform.addresses import parse_address
from fgform.errors import FgformError
from fgform.jsonenc import decode_json, encode_json
from fgform.plan.model import (
    Action,
    ActionReason,
    AttributeDiff,
    CheckProblem,
    CheckResult,
    DiffKind,
    OutputChange,
    Plan,
    PlanMode,
    ResourceChange,
)
from fgform.safefile import read_regular, refuse_symlink, replace_file
from fgform.schemacheck import Schema, SchemaError, packaged
from fgform.state.model import StateFile
from fgform.state.store import state_schema
from fgform.values import UNKNOWN, Sensitive, cty_type, typed_value

FORMAT = "fgform-plan"
FORMAT_VERSION = 1
_UNK = "__fgform_unknown__"
_ESC = "__fgform_escaped__"
CONFIG_SUFFIXES = (".hcl", ".tf", ".fgvars")


class StalePlanError(FgformError):
    """A saved plan no longer matches the state or configuration it was made against."""


class PlanFileError(FgformError):
    """A file that is not a readable fgform plan."""


# -- values -------------------------------------------------------------------------------


def encode_value(v: Any) -> Any:
    """Plain JSON for a value that may hold UNKNOWN (lossless; see decode_value)."""
    if v is UNKNOWN:
        return {_UNK: True}
    if isinstance(v, Sensitive):
        return encode_value(v.value)  # marks travel separately, as paths
    if isinstance(v, dict):
        out = {str(k): encode_value(x) for k, x in v.items()}
        if _UNK in v or _ESC in v:
            return {_ESC: out}
        return out
    if isinstance(v, (list, tuple)):
        return [encode_value(x) for x in v]
    return v


def decode_value(v: Any) -> Any:
    if isinstance(v, dict):
        if len(v) == 1 and v.get(_UNK) is True:
            return UNKNOWN
        if len(v) == 1 and _ESC in v and isinstance(v[_ESC], dict):
            return {k: decode_value(x) for k, x in v[_ESC].items()}
        return {k: decode_value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [decode_value(x) for x in v]
    return v


def _decode_owned(v: Any) -> Any:
    """decode_value for a value freshly parsed by json.loads, which nothing else holds:
    the same result, but dicts and lists are reused (markers replaced in place) and only
    containers are visited, not every leaf."""
    if type(v) is dict:
        if len(v) == 1:
            if v.get(_UNK) is True:
                return UNKNOWN
            inner = v.get(_ESC)
            if isinstance(inner, dict):
                v = inner  # escaped: its own keys are plain, its values decoded as usual
        _decode_dict(v)
    elif type(v) is list:
        _decode_list(v)
    elif isinstance(v, (dict, list)):  # not from json.loads: leave it to the general walk
        return decode_value(v)
    return v


def _decode_dict(d: dict) -> None:
    for k, x in d.items():
        t = type(x)
        if t is dict or t is list:
            y = _decode_owned(x)
            if y is not x:
                d[k] = y  # same key: the dict's size does not change while iterating


def _decode_list(a: list) -> None:
    for i, x in enumerate(a):
        t = type(x)
        if t is dict or t is list:
            y = _decode_owned(x)
            if y is not x:
                a[i] = y


def _as_is(v: Any) -> Any:
    return v


def _decode_change_owned(c: Any, diffs_too: bool = True) -> None:
    """Decode, in place, the values of one change as json.loads gave it (its before/after
    and, with `diffs_too`, its diffs' before/after: the fields _change_from_json decodes),
    calling _decode_owned only for containers."""
    if type(c) is not dict:
        return  # _change_from_json reports it
    for key in ("before", "after"):
        v = c.get(key)
        if type(v) is dict or type(v) is list:
            c[key] = _decode_owned(v)
    diffs = c.get("diffs") if diffs_too else None
    if type(diffs) is list:
        for x in diffs:
            if type(x) is dict:
                for key in ("before", "after"):
                    v = x.get(key)
                    if type(v) is dict or type(v) is list:
                        x[key] = _decode_owned(v)


def _paths(paths: list) -> list[list[str | int]]:
    return [list(p) for p in paths]


def _tuples(paths: list) -> list[tuple]:
    return [tuple(p) for p in paths]


def _change_to_json(rc: ResourceChange) -> dict[str, Any]:
    return {
        "address": str(rc.address),
        "action": rc.action.value,
        "reason": rc.reason.value,
        "before": encode_value(rc.before),
        "after": encode_value(rc.after),
        "before_sensitive": _paths(rc.before_sensitive),
        "after_sensitive": _paths(rc.after_sensitive),
        "replace_paths": _paths(rc.replace_paths),
        "diffs": [{"path": list(d.path), "kind": d.kind.value, "before": encode_value(d.before),
                   "after": encode_value(d.after), "forces_replacement": d.forces_replacement}
                  for d in rc.diffs],
        "dependencies": list(rc.dependencies),
        "create_before_destroy": rc.create_before_destroy,
        "prevent_destroy": rc.prevent_destroy,
        "repair": rc.repair,
        "deposed": rc.deposed,
        "previous_address": None if rc.previous_address is None else str(rc.previous_address),
        "importing_id": rc.importing_id,
    }


def _enum(cls: Any) -> Any:
    """`cls(value)` as a dict lookup (an Enum call costs ~2 us; a plan has thousands)."""
    members = dict(cls._value2member_map_)

    def get(value: Any) -> Any:
        try:
            return members[value]
        except (KeyError, TypeError):
            return cls(value)  # the Enum's own error for a bad value
    return get


_action, _reason, _diff_kind = _enum(Action), _enum(ActionReason), _enum(DiffKind)


def _change_from_json(d: dict[str, Any], decode: Any = decode_value, diffs: bool = True
                      ) -> ResourceChange:
    return ResourceChange(
        address=parse_address(d["address"]),
        action=_action(d["action"]),
        reason=_reason(d.get("reason", "")),
        before=decode(d.get("before")),
        after=decode(d.get("after")),
        before_sensitive=_tuples(d.get("before_sensitive", [])),
        after_sensitive=_tuples(d.get("after_sensitive", [])),
        replace_paths=_tuples(d.get("replace_paths", [])),
        diffs=[AttributeDiff(tuple(x["path"]), _diff_kind(x["kind"]), decode(x["before"]),
                             decode(x["after"]), x["forces_replacement"])
               for x in (d.get("diffs", []) if diffs else ())],
        dependencies=list(d.get("dependencies", [])),
        create_before_destroy=d.get("create_before_destroy", False),
        prevent_destroy=d.get("prevent_destroy", False),
        repair=d.get("repair"),
        deposed=d.get("deposed", ""),
        previous_address=parse_address(d["previous_address"]) if d.get("previous_address")
        else None,
        importing_id=d.get("importing_id"),
    )


# -- the file -----------------------------------------------------------------------------


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config_hash": plan.config_hash,
        "variables": {k: {"value": encode_value(v), "sensitive": isinstance(v, Sensitive)}
                      for k, v in sorted(plan.variables.items())},
        "state": None if plan.state_lineage is None else {
            "lineage": plan.state_lineage, "serial": plan.state_serial},
        "mode": plan.mode.value,
        "targets": list(plan.targets),
        "timestamp": plan.timestamp,
        "errored": plan.errored,
        "warnings": list(plan.warnings),
        "changes": [_change_to_json(c) for c in plan.changes],
        "drift": [_change_to_json(c) for c in plan.drift],
        "output_changes": [_output_change_to_json(o) for o in plan.output_changes],
        # the refreshed state: what apply starts from (and all a refresh-only apply writes)
        "prior_state": plan.prior_state.to_dict() if plan.prior_state is not None else None,
        "configuration": plan.configuration,
        "checks": [{"name": c.name, "status": c.status,
                    "problems": [{"message": p.message, "filename": p.filename, "line": p.line,
                                  "source": p.source, "unknown": p.unknown,
                                  **({"message_line": p.message_line,
                                      "message_source": p.message_source}
                                     if p.message_line else {})}
                                 for p in c.problems],
                    # a child module's (the root's have neither)
                    **({"module": c.module} if c.module else {}),
                    **({"no_instances": True} if c.no_instances else {})}
                   for c in plan.checks],
    }


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:36] + "..."


def _check_header(data: dict[str, Any], name: str = "The file") -> None:
    if data.get("format") != FORMAT:
        raise PlanFileError(f"{name} is not an fgform plan file.",
                            hint="Make one with `fgform plan -out FILE`.")
    if data.get("format_version") != FORMAT_VERSION:
        raise PlanFileError(
            f"Unsupported plan file format version {_short(data.get('format_version'))} "
            f"(this fgform reads version {FORMAT_VERSION}).",
            hint="Make the plan again with this version of fgform.")


def _plan_from_dict(data: dict[str, Any], diffs: bool = True) -> Plan:
    """The Plan in load_plan's freshly parsed dict, its values decoded in place. Without
    `diffs`, the changes' attribute diffs are left empty (see load_plan)."""
    _check_header(data)
    decode = _decode_owned
    variables: dict[str, Any] = {}
    for k, v in data.get("variables", {}).items():
        value = decode(v.get("value"))
        variables[k] = Sensitive(value) if v.get("sensitive") else value
    st = data.get("state")
    prior = data.get("prior_state")
    # Most values are scalars: one pass over the changes calls the decoder for the
    # containers only, instead of once per value.
    for key in ("changes", "drift"):
        changes = data.get(key)
        if type(changes) is list:
            for c in changes:
                _decode_change_owned(c, diffs)
    change_decode = _as_is
    return Plan(
        changes=[_change_from_json(c, change_decode, diffs) for c in data.get("changes", [])],
        prior_state=StateFile.from_dict(prior) if prior is not None else None,
        mode=PlanMode(data.get("mode", "normal")),
        drift=[_change_from_json(c, change_decode, diffs) for c in data.get("drift", [])],
        output_changes=[OutputChange(o["name"], _action(o["action"]), decode(o["before"]),
                                     typed_value(decode(o["after"]), o.get("after_type")),
                                     o.get("sensitive", False))
                        for o in data.get("output_changes", [])],
        variables=variables,
        config_hash=data.get("config_hash", ""),
        targets=list(data.get("targets", [])),
        timestamp=data.get("timestamp", ""),
        errored=data.get("errored", False),
        state_lineage=st["lineage"] if st else None,
        state_serial=st["serial"] if st else None,
        warnings=list(data.get("warnings", [])),
        configuration=data.get("configuration"),
        checks=[CheckResult(c["name"], c["status"],
                            [CheckProblem(p["message"], p["filename"], p["line"],
                                          p.get("source", ""), p.get("unknown", False),
                                          p.get("message_line", 0),
                                          p.get("message_source", ""))
                             for p in c["problems"]], c.get("module", ""),
                            c.get("no_instances", False)) for c in data.get("checks", [])],
    )


def dumps_indented(obj: Any) -> str:
    """`obj` as two-space indented, key-sorted JSON (`fgform.jsonenc`)."""
    return encode_json(obj).decode("utf-8")


def plan_schema() -> Schema:
    """The plan file's JSON Schema (`fgform/plan/schema.json`, shipped with the package)."""
    return packaged("fgform.plan", "schema.json")


def check_plan_path(path: str | os.PathLike[str], shown: str | None = None) -> None:
    """Refuse a `plan -out` path that cannot take a plan, before any planning is done.

    `shown` is the path as the user wrote it. A symlink at the path is refused, not
    replaced or followed: the plan holds secrets and must land exactly where the user
    expects, in a file only they can read.
    """
    p = FsPath(path)
    name = shown if shown is not None else os.fspath(path)
    if p.is_dir() and not p.is_symlink():
        raise PlanFileError(f"Failed to write plan file: {name} is a directory.",
                            hint="Give -out the path of a file, e.g. -out=tfplan.")
    if not p.parent.is_dir():
        raise PlanFileError(
            f"Failed to write plan file: the directory of {name} does not exist.",
            hint="Create the directory first, or choose another -out path.")
    refuse_symlink(p, "the plan file")
    if p.exists() and not p.is_file():
        # The plan replaces the file by rename: a device (/dev/null) or FIFO would be replaced.
        raise PlanFileError(f"Failed to write plan file: {name} is not a regular file.",
                            hint="Give -out the path of a file, e.g. -out=tfplan.")


def save_plan(plan: Plan, path: str | os.PathLike[str], shown: str | None = None) -> None:
    """Write a plan file atomically (a half-written plan must never be applied), mode 0600
    (it may hold sensitive variables' values), under a fresh temporary name: a file or link
    planted at any name beside it is never written through or reused."""
    check_plan_path(path, shown)
    text = dumps_indented(plan_to_dict(plan)) + "\n"
    try:
        replace_file(path, text.encode("utf-8"))
    except OSError as exc:
        raise PlanFileError(f"Failed to write plan file {shown or os.fspath(path)}: "
                            f"{exc.strerror or exc}") from exc


def load_plan(path: str | os.PathLike[str], *, diffs: bool = True) -> Plan:
    """Read a saved plan; a file that is not one (wrong shape, bad encoding, absurd
    nesting) is a PlanFileError naming the file and, for a shape error, the JSON path.

    `diffs=False` leaves every change's attribute diffs empty (they are still checked):
    `show -json` never reads them, and building ~10 per resource cost it as much as the
    schema check."""
    name = os.fspath(path)
    try:
        raw = read_regular(path)[0]
    except IsADirectoryError:
        raise PlanFileError(f"Cannot read the plan file {name}: it is a directory.") from None
    except OSError as exc:
        raise PlanFileError(f"Cannot read the plan file {name}: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanFileError(f"{name} is not an fgform plan file (not UTF-8 text: byte "
                            f"{exc.start + 1}).") from None
    del raw
    try:
        data = decode_json(text)
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"{name} is not an fgform plan file (not JSON: {exc}).") from None
    except RecursionError:
        raise PlanFileError(
            f"{name} is not an fgform plan file (its JSON is nested too deeply).") from None
    del text
    if not isinstance(data, dict):
        raise PlanFileError(f"{name} is not an fgform plan file.")
    _check_header(data, name)
    try:
        plan_schema().check(data)
        if data.get("prior_state") is not None:
            state_schema().check(data["prior_state"], "prior_state")
    except SchemaError as exc:
        raise PlanFileError(f"{name} is not a valid fgform plan file: {exc}",
                            hint="Make the plan again with `fgform plan -out FILE`.") from None
    try:
        return _plan_from_dict(data, diffs)
    except RecursionError:
        raise PlanFileError(f"{name} is not a valid fgform plan file: a value is nested "
                            "too deeply.") from None
    except (FgformError, ValueError) as exc:  # AddressError is a ValueError
        why = exc.message if isinstance(exc, FgformError) else str(exc)
        raise PlanFileError(f"{name} is not a valid fgform plan file: {why}",
                            hint="Make the plan again with `fgform plan -out FILE`.") from None


# -- staleness ------------------------------------------------------------------------------

_HINT = "Run `fgform plan -out FILE` again, review it, and apply the new plan."


def check_stale(plan: Plan, current_state: StateFile | None, config_hash: str) -> None:
    """Refuse a saved plan that no longer matches the state or configuration.

    A plan made against no state refuses once a state exists (Terraform issue 24078: two plans
    made before the first apply must not both be applied).
    """
    if plan.state_lineage is None:
        if current_state is not None:
            raise StalePlanError(
                "Saved plan is stale: the plan was made when there was no state, and a state "
                f"now exists (lineage {current_state.lineage}, serial {current_state.serial}).",
                hint=_HINT)
    else:
        if current_state is None:
            raise StalePlanError(
                "Saved plan is stale: the plan was made against a state (lineage "
                f"{plan.state_lineage}, serial {plan.state_serial}) that no longer exists.",
                hint=_HINT)
        if current_state.lineage != plan.state_lineage:
            raise StalePlanError(
                "Saved plan is stale: the plan was made for a different state (lineage "
                f"{plan.state_lineage} -> {current_state.lineage}).", hint=_HINT)
        if current_state.serial != plan.state_serial:
            raise StalePlanError(
                "Saved plan is stale: the state was changed since the plan was made (serial "
                f"{plan.state_serial} -> {current_state.serial}).", hint=_HINT)
    if plan.config_hash and config_hash and plan.config_hash != config_hash:
        raise StalePlanError(
            "Saved plan is stale: the configuration was changed since the plan was made.",
            hint=_HINT)


def _config_dirs(config_dir: str | os.PathLike[str], config: Any | None) -> list[FsPath]:
    """Every directory under the root (modules usually live there), plus the directories of
    modules outside it when the loaded Config is given. Same answer with or without the
    Config for modules inside the root, so plan and apply agree."""
    root = FsPath(config_dir)
    dirs = [root]
    for d, subdirs, _ in os.walk(root):
        # Hidden directories (.git, .terraform, ...) are not configuration
        subdirs[:] = sorted(s for s in subdirs if not s.startswith("."))
        if FsPath(d) != root:
            dirs.append(FsPath(d))
    todo = [config] if config is not None else []
    while todo:
        c = todo.pop()
        dirs.append(FsPath(c.module.dir))
        todo.extend(c.children.values())
    return dirs


def config_hash(config_dir: str | os.PathLike[str], config: Any | None = None) -> str:
    """sha256 over the configuration files of the root and every module directory."""
    import hashlib  # only plan and apply hash the configuration; `show` does not

    root = FsPath(config_dir).resolve()
    digest = hashlib.sha256()
    dirs = sorted({d.resolve() for d in _config_dirs(config_dir, config) if d.is_dir()})
    for d in dirs:
        for f in sorted(d.iterdir()):
            if f.is_file() and f.name.endswith(CONFIG_SUFFIXES):
                try:
                    name = str(f.relative_to(root))
                except ValueError:
                    name = str(f)  # a module outside the root directory
                digest.update(f"{name}\0".encode())
                digest.update(hashlib.sha256(f.read_bytes()).hexdigest().encode() + b"\0")
    return digest.hexdigest()


def _output_change_to_json(o: OutputChange) -> dict[str, Any]:
    entry = {"name": o.name, "action": o.action.value, "before": encode_value(o.before),
             "after": encode_value(o.after), "sensitive": o.sensitive}
    if o.after is not UNKNOWN and o.after is not None:
        # A list, set or map output is one again when the plan is read back (`show -json`
        # reports Terraform's type for it).
        entry["after_type"] = cty_type(o.after)
    return entry
