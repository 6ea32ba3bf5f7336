"""ECS task definitions on fgform's `fg_task_definition`: RegisterTaskDefinition,
DescribeTaskDefinition, ListTaskDefinitions, DeregisterTaskDefinition, and the mapping
between ECS's `containerDefinitions` and the resource's attributes (docs/api.md, "Task
definitions").

One fg_task_definition resource is one family: its attributes are the current revision
(`revision`, `arn` = "FAMILY:REV"), its `revisions` the earlier ones (INACTIVE). A family the
state has (made by the configuration or by the API) gets its new revision at its own
address; a new family is created at `fg_task_definition.ecs["FAMILY"]`, which the
configuration does not have (`plan` shows it "not in configuration").

Deregistering: an earlier revision is INACTIVE already (nothing is written); the current one
is recorded INACTIVE by a copy of it in its own history (`revisions` holds an entry with the
current revision number), a record only: it still runs where it runs, `DescribeTaskDefinition`
shows it INACTIVE, and `usable_revision` refuses it for new services and tasks, as ECS does.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from fgform.addresses import Address
from fgform.api.actions import ApiContext, Target, action
from fgform.api.arns import Identity, name_of
from fgform.api.errors import ApiError, client_error, invalid_parameter
from fgform.api.pagination import paginate
from fgform.api.transact import desired_from, read_state, state_edit, transaction
from fgform.state.model import InstanceState, StateFile
from fgform.values import SENSITIVE_TEXT, Sensitive, copy_value, unmark

TYPE = "fg_task_definition"
# The resource name of task definitions registered through the API (keyed by family).
API_NAME = "ecs"
UNABLE = "Unable to describe task definition."

_FAMILY = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
# Environment variables whose names say they hold a secret: their values are kept sensitive
# (state's sensitive_paths; "(sensitive value)" in responses, logs and plan output).
SECRET_NAME = re.compile(r"(?i)(secret|passw(or)?d|token|api_?key|private_?key|credential)")

# What ECS-on-Fargate users send routinely and fgform accepts without acting on it (listed
# in docs/api.md). Values checked: networkMode must be awsvpc, requiresCompatibilities
# FARGATE/EC2/EXTERNAL, runtimePlatform's operatingSystemFamily LINUX.
IGNORED_TASK_FIELDS = ("executionRoleArn", "taskRoleArn", "networkMode",
                       "requiresCompatibilities", "runtimePlatform", "ephemeralStorage", "tags")
IGNORED_CONTAINER_FIELDS = ("logConfiguration", "memoryReservation")
# ECS fields fgform cannot honour: refused unless empty (a describe's output, fed back,
# carries `"mountPoints": []` and the like).
UNSUPPORTED_TASK_FIELDS = ("volumes", "pidMode", "ipcMode", "proxyConfiguration",
                           "inferenceAccelerators", "enableFaultInjection")
UNSUPPORTED_CONTAINER_FIELDS = (
    "links", "mountPoints", "volumesFrom", "linuxParameters", "secrets", "dependsOn",
    "startTimeout", "hostname", "disableNetworking", "privileged", "readonlyRootFilesystem",
    "dnsServers", "dnsSearchDomains", "extraHosts", "dockerSecurityOptions", "interactive",
    "pseudoTerminal", "dockerLabels", "ulimits", "systemControls", "resourceRequirements",
    "firelensConfiguration", "repositoryCredentials", "environmentFiles", "credentialSpecs",
    "restartPolicy", "versionConsistency")
_TASK_FIELDS = {"family", "containerDefinitions", "cpu", "memory", "placementConstraints",
                *IGNORED_TASK_FIELDS, *UNSUPPORTED_TASK_FIELDS}
_CONTAINER_FIELDS = {"name", "image", "cpu", "memory", "essential", "entryPoint", "command",
                     "environment", "portMappings", "healthCheck", "workingDirectory", "user",
                     "stopTimeout", *IGNORED_CONTAINER_FIELDS, *UNSUPPORTED_CONTAINER_FIELDS}
# A port mapping's `name` and `appProtocol` serve ECS Service Connect only: ignored.
_PORT_FIELDS = {"containerPort", "hostPort", "protocol", "name", "appProtocol",
                "containerPortRange"}
_HEALTH_FIELDS = {"command": "command", "interval": "interval", "timeout": "timeout",
                  "retries": "retries", "startPeriod": "start_period"}


# -- the family's revisions in state ------------------------------------------------------------

@dataclass(frozen=True)
class Revision:
    """One revision of a family as state records it: its definition (the resource's
    attributes, without the history), whether it is ACTIVE, and the environment variables
    kept sensitive, by container name."""

    address: Address
    family: str
    revision: int
    definition: dict[str, Any]
    active: bool
    sensitive: dict[str, frozenset[str]] = field(default_factory=dict)
    current: bool = False

    @property
    def arn(self) -> str:
        """fgform's own `FAMILY:REV` (what fg_service's `task_definition` holds)."""
        return f"{self.family}:{self.revision}"

    @property
    def status(self) -> str:
        return "ACTIVE" if self.active else "INACTIVE"


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def sensitive_env(inst: InstanceState) -> dict[str, frozenset[str]]:
    """The environment variables state keeps sensitive in the instance's current revision,
    by container name (its `sensitive_paths` `container.I.environment.KEY`), and those
    whose names say they hold secrets (SECRET_NAME)."""
    containers = inst.attributes.get("container") if inst.attributes else None
    containers = containers if isinstance(containers, list) else []
    out: dict[str, set[str]] = {}
    for p in inst.sensitive_paths:
        if len(p) >= 2 and p[0] == "container" and isinstance(p[1], int) and \
                p[1] < len(containers) and isinstance(containers[p[1]], dict):
            name = str(containers[p[1]].get("name"))
            env = containers[p[1]].get("environment") or {}
            if len(p) == 2 or (len(p) == 3 and p[2] == "environment"):
                out.setdefault(name, set()).update(env)  # the whole container or map
            elif len(p) >= 4 and p[2] == "environment":
                out.setdefault(name, set()).add(str(p[3]))
    for c in containers:
        if isinstance(c, dict):
            for key in c.get("environment") or {}:
                if SECRET_NAME.search(key):
                    out.setdefault(str(c.get("name")), set()).add(key)
    return {k: frozenset(v) for k, v in out.items()}


def families(state: StateFile) -> dict[str, tuple[Address, InstanceState]]:
    """Every task definition family state has, by family: its resource instance (made by
    the configuration or by the API). Two instances of one family (which a configuration
    should not have): the one with the higher revision."""
    out: dict[str, tuple[Address, InstanceState]] = {}
    for addr, inst in state.sorted_instances():
        if addr.type != TYPE or addr.is_data or inst is None or \
                not isinstance(inst.attributes, dict):
            continue
        family = inst.attributes.get("family")
        if not isinstance(family, str):
            continue
        have = out.get(family)
        if have is None or (_int(inst.attributes.get("revision")) or 0) > \
                (_int(have[1].attributes.get("revision")) or 0):
            out[family] = (addr, inst)
    return out


def revisions_of(addr: Address, inst: InstanceState) -> list[Revision]:
    """The family's revisions, oldest first: the history (INACTIVE) and the current one
    (ACTIVE unless deregistered: its number in the history)."""
    attrs = inst.attributes or {}
    family = str(attrs.get("family"))
    sens = sensitive_env(inst)
    current = _int(attrs.get("revision"))
    out: list[Revision] = []
    history = attrs.get("revisions") if isinstance(attrs.get("revisions"), list) else []
    deregistered = False
    for old in history:
        rev = _int(old.get("revision")) if isinstance(old, dict) else None
        if rev is None:
            continue
        if rev == current:
            deregistered = True
            continue
        out.append(Revision(addr, family, rev, old, False, sens))
    if current is not None:
        definition = {k: v for k, v in attrs.items() if k != "revisions"}
        out.append(Revision(addr, family, current, definition, not deregistered, sens, True))
    return sorted(out, key=lambda r: r.revision)


def all_revisions(state: StateFile) -> list[Revision]:
    """Every revision of every family in state."""
    return [r for addr, inst in families(state).values() for r in revisions_of(addr, inst)]


def parse_ref(ref: Any, what: str = "taskDefinition") -> tuple[str, int | None]:
    """(family, revision or None) of a `taskDefinition` parameter: `FAMILY`,
    `FAMILY:REV` or its ARN."""
    if not isinstance(ref, str) or not ref:
        raise invalid_parameter(f"{what} can not be blank.")
    text = name_of(ref, "task-definition")
    family, sep, rev = text.rpartition(":")
    if not sep:
        return text, None
    if not rev.isdigit() or not family:
        raise client_error(f"Invalid revision number. Number: {rev}")
    return family, int(rev)


def find_revision(state: StateFile, ref: Any) -> Revision:
    """The revision `ref` names (`FAMILY` is its latest ACTIVE revision, as in ECS);
    ClientException "Unable to describe task definition." when state has none."""
    family, rev = parse_ref(ref)
    found = families(state).get(family)
    if found is None:
        raise client_error(UNABLE)
    revs = revisions_of(*found)
    if rev is None:
        active = [r for r in revs if r.active]
        if not active:
            raise client_error(UNABLE)
        return active[-1]
    for r in revs:
        if r.revision == rev:
            return r
    raise client_error(UNABLE)


def usable_revision(state: StateFile, ref: Any) -> Revision:
    """The revision a new service, deployment or task may run (CreateService,
    UpdateService, RunTask): as `find_revision`, but an INACTIVE one is refused as ECS
    refuses it ("TaskDefinition is inactive")."""
    rev = find_revision(state, ref)
    if not rev.active:
        raise client_error("TaskDefinition is inactive")
    return rev


def taskdef_arn(identity: Identity, fg_arn: str) -> str:
    """The AWS ARN of fgform's `FAMILY:REV`."""
    family, _, rev = fg_arn.rpartition(":")
    return identity.task_definition(family, rev)


# -- ECS's shape of a revision ----------------------------------------------------------------

def _number(value: Any) -> Any:
    n = _int(value)
    return n if n is not None else value


def container_shape(c: dict[str, Any], secret: frozenset[str] = frozenset()) -> dict[str, Any]:
    """ECS's containerDefinition of one fgform container (sensitive environment values as
    "(sensitive value)")."""
    env = c.get("environment") or {}
    out: dict[str, Any] = {
        "name": c.get("name"),
        "image": c.get("image"),
        "cpu": _number(c.get("cpu")) or 0,
        "portMappings": [
            {"containerPort": _number(p.get("container_port")),
             "hostPort": _number(p.get("host_port") or p.get("container_port")),
             "protocol": p.get("protocol") or "tcp"}
            for p in c.get("port_mapping") or [] if isinstance(p, dict)],
        "essential": c.get("essential") is not False,
        "environment": [{"name": k, "value": SENSITIVE_TEXT if k in secret else str(v)}
                        for k, v in sorted(env.items())],
        "mountPoints": [],
        "volumesFrom": [],
        "systemControls": [],
    }
    if c.get("memory") is not None:
        out["memory"] = _number(c["memory"])
    for key, name in (("entry_point", "entryPoint"), ("command", "command"),
                      ("working_directory", "workingDirectory"), ("user", "user")):
        if c.get(key) is not None:
            out[name] = copy_value(c[key])
    if c.get("stop_timeout") is not None:
        out["stopTimeout"] = _number(c["stop_timeout"])
    hc = c.get("health_check")
    if isinstance(hc, dict):
        out["healthCheck"] = {ecs: _number(hc.get(fg)) if fg != "command" else
                              copy_value(hc.get(fg)) for ecs, fg in _HEALTH_FIELDS.items()}
    return out


def taskdef_shape(identity: Identity, attrs: dict[str, Any], *, status: str = "ACTIVE",
                  sensitive: dict[str, frozenset[str]] | None = None) -> dict[str, Any]:
    """ECS's `taskDefinition` of one revision's attributes (the resource's, or an entry of
    its `revisions`): ARN in AWS's form, containerDefinitions, cpu and memory as strings."""
    sensitive = sensitive or {}
    family = attrs.get("family")
    revision = _number(attrs.get("revision"))
    constraints = []
    for pc in attrs.get("placement_constraints") or []:
        if isinstance(pc, dict):
            item = {"type": pc.get("type")}
            if pc.get("expression") is not None:
                item["expression"] = pc["expression"]
            constraints.append(item)
    return {
        "taskDefinitionArn": identity.task_definition(str(family), str(revision)),
        "containerDefinitions": [
            container_shape(c, sensitive.get(str(c.get("name")), frozenset()))
            for c in attrs.get("container") or [] if isinstance(c, dict)],
        "family": family,
        "revision": revision,
        "volumes": [],
        "status": status,
        "placementConstraints": constraints,
        "compatibilities": ["EC2", "FARGATE"],
        "requiresCompatibilities": ["FARGATE"],
        "cpu": str(_number(attrs.get("cpu"))),
        "memory": str(_number(attrs.get("memory"))),
        "networkMode": "awsvpc",
        "requiresAttributes": [],
    }


def revision_shape(identity: Identity, rev: Revision) -> dict[str, Any]:
    """`taskdef_shape` of a revision found in state."""
    return taskdef_shape(identity, {**rev.definition, "revision": rev.revision},
                         status=rev.status, sensitive=rev.sensitive)


# -- RegisterTaskDefinition's request -> the resource's attributes -----------------------------

def _empty(value: Any) -> bool:
    return value is None or value is False or value == [] or value == {} or value == ""


def _check_fields(given: dict[str, Any], known: set[str], unsupported: tuple[str, ...],
                  where: str) -> None:
    for key in sorted(given):
        if key not in known:
            raise invalid_parameter(f"Unknown parameter {where}{key}.")
        if key in unsupported and not _empty(given[key]):
            raise invalid_parameter(
                f"{where}{key} is not supported by fgform (see docs/api.md): remove it, "
                "or leave it empty.")


def _strings(value: Any, where: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid_parameter(f"{where} must be a list of strings.")
    return list(value)


def _whole(value: Any, where: str) -> int | None:
    if value is None:
        return None
    n = _int(value)
    if n is None:
        raise invalid_parameter(f"{where} must be a whole number.")
    return n


def task_size(value: Any, what: str) -> int | None:
    """Task-level `cpu` or `memory` as ECS takes them: a string of units ("256", "512")
    or with a unit ("0.25 vCPU", "1 vcpu"; "1 GB", "2GB"); CPU units and MiB."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    unit = "vcpu" if what == "cpu" else "gb"
    m = re.fullmatch(rf"\s*(\d+(?:\.\d+)?)\s*({unit})?\s*", value, re.I) \
        if isinstance(value, str) else None
    if m is None:
        raise invalid_parameter(f"Invalid '{what}' setting for task.")
    number = float(m.group(1))
    if m.group(2):
        number *= 1024
    if not number.is_integer():
        raise invalid_parameter(f"Invalid '{what}' setting for task.")
    return int(number)


def _ports(value: Any, where: str, prior: dict[str, Any] | None) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid_parameter(f"{where} must be a list.")
    # A port the current revision publishes on its own number (host_port = container_port)
    # keeps doing so: ECS's awsvpc shows hostPort = containerPort for every port.
    published = {p.get("container_port") for p in (prior or {}).get("port_mapping") or []
                 if isinstance(p, dict) and p.get("host_port") is not None
                 and p.get("host_port") == p.get("container_port")}
    out = []
    for i, p in enumerate(value):
        at = f"{where}[{i}]."
        if not isinstance(p, dict):
            raise invalid_parameter(f"{where}[{i}] must be an object.")
        _check_fields(p, _PORT_FIELDS, ("containerPortRange",), at)
        port = _whole(p.get("containerPort"), f"{at}containerPort")
        if port is None:
            raise invalid_parameter(f"{at}containerPort is required.")
        host = _whole(p.get("hostPort"), f"{at}hostPort")
        protocol = p.get("protocol") or "tcp"
        if not isinstance(protocol, str):
            raise invalid_parameter(f"{at}protocol must be tcp or udp.")
        out.append({"container_port": port,
                    # hostPort as ECS's awsvpc fills it in (= containerPort): not published
                    # on the host; another number is published there (fgform's host_port).
                    "host_port": host if host not in (None, 0, port) else
                    (port if port in published else None),
                    "protocol": protocol.lower()})
    return out


def _environment(value: Any, where: str, keep: frozenset[str],
                 prior_env: dict[str, Any]) -> dict[str, Any]:
    """The environment map; a sensitive variable's value is marked Sensitive, and
    "(sensitive value)" (what Describe shows) keeps the current revision's value."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise invalid_parameter(f"{where} must be a list of name/value pairs.")
    env: dict[str, Any] = {}
    for i, kv in enumerate(value):
        if not isinstance(kv, dict) or not isinstance(kv.get("name"), str) or \
                not kv["name"] or not isinstance(kv.get("value", ""), str) or \
                set(kv) - {"name", "value"}:
            raise invalid_parameter(f"{where}[{i}] must be {{\"name\": ..., \"value\": ...}}.")
        name = kv["name"]
        if name in env:
            raise invalid_parameter(f"{where}: duplicate environment variable {name!r}.")
        val = kv.get("value", "")
        secret = name in keep or bool(SECRET_NAME.search(name))
        if val == SENSITIVE_TEXT:
            if name not in keep or not isinstance(prior_env.get(name), str):
                raise invalid_parameter(
                    f"{where}: {name!r} is \"{SENSITIVE_TEXT}\", the placeholder responses "
                    "show for a sensitive value, but the current revision has no sensitive "
                    "value of that name to keep: send the value itself.")
            val = prior_env[name]
        env[name] = Sensitive(val) if secret else val
    return env


def _container(c: Any, i: int, prior: dict[str, Any] | None,
               keep: frozenset[str]) -> dict[str, Any]:
    at = f"containerDefinitions[{i}]."
    if not isinstance(c, dict):
        raise invalid_parameter(f"containerDefinitions[{i}] must be an object.")
    _check_fields(c, _CONTAINER_FIELDS, UNSUPPORTED_CONTAINER_FIELDS, at)
    for key in ("name", "image"):
        if not isinstance(c.get(key), str) or not c[key]:
            raise invalid_parameter(f"Container.{key} should not be null or empty.")
    essential = c.get("essential", True)
    if not isinstance(essential, bool):
        raise invalid_parameter(f"{at}essential must be true or false.")
    out: dict[str, Any] = {
        "name": c["name"], "image": c["image"], "essential": essential,
        "cpu": _whole(c.get("cpu"), f"{at}cpu") or None,  # ECS's 0: no reservation
        "memory": _whole(c.get("memory"), f"{at}memory"),
        "entry_point": _strings(c.get("entryPoint"), f"{at}entryPoint"),
        "command": _strings(c.get("command"), f"{at}command"),
        "environment": _environment(c.get("environment"), f"{at}environment", keep,
                                    (prior or {}).get("environment") or {}),
        "port_mapping": _ports(c.get("portMappings"), f"{at}portMappings", prior),
        "stop_timeout": _whole(c.get("stopTimeout"), f"{at}stopTimeout"),
    }
    for key, name in (("workingDirectory", "working_directory"), ("user", "user")):
        if c.get(key) is not None:
            if not isinstance(c[key], str):
                raise invalid_parameter(f"{at}{key} must be a string.")
            out[name] = c[key]
    hc = c.get("healthCheck")
    if hc is not None:
        if not isinstance(hc, dict):
            raise invalid_parameter(f"{at}healthCheck must be an object.")
        _check_fields(hc, set(_HEALTH_FIELDS), (), f"{at}healthCheck.")
        command = _strings(hc.get("command"), f"{at}healthCheck.command")
        if not command:
            raise invalid_parameter(f"{at}healthCheck.command is required.")
        out["health_check"] = {"command": command, **{
            fg: _whole(hc.get(ecs), f"{at}healthCheck.{ecs}")
            for ecs, fg in _HEALTH_FIELDS.items() if ecs != "command"}}
    return {k: v for k, v in out.items() if v is not None}


def _task_level_checks(params: dict[str, Any]) -> None:
    mode = params.get("networkMode")
    if mode is not None and mode != "awsvpc":
        raise invalid_parameter(
            f"networkMode {mode!r} is not supported: fgform runs every task in its cluster's "
            "network as Fargate does (awsvpc).")
    compat = params.get("requiresCompatibilities")
    if compat is not None and (not isinstance(compat, list) or
                               any(c not in ("FARGATE", "EC2", "EXTERNAL") for c in compat)):
        raise invalid_parameter("requiresCompatibilities must be a list of FARGATE, EC2 or "
                                "EXTERNAL.")
    platform = params.get("runtimePlatform")
    if platform is not None:
        if not isinstance(platform, dict):
            raise invalid_parameter("runtimePlatform must be an object.")
        family = platform.get("operatingSystemFamily")
        if family not in (None, "LINUX"):
            raise invalid_parameter(f"runtimePlatform.operatingSystemFamily {family!r} is not "
                                    "supported: fgform runs Linux containers.")


def definition_from_request(params: dict[str, Any],
                            prior: InstanceState | None) -> dict[str, Any]:
    """The desired attributes of a RegisterTaskDefinition request (configuration-shaped,
    sensitive environment values marked); `prior` is the family's current instance, whose
    sensitive variables stay sensitive. InvalidParameterException names the first
    problem."""
    if not isinstance(params, dict):
        raise invalid_parameter("The request must be a JSON object.")
    _check_fields(params, _TASK_FIELDS, UNSUPPORTED_TASK_FIELDS, "")
    family = params.get("family")
    if not isinstance(family, str) or not _FAMILY.match(family):
        raise invalid_parameter("Family must be 1-255 letters, numbers, hyphens and "
                                "underscores.")
    _task_level_checks(params)
    containers = params.get("containerDefinitions")
    if not isinstance(containers, list) or not containers:
        raise invalid_parameter("Container list cannot be empty.")
    prior_attrs = prior.attributes if prior is not None and prior.attributes else {}
    prior_containers = {c.get("name"): c for c in prior_attrs.get("container") or []
                        if isinstance(c, dict)}
    keep = sensitive_env(prior) if prior is not None else {}
    built = []
    for i, c in enumerate(containers):
        name = c.get("name") if isinstance(c, dict) else None
        built.append(_container(c, i, prior_containers.get(name),
                                keep.get(str(name), frozenset())))
    names = [c["name"] for c in built]
    if len(set(names)) != len(names):
        raise invalid_parameter("Container names must be unique within a task definition.")
    values: dict[str, Any] = {"family": family, "container": built}
    for key in ("cpu", "memory"):
        size = task_size(params.get(key), key)
        if size is not None:
            values[key] = size
    constraints = params.get("placementConstraints")
    if constraints is not None:
        if not isinstance(constraints, list) or not all(isinstance(p, dict) and
                                                        set(p) <= {"type", "expression"}
                                                        for p in constraints):
            raise invalid_parameter("placementConstraints must be a list of "
                                    "{\"type\": ..., \"expression\": ...}.")
        values["placement_constraints"] = [dict(p) for p in constraints]
    # Sensitive marks go through: fill_defaults copies them, check_values looks through.
    return desired_from(TYPE, values)


def redacted_request(state: StateFile | None, params: Any) -> Any:
    """A RegisterTaskDefinition request body as the audit log may keep it: the value of
    every environment variable that is kept sensitive (a secret-looking name, or sensitive
    in the family's current revision in `state`) reads "(sensitive value)". Anything
    malformed is returned as it is (there is nothing to find in it)."""
    if not isinstance(params, dict) or not isinstance(params.get("containerDefinitions"),
                                                      list):
        return params
    found = families(state).get(params.get("family")) \
        if state is not None and isinstance(params.get("family"), str) else None
    keep = sensitive_env(found[1]) if found is not None else {}
    containers = []
    for c in params["containerDefinitions"]:
        if isinstance(c, dict) and isinstance(c.get("environment"), list):
            secret = keep.get(str(c.get("name")), frozenset())
            c = {**c, "environment": [
                {**kv, "value": SENSITIVE_TEXT}
                if isinstance(kv, dict) and isinstance(kv.get("name"), str) and "value" in kv
                and (kv["name"] in secret or SECRET_NAME.search(kv["name"])) else kv
                for kv in c["environment"]]}
        containers.append(c)
    return {**params, "containerDefinitions": containers}


# -- the actions ----------------------------------------------------------------------------

def _all_targets(ctx: ApiContext, params: dict[str, Any]) -> list[Target]:
    return [Target("*")]


def _ref_target(ctx: ApiContext, params: dict[str, Any]) -> list[Target]:
    """The task definition's ARN; a family alone is its latest ACTIVE revision's (or
    `FAMILY:*` when state has none: the handler then answers it is unknown)."""
    ref = params.get("taskDefinition") if isinstance(params, dict) else None
    try:
        family, rev = parse_ref(ref)
    except ApiError:
        return [Target("*")]
    if rev is None:
        try:
            rev = find_revision(read_state(ctx), family).revision
        except ApiError:
            return [Target(ctx.identity.task_definition(family, "*"))]
    return [Target(ctx.identity.task_definition(family, rev))]


@action("RegisterTaskDefinition", _all_targets, writes=True)
def register_task_definition(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    """A new revision of the family: at the family's own address when state has it (the
    configuration's resource is updated in place: the next plan shows it), else a new
    `fg_task_definition.ecs["FAMILY"]`."""
    if not isinstance(params, dict):
        raise invalid_parameter("The request must be a JSON object.")
    family = params.get("family")
    made: dict[str, Any] = {}

    def edit(state: StateFile) -> tuple[Address, dict[str, Any] | None]:
        found = families(state).get(family) if isinstance(family, str) else None
        addr = found[0] if found is not None else Address(TYPE, API_NAME, str(family))
        made["desired"] = definition_from_request(params, found[1] if found else None)
        return addr, made["desired"]

    addr, attrs = transaction(ctx, edit, operation="RegisterTaskDefinition",
                              repair="RegisterTaskDefinition registers a new revision")
    assert attrs is not None
    inst = InstanceState(addr.key, attrs, sensitive_paths=_marked_paths(made["desired"]))
    body: dict[str, Any] = {"taskDefinition": taskdef_shape(
        ctx.identity, attrs, sensitive=sensitive_env(inst))}
    if params.get("tags"):
        body["tags"] = copy_value(params["tags"])
    return body


def _marked_paths(desired: dict[str, Any]) -> list[list[str | int]]:
    return [list(p) for p in unmark(desired)[1]]


@action("DescribeTaskDefinition", _ref_target)
def describe_task_definition(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    """ECS's `taskDefinition` of a revision (`FAMILY` is its latest ACTIVE one), ACTIVE or
    INACTIVE; `include: ["TAGS"]` adds `tags` (always empty: fgform keeps none)."""
    rev = find_revision(read_state(ctx), params.get("taskDefinition"))
    body: dict[str, Any] = {"taskDefinition": revision_shape(ctx.identity, rev)}
    include = params.get("include") or []
    if not isinstance(include, list) or any(i != "TAGS" for i in include):
        raise invalid_parameter("include must be a list of TAGS.")
    if "TAGS" in include:
        body["tags"] = []
    return body


@action("ListTaskDefinitions", _all_targets)
def list_task_definitions(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    """The ARNs of the revisions of every family (or those whose family starts with
    `familyPrefix`) of one status (ACTIVE by default), by family then revision (`sort`
    DESC: the other way), paginated."""
    prefix = params.get("familyPrefix")
    if prefix is not None and not isinstance(prefix, str):
        raise invalid_parameter("familyPrefix must be a string.")
    status = params.get("status", "ACTIVE")
    if status not in ("ACTIVE", "INACTIVE"):
        raise invalid_parameter("status must be ACTIVE or INACTIVE.")
    order = params.get("sort", "ASC")
    if order not in ("ASC", "DESC"):
        raise invalid_parameter("sort must be ASC or DESC.")
    revs = [r for r in all_revisions(read_state(ctx))
            if r.status == status and (not prefix or r.family.startswith(prefix))]
    page, token = paginate(revs, params, action="ListTaskDefinitions",
                           key=lambda r: [r.family, r.revision], reverse=order == "DESC")
    body: dict[str, Any] = {
        "taskDefinitionArns": [ctx.identity.task_definition(r.family, r.revision)
                               for r in page]}
    if token is not None:
        body["nextToken"] = token
    return body


@action("DeregisterTaskDefinition", _ref_target, writes=True)
def deregister_task_definition(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    """The revision INACTIVE: an earlier one is already; the current one is recorded so
    (a copy in its history), a state record only (see the module docstring)."""
    ref = params.get("taskDefinition")
    family, rev_number = parse_ref(ref)
    if rev_number is None:
        raise invalid_parameter("A revision must be specified: FAMILY:REVISION or its ARN.")

    def change(state: StateFile) -> Revision:
        rev = find_revision(state, ref)
        if not rev.active or not rev.current:
            return dataclasses.replace(rev, active=False)
        inst = state.get(rev.address)
        assert inst is not None and inst.attributes is not None
        attrs = dict(inst.attributes)
        history = [h for h in attrs.get("revisions") or [] if isinstance(h, dict)]
        history.append({**rev.definition, "status": "INACTIVE"})
        attrs["revisions"] = sorted(history, key=lambda h: _int(h.get("revision")) or 0)
        state.set(rev.address, dataclasses.replace(inst, attributes=attrs))
        return dataclasses.replace(rev, active=False)

    rev = find_revision(read_state(ctx), ref)  # unknown: answered without waiting for locks
    if rev.active:
        rev = state_edit(ctx, change, operation="DeregisterTaskDefinition")
    return {"taskDefinition": revision_shape(ctx.identity, rev)}


