"""`fgform api-key create/rotate/revoke/list/simulate` through the CLI's real error boundary:
the secret printed once, clear errors for bad policy files (file and JSON path, never a
traceback), and simulate's explanation of a decision."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from fgform.api.keys import KeyStore

from helpers.cli import fails, fg

P = "arn:aws:ecs:us-east-1:000000000000:"
WEB = P + "service/default/web"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Read", "Effect": "Allow", "Action": "ecs:Describe*", "Resource": "*"},
        {"Sid": "ScaleWeb", "Effect": "Allow", "Action": "ecs:UpdateService",
         "Resource": WEB},
        {"Sid": "NoDelete", "Effect": "Deny", "Action": "ecs:Delete*", "Resource": "*"},
    ],
}


@pytest.fixture
def wd(tmp_path: Path) -> Path:
    (tmp_path / "policy.json").write_text(json.dumps(POLICY, indent=2))
    return tmp_path


def run(wd: Path, *args: str):
    return fg("-chdir", str(wd), "api-key", *args)


def create(wd: Path, name: str = "ci") -> dict:
    result = run(wd, "create", name, "-policy", "policy.json", "-json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_create_prints_the_key_once(wd: Path) -> None:
    result = run(wd, "create", "ci", "-policy", "policy.json")
    assert result.exit_code == 0, result.stderr
    key = KeyStore(wd).get("ci")
    assert f"Access key ID: {key.access_key_id}\n" in result.stdout
    assert f"Secret access key: {key.secret_access_key}\n" in result.stdout
    assert "This is the only time the secret access key is shown" in result.stdout
    assert stat.S_IMODE((wd / ".fgform" / "api-keys.json").stat().st_mode) == 0o600
    assert key.policies == (POLICY,)


def test_create_json_is_exactly_the_two_fields(wd: Path) -> None:
    result = run(wd, "create", "ci", "--policy=policy.json", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    key = KeyStore(wd).get("ci")
    assert doc == {"access_key_id": key.access_key_id,
                   "secret_access_key": key.secret_access_key}
    assert list(doc) == ["access_key_id", "secret_access_key"]


def test_several_policies(wd: Path) -> None:
    (wd / "deny.json").write_text(json.dumps(
        {"Statement": {"Effect": "Deny", "Action": "ecs:RunTask", "Resource": "*"}}))
    assert run(wd, "create", "ci", "-policy", "policy.json", "-policy", "deny.json"
               ).exit_code == 0
    assert len(KeyStore(wd).get("ci").policies) == 2


def test_policy_paths_are_relative_to_chdir(wd: Path, tmp_path_factory) -> None:
    elsewhere = tmp_path_factory.mktemp("cwd")
    cwd = os.getcwd()
    os.chdir(elsewhere)
    try:
        result = fg("-chdir", str(wd), "api-key", "create", "ci", "-policy", "policy.json")
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.stderr
    assert KeyStore(wd).get("ci") is not None
    assert not (elsewhere / ".fgform").exists()


@pytest.mark.parametrize(("content", "error"), [
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "allow", "Action": "*", '
     '"Resource": "*"}]}',
     'Error: bad.json: Statement[0].Effect: must be "Allow" or "Deny", not "allow"\n'),
    ('{\n  "Version": "2012-10-17",\n  "Statement": [\n    {"Effect": "Allow",}\n  ]\n}',
     "Error: bad.json:4: not valid JSON: Expecting property name enclosed in double quotes "
     "(column 24)\n"),
    ("", "Error: bad.json:1: not valid JSON: Expecting value (column 1)\n"),
    ('["not a policy"]',
     "Error: bad.json: (document): a policy must be a JSON object, not a list\n"),
    ('{"Statement": {"Effect": "Allow", "Action": "ecs:*", "Resource": "*", '
     '"Condition": {"StringEqual": {"ecs:cluster": "x"}}}}',
     'Error: bad.json: Statement.Condition.StringEqual: unknown condition operator '
     '"StringEqual". Did you mean "StringEquals"?\n'),
])
def test_a_bad_policy_file_is_a_clear_error(wd: Path, content: str, error: str) -> None:
    (wd / "bad.json").write_text(content)
    result = run(wd, "create", "ci", "-policy", "bad.json")
    assert fails(result) == error
    assert not (wd / ".fgform" / "api-keys.json").exists()
    assert result.stdout == ""


def test_every_problem_of_a_policy_file_is_listed(wd: Path) -> None:
    (wd / "bad.json").write_text(json.dumps({"Statement": [
        {"Effect": "allow", "Actions": "ecs:*", "Resource": "*"}]}))
    err = fails(run(wd, "create", "ci", "-policy", "bad.json"))
    assert err.splitlines() == [
        'Error: bad.json: Statement[0].Actions: unknown statement element "Actions". '
        'Did you mean "Action"?',
        'bad.json: Statement[0].Effect: must be "Allow" or "Deny", not "allow"',
        "bad.json: Statement[0]: missing Action (or NotAction)",
    ]


def test_a_missing_or_odd_policy_file(wd: Path) -> None:
    assert fails(run(wd, "create", "ci", "-policy", "nope.json")) == \
        "Error: nope.json: no such policy file\n"
    (wd / "dir.json").mkdir()
    assert fails(run(wd, "create", "ci", "-policy", "dir.json")) == \
        "Error: dir.json: is a directory, not a policy file\n"
    os.mkfifo(wd / "fifo.json")
    assert fails(run(wd, "create", "ci", "-policy", "fifo.json")) == \
        "Error: fifo.json: cannot read the policy file: not a regular file\n"
    (wd / "bin.json").write_bytes(b"\xff\xfe{")
    assert "not UTF-8 text" in fails(run(wd, "create", "ci", "-policy", "bin.json"))


def test_create_needs_a_policy_and_a_good_name(wd: Path) -> None:
    assert "Missing option" in run(wd, "create", "ci").stderr
    assert run(wd, "create", "ci").exit_code == 1
    err = fails(run(wd, "create", "a b", "-policy", "policy.json"))
    assert err.startswith("Error: invalid API key name 'a b'")
    create(wd)
    err = fails(run(wd, "create", "ci", "-policy", "policy.json"))
    assert err.startswith("Error: an API key named 'ci' already exists")


def test_list_never_shows_a_secret(wd: Path) -> None:
    assert run(wd, "list").stdout.startswith("No API keys.")
    assert json.loads(run(wd, "list", "-json").stdout) == []
    a = create(wd, "alpha")
    b = create(wd, "beta")
    text = run(wd, "list")
    assert text.exit_code == 0
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["NAME", "ACCESS", "KEY", "ID", "CREATED", "POLICIES"]
    assert lines[1].split()[:2] == ["alpha", a["access_key_id"]]
    assert lines[2].split()[:2] == ["beta", b["access_key_id"]]
    assert lines[1].split()[-1] == "1"
    rows = json.loads(run(wd, "list", "-json").stdout)
    assert [r["name"] for r in rows] == ["alpha", "beta"]
    assert set(rows[0]) == {"name", "access_key_id", "created", "policies"}
    for out in (text.stdout, json.dumps(rows)):
        assert a["secret_access_key"] not in out and b["secret_access_key"] not in out


def test_rotate_prints_the_new_key_once_and_the_old_stops(wd: Path) -> None:
    old = create(wd)
    result = run(wd, "rotate", "ci", "-json")
    assert result.exit_code == 0
    new = json.loads(result.stdout)
    assert new["access_key_id"] != old["access_key_id"]
    store = KeyStore(wd)
    assert store.find(old["access_key_id"]) is None
    assert store.find(new["access_key_id"]).secret_access_key == new["secret_access_key"]
    text = run(wd, "rotate", "ci")
    assert "Secret access key: " in text.stdout and "old access key no longer works" in \
        text.stdout
    assert fails(run(wd, "rotate", "nope")).startswith("Error: no API key named 'nope'")


def test_revoke(wd: Path) -> None:
    key = create(wd)
    result = run(wd, "revoke", "ci")
    assert (result.exit_code, result.stdout) == (0, "API key 'ci' revoked.\n")
    assert KeyStore(wd).find(key["access_key_id"]) is None
    assert fails(run(wd, "revoke", "ci")).startswith("Error: no API key named 'ci'")


def test_simulate_allowed_names_the_statement(wd: Path) -> None:
    key = create(wd)
    result = run(wd, "simulate", "ci", "ecs:UpdateService", WEB)
    assert result.exit_code == 0
    out = result.stdout
    assert "Decision:  allowed\n" in out
    assert f"Cluster:   {P}cluster/default\n" in out  # read from the service ARN
    assert "Decided by policy 1, statement 2 (Sid ScaleWeb):\n" in out
    assert '    "Action": "ecs:UpdateService",\n' in out
    assert key["secret_access_key"] not in out


def test_simulate_by_access_key_id_and_explicit_deny(wd: Path) -> None:
    key = create(wd)
    result = run(wd, "simulate", key["access_key_id"], "ecs:DeleteService", WEB)
    assert result.exit_code == 0  # as aws iam simulate-principal-policy: the decision is data
    assert "Decision:  explicitly denied\n" in result.stdout
    assert "Decided by policy 1, statement 3 (Sid NoDelete):" in result.stdout
    assert ("The API answers AccessDeniedException: User: arn:aws:iam::000000000000:user/ci "
            "is not authorized to perform: ecs:DeleteService on resource: "
            f"{WEB} with an explicit deny in an identity-based policy") in result.stdout


def test_simulate_implicit_deny(wd: Path) -> None:
    create(wd)
    td = P + "task-definition/web:1"
    result = run(wd, "simulate", "ci", "ecs:RunTask", td, "-cluster", P + "cluster/default")
    assert result.exit_code == 0
    assert "Decision:  implicitly denied\n" in result.stdout
    assert "No statement in the key's 1 policy allows this action on this resource." in \
        result.stdout
    assert "because no identity-based policy allows the ecs:RunTask action" in result.stdout


def test_simulate_json(wd: Path) -> None:
    create(wd)
    doc = json.loads(run(wd, "simulate", "ci", "ecs:UpdateService", WEB, "-json").stdout)
    assert doc["decision"] == "allowed"
    assert doc["matched_statement"]["policy"] == 1
    assert doc["matched_statement"]["statement"] == 2
    assert doc["matched_statement"]["sid"] == "ScaleWeb"
    assert doc["matched_statement"]["text"] == POLICY["Statement"][1]
    assert doc["context"]["ecs:cluster"] == P + "cluster/default"
    doc = json.loads(run(wd, "simulate", "ci", "ecs:RunTask", "*", "-json").stdout)
    assert (doc["decision"], doc["matched_statement"]) == ("implicitDeny", None)
    doc = json.loads(run(wd, "simulate", "ci", "ecs:DeleteService", WEB, "-json").stdout)
    assert doc["decision"] == "explicitDeny"


def test_simulate_with_a_cluster_condition(wd: Path) -> None:
    (wd / "cond.json").write_text(json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "ecs:RunTask", "Resource": "*",
        "Condition": {"ArnLike": {"ecs:cluster": P + "cluster/dev-*"}}}]}))
    assert run(wd, "create", "dev", "-policy", "cond.json").exit_code == 0
    td = P + "task-definition/web:1"
    ok = run(wd, "simulate", "dev", "ecs:RunTask", td, "-cluster", P + "cluster/dev-1")
    assert "Decision:  allowed" in ok.stdout
    no = run(wd, "simulate", "dev", "ecs:RunTask", td, "-cluster", P + "cluster/prod")
    assert "Decision:  implicitly denied" in no.stdout
    none = run(wd, "simulate", "dev", "ecs:RunTask", td)
    assert "the ecs:cluster condition key is absent" in none.stdout
    assert "Decision:  implicitly denied" in none.stdout


def test_simulate_errors(wd: Path) -> None:
    create(wd)
    assert fails(run(wd, "simulate", "nobody", "ecs:RunTask", "*")).startswith(
        "Error: no API key named (or with the access key id) 'nobody'")
    assert fails(run(wd, "simulate", "ci", "RunTask", "*")).startswith(
        'Error: "RunTask" is not an action')
    assert fails(run(wd, "simulate", "ci", "ecs:RunTask", "web")).startswith(
        'Error: "web" is not a resource')


def test_the_secret_is_not_in_state_or_any_other_file(wd: Path) -> None:
    key = create(wd)
    run(wd, "list")
    run(wd, "simulate", "ci", "ecs:UpdateService", WEB)
    holders = [p for p in wd.rglob("*") if p.is_file()
               and key["secret_access_key"].encode() in p.read_bytes()]
    assert holders == [wd / ".fgform" / "api-keys.json"]


def test_a_file_url_as_the_aws_cli_takes_it(wd: Path) -> None:
    assert run(wd, "create", "ci", "-policy", "file://policy.json").exit_code == 0
    assert KeyStore(wd).get("ci").policies == (POLICY,)
    assert fails(run(wd, "create", "x", "-policy", "file://nope.json")) == \
        "Error: nope.json: no such policy file\n"


def test_show_prints_the_policies_never_the_secret(wd: Path) -> None:
    key = create(wd)
    for who in ("ci", key["access_key_id"]):
        text = run(wd, "show", who)
        assert text.exit_code == 0
        assert text.stdout.startswith(f"Name:          ci\nAccess key ID: "
                                      f"{key['access_key_id']}\n")
        assert 'Policy 1:\n  {\n    "Version": "2012-10-17",' in text.stdout
        assert key["secret_access_key"] not in text.stdout
    doc = json.loads(run(wd, "show", "ci", "-json").stdout)
    assert doc["policies"] == [POLICY]
    assert set(doc) == {"name", "access_key_id", "created", "policies"}
    assert fails(run(wd, "show", "nope")).startswith(
        "Error: no API key named (or with the access key id) 'nope'")
