"""`fgform api-key`: the access keys of the API server (`fgform serve`): create, rotate,
revoke, list, and simulate an authorization decision.

The secret access key is printed once, by `create` and `rotate`; no other command shows
it. Keys live in `<config dir>/.fgform/api-keys.json` (0600), never in state.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import click

from fgform.cli.command import group
from fgform.cli.environment import Environment, pass_env
from fgform.cli.options import opt
from fgform.cli.status import ExitStatus
from fgform.errors import FgformError

# A policy file larger than this is not a policy (IAM's largest managed policy is 6 KiB).
MAX_POLICY_BYTES = 1 << 20
EVAL_DECISIONS = {"allow": "allowed", "explicit-deny": "explicitDeny",
                  "implicit-deny": "implicitDeny"}
DECISION_WORDS = {"allow": "allowed", "explicit-deny": "explicitly denied",
                  "implicit-deny": "implicitly denied"}


@group("api-key")
def api_key() -> None:
    """Manage the API server's access keys (`fgform serve`)."""


def _store(env: Environment):
    from fgform.api.keys import KeyStore

    return KeyStore(env.dir)


def _print_secret(env: Environment, key: Any, as_json: bool, verb: str) -> None:
    if as_json:
        env.out(json.dumps({"access_key_id": key.access_key_id,
                            "secret_access_key": key.secret_access_key}))
        return
    env.out(f"API key {key.name!r} {verb}.\n")
    env.out(f"Access key ID: {key.access_key_id}")
    env.out(f"Secret access key: {key.secret_access_key}")
    env.out("\nThis is the only time the secret access key is shown: store it now (for the "
            "aws CLI: aws configure, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY). "
            "`fgform api-key rotate` makes a new one if it is lost.")


@api_key.command("create")
@click.argument("name")
@opt("policy", "policy_files", multiple=True, required=True, metavar="FILE",
     help="An IAM policy document (JSON) the key is bound to (repeatable).")
@opt("json", "as_json", is_flag=True, help="Print the key as JSON.")
@pass_env
def create_cmd(env: Environment, name: str, policy_files: tuple[str, ...],
               as_json: bool) -> None:
    """Create an access key bound to IAM policies; print its secret once."""
    from fgform.api.keys import check_name

    check_name(name)
    policies = [read_policy(env.dir, f) for f in policy_files]
    key = _store(env).create(name, policies)
    _print_secret(env, key, as_json, "created")


@api_key.command("rotate")
@click.argument("name")
@opt("json", "as_json", is_flag=True, help="Print the new key as JSON.")
@pass_env
def rotate_cmd(env: Environment, name: str, as_json: bool) -> None:
    """Give a key a new access key id and secret; the old ones stop working at once."""
    key = _store(env).rotate(name)
    _print_secret(env, key, as_json, "rotated (the old access key no longer works)")


@api_key.command("revoke")
@click.argument("name")
@pass_env
def revoke_cmd(env: Environment, name: str) -> None:
    """Delete a key; requests signed with it are refused from then on."""
    _store(env).revoke(name)
    env.out(f"API key {name!r} revoked.")


@api_key.command("list")
@opt("json", "as_json", is_flag=True, help="Print the keys as JSON.")
@pass_env
def list_cmd(env: Environment, as_json: bool) -> None:
    """List the keys: name, access key id, creation time, number of policies (never the
    secret)."""
    keys = _store(env).list()
    rows = [{"name": k.name, "access_key_id": k.access_key_id, "created": k.created,
             "policies": len(k.policies)} for k in keys]
    if as_json:
        env.out(json.dumps(rows, indent=2))
        return
    if not rows:
        env.out("No API keys. Create one with `fgform api-key create NAME -policy FILE`.")
        return
    head = ("NAME", "ACCESS KEY ID", "CREATED", "POLICIES")
    table = [head, *[(r["name"], r["access_key_id"], r["created"], str(r["policies"]))
                     for r in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    for row in table:
        env.out("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False))
                + "  " + row[3])


@api_key.command("show")
@click.argument("key")
@opt("json", "as_json", is_flag=True, help="Print the key as JSON.")
@pass_env
def show_cmd(env: Environment, key: str, as_json: bool) -> None:
    """Show a key (a name or an access key id): its id, creation time and policies, never
    its secret (so nobody needs to open the keys file to read a policy)."""
    found = _find(env, key)
    doc = {"name": found.name, "access_key_id": found.access_key_id,
           "created": found.created, "policies": list(found.policies)}
    if as_json:
        env.out(json.dumps(doc, indent=2))
        return
    env.out(f"Name:          {found.name}")
    env.out(f"Access key ID: {found.access_key_id}")
    env.out(f"Created:       {found.created}")
    for i, p in enumerate(found.policies):
        env.out(f"\nPolicy {i + 1}:")
        env.out("\n".join("  " + line for line in json.dumps(p, indent=2).splitlines()))


def _find(env: Environment, key: str) -> Any:
    """The key named `key`, or with that access key id; an error naming both otherwise."""
    from fgform.api.keys import ACCESS_KEY_ID_RE

    store = _store(env)
    found = store.find(key) if ACCESS_KEY_ID_RE.fullmatch(key) else store.get(key)
    if found is None:
        raise FgformError(f"no API key named (or with the access key id) {key!r}",
                          hint="Run `fgform api-key list` to see the keys.")
    return found


@api_key.command("simulate")
@click.argument("key")
@click.argument("action")
@click.argument("resource")
@opt("cluster", metavar="ARN",
     help="The ecs:cluster condition key's value (default: the cluster in a service or "
          "task ARN).")
@opt("region", default=None, metavar="REGION",
     help="The aws:RequestedRegion condition key's value (default: the resource ARN's, "
          "else us-east-1).")
@opt("json", "as_json", is_flag=True, help="Print the decision as JSON.")
@pass_env
def simulate_cmd(env: Environment, key: str, action: str, resource: str, cluster: str | None,
                 region: str | None, as_json: bool) -> ExitStatus:
    """Explain whether KEY (a name or an access key id) may perform ACTION (such as
    ecs:UpdateService) on RESOURCE (an ARN, or *), and which statement decided. Exits 0
    whatever the decision, as `aws iam simulate-principal-policy` does."""
    from fgform.api.arns import DEFAULT_ACCOUNT, DEFAULT_REGION, cluster_in_arn
    from fgform.api.policy import (
        access_denied_message,
        check_action,
        check_resource,
        evaluate,
        request_context,
        statement_of,
    )

    for value, check in ((action, check_action), (resource, check_resource)):
        problem = check(value)
        if problem:
            raise FgformError(problem)
    found = _find(env, key)
    parts = resource.split(":", 5) if resource.startswith("arn:") else []
    account = parts[4] if len(parts) == 6 and parts[4] else DEFAULT_ACCOUNT
    if region is None:
        region = parts[3] if len(parts) == 6 and parts[3] else DEFAULT_REGION
    if cluster is None and len(parts) == 6:
        name = cluster_in_arn(resource)
        if name is not None:
            cluster = f"arn:{parts[1]}:ecs:{parts[3]}:{parts[4]}:cluster/{name}"
    context = request_context(found, cluster, region=region, account=account)
    decision = evaluate(found.policies, action, resource, context)
    statement = statement_of(found.policies, decision)
    if as_json:
        env.out(json.dumps({
            "key": found.name, "action": action, "resource": resource,
            "decision": EVAL_DECISIONS[decision.kind],
            "matched_statement": None if statement is None else {
                "policy": decision.policy_index + 1,  # type: ignore[operator]
                "statement": decision.statement_index + 1,  # type: ignore[operator]
                "sid": statement.get("Sid"), "text": statement},
            "context": context,
        }, indent=2))
        return ExitStatus.OK
    env.out(f"Key:       {found.name} ({found.access_key_id})")
    env.out(f"Action:    {action}")
    env.out(f"Resource:  {resource}")
    env.out(f"Cluster:   {cluster or '(none: the ecs:cluster condition key is absent)'}")
    env.out(f"Decision:  {DECISION_WORDS[decision.kind]}")
    if statement is not None:
        env.out(f"\nDecided by {decision.statement}:")
        env.out("\n".join("  " + line for line in json.dumps(statement, indent=2).splitlines()))
    else:
        env.out(f"\nNo statement in the key's {len(found.policies)} "
                f"polic{'y' if len(found.policies) == 1 else 'ies'} allows this action on "
                "this resource.")
    if not decision.allowed:
        env.out(f"\nThe API answers AccessDeniedException: "
                f"{access_denied_message(found, action, resource, decision=decision, account=account)}")
    return ExitStatus.OK


def read_policy(base: Path, name: str) -> dict:
    """The policy document in file `name` (relative to the configuration directory),
    validated; a clear `FILE:LINE:` or `FILE: PATH:` error otherwise."""
    from fgform.api.policy import validate_policy
    from fgform.safefile import read_regular

    # `file://policy.json`, as the aws CLI takes a policy document, reads the same file.
    if name.startswith("file://"):
        name = name[len("file://"):]
    path = base / name
    try:
        data, _ = read_regular(path)
    except FileNotFoundError:
        raise FgformError(f"{name}: no such policy file") from None
    except IsADirectoryError:
        raise FgformError(f"{name}: is a directory, not a policy file") from None
    except OSError as exc:
        reason = "not a regular file" if exc.errno == errno.EINVAL else exc.strerror or exc
        raise FgformError(f"{name}: cannot read the policy file: {reason}") from None
    if len(data) > MAX_POLICY_BYTES:
        raise FgformError(f"{name}: {len(data)} bytes is too large for a policy document")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FgformError(f"{name}: not UTF-8 text (a policy is a JSON document)") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FgformError(f"{name}:{exc.lineno}: not valid JSON: {exc.msg} (column "
                          f"{exc.colno})") from None
    problems = validate_policy(doc)
    if problems:
        raise FgformError("\n".join(f"{name}: {p}" for p in problems))
    return doc


COMMANDS = (api_key,)
