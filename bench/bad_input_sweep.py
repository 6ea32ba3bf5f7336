"""A sweep of bad inputs through the real `fgform` command: prints figures, finds crashes.

Generates several hundred bad inputs (truncated and mutated example configurations, CLI
misuse of every command, corrupt state, plan and lock files, odd file names, odd numbers
and escapes, odd types in every resource attribute, bad module sources, file functions
that reach outside the configuration, symlinks out) and runs each as
`python3 -m fgform -chdir=DIR ...` in a fresh temporary directory, with a timeout, a
private XDG_CACHE_HOME and a DOCKER_HOST that does not exist (so nothing can reach the
engine even when an input turns out to be valid).

A case is flagged when: the exit code is not 0-3; the output says "internal error" or
"Traceback"; the command hangs (timeout); a message names the temporary directory; or a
case marked as bad is accepted (exit 0). Pure-language cases can also be checked against
`terraform validate` (--terraform): a case fgform accepts and Terraform rejects is flagged.

    python3 bench/bad_input_sweep.py [--jobs 2] [--timeout 10] [--only CATEGORY]
                                     [--terraform] [--show N]

Prints cases run, and internal errors, hangs, tracebacks, bad exits, temp-path leaks and
accepted bad inputs, by category; then the first --show findings in full.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The fgform under test (--code): another checkout, to measure before a change.
CODE = REPO
sys.path.insert(0, str(REPO))

from fgform.config.schema import SCHEMAS, BlockSchema  # noqa: E402

# A file's content, or a symlink: ("->", target).
Content = bytes | str | tuple[str, str]


@dataclass
class Case:
    category: str
    name: str
    files: dict[str, Content]
    argv: list[str] = field(default_factory=lambda: ["validate"])
    env: dict[str, str] = field(default_factory=dict)
    bad: bool = False  # must not be accepted (exit 0)
    language: bool = False  # pure language: terraform validate can judge it
    stdin: str = ""


@dataclass
class Outcome:
    case: Case
    exit: int | None
    out: str
    err: str
    seconds: float
    flags: list[str]
    terraform_ok: bool | None = None


# -- generators -------------------------------------------------------------------------------

EMPTY_OK = 'output "o" {\n  value = "v"\n}\n'
BROKEN = 'resource "fg_registry" "r" {\n  port = var.nope\n}\n'


def _configs() -> list[tuple[str, dict[str, bytes]]]:
    """The example and fixture configurations, as {relative path: bytes} of their files."""
    roots = [p for p in sorted((REPO / "examples").iterdir()) if p.is_dir()]
    roots += [p / "config" for p in sorted((REPO / "tests/unit/fixtures/plan").iterdir())
              if (p / "config").is_dir()]
    out = []
    for root in roots:
        files = {str(f.relative_to(root)): f.read_bytes()
                 for f in sorted(root.rglob("*")) if f.is_file()}
        if any(n.endswith((".tf", ".hcl")) for n in files):
            out.append((str(root.relative_to(REPO)), files))
    return out


def gen_mutations(rng: random.Random) -> Iterator[Case]:
    """Truncations and single-byte mutations of every example configuration."""
    junk = [b'"', b"{", b"}", b"[", b"]", b"(", b"$", b"=", b"\n", b"\x00", b"\xff", b"\\",
            b"#", b"*", b"<<", b"%{", b".", b",", b"-", b"9", b"\t"]
    for label, files in _configs():
        main = next(n for n in files if n.endswith((".tf", ".hcl")) and "/" not in n)
        data = files[main]
        short = label.replace("/", "_")
        for i, cut in enumerate(sorted(rng.sample(range(1, len(data)), min(8, len(data) - 1)))):
            yield Case("mutate", f"{short}/trunc{i}", {**files, main: data[:cut]})
        for i in range(8):
            pos = rng.randrange(len(data))
            b = rng.choice(junk)
            mode = rng.choice(["replace", "insert", "delete"])
            if mode == "replace":
                new = data[:pos] + b + data[pos + 1:]
            elif mode == "insert":
                new = data[:pos] + b + data[pos:]
            else:
                new = data[:pos] + data[pos + 1:]
            yield Case("mutate", f"{short}/{mode}{i}", {**files, main: new})


def gen_cli(rng: random.Random) -> Iterator[Case]:
    """Every command with wrong, missing and odd flags and arguments."""
    ok = {"main.tf": EMPTY_OK}
    broken = {"main.tf": BROKEN}
    odd = ["-nope", "--", "-", "-json=maybe", "-var", "-var=", "-var==", "-var=x",
           "-var=undeclared=1", "-var-file", "-var-file=", "-var-file=/", "-var-file=missing",
           "-state=", "-state=/", "-state=state", "-out", "-out=", "-out=/", "-target",
           "-target=", "-target=fg_x", "-target=fg_service.web[", "-target=a.b.c.d",
           "-replace=", "-replace=module.", "-lock=maybe", "-lock-timeout=x",
           "-lock-timeout=-1s", "-parallelism=0", "-parallelism=-5", "-parallelism=x",
           "-refresh=maybe", "extra", "\x7f", "é", "-chdir=x", "-help=1"]
    commands = [["validate"], ["plan"], ["apply"], ["destroy"], ["fmt"], ["graph"],
                ["output"], ["show"], ["version"], ["force-unlock"], ["tasks"], ["logs"],
                ["reconcile"], ["run-task"], ["state"], ["state", "list"], ["state", "show"],
                ["state", "rm"], ["state", "mv"], ["state", "pull"], ["state", "push"]]
    for cmd in commands:
        # Docker-touching commands get a broken configuration, so they stop before Docker.
        files = ok if cmd[0] in ("validate", "fmt", "graph", "output", "show", "version",
                                 "state", "force-unlock") else broken
        yield Case("cli", " ".join(cmd) + " (bare)", files, cmd)
        for flag in rng.sample(odd, 12):
            yield Case("cli", " ".join(cmd + [flag]), files, cmd + [flag])
    for chdir in ["", "missing", "main.tf", "/dev/null", "/"]:
        yield Case("cli", f"-chdir={chdir!r}", ok, ["validate"], env={"_CHDIR": chdir})
    yield Case("cli", "no command", ok, [])
    yield Case("cli", "unknown command", ok, ["frobnicate"])
    yield Case("cli", "apply -auto-approve broken", broken, ["apply", "-auto-approve"])
    yield Case("cli", "apply stdin no", {"main.tf": EMPTY_OK}, ["apply"], stdin="no\n")
    yield Case("cli", "output missing name", ok, ["output", "nope"])
    yield Case("cli", "output -raw", ok, ["output", "-raw"])
    yield Case("cli", "state show bad addr", ok, ["state", "show", "fg_["])
    yield Case("cli", "state mv same", ok, ["state", "mv", "fg_registry.a", "fg_registry.a"])
    yield Case("cli", "state mv types", ok, ["state", "mv", "fg_registry.a", "fg_cluster.a"])
    yield Case("cli", "force-unlock id", ok, ["force-unlock", "-force", "1234"])
    yield Case("cli", "fmt -check bad", {"main.tf": "a = \n"}, ["fmt", "-check"])
    yield Case("cli", "fmt file outside", ok, ["fmt", "/etc/passwd"])
    yield Case("cli", "fmt -", ok, ["fmt", "-"], stdin="a = {\n")
    yield Case("cli", "workspace env", ok, ["plan"], env={"FGFORM_WORKSPACE": "../x"})
    yield Case("cli", "workspace env slash", ok, ["plan"], env={"FGFORM_WORKSPACE": "a/b"})
    yield Case("cli", "log env", ok, ["validate"], env={"FGFORM_LOG": "nonsense"})
    yield Case("cli", "cache env", ok, ["validate"], env={"FGFORM_NO_CACHE": "maybe"})
    yield Case("cli", "cache home file", ok, ["validate"], env={"XDG_CACHE_HOME": "/dev/null"})
    yield Case("cli", "cache home relative", ok, ["validate"], env={"XDG_CACHE_HOME": "rel"})
    yield Case("cli", "var env bad", {"main.tf": 'variable "n" {\n  type = number\n}\n'},
               ["validate"], env={"FGFORM_VAR_n": "{"})


def _state() -> dict:
    return json.loads((REPO / "tests/unit/fixtures/plan/deletes/state.json").read_text())


def _paths(doc: object, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:2]):
            yield from _paths(v, prefix + (i,))


def _set(doc: object, path: tuple, value: object) -> object:
    if not path:
        return value
    doc = json.loads(json.dumps(doc))
    cur = doc
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return doc


ODD_VALUES = [None, "x", -1, 10**30, 1.5, True, [], {}, "\ud800", {"a": [1]}]


def gen_state(rng: random.Random) -> Iterator[Case]:
    """A valid state with one node at a time replaced by an odd value; truncations."""
    state = _state()
    paths = list(_paths(state))
    cfg = {"main.tf": 'resource "fg_cluster" "main" {\n  cidr_block = "10.213.0.0/24"\n}\n'}
    cmds = [["show"], ["show", "-json"], ["output"], ["state", "list"],
            ["state", "show", "fg_cluster.main"], ["state", "rm", "fg_cluster.main"],
            ["plan"], ["destroy", "-auto-approve"]]
    for i, p in enumerate(rng.sample(paths, min(70, len(paths)))):
        value = rng.choice(ODD_VALUES)
        text = json.dumps(_set(state, p, value))
        cmd = cmds[i % len(cmds)]
        yield Case("state", f"{'/'.join(map(str, p))}={value!r} {' '.join(cmd)}",
                   {**cfg, "state/default.fgstate.json": text}, cmd)
    raw = json.dumps(state, indent=1).encode()
    for i, cut in enumerate(sorted(rng.sample(range(len(raw)), 12))):
        yield Case("state", f"trunc{i}", {**cfg, "state/default.fgstate.json": raw[:cut]},
                   cmds[i % len(cmds)], bad=True)
    for name, text in [("empty", b""), ("nul", b"\x00"), ("bom", b"\xef\xbb\xbf" + raw),
                       ("nan", raw.replace(b'"serial": ', b'"serial": NaN, "x": ')),
                       ("inf", raw.replace(b'"serial": ', b'"serial": Infinity, "x": ')),
                       ("dupkeys", b'{"version": 4, "version": 5}'),
                       ("bigint", b'{"version": 1' + b"0" * 5000 + b"}"),
                       ("deep", b"[" * 100000)]:
        for cmd in (["show"], ["state", "list"], ["plan"]):
            yield Case("state", f"{name} {' '.join(cmd)}",
                       {**cfg, "state/default.fgstate.json": text}, cmd)
    lock = {"ID": "1", "Operation": "plan", "Who": "x", "Version": "0.1.0",
            "Created": "2026-11-29T07:30:00Z", "Path": "p", "Pid": 1}
    for i, p in enumerate(list(_paths(lock))[1:]):
        for value in (None, "x", -1, 10**30, [], 1.5):
            text = json.dumps(_set(lock, p, value))
            yield Case("lock", f"{p[0]}={value!r}",
                       {**cfg, "state/default.fgstate.json": json.dumps(state),
                        "state/default.fgstate.json.lock": text},
                       [["plan"], ["state", "rm", "fg_cluster.main"],
                        ["force-unlock", "-force", "1"]][i % 3])


def gen_planfile(rng: random.Random, plan_text: str) -> Iterator[Case]:
    """A saved plan with one node at a time replaced, shown and applied."""
    plan = json.loads(plan_text)
    cfg = {"main.tf": EMPTY_OK}
    paths = list(_paths(plan))
    for i, p in enumerate(rng.sample(paths, min(60, len(paths)))):
        value = rng.choice(ODD_VALUES)
        cmd = [["show", "p.plan"], ["show", "-json", "p.plan"], ["apply", "p.plan"]][i % 3]
        yield Case("plan", f"{'/'.join(map(str, p))}={value!r} {cmd[0]}",
                   {**cfg, "p.plan": json.dumps(_set(plan, p, value))}, cmd)
    for i, cut in enumerate(sorted(rng.sample(range(len(plan_text)), 8))):
        yield Case("plan", f"trunc{i}", {**cfg, "p.plan": plan_text[:cut]},
                   ["show", "p.plan"] if i % 2 else ["apply", "p.plan"], bad=True)
    for name, argv in [("missing", ["apply", "nope.plan"]), ("dir", ["apply", "."]),
                       ("devnull", ["show", "/dev/null"]), ("two", ["show", "a", "b"]),
                       ("plan+var", ["apply", "-var=x=1", "p.plan"]),
                       ("plan+target", ["apply", "-target=fg_x.y", "p.plan"])]:
        yield Case("plan", name, {**cfg, "p.plan": plan_text}, argv)


def gen_names() -> Iterator[Case]:
    """Odd file names and file contents."""
    for name in ["-x.tf", "a b.tf", "ünï.tf", ".tf", "..tf", "x.TF", "main.tf.json",
                 "main.tf~", ".hidden.tf", "x\nnl.tf", "--help.tf", "\\.tf"]:
        yield Case("names", f"name {name!r}", {name: BROKEN})
    yield Case("names", "dir named main.tf", {"main.tf/x": "a"})
    yield Case("names", "empty file", {"main.tf": ""})
    yield Case("names", "only comments", {"main.tf": "# x\n// y\n/* z */\n"})
    yield Case("names", "unclosed comment", {"main.tf": "/* x\n"}, bad=True)
    yield Case("names", "bom", {"main.tf": b"\xef\xbb\xbf" + EMPTY_OK.encode()})
    yield Case("names", "crlf", {"main.tf": EMPTY_OK.replace("\n", "\r\n")})
    yield Case("names", "nul", {"main.tf": "locals {\n  a = \"\x00\"\n}\n"})
    yield Case("names", "latin1", {"main.tf": b'locals {\n  a = "\xe9"\n}\n'}, bad=True)
    yield Case("names", "utf16", {"main.tf": EMPTY_OK.encode("utf-16")}, bad=True)
    yield Case("names", "dangling", {"main.tf": ("->", "nowhere.tf")}, bad=True)
    yield Case("names", "loop", {"main.tf": ("->", "main.tf")}, bad=True)
    yield Case("names", "to dev/zero", {"main.tf": ("->", "/dev/zero")}, bad=True)
    yield Case("names", "to /etc/passwd", {"main.tf": ("->", "/etc/passwd")}, bad=True)
    yield Case("names", "fgvars blocks", {"main.tf": 'variable "a" {}\n',
                                          "terraform.fgvars": 'a = 1\nb {\n}\n'}, bad=True)
    yield Case("names", "fgvars expr", {"main.tf": 'variable "a" {}\n',
                                        "terraform.fgvars": 'a = var.b\n'}, bad=True)
    yield Case("names", "fgvars func", {"main.tf": 'variable "a" {}\n',
                                        "terraform.fgvars": 'a = file("/etc/passwd")\n'},
               bad=True)
    yield Case("names", "fgvars undeclared", {"main.tf": EMPTY_OK,
                                              "x.auto.fgvars": 'zz = 1\n'})
    yield Case("names", "fgvars dir", {"main.tf": EMPTY_OK, "terraform.fgvars/x": ""},
               bad=True)
    yield Case("names", "fgvars json bad", {"main.tf": 'variable "a" {}\n',
                                            "x.auto.fgvars.json": '{"a": '}, bad=True)


LANG = [
    ("num 1e400", "a = 1e400"), ("num -0", "a = -0"), ("num 0x10", "a = 0x10"),
    ("num 1_000", "a = 1_000"), ("num .5", "a = .5"), ("num 5.", "a = 5."),
    ("num 5e", "a = 5e"), ("num 1e-400", "a = 1e-400"), ("num huge", "a = 1" + "0" * 400),
    ("num huge mul", "a = 1e300 * 1e300"), ("num div0", "a = 1 / 0"), ("num mod0", "a = 1 % 0"),
    ("num neg mod", "a = -7 % 0.0"), ("num pow", "a = pow(10, 400)"),
    ("num 0/0", "a = 0 / 0"), ("num inf-inf", "a = (1/0) - (1/0)"),
    ("num parseint big", 'a = parseint("1" + "0", 2)'), ("num tostring inf", "a = tostring(1/0)"),
    ("num floor inf", "a = floor(1/0)"), ("num range huge", "a = range(0, 1e9)"),
    ("num range inf", "a = range(1/0)"), ("num range 0step", "a = range(0, 5, 0)"),
    ("num log0", "a = log(0, 10)"), ("num log neg", "a = log(-1, 10)"),
    ("num signum str", 'a = signum("x")'), ("num max empty", "a = max()"),
    ("esc \\uD800", r'a = "\uD800"'), ("esc \\uDFFF", r'a = "\uDFFF"'),
    ("esc \\U110000", r'a = "\U00110000"'), ("esc \\u00", r'a = "\u00"'),
    ("esc \\uZZZZ", r'a = "\uZZZZ"'), ("esc \\x41", r'a = "\x41"'), ("esc \\0", r'a = "\0"'),
    ("esc trailing", 'a = "abc\\'), ("esc $${", 'a = "$${x}"'), ("esc %%{", 'a = "%%{x}"'),
    ("tmpl unclosed ${", 'a = "${"'), ("tmpl empty ${}", 'a = "${}"'),
    ("tmpl %{if}", 'a = "%{if true}x"'), ("tmpl %{endif}", 'a = "%{endif}"'),
    ("tmpl %{for}", 'a = "%{for x in [1]}${x}%{endfor}"'), ("tmpl strip", 'a = "${~ 1 ~}"'),
    ("heredoc", "a = <<EOT\nx\nEOT"), ("heredoc unterminated", "a = <<EOT\nx\n"),
    ("heredoc bad marker", "a = <<EOT\nx\nEOF"), ("heredoc indent", "a = <<-EOT\n  x\n  EOT"),
    ("heredoc empty marker", "a = <<\nx\n"),
    ("idx neg", "a = [1][-1]"), ("idx float", "a = [1][0.5]"), ("idx str", 'a = [1]["x"]'),
    ("idx null", "a = [1][null]"), ("idx map missing", 'a = {b = 1}["c"]'),
    ("attr on num", "a = 1.b"), ("splat num", "a = 1[*].b"), ("splat null", "a = null[*]"),
    ("cond num", "a = 1 ? 2 : 3"), ("cond null", "a = null ? 2 : 3"),
    ("cond types", 'a = true ? [1] : {b = 1}'), ("for non coll", "a = [for x in 1 : x]"),
    ("for dup keys", 'a = {for x in ["a", "a"] : x => 1}'), ("for grouping", 'a = {for x in ["a", "a"] : x => 1...}'),
    ("for null", "a = [for x in null : x]"), ("for if num", "a = [for x in [1] : x if 1]"),
    ("op str+num", 'a = "a" + 1'), ("op null+1", "a = null + 1"), ("op !num", "a = !1"),
    ("op -str", 'a = -"x"'), ("op bool&&str", 'a = true && "x"'), ("op cmp", 'a = [1] < 2'),
    ("op ==", "a = [1] == {}"), ("func unknown", "a = nope(1)"), ("func ns", "a = provider::x::y(1)"),
    ("func arity", "a = upper()"), ("func arity2", 'a = upper("a", "b")'),
    ("func expand", "a = max([1, 2]...)"), ("func expand non list", "a = max(1...)"),
    ("func format", 'a = format("%d", "x")'), ("func format w", 'a = format("%999999999d", 1)'),
    ("func format bad", 'a = format("%z", 1)'), ("func format few", 'a = format("%s %s", 1)'),
    ("func regex bad", 'a = regex("(", "x")'), ("func regex catastrophic", 'a = regex("(a+)+$", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!")'),
    ("func jsondecode", 'a = jsondecode("{")'), ("func jsondecode deep", 'a = jsondecode("' + "[" * 5000 + '")'),
    ("func yamldecode", 'a = yamldecode("a: [")'), ("func yaml bomb", 'a = yamldecode("a: &a [1]\\nb: *a")'),
    ("func base64decode", 'a = base64decode("!!")'), ("func base64 nonutf8", 'a = base64decode("/w==")'),
    ("func cidrsubnet", 'a = cidrsubnet("10.0.0.0/8", 40, 1)'), ("func cidrhost", 'a = cidrhost("x", 1)'),
    ("func cidrnetmask v6", 'a = cidrnetmask("::/64")'), ("func cidrsubnets", 'a = cidrsubnets("10.0.0.0/30", 1, 1, 1)'),
    ("func timeadd", 'a = timeadd("x", "1h")'), ("func formatdate", 'a = formatdate("x", "y")'),
    ("func strrev", 'a = strrev(1)'), ("func substr", 'a = substr("abc", 5, -3)'),
    ("func substr huge", 'a = substr("abc", 0, 1e20)'), ("func chunklist 0", "a = chunklist([1], 0)"),
    ("func chunklist neg", "a = chunklist([1], -1)"), ("func element empty", "a = element([], 0)"),
    ("func element neg", "a = element([1], -1)"), ("func slice", "a = slice([1], 2, 1)"),
    ("func zipmap", "a = zipmap([1], [])"), ("func setproduct huge", "a = length(setproduct(range(100), range(100), range(100), range(100)))"),
    ("func flatten deep", "a = flatten(" + "[" * 300 + "]" * 300 + ")"),
    ("func merge non map", "a = merge(1)"), ("func lookup", 'a = lookup({}, "x")'),
    ("func tonumber", 'a = tonumber("x")'), ("func tobool", 'a = tobool("x")'),
    ("func tomap", "a = tomap([1])"), ("func toset mixed", 'a = toset([1, "a", [2]])'),
    ("func sum empty", "a = sum([])"), ("func sum str", 'a = sum(["a"])'),
    ("func coalesce", "a = coalesce()"), ("func one", "a = one([1, 2])"),
    ("func uuid", "a = uuid()"), ("func timestamp", "a = timestamp()"), ("func bcrypt", 'a = bcrypt("x", 100)'),
    ("func rsadecrypt", 'a = rsadecrypt("x", "y")'), ("func replace regex", 'a = replace("a", "/(/", "b")'),
    ("func split empty", 'a = split("", "abc")'), ("func join", 'a = join(",", [[1]])'),
    ("func strcontains", 'a = strcontains(1, [])'), ("func trimsuffix", 'a = trimsuffix(null, "x")'),
    ("func can", "a = can(1/0)"), ("func try", "a = try()"), ("func try all fail", "a = try(nope.x)"),
    ("func sensitive", "a = nonsensitive(1)"), ("func type", "a = type(1)"),
    ("func templatestring", 'a = templatestring("${", {})'), ("func ephemeral", "a = ephemeralasnull(1)"),
    ("func abspath", 'a = abspath("\\x00")'), ("func pathexpand", 'a = pathexpand("~nouser/x")'),
    ("func dirname", 'a = dirname("")'), ("func file nul", 'a = file("a\\u0000b")'),
    ("func file empty", 'a = file("")'), ("func fileexists nul", 'a = fileexists("a\\u0000b")'),
    ("func fileset", 'a = fileset("/", "**")'), ("func file long", 'a = file("' + "a" * 5000 + '")'),
    ("ref undeclared", "a = var.nope"), ("ref self", "a = local.a"), ("ref each", "a = each.key"),
    ("ref count", "a = count.index"), ("ref self.", "a = self.x"), ("ref path.x", "a = path.nope"),
    ("ref terraform", "a = terraform.workspace"), ("ref data", "a = data.x.y.z"),
    ("ref resource missing", "a = fg_registry.nope.id"), ("ref module missing", "a = module.nope.x"),
    ("ref bare", "a = nope"), ("ref local cycle", "a = local.b\n  b = local.a"),
    ("type obj", "a = {1 = 2}"), ("type obj dupe", "a = {b = 1, b = 2}"),
    ("type obj expr key", "a = {(1) = 2}"), ("type obj list key", "a = {([1]) = 2}"),
    ("str nested quotes", 'a = "${"${"${1}"}"}"'), ("long line", "a = " + "1+" * 3000 + "1"),
    ("parens 1000", "a = " + "(" * 1000 + "1" + ")" * 1000),
    ("list 1000 deep", "a = " + "[" * 1000 + "]" * 1000),
    ("obj 1000 deep", "a = " + "{a=" * 1000 + "1" + "}" * 1000),
    ("neg chain", "a = " + "-" * 1000 + "1"), ("not chain", "a = " + "!" * 1000 + "true"),
    ("cond chain", "a = " + "true ? 1 : " * 1000 + "2"),
    ("index chain", "a = [1]" + "[0]" * 1000), ("attr chain", "a = {b = 1}" + ".b" * 2),
    ("ctrl char", "a = \"\x01\""), ("tab in name", "a\tb = 1"), ("unicode ident", "ü = 1"),
    ("emoji ident", "😀 = 1"), ("dash ident", "a-b = 1"), ("digit ident", "1a = 1"),
]


def gen_language() -> Iterator[Case]:
    """Odd numbers, escapes, expressions and function calls in a locals block, output."""
    for name, body in LANG:
        tf = f"locals {{\n  {body}\n}}\n\noutput \"a\" {{\n  value = local.a\n}}\n"
        yield Case("language", name, {"main.tf": tf}, language=True)
    blocks = [
        ("variable no label", "variable {}"), ("variable two labels", 'variable "a" "b" {}'),
        ("variable type expr", 'variable "a" {\n  type = 1\n}'),
        ("variable type list()", 'variable "a" {\n  type = list()\n}'),
        ("variable type object bad", 'variable "a" {\n  type = object({a = strin})\n}'),
        ("variable type optional top", 'variable "a" {\n  type = optional(string)\n}'),
        ("variable type map(map(", 'variable "a" {\n  type = map(map(\n}'),
        ("variable type tuple", 'variable "a" {\n  type = tuple(string)\n  default = ["a"]\n}'),
        ("variable default mismatch", 'variable "a" {\n  type = number\n  default = "x"\n}'),
        ("variable validation no msg", 'variable "a" {\n  default = 1\n  validation {\n    condition = true\n  }\n}'),
        ("variable validation other var", 'variable "a" {\n  default = 1\n  validation {\n    condition = local.x\n    error_message = "m"\n  }\n}'),
        ("variable validation non bool", 'variable "a" {\n  default = 1\n  validation {\n    condition = "x"\n    error_message = "m"\n  }\n}'),
        ("variable nullable", 'variable "a" {\n  nullable = "x"\n}'),
        ("variable sensitive str", 'variable "a" {\n  sensitive = "yes"\n  default = 1\n}'),
        ("variable dup", 'variable "a" {}\nvariable "a" {}'),
        ("variable bad name", 'variable "count" {}'), ("variable unknown arg", 'variable "a" {\n  foo = 1\n}'),
        ("output no value", 'output "a" {}'), ("output dup", 'output "a" {\n  value = 1\n}\noutput "a" {\n  value = 1\n}'),
        ("output sensitive needed", 'variable "s" {\n  default = "x"\n  sensitive = true\n}\noutput "a" {\n  value = var.s\n}'),
        ("output depends_on junk", 'output "a" {\n  value = 1\n  depends_on = [1]\n}'),
        ("output precondition", 'output "a" {\n  value = 1\n  precondition {\n    condition = false\n    error_message = "no"\n  }\n}'),
        ("locals dup", 'locals {\n  a = 1\n}\nlocals {\n  a = 2\n}'),
        ("locals block inside", 'locals {\n  a {\n  }\n}'),
        ("terraform block junk", 'terraform {\n  required_version = ">= 99"\n}'),
        ("terraform backend", 'terraform {\n  backend "s3" {}\n}'),
        ("terraform backend local path", 'terraform {\n  backend "local" {\n    path = "/etc/x"\n  }\n}'),
        ("provider block", 'provider "docker" {}'), ("data block", 'data "x" "y" {}'),
        ("moved block", 'moved {\n  from = a.b\n  to = c.d\n}'), ("import block", 'import {\n  to = a.b\n  id = "x"\n}'),
        ("check block", 'check "x" {\n  assert {\n    condition = false\n    error_message = "e"\n  }\n}'),
        ("unknown block", 'frobnicate "x" {}'), ("top attr", "a = 1"),
        ("resource unknown type", 'resource "aws_instance" "x" {}'),
        ("resource no labels", "resource {}"), ("resource dup", 'resource "fg_registry" "a" {}\nresource "fg_registry" "a" {}'),
        ("resource count+for_each", 'resource "fg_registry" "a" {\n  count = 1\n  for_each = {}\n}'),
        ("resource count neg", 'resource "fg_registry" "a" {\n  count = -1\n}'),
        ("resource count float", 'resource "fg_registry" "a" {\n  count = 1.5\n}'),
        ("resource count str", 'resource "fg_registry" "a" {\n  count = "x"\n}'),
        ("resource count null", 'resource "fg_registry" "a" {\n  count = null\n}'),
        ("resource count huge", 'resource "fg_registry" "a" {\n  count = 1e400\n}'),
        ("resource for_each str", 'resource "fg_registry" "a" {\n  for_each = "x"\n}'),
        ("resource for_each set num", 'resource "fg_registry" "a" {\n  for_each = toset([1])\n}'),
        ("resource for_each null key", 'resource "fg_registry" "a" {\n  for_each = toset([null])\n}'),
        ("resource for_each sensitive", 'variable "s" {\n  default = {a = 1}\n  sensitive = true\n}\nresource "fg_registry" "a" {\n  for_each = var.s\n}'),
        ("resource depends_on bad", 'resource "fg_registry" "a" {\n  depends_on = ["x"]\n}'),
        ("resource depends_on self", 'resource "fg_registry" "a" {\n  depends_on = [fg_registry.a]\n}'),
        ("resource lifecycle junk", 'resource "fg_registry" "a" {\n  lifecycle {\n    frob = 1\n  }\n}'),
        ("resource ignore_changes bad", 'resource "fg_registry" "a" {\n  lifecycle {\n    ignore_changes = [nope]\n  }\n}'),
        ("resource ignore_changes str", 'resource "fg_registry" "a" {\n  lifecycle {\n    ignore_changes = "all"\n  }\n}'),
        ("resource replace_triggered_by", 'resource "fg_registry" "a" {\n  lifecycle {\n    replace_triggered_by = [fg_registry.nope]\n  }\n}'),
        ("resource provisioner", 'resource "fg_registry" "a" {\n  provisioner "local-exec" {\n    command = "id"\n  }\n}'),
        ("resource connection", 'resource "fg_registry" "a" {\n  connection {}\n}'),
        ("resource self ref", 'resource "fg_registry" "a" {\n  port = fg_registry.a.port\n}'),
        ("resource cycle", 'resource "fg_registry" "a" {\n  port = fg_registry.b.port\n}\nresource "fg_registry" "b" {\n  port = fg_registry.a.port\n}'),
        ("dynamic block", 'resource "fg_registry" "a" {\n  dynamic "x" {\n    for_each = [1]\n    content {}\n  }\n}'),
    ]
    for name, body in blocks:
        yield Case("blocks", name, {"main.tf": body + "\n"})


def _odd_attr_values() -> list[str]:
    return ["null", '"x"', "-1", "1.5", "1e400", "99999999999999999999", "true", "[]", "{}",
            '["a", 1]', '{a = [1]}', '"${1}"', '""', '" "', '"\\u0000"', "0", "65536",
            '"../../etc"', '"/"']


def _walk_block(block: BlockSchema, prefix: str) -> Iterator[tuple[str, str, BlockSchema]]:
    for a in block.attributes:
        if not a.computed or a.optional:
            yield prefix, a.name, block
    for b in block.blocks:
        yield from _walk_block(b, f"{prefix}{b.name}.")


def gen_types() -> Iterator[Case]:
    """Every resource attribute (nested blocks too) set to each odd value."""
    vals = _odd_attr_values()
    i = 0
    for rtype, schema in sorted(SCHEMAS.items()):
        for prefix, attr, _ in _walk_block(schema.body, ""):
            for v in vals:
                i += 1
                if i % 5:  # every fifth (value, attribute) pair keeps the sweep short
                    continue
                inner = f"{attr} = {v}"
                for part in reversed([p for p in prefix.split(".") if p]):
                    label = ' "web"' if part == "container" else ""
                    inner = f"{part}{label} {{\n    {inner}\n  }}"
                tf = f'resource "{rtype}" "x" {{\n  {inner}\n}}\n'
                yield Case("types", f"{rtype}.{prefix}{attr}={v}", {"main.tf": tf})


def gen_modules() -> Iterator[Case]:
    """Module calls with bad sources, arguments, outputs; symlinked module directories."""
    for src in ["/", "..", "../..", "./main.tf", "https://example.com/m", "git::https://x/y",
                "./missing", ".", "./", "./m/../..", "hashicorp/consul/aws", "", "./m/",
                "./m//sub", "../../../../../../etc", "./\x00", "./m?ref=1", "s3::x"]:
        yield Case("modules", f"source {src!r}",
                   {"main.tf": f'module "m" {{\n  source = "{src}"\n}}\n',
                    "m/main.tf": EMPTY_OK})
    yield Case("modules", "source expr", {"main.tf": 'module "m" {\n  source = "./${"m"}"\n}\n',
                                          "m/main.tf": EMPTY_OK})
    yield Case("modules", "source var", {"main.tf": 'variable "s" {}\nmodule "m" {\n  source = var.s\n}\n'})
    yield Case("modules", "self recursion", {"main.tf": 'module "m" {\n  source = "./"\n}\n'})
    yield Case("modules", "mutual recursion",
               {"main.tf": 'module "a" {\n  source = "./a"\n}\n',
                "a/main.tf": 'module "b" {\n  source = "../b"\n}\n',
                "b/main.tf": 'module "a" {\n  source = "../a"\n}\n'}, bad=True)
    yield Case("modules", "link out", {"main.tf": 'module "m" {\n  source = "./m"\n}\n',
                                       "m": ("->", "/etc")})
    yield Case("modules", "link loop", {"main.tf": 'module "m" {\n  source = "./m"\n}\n',
                                        "m": ("->", "m")}, bad=True)
    yield Case("modules", "link dangling", {"main.tf": 'module "m" {\n  source = "./m"\n}\n',
                                            "m": ("->", "nowhere")}, bad=True)
    yield Case("modules", "file in module links out",
               {"main.tf": 'module "m" {\n  source = "./m"\n}\n',
                "m/main.tf": ("->", "/etc/hostname")}, bad=True)
    base = {"m/main.tf": 'variable "v" {\n  type = number\n}\noutput "o" {\n  value = var.v\n}\n'}
    for name, call in [("missing arg", ""), ("undeclared arg", "nope = 1"),
                       ("wrong type", 'v = "x"'), ("count", "v = 1\n  count = -1"),
                       ("for_each list", "v = 1\n  for_each = [1]"),
                       ("providers", "v = 1\n  providers = {}"),
                       ("version", 'v = 1\n  version = "1.0"'),
                       ("depends_on junk", "v = 1\n  depends_on = [1]"),
                       ("output missing", "v = 1")]:
        extra = 'output "x" {\n  value = module.m.nope\n}\n' if name == "output missing" else ""
        yield Case("modules", name, {**base, "main.tf":
                   f'module "m" {{\n  source = "./m"\n  {call}\n}}\n{extra}'})


def gen_files() -> Iterator[Case]:
    """File functions and path references that reach outside the configuration."""
    calls = ['file("/etc/passwd")', 'file("../secret")', 'file("${path.root}/../secret")',
             'file("~/.bashrc")', 'file("/proc/self/environ")', 'filebase64("/etc/hostname")',
             'filesha256("/etc/passwd")', 'fileexists("/etc/passwd")',
             'templatefile("/etc/passwd", {})', 'templatefile("../secret", {})',
             'file("link")', 'file("m/../../secret")', 'file(abspath("../secret"))',
             'file("/dev/zero")', 'file("/dev/stdin")', 'file(path.cwd)',
             'file("${path.cwd}/../secret")', 'fileexists("../secret")',
             'file("/proc/self/fd/0")']
    for call in calls:
        tf = f'locals {{\n  a = {call}\n}}\n\noutput "a" {{\n  value = local.a\n}}\n'
        yield Case("files", call, {"cfg/main.tf": tf, "secret": "TOPSECRET-DATA\n",
                                   "cfg/link": ("->", "../secret")},
                   ["plan"], env={"_SUBDIR": "cfg"}, bad=True)
    ok = 'locals {\n  a = file("${path.module}/data.txt")\n}\n\noutput "a" {\n  value = local.a\n}\n'
    yield Case("files", "inside is fine", {"main.tf": ok, "data.txt": "x"})


def all_cases(plan_text: str, seed: int) -> list[Case]:
    rng = random.Random(seed)
    cases: list[Case] = []
    for gen in (gen_mutations(rng), gen_cli(rng), gen_state(rng), gen_planfile(rng, plan_text),
                gen_names(), gen_language(), gen_types(), gen_modules(), gen_files()):
        cases.extend(gen)
    return cases


# -- running ----------------------------------------------------------------------------------

def _write(root: Path, files: dict[str, Content]) -> None:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, tuple):
            os.symlink(content[1], p)
        else:
            p.write_bytes(content.encode("utf-8", "surrogatepass")
                          if isinstance(content, str) else content)


def _environment(tmp: Path, case: Case) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FGFORM_", "TF_"))}
    env.update({"PYTHONPATH": str(CODE), "NO_COLOR": "1", "XDG_CACHE_HOME": str(tmp / "cache"),
                "DOCKER_HOST": "unix:///nonexistent/fgform-sweep.sock", "HOME": str(tmp / "home")})
    env.update({k: v for k, v in case.env.items() if not k.startswith("_")})
    return env


def run_case(case: Case, timeout: float) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="fgsweep-") as d:
        tmp = Path(d)
        cfg = tmp / "w"
        cfg.mkdir()
        (tmp / "home").mkdir()
        _write(cfg, case.files)
        # A relative -chdir, as a user types it: an absolute temporary path in a message is
        # then one the user never gave (path.cwd and abspath() aside).
        workdir = Path("w", case.env.get("_SUBDIR", ""))
        chdir = case.env.get("_CHDIR", str(workdir))
        argv = [sys.executable, "-m", "fgform", f"-chdir={chdir}", *case.argv]
        start = time.monotonic()
        try:
            p = subprocess.run(argv, input=case.stdin.encode(), capture_output=True,
                               timeout=timeout, cwd=tmp, env=_environment(tmp, case))
            code, out, err = p.returncode, p.stdout.decode(errors="replace"), \
                p.stderr.decode(errors="replace")
        except subprocess.TimeoutExpired:
            code, out, err = None, "", ""
        seconds = time.monotonic() - start
    flags = []
    text = out + err
    if code is None:
        flags.append("hang")
    elif code not in (0, 1, 2, 3):
        flags.append("bad-exit")
    if "internal error" in text.lower():
        flags.append("internal-error")
    if "Traceback" in text:
        flags.append("traceback")
    if "fgsweep-" in text and "path.cwd" not in str(case.files) \
            and "abspath" not in str(case.files):
        flags.append("temp-path")
    if "TOPSECRET" in text:
        flags.append("read-outside")
    if case.bad and code == 0:
        flags.append("accepted")
    return Outcome(case, code, out, err, seconds, flags)


def terraform_accepts(case: Case) -> bool | None:
    """Whether `terraform validate` accepts a pure-language case (None: not available)."""
    tf = shutil.which("terraform")
    if not tf:
        return None
    with tempfile.TemporaryDirectory(prefix="fgsweep-tf-") as d:
        _write(Path(d), case.files)
        try:
            p = subprocess.run([tf, "validate", "-no-color"], cwd=d, capture_output=True,
                               timeout=60, env={**os.environ, "TF_IN_AUTOMATION": "1"})
        except subprocess.TimeoutExpired:
            return None
        return p.returncode == 0


def make_plan_text() -> str:
    """A real saved plan (of a configuration without resources: no Docker needed)."""
    with tempfile.TemporaryDirectory(prefix="fgsweep-") as d:
        Path(d, "main.tf").write_text(
            'variable "s" {\n  default = "x"\n  sensitive = true\n}\n' + EMPTY_OK)
        env = _environment(Path(d), Case("", "", {}))
        subprocess.run([sys.executable, "-m", "fgform", f"-chdir={d}", "plan", "-out=p.plan"],
                       capture_output=True, env=env, check=True, timeout=60)
        return Path(d, "p.plan").read_text()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--only", default="", help="run one category")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--terraform", action="store_true",
                    help="check accepted language cases against terraform validate")
    ap.add_argument("--show", type=int, default=40, help="findings printed in full")
    ap.add_argument("--json", default="",
                    help="write every finding, and every accepted case, to this file")
    ap.add_argument("--code", default="", help="the fgform checkout to run (default: this)")
    args = ap.parse_args()
    global CODE
    CODE = Path(args.code).resolve() if args.code else REPO

    cases = all_cases(make_plan_text(), args.seed)
    if args.only:
        cases = [c for c in cases if c.category == args.only]
    start = time.monotonic()
    with ThreadPoolExecutor(args.jobs) as pool:
        outcomes = list(pool.map(lambda c: run_case(c, args.timeout), cases))
    if args.terraform:
        for o in outcomes:
            if o.case.language and o.exit == 0:
                o.terraform_ok = terraform_accepts(o.case)
                if o.terraform_ok is False:
                    o.flags.append("accepted-tf-rejects")

    kinds = ["internal-error", "traceback", "hang", "bad-exit", "temp-path", "read-outside",
             "accepted", "accepted-tf-rejects"]
    by_cat: dict[str, Counter] = defaultdict(Counter)
    for o in outcomes:
        c = by_cat[o.case.category]
        c["cases"] += 1
        c["exit0"] += o.exit == 0
        for f in o.flags:
            c[f] += 1
    header = f"{'category':10} {'cases':>6} {'exit0':>6} " + " ".join(f"{k:>9.9}" for k in kinds)
    print(header)
    total: Counter = Counter()
    for cat in sorted(by_cat):
        c = by_cat[cat]
        total.update(c)
        print(f"{cat:10} {c['cases']:6} {c['exit0']:6} "
              + " ".join(f"{c[k]:9}" for k in kinds))
    print(f"{'TOTAL':10} {total['cases']:6} {total['exit0']:6} "
          + " ".join(f"{total[k]:9}" for k in kinds))
    slowest = max(outcomes, key=lambda o: o.seconds)
    print(f"\n{len(outcomes)} cases in {time.monotonic() - start:.0f} s; slowest "
          f"{slowest.seconds:.1f} s ({slowest.case.category}: {slowest.case.name!r})")
    findings = [o for o in outcomes if o.flags]
    for o in findings[:args.show]:
        print(f"\n== [{', '.join(o.flags)}] {o.case.category}: {o.case.name!r} "
              f"argv={o.case.argv} exit={o.exit}")
        print((o.err or o.out)[-1500:])
    if args.json:
        Path(args.json).write_text(json.dumps({
            "accepted": [f"{o.case.category}: {o.case.name} {o.case.argv}"
                         for o in outcomes if o.exit == 0],
            "findings": [{"category": o.case.category, "name": o.case.name, "argv": o.case.argv,
              "flags": o.flags, "exit": o.exit, "stderr": o.err[-4000:],
              "stdout": o.out[-2000:], "files": {k: v if isinstance(v, str) else repr(v)
                                                 for k, v in o.case.files.items()}}
                         for o in findings]}, indent=1))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
