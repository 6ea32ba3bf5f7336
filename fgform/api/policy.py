"""IAM-style authorization: validating identity-based policy documents and evaluating them
as IAM does (an explicit Deny wins, otherwise an Allow is needed, otherwise the request is
implicitly denied).

What is supported, as IAM's policy grammar has it: `Version` ("2012-10-17" or "2008-10-17",
optional), `Id`, `Statement` (an object or a list) with `Sid`, `Effect` (Allow/Deny),
`Action`/`NotAction` (strings or lists; `*` and `?` wildcards, matched case-insensitively),
`Resource`/`NotResource` (ARNs or `*`, wildcards, matched case-sensitively) and `Condition`
with the string and ARN operators (and their `...IfExists` forms) and `Null`, on the
condition keys the server fills in (`SUPPORTED_CONDITION_KEYS`). Anything else is an error
when a key is created, naming the JSON path, rather than something silently ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from fgform.api.arns import DEFAULT_ACCOUNT
from fgform.api.ecs_model import ecs_model, json_kind
from fgform.suggest import closest, did_you_mean

VERSIONS = ("2012-10-17", "2008-10-17")
POLICY_ELEMENTS = ("Version", "Id", "Statement")
STATEMENT_ELEMENTS = ("Sid", "Effect", "Action", "NotAction", "Resource", "NotResource",
                      "Condition")
# Condition keys the server puts in a request's context (names compare case-insensitively,
# as IAM's do); `request_context` builds them.
SUPPORTED_CONDITION_KEYS = ("ecs:cluster", "aws:username", "aws:PrincipalArn",
                            "aws:PrincipalAccount", "aws:PrincipalType", "aws:RequestedRegion")

# Operator -> (kind, negated). `...IfExists` forms and `Null` are handled beside these.
_OPERATORS: dict[str, tuple[str, bool]] = {
    "StringEquals": ("equals", False),
    "StringNotEquals": ("equals", True),
    "StringEqualsIgnoreCase": ("equals-ci", False),
    "StringNotEqualsIgnoreCase": ("equals-ci", True),
    "StringLike": ("like", False),
    "StringNotLike": ("like", True),
    "ArnEquals": ("arn", False),   # IAM: ArnEquals and ArnLike behave the same
    "ArnLike": ("arn", False),
    "ArnNotEquals": ("arn", True),
    "ArnNotLike": ("arn", True),
}
OPERATORS = (*_OPERATORS, *(f"{op}IfExists" for op in _OPERATORS), "Null")



class ApiKey(Protocol):
    """What authorization needs of an access key (`fgform.api.keys.ApiKey`, which imports
    this module to validate policies): its name, the IAM user name in messages."""

    @property
    def name(self) -> str: ...


_ACTION_RE = re.compile(r"[A-Za-z0-9-]+:[A-Za-z0-9*?]+")


@dataclass(frozen=True)
class Decision:
    """The outcome of evaluating a request: `kind` is "explicit-deny", "allow" or
    "implicit-deny"; `statement` names the statement that decided ("policy 1, statement 2
    (Sid ReadOnly)"), None for an implicit deny. `policy_index` / `statement_index` (from
    0) point at it in the key's policies."""

    allowed: bool
    kind: str
    statement: str | None
    policy_index: int | None = None
    statement_index: int | None = None


# -- validation -------------------------------------------------------------------------------
def validate_policy(doc: Any) -> list[str]:
    """The problems of an identity-based policy document, each starting with its JSON path
    (`Statement[0].Effect: must be "Allow" or "Deny"`); empty when the policy is valid."""
    problems: list[str] = []
    if not isinstance(doc, dict):
        return [f"(document): a policy must be a JSON object, not {json_kind(doc)}"]
    for name in doc:
        if name not in POLICY_ELEMENTS:
            problems.append(_unknown(name, name, POLICY_ELEMENTS, "policy element"))
    if "Version" in doc and doc["Version"] not in VERSIONS:
        problems.append(f'Version: must be "2012-10-17" or "2008-10-17", not '
                        f"{json.dumps(doc['Version'])}")
    if "Statement" not in doc:
        problems.append("Statement: missing (a policy needs at least one statement)")
        return problems
    statements = doc["Statement"]
    if isinstance(statements, dict):
        paths = [("Statement", statements)]
    elif isinstance(statements, list):
        if not statements:
            problems.append("Statement: empty (a policy needs at least one statement)")
        paths = [(f"Statement[{i}]", s) for i, s in enumerate(statements)]
    else:
        problems.append(f"Statement: must be an object or a list of objects, not "
                        f"{json_kind(statements)}")
        return problems
    sids: dict[str, str] = {}
    variables = doc.get("Version") == "2012-10-17"
    for path, statement in paths:
        problems += _validate_statement(path, statement)
        if variables and isinstance(statement, dict):
            problems += _validate_variables(path, statement)
        sid = statement.get("Sid") if isinstance(statement, dict) else None
        if isinstance(sid, str) and sid:
            if sid in sids:
                problems.append(f"{path}.Sid: {json.dumps(sid)} is used twice (also at "
                                f"{sids[sid]}); statement ids must be unique in a policy")
            sids.setdefault(sid, path)
    return problems


def _validate_statement(path: str, st: Any) -> list[str]:
    if not isinstance(st, dict):
        return [f"{path}: a statement must be a JSON object, not {json_kind(st)}"]
    problems = []
    for name in st:
        if name in ("Principal", "NotPrincipal"):
            problems.append(f"{path}.{name}: not allowed in an identity-based policy (the key "
                            "the policy is attached to is the principal)")
        elif name not in STATEMENT_ELEMENTS:
            problems.append(_unknown(f"{path}.{name}", name, STATEMENT_ELEMENTS,
                                     "statement element"))
    if "Sid" in st and not isinstance(st["Sid"], str):
        problems.append(f"{path}.Sid: must be a string, not {json_kind(st['Sid'])}")
    if "Effect" not in st:
        problems.append(f'{path}.Effect: missing (must be "Allow" or "Deny")')
    elif st["Effect"] not in ("Allow", "Deny"):
        problems.append(f'{path}.Effect: must be "Allow" or "Deny", not '
                        f"{json.dumps(st['Effect'])}")
    problems += _validate_pair(path, st, "Action", "NotAction", check_action)
    problems += _validate_pair(path, st, "Resource", "NotResource", check_resource)
    if "Condition" in st:
        problems += _validate_condition(f"{path}.Condition", st["Condition"])
    return problems


def _validate_pair(path: str, st: dict, name: str, negated: str, check) -> list[str]:
    if name in st and negated in st:
        return [f"{path}: has both {name} and {negated} (a statement takes one of them)"]
    which = name if name in st else negated if negated in st else None
    if which is None:
        return [f"{path}: missing {name} (or {negated})"]
    value = st[which]
    where = f"{path}.{which}"
    if isinstance(value, str):
        items = [(where, value)]
    elif isinstance(value, list) and value:
        items = [(f"{where}[{i}]", v) for i, v in enumerate(value)]
    elif isinstance(value, list):
        return [f"{where}: empty list"]
    else:
        return [f"{where}: must be a string or a list of strings, not {json_kind(value)}"]
    problems = []
    for p, v in items:
        if not isinstance(v, str):
            problems.append(f"{p}: must be a string, not {json_kind(v)}")
        else:
            problem = check(v)
            if problem:
                problems.append(f"{p}: {problem}")
    return problems


def check_action(value: str) -> str | None:
    """Why `value` is not an action pattern (SERVICE:ACTION or "*"), or None. An ECS
    action that is a near miss of one of ECS's (`ecs:UpdateServce`), or a wildcard that
    matches none (`ecs:Descibe*`), is an error too: in a Deny statement it would silently
    deny nothing. Other services' actions are accepted (they never match an ECS request)."""
    if value == "*":
        return None
    if not _ACTION_RE.fullmatch(value):
        return (f"{json.dumps(value)} is not an action: write SERVICE:ACTION, such as "
                '"ecs:UpdateService", "ecs:Describe*" or "*"')
    service, _, name = value.partition(":")
    known = ecs_actions()
    if service.lower() != "ecs" or not known:
        return None
    if "*" in name or "?" in name:
        pattern = _glob(name, ignore_case=True)
        if not any(pattern.fullmatch(a) for a in known):
            return f"{json.dumps(value)} matches no ECS action"
        return None
    if name.lower() in {a.lower() for a in known}:
        return None
    match = closest(name, known)
    if match is not None:
        return f'{json.dumps(value)} is not an ECS action. Did you mean "ecs:{match}"?'
    return None


@lru_cache(maxsize=1)
def ecs_actions() -> tuple[str, ...]:
    """ECS's API actions, from botocore's model of the service (the same botocore that
    verifies signatures), plus the IAM-only ones the ECS agent uses; empty if the model
    cannot be loaded."""
    model = ecs_model()
    if model is None:  # without the model, actions are checked for form only
        return ()
    return (*model.operation_names, "Poll", "StartTelemetrySession")


def check_resource(value: str) -> str | None:
    """Why `value` is not a resource pattern (an ARN or "*"), or None."""
    if value == "*" or (value.startswith("arn:") and value.count(":") >= 5):
        return None
    return (f"{json.dumps(value)} is not a resource: write an ARN "
            '(arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/NAME, wildcards allowed) or "*"')


def _validate_condition(path: str, cond: Any) -> list[str]:
    if not isinstance(cond, dict):
        return [f"{path}: must be an object of operators, not {json_kind(cond)}"]
    problems = []
    keys_ci = {k.lower(): k for k in SUPPORTED_CONDITION_KEYS}
    for op, block in cond.items():
        where = f"{path}.{op}"
        if op not in OPERATORS:
            if op.startswith(("ForAnyValue:", "ForAllValues:")):
                problems.append(f"{where}: set operators (ForAnyValue:/ForAllValues:) are not "
                                "supported: every supported condition key has one value")
            else:
                problems.append(_unknown(where, op, OPERATORS, "condition operator",
                                         "supported: " + ", ".join(
                                             [*_OPERATORS, "...IfExists", "Null"])))
            continue
        if not isinstance(block, dict) or not block:
            problems.append(f"{where}: must be an object of condition keys and values, "
                            f"not {json_kind(block)}")
            continue
        for key, values in block.items():
            kwhere = f"{where}.{key}"
            if key.lower() not in keys_ci:
                problems.append(_unknown(kwhere, key, SUPPORTED_CONDITION_KEYS,
                                         "condition key",
                                         "supported: " + ", ".join(SUPPORTED_CONDITION_KEYS)))
                continue
            items = values if isinstance(values, list) else [values]
            if not items:
                problems.append(f"{kwhere}: empty list")
            for i, v in enumerate(items):
                vwhere = f"{kwhere}[{i}]" if isinstance(values, list) else kwhere
                if op == "Null":
                    if v not in ("true", "false", True, False):
                        problems.append(f'{vwhere}: Null takes "true" or "false", not '
                                        f"{json.dumps(v)}")
                elif not isinstance(v, str | int | float) or isinstance(v, bool):
                    problems.append(f"{vwhere}: must be a string, not {json_kind(v)}")
    return problems


def _validate_variables(path: str, st: dict) -> list[str]:
    """Policy variables (`${aws:username}`) in Resource, NotResource and condition values
    must name a key the server fills in (or be `${*}`, `${?}`, `${$}`)."""
    places: list[tuple[str, Any]] = []
    for name in ("Resource", "NotResource"):
        if name in st:
            value = st[name]
            places += ([(f"{path}.{name}", value)] if not isinstance(value, list) else
                       [(f"{path}.{name}[{i}]", v) for i, v in enumerate(value)])
    cond = st.get("Condition")
    if isinstance(cond, dict):
        for op, block in cond.items():
            if isinstance(block, dict):
                for key, values in block.items():
                    where = f"{path}.Condition.{op}.{key}"
                    places += ([(where, values)] if not isinstance(values, list) else
                               [(f"{where}[{i}]", v) for i, v in enumerate(values)])
    keys_ci = {k.lower() for k in SUPPORTED_CONDITION_KEYS}
    problems = []
    for where, value in places:
        if not isinstance(value, str) or "${" not in value:
            continue
        if value.count("${") != len(_VARIABLE.findall(value)):
            problems.append(f"{where}: a policy variable is not closed (write ${{aws:username}})")
            continue
        for m in _VARIABLE.finditer(value):
            inner = m.group(1).strip()
            if inner in ("*", "?", "$"):
                continue
            parsed = _DEFAULT.fullmatch(m.group(1))
            if parsed is None:
                problems.append(f"{where}: ${{{m.group(1)}}} is not a policy variable (write "
                                "${KEY} or ${KEY, 'default'})")
            elif parsed.group(1).lower() not in keys_ci:
                hint = did_you_mean(parsed.group(1), SUPPORTED_CONDITION_KEYS)
                problems.append(f"{where}: unknown policy variable ${{{parsed.group(1)}}}."
                                + (f" {hint}" if hint else " (supported: "
                                   + ", ".join(SUPPORTED_CONDITION_KEYS) + ")"))
    return problems


def _unknown(path: str, name: str, known: Sequence[str], what: str, also: str = "") -> str:
    hint = did_you_mean(name, known)
    tail = f" {hint}" if hint else (f" ({also})" if also else
                                    f" (known: {', '.join(known)})")
    return f"{path}: unknown {what} {json.dumps(name)}.{tail}"


# -- evaluation -------------------------------------------------------------------------------
def evaluate(policies: Sequence[dict], action: str, resource: str,
             context: Mapping[str, str]) -> Decision:
    """IAM's decision for `action` (such as "ecs:UpdateService") on `resource` (an ARN, or
    "*") with the request `context` (condition keys -> values; names compared
    case-insensitively): the first matching Deny statement, else the first matching Allow
    statement, else an implicit deny. The policies are assumed valid (`validate_policy`)."""
    ctx = {k.lower(): v for k, v in context.items()}
    allow: Decision | None = None
    for p, doc in enumerate(policies):
        # Policy variables (${aws:username}) exist from version 2012-10-17 on; in older or
        # unversioned policies "${...}" is literal text, as IAM reads it.
        variables = doc.get("Version") == "2012-10-17"
        for s, st in enumerate(_statements(doc)):
            if not _applies(st, action, resource, ctx, variables):
                continue
            label = f"policy {p + 1}, statement {s + 1}"
            if isinstance(st.get("Sid"), str) and st["Sid"]:
                label += f" (Sid {st['Sid']})"
            if st.get("Effect") == "Deny":
                return Decision(False, "explicit-deny", label, p, s)
            if allow is None:
                allow = Decision(True, "allow", label, p, s)
    return allow or Decision(False, "implicit-deny", None)


def statement_of(policies: Sequence[dict], decision: Decision) -> dict | None:
    """The statement a decision names (for `api-key simulate`), or None."""
    if decision.policy_index is None or decision.statement_index is None:
        return None
    return _statements(policies[decision.policy_index])[decision.statement_index]


def _statements(doc: dict) -> list[dict]:
    st = doc.get("Statement", [])
    return [st] if isinstance(st, dict) else list(st)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _applies(st: dict, action: str, resource: str, ctx: Mapping[str, str],
             variables: bool = False) -> bool:
    if "Action" in st:
        if not any(_glob(a, ignore_case=True).fullmatch(action) for a in _as_list(st["Action"])):
            return False
    elif any(_glob(a, ignore_case=True).fullmatch(action) for a in _as_list(st["NotAction"])):
        return False
    if "Resource" in st:
        if not any(_resource_match(r, resource, ctx, variables)
                   for r in _as_list(st["Resource"])):
            return False
    elif any(_resource_match(r, resource, ctx, variables)
             for r in _as_list(st.get("NotResource", []))):
        return False
    return all(_condition(op, block, ctx, variables)
               for op, block in st.get("Condition", {}).items())


def _resource_match(pattern: str, resource: str, ctx: Mapping[str, str],
                    variables: bool) -> bool:
    # "*" in a policy matches every resource; a request's "*" resource (actions AWS
    # authorizes on all resources, such as ListClusters) is matched only by "*" itself, as
    # IAM treats such actions.
    if pattern == "*":
        return True
    if resource == "*":
        return False
    tokens = _tokens(pattern, ctx, variables)
    return tokens is not None and bool(_compile(tokens).fullmatch(resource))


def _condition(op: str, block: Mapping[str, Any], ctx: Mapping[str, str],
               variables: bool = False) -> bool:
    """One operator's block: every key must hold (AND); within a key, any value (OR)."""
    for key, values in block.items():
        present = key.lower() in ctx
        value = ctx.get(key.lower())
        items = [str(v).lower() if isinstance(v, bool) else str(v) for v in _as_list(values)]
        if op == "Null":
            # {"key": "true"}: the key is absent; "false": it is present.
            if not any((v == "true") == (not present) for v in items):
                return False
            continue
        if_exists = op.endswith("IfExists")
        kind, negated = _OPERATORS[op[:-len("IfExists")] if if_exists else op]
        if not present:
            # IAM: a missing key fails the positive operators, satisfies the negated ones,
            # and satisfies any ...IfExists operator.
            if if_exists or negated:
                continue
            return False
        matched = any(_match(kind, _tokens(v, ctx, variables), value or "") for v in items)
        if matched == negated:
            return False
    return True


def _match(kind: str, tokens: tuple[tuple[bool, str], ...] | None, value: str) -> bool:
    """Whether a condition's value (as tokens: a variable that did not resolve matches
    nothing) matches the request's."""
    if tokens is None:
        return False
    if kind == "equals":
        return "".join(t for _, t in tokens) == value
    if kind == "equals-ci":
        return "".join(t for _, t in tokens).lower() == value.lower()
    if kind == "like":
        return bool(_compile(tokens).fullmatch(value))
    # ARN operators compare segment by segment (the six colon-separated parts; the last
    # keeps its colons), wildcards within each. The policy's own colons separate segments;
    # a variable's value is literal text within one.
    segments: list[list[tuple[bool, str]]] = [[]]
    for literal, text in tokens:
        if literal:
            segments[-1].append((True, text))
            continue
        pieces = text.split(":")
        for i, piece in enumerate(pieces):
            if i:
                if len(segments) < 6:
                    segments.append([])
                else:
                    segments[-1].append((True, ":"))
            segments[-1].append((False, piece))
    vp = value.split(":", 5)
    if len(segments) != 6 or len(vp) != 6:
        return False
    return all(_compile(tuple(seg)).fullmatch(v) for seg, v in zip(segments, vp, strict=True))


# ${name} or ${name, 'default'}; ${*}, ${?} and ${$} stand for the literal characters.
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"\s*([^,\s]+)\s*(?:,\s*'([^']*)'\s*)?")


def _tokens(pattern: str, ctx: Mapping[str, str],
            variables: bool) -> tuple[tuple[bool, str], ...] | None:
    """`pattern` as (literal?, text) pieces: the wildcard text the policy wrote, and the
    values its policy variables stand for (literal: a `*` in a user name is no wildcard).
    None when a variable has no value in the request and no default (IAM: no match)."""
    if not variables or "${" not in pattern:
        return ((False, pattern),)
    out: list[tuple[bool, str]] = []
    pos = 0
    for m in _VARIABLE.finditer(pattern):
        out.append((False, pattern[pos:m.start()]))
        pos = m.end()
        inner = m.group(1).strip()
        if inner in ("*", "?", "$"):
            out.append((True, inner))
            continue
        parsed = _DEFAULT.fullmatch(m.group(1))
        if parsed is None:
            return None
        name, default = parsed.group(1).lower(), parsed.group(2)
        if name in ctx:
            out.append((True, ctx[name]))
        elif default is not None:
            out.append((True, default))
        else:
            return None
    out.append((False, pattern[pos:]))
    return tuple(out)


@lru_cache(maxsize=1024)
def _compile(tokens: tuple[tuple[bool, str], ...]) -> re.Pattern[str]:
    return re.compile("".join(re.escape(text) if literal else _glob(text).pattern
                              for literal, text in tokens), re.DOTALL)


@lru_cache(maxsize=1024)
def _glob(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    """`*` (any run of characters) and `?` (one character), everything else literal."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


# -- messages and context ---------------------------------------------------------------------
def user_arn(key: ApiKey, account: str = DEFAULT_ACCOUNT) -> str:
    """The IAM user ARN a key stands for in messages: `arn:aws:iam::ACCOUNT:user/NAME`."""
    return f"arn:aws:iam::{account}:user/{key.name}"


def access_denied_message(key: ApiKey, action: str, resource: str, *,
                          decision: Decision | None = None,
                          account: str = DEFAULT_ACCOUNT) -> str:
    """AccessDeniedException's message as AWS words it: "User: ARN is not authorized to
    perform: ACTION on resource: RESOURCE because no identity-based policy allows the
    ACTION action" (or "... with an explicit deny in an identity-based policy" when
    `decision` is an explicit deny)."""
    head = (f"User: {user_arn(key, account)} is not authorized to perform: {action} "
            f"on resource: {resource}")
    if decision is not None and decision.kind == "explicit-deny":
        return f"{head} with an explicit deny in an identity-based policy"
    return f"{head} because no identity-based policy allows the {action} action"


def request_context(key: ApiKey, cluster: str | None, *, region: str,
                    account: str = DEFAULT_ACCOUNT) -> dict[str, str]:
    """The condition keys of one request: `ecs:cluster` (the target's cluster ARN, when
    the action has one) and the global keys describing the caller."""
    ctx = {"aws:username": key.name, "aws:PrincipalArn": user_arn(key, account), "aws:PrincipalAccount": account,
           "aws:PrincipalType": "User", "aws:RequestedRegion": region}
    if cluster is not None:
        ctx["ecs:cluster"] = cluster
    return ctx
