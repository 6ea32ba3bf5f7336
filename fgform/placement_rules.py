"""Task placement rules, pure: ECS's cluster query language (the subset fgform supports),
placement constraints and strategies, and the instances of a cluster's `capacity` block with
their attributes.

Validation (config errors with the place in the expression), the planner (a DAEMON
service's task count, an impossible constraint refused at plan time), the local capacity
manager and the Swarm translation all read these, so they can never disagree.

The language, as ECS writes it (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/
cluster-query-language.html):

    subject operator [argument]
    attribute:ecs.instance-type == t2.small
    attribute:zone in [a, b]
    attribute:ecs.instance-type =~ t2.* and attribute:zone != c
    not(attribute:disk == hdd) or ec2InstanceId in ['i-0', 'i-1']
    attribute:gpu exists

Subjects: `attribute:<name>` and `ec2InstanceId` (the instance id; the same as
`attribute:ecs.instance-id`). Operators: `==`, `!=`, `in`, `!in` (or `not in`), `=~`, `!~`
(a regular expression that must match the whole value), `exists`, `!exists`. Compound:
`and` (`&&`), `or` (`||`), `not` (`!`) and parentheses. Values are bare words or quoted
('a b' or "a b"). ECS's other subjects (task:group, agentVersion, registeredAt,
runningTasksCount) and ordering operators are refused with a clear error.

An attribute an instance does not have fails `==`, `in`, `=~` and `exists`, and passes
`!=`, `!in`, `!~` and `!exists`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# ECS's built-in instance attributes fgform knows on the local backend. `ecs.instance-id`
# (what `ec2InstanceId` reads) is the instance id i-K; the OS is always Linux here.
BUILTIN_ATTRIBUTES = ("ecs.instance-id", "ecs.os-type")
INSTANCE_ID = "ecs.instance-id"
CONSTRAINT_TYPES = ("memberOf", "distinctInstance")
STRATEGY_TYPES = ("spread", "binpack", "random")
SCHEDULING_STRATEGIES = ("REPLICA", "DAEMON")
MAX_CONSTRAINTS = 10  # ECS: at most 10 constraints per task (definition and service)
MAX_STRATEGIES = 5  # ECS: at most 5 strategy rules per service

_OPERATORS = ("==", "!=", "in", "!in", "=~", "!~", "exists", "!exists")


class ExpressionError(ValueError):
    """An expression fgform cannot parse (or supports no longer): `position` is the
    0-based character offset the problem starts at."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position

    def describe(self, expression: str) -> str:
        """The message with the expression and a caret under the problem."""
        return (f"{self.message} at character {self.position + 1} of the expression:\n"
                f"  {expression}\n  {' ' * self.position}^")


# -- the syntax tree ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Cond:
    """One `subject operator argument` test; `name` is the attribute name (ec2InstanceId is
    `ecs.instance-id`), `values` the argument (one value, a list, or none for exists)."""

    name: str
    op: str
    values: tuple[str, ...]
    position: int = 0

    def test(self, attrs: Mapping[str, str]) -> bool:
        value = attrs.get(self.name)
        if self.op == "exists":
            return value is not None
        if self.op == "!exists":
            return value is None
        if self.op in ("==", "in"):
            return value is not None and value in self.values
        if self.op in ("!=", "!in"):
            return value is None or value not in self.values
        matched = value is not None and re.fullmatch(self.values[0], value) is not None
        return matched if self.op == "=~" else not matched

    def text(self) -> str:
        subject = f"attribute:{self.name}"
        if self.op in ("exists", "!exists"):
            return f"{subject} {self.op}"
        if self.op in ("in", "!in"):
            return f"{subject} {self.op} [{', '.join(self.values)}]"
        return f"{subject} {self.op} {self.values[0]}"


@dataclass(frozen=True, slots=True)
class Not:
    item: Node

    def test(self, attrs: Mapping[str, str]) -> bool:
        return not self.item.test(attrs)


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]

    def test(self, attrs: Mapping[str, str]) -> bool:
        return all(i.test(attrs) for i in self.items)


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]

    def test(self, attrs: Mapping[str, str]) -> bool:
        return any(i.test(attrs) for i in self.items)


Node = Cond | Not | And | Or


# -- the parser ---------------------------------------------------------------------------------
_PUNCT = "()[],"
_SYMBOLS = ("==", "!=", "=~", "!~", "&&", "||")


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # "word", "str" (quoted), "sym" (an operator or punctuation), "end"
    text: str
    pos: int


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "'\"":
            end = text.find(c, i + 1)
            if end < 0:
                raise ExpressionError(f"unterminated quoted value (no closing {c})", i)
            out.append(_Tok("str", text[i + 1:end], i))
            i = end + 1
            continue
        if text.startswith(_SYMBOLS, i):
            out.append(_Tok("sym", text[i:i + 2], i))
            i += 2
            continue
        if c in _PUNCT:
            out.append(_Tok("sym", c, i))
            i += 1
            continue
        if c == "!":
            # `!in`, `!exists`, or `!` (not) before a test or a parenthesis
            m = re.match(r"!(in|exists)\b", text[i:], re.IGNORECASE)
            if m:
                out.append(_Tok("sym", "!" + m.group(1).lower(), i))
                i += m.end()
            else:
                out.append(_Tok("sym", "!", i))
                i += 1
            continue
        start = i
        while i < n and not text[i].isspace() and text[i] not in _PUNCT + "'\"" and \
                not text.startswith(_SYMBOLS, i):
            i += 1
        out.append(_Tok("word", text[start:i], start))
    out.append(_Tok("end", "", n))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def next(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def keyword(self, *words: str) -> bool:
        tok = self.peek()
        return tok.kind == "word" and tok.text.lower() in words

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise ExpressionError("the expression is empty", 0)
        node = self.or_expr()
        tok = self.peek()
        if tok.kind != "end":
            raise ExpressionError(f"unexpected {tok.text!r} (expected and, or or the end)",
                                  tok.pos)
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.keyword("or") or self.peek().text == "||" and self.peek().kind == "sym":
            self.next()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Node:
        items = [self.unary()]
        while self.keyword("and") or self.peek().text == "&&" and self.peek().kind == "sym":
            self.next()
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        tok = self.peek()
        if self.keyword("not") or tok.kind == "sym" and tok.text == "!":
            self.next()
            return Not(self.unary())
        if tok.kind == "sym" and tok.text == "(":
            self.next()
            node = self.or_expr()
            close = self.next()
            if close.kind != "sym" or close.text != ")":
                raise ExpressionError(f"expected ) to close the ( opened at character {tok.pos + 1}",
                                      close.pos)
            return node
        return self.condition()

    def condition(self) -> Node:
        tok = self.next()
        if tok.kind != "word":
            what = "the end of the expression" if tok.kind == "end" else repr(tok.text)
            raise ExpressionError(f"expected a subject (attribute:NAME or ec2InstanceId), "
                                  f"found {what}", tok.pos)
        name = _subject(tok)
        op_tok = self.next()
        op = op_tok.text.lower() if op_tok.kind in ("word", "sym") else ""
        if op == "not" and self.keyword("in"):
            self.next()
            op = "!in"
        if op not in _OPERATORS:
            if op in (">", "<", ">=", "<="):
                raise ExpressionError(f"the operator {op} is not supported (supported: "
                                      f"{', '.join(_OPERATORS)})", op_tok.pos)
            found = "the end of the expression" if op_tok.kind == "end" else \
                repr(op_tok.text)
            raise ExpressionError(f"expected an operator ({', '.join(_OPERATORS)}) after "
                                  f"{tok.text}, found {found}", op_tok.pos)
        if op in ("exists", "!exists"):
            return Cond(name, op, (), tok.pos)
        if op in ("in", "!in"):
            values = self.value_list()
        else:
            values = (self.value(),)
        if op in ("=~", "!~"):
            try:
                re.compile(values[0])
            except re.error as exc:
                raise ExpressionError(f"{values[0]!r} is not a regular expression ({exc})",
                                      self.toks[self.i - 1].pos) from exc
        return Cond(name, op, values, tok.pos)

    def value(self) -> str:
        tok = self.next()
        if tok.kind in ("word", "str"):
            return tok.text
        found = "the end of the expression" if tok.kind == "end" else repr(tok.text)
        raise ExpressionError(f"expected a value, found {found}", tok.pos)

    def value_list(self) -> tuple[str, ...]:
        open_ = self.next()
        if open_.kind != "sym" or open_.text != "[":
            raise ExpressionError("expected a list of values in brackets, like [a, b]",
                                  open_.pos)
        values = [self.value()]
        while True:
            tok = self.next()
            if tok.kind == "sym" and tok.text == "]":
                return tuple(values)
            if tok.kind != "sym" or tok.text != ",":
                raise ExpressionError("expected , or ] in the list of values", tok.pos)
            values.append(self.value())


def _subject(tok: _Tok) -> str:
    text = tok.text
    if text.lower().startswith("attribute:"):
        name = text[len("attribute:"):]
        if not name:
            raise ExpressionError("attribute: needs a name (attribute:zone)", tok.pos)
        return name
    if text == "ec2InstanceId":
        return INSTANCE_ID
    if text in ("task:group", "agentConnected", "agentVersion", "registeredAt",
                "runningTasksCount", "instanceId"):
        raise ExpressionError(f"the subject {text} is not supported (supported: "
                              "attribute:NAME and ec2InstanceId)", tok.pos)
    raise ExpressionError(f"expected a subject (attribute:NAME or ec2InstanceId), found "
                          f"{text!r}", tok.pos)


def parse(expression: str) -> Node:
    """The syntax tree of a cluster query language expression, or ExpressionError."""
    return _Parser(expression).parse()


def check_expression(value: Any) -> str | None:
    """A schema check: the parse error of a memberOf expression (with a caret), or None."""
    if not isinstance(value, str):
        return None
    try:
        parse(value)
    except ExpressionError as exc:
        return exc.describe(value)
    return None


def matches(expression: str | Node, attrs: Mapping[str, str]) -> bool:
    """Whether an instance with these attributes satisfies the expression."""
    node = parse(expression) if isinstance(expression, str) else expression
    return node.test(attrs)


# -- instances of a cluster's capacity -----------------------------------------------------------
def instance_attributes(capacity: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """The attributes of each instance i-0, i-1, ... of a cluster's `capacity` block.

    `attribute { name = "zone", values = ["a", "b"] }` gives instance i-K the value
    values[K % len(values)] (round robin, as an auto scaling group spreads instances across
    zones); `value = "ssd"` gives every instance the same value. The built-ins are
    `ecs.instance-id` (i-K) and `ecs.os-type` (linux).
    """
    cap = capacity or {}
    count = cap.get("instance_count")
    count = 1 if count is None else int(count)
    out: list[dict[str, str]] = []
    for k in range(count):
        attrs = {INSTANCE_ID: f"i-{k}", "ecs.os-type": "linux"}
        for a in cap.get("attribute") or []:
            values = list(a.get("values") or [])
            if a.get("value") is not None:
                attrs[str(a["name"])] = str(a["value"])
            elif values:
                attrs[str(a["name"])] = str(values[k % len(values)])
        out.append(attrs)
    return out


# -- what a service asks for --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Constraint:
    """One placement constraint: memberOf with its expression (parsed), or
    distinctInstance."""

    type: str
    expression: str = ""
    node: Node | None = None

    def admits(self, attrs: Mapping[str, str]) -> bool:
        return self.node is None or self.node.test(attrs)

    def text(self) -> str:
        return f'{self.type} "{self.expression}"' if self.expression else self.type


@dataclass(frozen=True, slots=True)
class Placement:
    """What a service (with its task definition) asks of placement: memberOf constraints
    (all must hold), distinctInstance, the ordered strategies ((type, field) pairs; empty:
    the cluster's), and DAEMON scheduling."""

    constraints: tuple[Constraint, ...] = ()
    distinct: bool = False
    strategies: tuple[tuple[str, str], ...] = ()
    daemon: bool = False

    def admits(self, attrs: Mapping[str, str]) -> bool:
        """Whether an instance with these attributes satisfies every memberOf constraint."""
        return all(c.admits(attrs) for c in self.constraints)

    @property
    def plain(self) -> bool:
        """Nothing beyond the cluster's own strategy."""
        return not (self.constraints or self.distinct or self.strategies or self.daemon)


def constraints_of(*attr_sets: Mapping[str, Any] | None) -> list[Constraint]:
    """The placement_constraints of a task definition and a service (both count, as on
    ECS), parsed; unparsable ones raise ExpressionError (validation reports them first)."""
    out: list[Constraint] = []
    for attrs in attr_sets:
        for c in (attrs or {}).get("placement_constraints") or []:
            if not isinstance(c, Mapping):
                continue
            ctype = str(c.get("type") or "memberOf")
            expr = c.get("expression")
            if ctype == "memberOf" and isinstance(expr, str) and expr.strip():
                out.append(Constraint(ctype, expr, parse(expr)))
            else:
                out.append(Constraint(ctype))
    return out


def placement_of(service: Mapping[str, Any] | None, taskdef: Mapping[str, Any] | None = None
                 ) -> Placement:
    """A service's placement, from its attributes and its task definition's."""
    cons = constraints_of(taskdef, service)
    strategies = tuple((str(s.get("type")), str(s.get("field") or ""))
                       for s in (service or {}).get("placement_strategy") or []
                       if isinstance(s, Mapping))
    return Placement(
        constraints=tuple(c for c in cons if c.type == "memberOf" and c.node is not None),
        distinct=any(c.type == "distinctInstance" for c in cons),
        strategies=strategies,
        daemon=str((service or {}).get("scheduling_strategy") or "REPLICA") == "DAEMON",
    )


def eligible(placement: Placement, instances: Sequence[Mapping[str, str]]) -> list[str]:
    """The ids of the instances (attribute maps) that satisfy every memberOf constraint."""
    return [a[INSTANCE_ID] for a in instances if placement.admits(a)]


def unsatisfied(constraints: Sequence[Constraint], instances: Sequence[Mapping[str, str]]
                ) -> list[Constraint]:
    """The memberOf constraints no instance satisfies, each on its own."""
    return [c for c in constraints if c.node is not None
            and not any(c.admits(a) for a in instances)]


def check_strategy(stype: str, field_: str) -> str | None:
    """The problem with one placement_strategy rule (ECS's rules), or None."""
    if stype == "spread":
        if field_ in ("instanceId", "host") or field_.startswith("attribute:") and \
                len(field_) > len("attribute:"):
            return None
        return (f'spread needs field = "instanceId" or "attribute:NAME" (like '
                f'"attribute:ecs.availability-zone"), got "{field_}"')
    if stype == "binpack":
        if field_ in ("cpu", "memory"):
            return None
        return f'binpack needs field = "cpu" or "memory", got "{field_}"'
    if stype == "random":
        return None if not field_ else f'random takes no field, got "{field_}"'
    return f'unknown placement strategy "{stype}" (spread, binpack or random)'


def random_key(what: str, n: int, instance_id: str) -> float:
    """The "random" strategy's order: pseudo-random but the same for the same placement, so
    plans and tests are repeatable."""
    return random.Random(f"{what}/{n}/{instance_id}").random()


def daemon_task_count(service: Mapping[str, Any], cluster: Mapping[str, Any] | None,
                      taskdef: Mapping[str, Any] | None) -> int | None:
    """How many tasks a DAEMON service runs on a local cluster: its instances (from the
    cluster's `capacity`) that satisfy the service's and its task definition's memberOf
    constraints. None when that is not known (an unparsable expression, a value known only
    after apply: anything that is not plain data)."""
    if cluster is None:
        return None
    try:
        cap = cluster.get("capacity")
        if isinstance(cap, list):
            cap = cap[0] if cap else None
        if cap is not None and not isinstance(cap, Mapping):
            return None
        instances = instance_attributes(cap)
        placement = placement_of(service, taskdef)
        return len(eligible(placement, instances))
    except (ExpressionError, TypeError, ValueError, AttributeError, KeyError):
        return None
