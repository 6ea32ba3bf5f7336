"""IAM-style policies (fgform.api.policy): validation with JSON paths, and evaluation as IAM
evaluates identity-based policies (explicit deny, then allow, else implicit deny), table
driven, with the AWS documentation's examples."""

from __future__ import annotations

import pytest

from fgform.api.keys import ApiKey
from fgform.api.policy import (
    Decision,
    access_denied_message,
    evaluate,
    request_context,
    statement_of,
    validate_policy,
)

ACCOUNT = "000000000000"
P = f"arn:aws:ecs:us-east-1:{ACCOUNT}:"
WEB = P + "service/default/web"
API = P + "service/prod/api"
DEFAULT = P + "cluster/default"
PROD = P + "cluster/prod"
TD = P + "task-definition/web:3"


def policy(*statements: dict, version: str = "2012-10-17") -> dict:
    return {"Version": version, "Statement": list(statements)}


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def decide(policies, action, resource, cluster=None, **context) -> str:
    ctx = dict(context)
    if cluster is not None:
        ctx["ecs:cluster"] = cluster
    return evaluate(policies, action, resource, ctx).kind


# -- evaluation -------------------------------------------------------------------------------
CASES = [
    # (name, policies, action, resource, cluster, expected kind)
    ("no policies: implicit deny", [], "ecs:ListClusters", "*", None, "implicit-deny"),
    ("exact action", [policy(allow("ecs:UpdateService"))], "ecs:UpdateService", WEB, DEFAULT,
     "allow"),
    ("other action", [policy(allow("ecs:UpdateService"))], "ecs:RunTask", TD, DEFAULT,
     "implicit-deny"),
    ("Describe* wildcard", [policy(allow("ecs:Describe*"))], "ecs:DescribeServices", WEB,
     DEFAULT, "allow"),
    ("Describe* does not match List", [policy(allow("ecs:Describe*"))], "ecs:ListServices",
     "*", None, "implicit-deny"),
    ("ecs:* matches every ECS action", [policy(allow("ecs:*"))], "ecs:RunTask", TD, DEFAULT,
     "allow"),
    ("* matches every action", [policy(allow("*"))], "ecs:DeleteService", WEB, DEFAULT,
     "allow"),
    ("another service's wildcard", [policy(allow("s3:*"))], "ecs:RunTask", TD, None,
     "implicit-deny"),
    ("actions are case-insensitive", [policy(allow("ECS:updateservice"))],
     "ecs:UpdateService", WEB, DEFAULT, "allow"),
    ("? matches one character", [policy(allow("ecs:?istTasks"))], "ecs:ListTasks", "*", None,
     "allow"),
    ("? does not match two", [policy(allow("ecs:?tartTask"))], "ecs:RestartTask", "*", None,
     "implicit-deny"),
    ("action list is OR", [policy(allow(["ecs:RunTask", "ecs:StopTask"]))], "ecs:StopTask",
     P + "task/default/abc", DEFAULT, "allow"),
    ("resource exact", [policy(allow("ecs:UpdateService", WEB))], "ecs:UpdateService", WEB,
     DEFAULT, "allow"),
    ("resource other service", [policy(allow("ecs:UpdateService", WEB))],
     "ecs:UpdateService", API, PROD, "implicit-deny"),
    ("resource wildcard in the cluster's services",
     [policy(allow("ecs:UpdateService", P + "service/default/*"))], "ecs:UpdateService", WEB,
     DEFAULT, "allow"),
    ("resource wildcard, another cluster",
     [policy(allow("ecs:UpdateService", P + "service/default/*"))], "ecs:UpdateService", API,
     PROD, "implicit-deny"),
    ("resources are case-sensitive",
     [policy(allow("ecs:UpdateService", P + "service/default/WEB"))], "ecs:UpdateService",
     WEB, DEFAULT, "implicit-deny"),
    ("resource ? wildcard", [policy(allow("ecs:UpdateService", P + "service/default/we?"))],
     "ecs:UpdateService", WEB, DEFAULT, "allow"),
    ("resource list is OR", [policy(allow("ecs:UpdateService", [API, WEB]))],
     "ecs:UpdateService", WEB, DEFAULT, "allow"),
    ("a '*' request resource needs Resource '*'",
     [policy(allow("ecs:ListClusters", P + "cluster/*"))], "ecs:ListClusters", "*", None,
     "implicit-deny"),
    ("a '*' request resource with Resource '*'", [policy(allow("ecs:List*"))],
     "ecs:ListClusters", "*", None, "allow"),
    ("explicit deny wins over an allow",
     [policy(allow("ecs:*"), deny("ecs:DeleteService"))], "ecs:DeleteService", WEB, DEFAULT,
     "explicit-deny"),
    ("explicit deny in another policy wins",
     [policy(allow("ecs:*")), policy(deny("ecs:Delete*", WEB))], "ecs:DeleteService", WEB,
     DEFAULT, "explicit-deny"),
    ("a deny of another resource leaves the allow",
     [policy(allow("ecs:*")), policy(deny("ecs:Delete*", API))], "ecs:DeleteService", WEB,
     DEFAULT, "allow"),
    ("deny alone is still a deny", [policy(deny("ecs:RunTask"))], "ecs:RunTask", TD, None,
     "explicit-deny"),
    # NotAction / NotResource
    ("NotAction allows the rest", [policy({"Effect": "Allow", "NotAction": "ecs:Delete*",
                                           "Resource": "*"})], "ecs:UpdateService", WEB,
     DEFAULT, "allow"),
    ("NotAction does not allow what it names",
     [policy({"Effect": "Allow", "NotAction": "ecs:Delete*", "Resource": "*"})],
     "ecs:DeleteService", WEB, DEFAULT, "implicit-deny"),
    ("Deny with NotAction denies all but the named (AWS example)",
     [policy(allow("ecs:*"), {"Effect": "Deny", "NotAction": ["ecs:Describe*", "ecs:List*"],
                              "Resource": "*"})], "ecs:UpdateService", WEB, DEFAULT,
     "explicit-deny"),
    ("Deny with NotAction leaves the named",
     [policy(allow("ecs:*"), {"Effect": "Deny", "NotAction": ["ecs:Describe*", "ecs:List*"],
                              "Resource": "*"})], "ecs:DescribeServices", WEB, DEFAULT,
     "allow"),
    ("NotResource allows other resources",
     [policy({"Effect": "Allow", "Action": "ecs:UpdateService", "NotResource": API})],
     "ecs:UpdateService", WEB, DEFAULT, "allow"),
    ("NotResource excludes its resource",
     [policy({"Effect": "Allow", "Action": "ecs:UpdateService", "NotResource": API})],
     "ecs:UpdateService", API, PROD, "implicit-deny"),
    ("Deny NotResource: everything but the cluster's services is denied",
     [policy(allow("ecs:*"), {"Effect": "Deny", "Action": "ecs:*",
                              "NotResource": P + "service/default/*"})],
     "ecs:UpdateService", API, PROD, "explicit-deny"),
    # conditions on ecs:cluster
    ("StringEquals on ecs:cluster",
     [policy(allow("ecs:RunTask", Condition={"StringEquals": {"ecs:cluster": DEFAULT}}))],
     "ecs:RunTask", TD, DEFAULT, "allow"),
    ("StringEquals, another cluster",
     [policy(allow("ecs:RunTask", Condition={"StringEquals": {"ecs:cluster": DEFAULT}}))],
     "ecs:RunTask", TD, PROD, "implicit-deny"),
    ("StringEquals, the key missing fails",
     [policy(allow("ecs:ListClusters", Condition={"StringEquals": {"ecs:cluster": DEFAULT}}))],
     "ecs:ListClusters", "*", None, "implicit-deny"),
    ("values are OR",
     [policy(allow("ecs:RunTask",
                   Condition={"StringEquals": {"ecs:cluster": [PROD, DEFAULT]}}))],
     "ecs:RunTask", TD, DEFAULT, "allow"),
    ("condition key names are case-insensitive",
     [policy(allow("ecs:RunTask", Condition={"StringEquals": {"ECS:Cluster": DEFAULT}}))],
     "ecs:RunTask", TD, DEFAULT, "allow"),
    ("StringEquals values are case-sensitive",
     [policy(allow("ecs:RunTask",
                   Condition={"StringEquals": {"ecs:cluster": DEFAULT.upper()}}))],
     "ecs:RunTask", TD, DEFAULT, "implicit-deny"),
    ("StringEqualsIgnoreCase",
     [policy(allow("ecs:RunTask",
                   Condition={"StringEqualsIgnoreCase": {"ecs:cluster": DEFAULT.upper()}}))],
     "ecs:RunTask", TD, DEFAULT, "allow"),
    ("StringLike with a wildcard",
     [policy(allow("ecs:RunTask", Condition={"StringLike": {"ecs:cluster": "*:cluster/def*"}}))],
     "ecs:RunTask", TD, DEFAULT, "allow"),
    ("StringLike no match",
     [policy(allow("ecs:RunTask", Condition={"StringLike": {"ecs:cluster": "*:cluster/dev*"}}))],
     "ecs:RunTask", TD, DEFAULT, "implicit-deny"),
    ("StringNotLike",
     [policy(allow("ecs:RunTask",
                   Condition={"StringNotLike": {"ecs:cluster": "*:cluster/prod"}}))],
     "ecs:RunTask", TD, DEFAULT, "allow"),
    ("StringNotEquals: a missing key satisfies it",
     [policy(allow("ecs:ListClusters",
                   Condition={"StringNotEquals": {"ecs:cluster": PROD}}))],
     "ecs:ListClusters", "*", None, "allow"),
    ("StringNotEquals with a list: the value must match none",
     [policy(allow("ecs:RunTask",
                   Condition={"StringNotEquals": {"ecs:cluster": [PROD, DEFAULT]}}))],
     "ecs:RunTask", TD, DEFAULT, "implicit-deny"),
    ("ArnLike with wildcards in segments",
     [policy(allow("ecs:UpdateService",
                   Condition={"ArnLike": {"ecs:cluster": "arn:aws:ecs:*:*:cluster/default"}}))],
     "ecs:UpdateService", WEB, DEFAULT, "allow"),
    ("ArnLike: another cluster",
     [policy(allow("ecs:UpdateService",
                   Condition={"ArnLike": {"ecs:cluster": "arn:aws:ecs:*:*:cluster/default"}}))],
     "ecs:UpdateService", API, PROD, "implicit-deny"),
    ("ArnLike: a value that is not an ARN does not match",
     [policy(allow("ecs:UpdateService", Condition={"ArnLike": {"ecs:cluster": "*"}}))],
     "ecs:UpdateService", WEB, "default", "implicit-deny"),
    ("ArnEquals behaves as ArnLike (as IAM's)",
     [policy(allow("ecs:UpdateService",
                   Condition={"ArnEquals": {"ecs:cluster": P + "cluster/*"}}))],
     "ecs:UpdateService", WEB, DEFAULT, "allow"),
    ("ArnNotLike",
     [policy(allow("ecs:UpdateService",
                   Condition={"ArnNotLike": {"ecs:cluster": P + "cluster/prod"}}))],
     "ecs:UpdateService", API, PROD, "implicit-deny"),
    ("...IfExists: a missing key passes",
     [policy(allow("ecs:List*", Condition={"StringEqualsIfExists": {"ecs:cluster": DEFAULT}}))],
     "ecs:ListClusters", "*", None, "allow"),
    ("...IfExists: a present key is checked",
     [policy(allow("ecs:List*", Condition={"StringEqualsIfExists": {"ecs:cluster": DEFAULT}}))],
     "ecs:ListServices", "*", PROD, "implicit-deny"),
    ("Null true: the key is absent",
     [policy(allow("ecs:List*", Condition={"Null": {"ecs:cluster": "true"}}))],
     "ecs:ListClusters", "*", None, "allow"),
    ("Null false: the key is present",
     [policy(allow("ecs:List*", Condition={"Null": {"ecs:cluster": "false"}}))],
     "ecs:ListClusters", "*", None, "implicit-deny"),
    ("several keys and operators are AND",
     [policy(allow("ecs:RunTask", Condition={
         "StringEquals": {"ecs:cluster": DEFAULT},
         "StringLike": {"aws:username": "ci-*"}}))],
     "ecs:RunTask", TD, DEFAULT, "implicit-deny"),
    ("a denied cluster in a condition (AWS example: deny outside one cluster)",
     [policy(allow("ecs:*"), deny("ecs:*", Condition={
         "ArnNotEquals": {"ecs:cluster": DEFAULT}}))],
     "ecs:StopTask", P + "task/prod/1", PROD, "explicit-deny"),
    ("...and inside it allowed",
     [policy(allow("ecs:*"), deny("ecs:*", Condition={
         "ArnNotEquals": {"ecs:cluster": DEFAULT}}))],
     "ecs:StopTask", P + "task/default/1", DEFAULT, "allow"),
    ("the 2008-10-17 version evaluates alike",
     [policy(allow("ecs:Describe*"), version="2008-10-17")], "ecs:DescribeClusters", DEFAULT,
     None, "allow"),
    ("one statement object instead of a list",
     [{"Version": "2012-10-17", "Statement": allow("ecs:List*")}], "ecs:ListServices", "*",
     None, "allow"),
]


@pytest.mark.parametrize(("policies", "action", "resource", "cluster", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_evaluate(policies, action, resource, cluster, expected) -> None:
    for doc in policies:
        assert validate_policy(doc) == [], doc
    assert decide(policies, action, resource, cluster) == expected


def test_the_issue_example_describe_and_update_one_service() -> None:
    """The issue's example key: ecs:Describe* everywhere, UpdateService on one service."""
    doc = policy({"Sid": "Read", "Effect": "Allow", "Action": "ecs:Describe*", "Resource": "*"},
                 {"Sid": "ScaleWeb", "Effect": "Allow", "Action": "ecs:UpdateService",
                  "Resource": WEB})
    assert decide([doc], "ecs:UpdateService", WEB, DEFAULT) == "allow"
    assert decide([doc], "ecs:DescribeServices", API, PROD) == "allow"
    assert decide([doc], "ecs:UpdateService", API, PROD) == "implicit-deny"
    assert decide([doc], "ecs:RunTask", TD, DEFAULT) == "implicit-deny"


def test_the_decision_names_the_statement() -> None:
    docs = [policy(allow("ecs:List*")),
            policy({"Sid": "Scale", **allow("ecs:UpdateService")},
                   {"Sid": "NoDelete", **deny("ecs:Delete*")})]
    d = evaluate(docs, "ecs:UpdateService", WEB, {})
    assert d == Decision(True, "allow", "policy 2, statement 1 (Sid Scale)", 1, 0)
    assert statement_of(docs, d)["Sid"] == "Scale"
    d = evaluate(docs, "ecs:DeleteService", WEB, {})
    assert (d.allowed, d.kind, d.statement) == (False, "explicit-deny",
                                                "policy 2, statement 2 (Sid NoDelete)")
    d = evaluate(docs, "ecs:ListTasks", "*", {})
    assert d.statement == "policy 1, statement 1"  # no Sid
    d = evaluate(docs, "ecs:RunTask", TD, {})
    assert d == Decision(False, "implicit-deny", None)
    assert statement_of(docs, d) is None


def test_the_first_deny_decides_even_after_an_allow() -> None:
    docs = [policy(allow("*")), policy(deny("ecs:Run*"), deny("ecs:RunTask"))]
    assert evaluate(docs, "ecs:RunTask", TD, {}).statement == "policy 2, statement 1"


def test_request_context_and_global_keys() -> None:
    key = ApiKey("ci-deploy", "AKIAAAAAAAAAAAAAAAAA", "s" * 40, (), "2026-01-01T00:00:00Z")
    ctx = request_context(key, DEFAULT, region="eu-west-1", account="123456789012")
    assert ctx["ecs:cluster"] == DEFAULT
    assert ctx["aws:PrincipalArn"] == "arn:aws:iam::123456789012:user/ci-deploy"
    assert ctx["aws:RequestedRegion"] == "eu-west-1"
    assert "ecs:cluster" not in request_context(key, None, region="us-east-1")
    doc = policy(allow("ecs:RunTask", Condition={
        "StringEquals": {"ecs:cluster": DEFAULT}, "StringLike": {"aws:username": "ci-*"}}))
    assert evaluate([doc], "ecs:RunTask", TD, ctx).allowed
    other = ApiKey("dev", "AKIAAAAAAAAAAAAAAAAB", "s" * 40, (), "2026-01-01T00:00:00Z")
    assert not evaluate([doc], "ecs:RunTask", TD,
                        request_context(other, DEFAULT, region="us-east-1")).allowed


def test_access_denied_wording() -> None:
    key = ApiKey("web-scaler", "AKIAAAAAAAAAAAAAAAAA", "s" * 40, (), "2026-01-01T00:00:00Z")
    assert access_denied_message(key, "ecs:RunTask", TD) == (
        f"User: arn:aws:iam::{ACCOUNT}:user/web-scaler is not authorized to perform: "
        f"ecs:RunTask on resource: {TD} because no identity-based policy allows the "
        "ecs:RunTask action")
    explicit = Decision(False, "explicit-deny", "policy 1, statement 1")
    assert access_denied_message(key, "ecs:DeleteService", WEB, decision=explicit,
                                 account="123456789012") == (
        "User: arn:aws:iam::123456789012:user/web-scaler is not authorized to perform: "
        f"ecs:DeleteService on resource: {WEB} with an explicit deny in an identity-based "
        "policy")


# -- validation -------------------------------------------------------------------------------
VALID = [
    policy(allow("ecs:Describe*")),
    {"Statement": allow("*")},  # Version may be left out, as IAM allows
    {"Version": "2008-10-17", "Id": "p1", "Statement": [allow(["ecs:RunTask", "ecs:Stop*"])]},
    policy({"Sid": "A", "Effect": "Deny", "NotAction": "ecs:Describe*", "NotResource": [WEB]}),
    policy(allow("ecs:RunTask", Condition={
        "StringEquals": {"ecs:cluster": [DEFAULT, PROD]},
        "StringLikeIfExists": {"aws:username": "ci-*"},
        "ArnLike": {"ECS:CLUSTER": "arn:aws:ecs:*:*:cluster/*"},
        "Null": {"ecs:cluster": "false"}})),
]


@pytest.mark.parametrize("doc", VALID)
def test_valid_policies(doc) -> None:
    assert validate_policy(doc) == []


INVALID = [
    ([], "(document): a policy must be a JSON object, not a list"),
    ({"Version": "2012-10-17"}, "Statement: missing"),
    (policy(), "Statement: empty"),
    ({"Statement": "x"}, "Statement: must be an object or a list of objects, not a string"),
    ({"Version": "2012-10-18", "Statement": allow("*")},
     'Version: must be "2012-10-17" or "2008-10-17", not "2012-10-18"'),
    ({"Statment": [], "Statement": allow("*")},
     'Statment: unknown policy element "Statment". Did you mean "Statement"?'),
    (policy("x"), "Statement[0]: a statement must be a JSON object, not a string"),
    (policy({"Effect": "allow", "Action": "*", "Resource": "*"}),
     'Statement[0].Effect: must be "Allow" or "Deny", not "allow"'),
    (policy({"Action": "*", "Resource": "*"}), 'Statement[0].Effect: missing'),
    ({"Statement": {"Effect": "Permit", "Action": "*", "Resource": "*"}},
     'Statement.Effect: must be "Allow" or "Deny", not "Permit"'),
    (policy(allow("*"), {"Effect": "Allow", "Resource": "*"}),
     "Statement[1]: missing Action (or NotAction)"),
    (policy({"Effect": "Allow", "Action": "*", "NotAction": "ecs:*", "Resource": "*"}),
     "Statement[0]: has both Action and NotAction"),
    (policy({"Effect": "Allow", "Action": "*"}), "Statement[0]: missing Resource (or NotResource)"),
    (policy({"Effect": "Allow", "Action": "*", "Resource": "*", "NotResource": WEB}),
     "Statement[0]: has both Resource and NotResource"),
    (policy(allow("UpdateService")), 'Statement[0].Action: "UpdateService" is not an action'),
    (policy(allow(["ecs:RunTask", 3])), "Statement[0].Action[1]: must be a string, not a number"),
    (policy(allow([])), "Statement[0].Action: empty list"),
    (policy(allow({"a": 1})), "Statement[0].Action: must be a string or a list of strings"),
    (policy(allow("*", "service/default/web")),
     'Statement[0].Resource: "service/default/web" is not a resource'),
    (policy(allow("*", ["*", "arn:aws:ecs"])),
     'Statement[0].Resource[1]: "arn:aws:ecs" is not a resource'),
    (policy(allow("*", Principal={"AWS": "*"})),
     "Statement[0].Principal: not allowed in an identity-based policy"),
    (policy(allow("*", Actions="x")),
     'Statement[0].Actions: unknown statement element "Actions". Did you mean "Action"?'),
    (policy({"Sid": 1, **allow("*")}), "Statement[0].Sid: must be a string, not a number"),
    (policy({"Sid": "A", **allow("*")}, {"Sid": "A", **deny("*")}),
     'Statement[1].Sid: "A" is used twice (also at Statement[0])'),
    (policy(allow("*", Condition=[])),
     "Statement[0].Condition: must be an object of operators, not a list"),
    (policy(allow("*", Condition={"StringEqual": {"ecs:cluster": DEFAULT}})),
     'Statement[0].Condition.StringEqual: unknown condition operator "StringEqual". '
     'Did you mean "StringEquals"?'),
    (policy(allow("*", Condition={"NumericLessThan": {"ecs:cluster": "1"}})),
     'Statement[0].Condition.NumericLessThan: unknown condition operator "NumericLessThan"'),
    (policy(allow("*", Condition={"ForAnyValue:StringEquals": {"ecs:cluster": DEFAULT}})),
     "Statement[0].Condition.ForAnyValue:StringEquals: set operators"),
    (policy(allow("*", Condition={"StringEquals": {"ecs:clusters": DEFAULT}})),
     'Statement[0].Condition.StringEquals.ecs:clusters: unknown condition key "ecs:clusters". '
     'Did you mean "ecs:cluster"?'),
    (policy(allow("*", Condition={"StringEquals": {"aws:SourceIp": "1.2.3.4"}})),
     'unknown condition key "aws:SourceIp"'),
    (policy(allow("*", Condition={"StringEquals": {}})),
     "Statement[0].Condition.StringEquals: must be an object of condition keys and values"),
    (policy(allow("*", Condition={"StringEquals": {"ecs:cluster": []}})),
     "Statement[0].Condition.StringEquals.ecs:cluster: empty list"),
    (policy(allow("*", Condition={"StringEquals": {"ecs:cluster": [DEFAULT, {"a": 1}]}})),
     "Statement[0].Condition.StringEquals.ecs:cluster[1]: must be a string, not an object"),
    (policy(allow("*", Condition={"Null": {"ecs:cluster": "yes"}})),
     'Statement[0].Condition.Null.ecs:cluster: Null takes "true" or "false", not "yes"'),
]


@pytest.mark.parametrize(("doc", "expected"), INVALID, ids=[e for _, e in INVALID])
def test_invalid_policies(doc, expected) -> None:
    problems = validate_policy(doc)
    assert any(p.startswith(expected) or expected in p for p in problems), problems


def test_every_problem_is_reported_at_once() -> None:
    problems = validate_policy(policy({"Effect": "allow", "Actions": "ecs:*", "Resource": "*"},
                                      {"Effect": "Allow", "Action": "x", "Resource": "y"}))
    assert problems == [
        'Statement[0].Actions: unknown statement element "Actions". Did you mean "Action"?',
        'Statement[0].Effect: must be "Allow" or "Deny", not "allow"',
        "Statement[0]: missing Action (or NotAction)",
        'Statement[1].Action: "x" is not an action: write SERVICE:ACTION, such as '
        '"ecs:UpdateService", "ecs:Describe*" or "*"',
        'Statement[1].Resource: "y" is not a resource: write an ARN '
        '(arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/NAME, wildcards allowed) or "*"',
    ]


def test_wildcards_are_not_regular_expressions() -> None:
    doc = policy(allow("ecs:Describe.*", P + "service/default/[w]eb"))
    assert validate_policy(doc) != []  # "." is not allowed in an action
    doc = policy(allow("ecs:*", P + "service/default/[w]eb"))
    assert decide([doc], "ecs:UpdateService", WEB, DEFAULT) == "implicit-deny"
    assert decide([doc], "ecs:UpdateService", P + "service/default/[w]eb",
                  DEFAULT) == "allow"
    doc = policy(allow("ecs:*", P + "service/default/w.b"))
    assert decide([doc], "ecs:UpdateService", WEB, DEFAULT) == "implicit-deny"


@pytest.mark.parametrize(("action", "problem"), [
    ("ecs:UpdateServce", '"ecs:UpdateServce" is not an ECS action. Did you mean '
                         '"ecs:UpdateService"?'),
    ("ecs:Descibe*", '"ecs:Descibe*" matches no ECS action'),
    ("ecs:updateservice", None),   # IAM's action names are case-insensitive
    ("ecs:List?asks", None),
    ("ecs:Poll", None),            # IAM-only ECS actions
    ("s3:GetObject", None),        # another service's: never matches, not a mistake
])
def test_ecs_action_names_are_checked(action, problem) -> None:
    problems = validate_policy(policy(deny(action)))
    assert problems == ([] if problem is None else [f"Statement[0].Action: {problem}"])


def _key(name: str) -> ApiKey:
    return ApiKey(name, "AKIAAAAAAAAAAAAAAAAA", "s" * 40, (), "2026-01-01T00:00:00Z")


def test_policy_variables_in_resources() -> None:
    """IAM's example: each user may act on the resources named after them."""
    doc = policy(allow("ecs:UpdateService", P + "service/default/${aws:username}-*"))
    assert validate_policy(doc) == []
    ctx = request_context(_key("web"), DEFAULT, region="us-east-1")
    assert evaluate([doc], "ecs:UpdateService", P + "service/default/web-1", ctx).allowed
    assert not evaluate([doc], "ecs:UpdateService", P + "service/default/api-1", ctx).allowed
    # A variable without a value in the request matches nothing ...
    assert not evaluate([doc], "ecs:UpdateService", P + "service/default/web-1", {}).allowed
    # ... unless it has a default.
    doc2 = policy(allow("*", P + "service/default/${aws:username, 'web'}-*"))
    assert validate_policy(doc2) == []
    assert evaluate([doc2], "ecs:UpdateService", P + "service/default/web-1", {}).allowed


def test_a_variable_s_value_is_literal_and_escapes_are_characters() -> None:
    doc = policy(allow("*", P + "service/default/${aws:username}"))
    ctx = request_context(_key("w*"), DEFAULT, region="us-east-1")
    assert not evaluate([doc], "ecs:UpdateService", WEB, ctx).allowed  # * is no wildcard
    assert evaluate([doc], "ecs:UpdateService", P + "service/default/w*", ctx).allowed
    doc = policy(allow("*", P + "service/default/a${*}b${?}"))
    assert evaluate([doc], "ecs:UpdateService", P + "service/default/a*b?", {}).allowed
    assert not evaluate([doc], "ecs:UpdateService", P + "service/default/axxbz", {}).allowed


def test_variables_only_from_version_2012_10_17() -> None:
    doc = policy(allow("*", P + "service/default/${aws:username}"), version="2008-10-17")
    assert validate_policy(doc) == []
    ctx = request_context(_key("web"), DEFAULT, region="us-east-1")
    assert not evaluate([doc], "ecs:UpdateService", WEB, ctx).allowed
    assert evaluate([doc], "ecs:UpdateService", P + "service/default/${aws:username}",
                    ctx).allowed


def test_policy_variables_in_conditions() -> None:
    doc = policy(allow("ecs:RunTask", Condition={
        "StringLike": {"ecs:cluster": "*:cluster/${aws:username}-*"},
        "ArnLike": {"ecs:cluster": "arn:aws:ecs:${aws:RequestedRegion}:*:cluster/*"},
        "StringEquals": {"aws:PrincipalArn": "arn:aws:iam::000000000000:user/${aws:username}"}}))
    assert validate_policy(doc) == []
    ctx = request_context(_key("dev"), P + "cluster/dev-1", region="us-east-1")
    assert evaluate([doc], "ecs:RunTask", TD, ctx).allowed
    ctx = request_context(_key("dev"), P + "cluster/prod", region="us-east-1")
    assert not evaluate([doc], "ecs:RunTask", TD, ctx).allowed
    ctx = request_context(_key("dev"), P + "cluster/dev-1", region="eu-west-1")
    assert not evaluate([doc], "ecs:RunTask", TD, ctx).allowed


@pytest.mark.parametrize(("resource", "problem"), [
    (P + "service/${aws:usernme}", "Statement[0].Resource: unknown policy variable "
                                   '${aws:usernme}. Did you mean "aws:username"?'),
    (P + "service/${aws:username", "Statement[0].Resource: a policy variable is not closed"),
    (P + "service/${a b c}", "Statement[0].Resource: ${a b c} is not a policy variable"),
])
def test_bad_policy_variables(resource, problem) -> None:
    problems = validate_policy(policy(allow("*", resource)))
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_random_policies_validate_or_evaluate_without_crashing() -> None:
    """Random statements over the grammar's pieces (and a few wrong ones): validation
    always answers a list, and whatever it accepts evaluates without an exception."""
    import random

    from fgform.api.policy import OPERATORS

    rng = random.Random(3)
    actions = ["*", "ecs:*", "ecs:Describe*", "ecs:UpdateService", "ecs:?unTask", "s3:*", 3]
    resources = ["*", "arn:aws:ecs:*:*:service/*", P + "service/a/${aws:username}",
                 P + "service/a/${aws:username, 'b'}", "arn:${*}:${?}:${$}:a:b", WEB, "arn:",
                 "arn:a:b:c:d:${"]
    keys = ["ecs:cluster", "aws:username", "ECS:CLUSTER", "aws:RequestedRegion", "bad:key"]
    values = ["*", "arn:aws:ecs:*:*:cluster/a", P + "cluster/${aws:username}", "u", "true",
              1, True, "arn:a:b"]

    def some(pool):
        return rng.choice(pool) if rng.random() < 0.6 else \
            [rng.choice(pool) for _ in range(rng.randint(0, 3))]

    accepted = 0
    for _ in range(3000):
        statements = []
        for _ in range(rng.randint(1, 3)):
            st = {"Effect": rng.choice(["Allow", "Deny", "allow"]),
                  rng.choice(["Action", "Action", "NotAction"]): some(actions),
                  rng.choice(["Resource", "Resource", "NotResource"]): some(resources)}
            if rng.random() < 0.6:
                st["Condition"] = {rng.choice([*OPERATORS, "Bad"]): {
                    rng.choice(keys): some(values) for _ in range(rng.randint(1, 2))}}
            statements.append(st)
        doc = {"Version": rng.choice(["2012-10-17", "2008-10-17"]), "Statement": statements}
        problems = validate_policy(doc)
        assert isinstance(problems, list)
        if problems:
            continue
        accepted += 1
        for ctx in ({"ecs:cluster": DEFAULT, "aws:username": "u"}, {}):
            for action, resource in (("ecs:UpdateService", WEB), ("ecs:ListClusters", "*")):
                assert evaluate([doc], action, resource, ctx).kind in (
                    "allow", "explicit-deny", "implicit-deny")
    assert accepted > 100
