"""The parse cache (config/cache.py): only the user's own private cache directory, only data.

Nothing in a configuration directory is ever loaded as cache (a planted pickle there used to
run code), a bad entry in the real cache is a miss with a correct result, an unsafe cache
directory is not used, and a warm load gives the same Config as a cold one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fgform import __version__ as FGFORM_VERSION
from fgform.config import ast, cache, cache_codec, loader
from fgform.config.cache import ParseCache, cache_dir
from fgform.config.cache_codec import FORMAT, MAX_DEPTH, decode, encode
from fgform.config.hcl import parse_file_text
from fgform.config.loader import LOADER_VERSION, load_config

FIXTURES = Path(__file__).parent / "fixtures" / "lang"
ROOT = Path(__file__).parent.parent.parent

# Every kind of expression node, a heredoc, nested blocks and a diagnostic (the duplicate
# argument is reported at decode time, the multi-line string by the parser).
RICH = textwrap.dedent('''\
    variable "v" {
      type    = list(object({ a = optional(number, 1) }))
      default = []
    }
    locals {
      a = 1 + -2 * (3 % 4) / 5 - 6
      b = !true && false || null == "x" != 1.5e3
      c = var.v[0].a
      d = [for k, v in var.v : v.a if k > 0]
      e = { for k, v in var.v : k => v... }
      f = var.v[*].a
      g = var.v.*.a
      h = "pre ${local.a} %{ if local.a > 0 }yes%{ else }no%{ endif } post"
      i = "%{ for x in var.v }${x.a},%{ endfor }"
      j = <<-EOT
        heredoc ${local.a}
        EOT
      k = format("%s-%d", "x", 2)
      l = concat([1], [2]...)
      m = local.a > 0 ? "p" : "q"
      n = { a = 1, "b c" = [2, 3], (local.h) = 4 }
      o = "caf\\u00e9 \\U0001F600 \\"quoted\\""
      p = 123456789012345678901234567890
    }
    resource "fg_service" "web" {
      name = "web"
      name = "again"
      lifecycle {
        ignore_changes = [desired_count]
      }
    }
    output "o" {
      value = "multi
    line"
    }
    ''')


def old_pickle_key(data: bytes, filename: str) -> str:
    """The key the pickle cache used (content, name, versions), to plant an exact match."""
    h = hashlib.sha256()
    for part in (data, filename.encode(), FGFORM_VERSION.encode(), LOADER_VERSION.encode()):
        h.update(part)
        h.update(b"\x00")
    return h.hexdigest()


@pytest.fixture()
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh XDG_CACHE_HOME for this test (the cache is `<it>/fgform`)."""
    d = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(d))
    monkeypatch.delenv("FGFORM_NO_CACHE", raising=False)
    return d


def copy_basic(tmp_path: Path) -> Path:
    d = tmp_path / "cfg"
    shutil.copytree(FIXTURES / "basic", d)
    return d


def entries(xdg: Path) -> list[Path]:
    return sorted((xdg / "fgform").glob("*.json"))


def files_under(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


# -- nothing is loaded from the configuration directory --------------------------------------
def test_a_planted_pickle_in_the_configuration_is_never_loaded(tmp_path: Path, xdg: Path
                                                                ) -> None:
    cfg = copy_basic(tmp_path)
    planted = cfg / ".fgform" / "cache"
    planted.mkdir(parents=True)
    # Loading this pickle calls exit(99); keyed exactly as the old loader looked it up.
    payload = b"cbuiltins\nexit\n(I99\ntR."
    tf_files = [p for p in cfg.rglob("*.tf") if ".fgform" not in p.parts]
    assert len(tf_files) == 2
    for f in tf_files:
        (planted / f"{old_pickle_key(f.read_bytes(), str(f))}.pickle").write_bytes(payload)
    before = files_under(cfg)
    code = ("from fgform.config.loader import load_config\n"
            f"cfg, diags = load_config({str(cfg)!r})\n"
            "assert not diags, diags\n"
            "print(sorted(cfg.module.resources))\n")
    for _ in range(2):  # cold, then warm
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert out.returncode == 0, out.stderr
        assert "fg_service.web" in out.stdout
    assert files_under(cfg) == before  # nothing written into the configuration either
    assert len(entries(xdg)) == 2


# -- bad entries in the real cache are misses --------------------------------------------------
def test_garbage_truncated_and_wrong_shape_entries_are_misses(tmp_path: Path, xdg: Path
                                                               ) -> None:
    cfg = copy_basic(tmp_path)
    cold, cold_diags = load_config(cfg, use_cache=False)
    load_config(cfg)
    good = {e: e.read_bytes() for e in entries(xdg)}
    assert len(good) == 2
    e0, raw0 = next(iter(good.items()))
    key0 = e0.stem
    doc0 = json.loads(raw0)
    assert doc0[0] == FORMAT and doc0[1] == key0
    lit = {"Literal": [(1 << 60) | (1 << 40) | (1 << 20) | 2, "x"]}
    body_of = lambda attrs: {"Body": [attrs, [], [], None]}  # noqa: E731
    attr_of = lambda expr: {"Attribute": ["x", expr, 1 << 60, 1 << 60]}  # noqa: E731
    # The helpers build a good entry: each bad one below differs from it in one way.
    fine = decode(json.dumps([FORMAT, key0, body_of([attr_of(lit)]), []]).encode(), key0, "f.tf")
    assert fine[0].attributes["x"].expr.value == "x"
    bad: dict[str, bytes] = {
        "garbage": b"\x80\x00 not json",
        "empty": b"",
        "truncated": raw0[: len(raw0) // 2],
        "a pickle": b"cbuiltins\nexit\n(I99\ntR.",
        "wrong format version": json.dumps(["fgform-parse-cache/0", *doc0[1:]]).encode(),
        "another key": json.dumps([FORMAT, "0" * 64, *doc0[2:]]).encode(),
        "not a list": json.dumps({"format": FORMAT}).encode(),
        "body is a node": json.dumps([FORMAT, key0, lit, []]).encode(),
        "unknown class": json.dumps(
            [FORMAT, key0, body_of([attr_of({"system": ["id"]})]), []]).encode(),
        "two keys": json.dumps(
            [FORMAT, key0, body_of([attr_of({**lit, "Tuple": [1, []]})]), []]).encode(),
        "literal holding a list": json.dumps(
            [FORMAT, key0, body_of([attr_of({"Literal": [1, [1, 2]]})]), []]).encode(),
        "range as a string": json.dumps(
            [FORMAT, key0, body_of([attr_of({"Literal": ["1:2", 1]})]), []]).encode(),
        "negative range": json.dumps(
            [FORMAT, key0, body_of([attr_of({"Literal": [-1, 1]})]), []]).encode(),
        "null range": json.dumps(
            [FORMAT, key0, body_of([attr_of({"Literal": [None, 1]})]), []]).encode(),
        "bool range": json.dumps(
            [FORMAT, key0, body_of([attr_of({"Literal": [True, 1]})]), []]).encode(),
        "short range": json.dumps(
            [FORMAT, key0, body_of([attr_of({"Literal": [["f.tf", 1, 2, 3], 1]})]), []]).encode(),
        "string for a node list": json.dumps(
            [FORMAT, key0, body_of([attr_of({"Tuple": [1, "ab"]})]), []]).encode(),
        "node for a name": json.dumps(
            [FORMAT, key0, body_of([attr_of({"Variable": [1, lit]})]), []]).encode(),
        "fields not a list": json.dumps(
            [FORMAT, key0, body_of([attr_of({"Variable": "ab"})]), []]).encode(),
        "dict for a value": json.dumps(
            [FORMAT, key0, body_of([attr_of({"Literal": [1, {"Body": [[], [], [], None]}]})]),
             []]).encode(),
        "bool for a node": json.dumps(
            [FORMAT, key0, body_of([attr_of(True)]), []]).encode(),
        "missing field": json.dumps(
            [FORMAT, key0, body_of([attr_of({"Binary": [1, "+", lit]})]), []]).encode(),
        "extra field": json.dumps(
            [FORMAT, key0, body_of([attr_of({"Literal": [1, 2, 3]})]), []]).encode(),
        "attribute dict of non-attributes": json.dumps(
            [FORMAT, key0, body_of([lit]), []]).encode(),
        "an attribute twice": json.dumps(
            [FORMAT, key0, body_of([attr_of(lit), attr_of(lit)]), []]).encode(),
        "bad severity": json.dumps(
            [FORMAT, key0, body_of([]), [{"Diagnostic": ["fatal", "s", "d", None, ""]}]]).encode(),
        "nested a million deep": b"[" * 1_000_000 + b"]" * 1_000_000,
        "a 100,000-digit number": b"[" + b"9" * 100_000 + b"]",
    }
    for what, raw in bad.items():
        with pytest.raises(Exception):  # noqa: B017 - any exception: get() turns all into a miss
            decode(raw, key0, "f.tf")
        for e in good:
            e.write_bytes(raw)
        warm, warm_diags = load_config(cfg)
        assert (warm, warm_diags) == (cold, cold_diags), what
        # The miss rewrote the entries with good ones.
        assert {e: e.read_bytes() for e in entries(xdg)} == good, what


def test_a_symlinked_entry_is_not_followed(tmp_path: Path, xdg: Path) -> None:
    cfg = copy_basic(tmp_path)
    load_config(cfg)
    elsewhere = tmp_path / "elsewhere.json"
    for e in entries(xdg):
        shutil.move(e, elsewhere)
        e.symlink_to(elsewhere)
        kept = elsewhere.read_bytes()
        assert ParseCache(xdg / "fgform").get(e.stem, "x") is None
        break
    load_config(cfg)
    assert not any(e.is_symlink() for e in entries(xdg))  # replaced, not written through
    assert elsewhere.read_bytes() == kept


# -- the directory ------------------------------------------------------------------------------
def test_the_cache_is_private_with_private_entries(tmp_path: Path, xdg: Path) -> None:
    cfg = copy_basic(tmp_path)
    old_umask = os.umask(0)  # modes must not depend on the user's umask
    try:
        load_config(cfg)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((xdg / "fgform").stat().st_mode) == 0o700
    assert len(entries(xdg)) == 2
    for e in entries(xdg):
        assert stat.S_IMODE(e.stat().st_mode) == 0o600
    assert not list((xdg / "fgform").glob(".tmp-*"))
    assert not (cfg / ".fgform").exists()


def test_no_home_cache_without_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for value in ("", "relative/dir"):  # a relative XDG_CACHE_HOME is ignored (XDG spec)
        monkeypatch.setenv("XDG_CACHE_HOME", value)
        assert cache_dir() == tmp_path / "home" / ".cache" / "fgform"


@pytest.mark.parametrize("unsafe", ["symlink", "world-writable", "group-writable",
                                    "other owner", "a file"])
def test_an_unsafe_cache_directory_is_not_used(tmp_path: Path, xdg: Path, unsafe: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    d = xdg / "fgform"
    xdg.mkdir()
    if unsafe == "symlink":
        target = tmp_path / "target"
        target.mkdir(mode=0o700)
        d.symlink_to(target)
        watched = target
    elif unsafe == "a file":
        d.write_text("")
        watched = xdg
    else:
        d.mkdir(mode=0o700)
        watched = d
        if unsafe == "world-writable":
            d.chmod(0o777)
        elif unsafe == "group-writable":
            d.chmod(0o770)
        else:
            uid = d.stat().st_uid
            monkeypatch.setattr(cache.os, "getuid", lambda: uid + 1)
    before = files_under(watched)
    assert cache_dir() is None
    cfg = copy_basic(tmp_path)
    cold = load_config(cfg, use_cache=False)
    assert load_config(cfg) == cold
    assert files_under(watched) == before


def test_no_cache_switch_writes_nothing(tmp_path: Path, xdg: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FGFORM_NO_CACHE", "1")
    cfg = copy_basic(tmp_path)
    load_config(cfg)
    load_config(cfg)
    assert not xdg.exists()
    assert not (cfg / ".fgform").exists()
    monkeypatch.setenv("FGFORM_NO_CACHE", "0")  # "0" means on, as unset
    load_config(cfg)
    assert len(entries(xdg)) == 2


# -- what comes back ----------------------------------------------------------------------------
def test_a_warm_load_equals_a_cold_one(tmp_path: Path, xdg: Path) -> None:
    cfg = copy_basic(tmp_path)
    (cfg / "rich.tf").write_text(RICH)
    cold = load_config(cfg, use_cache=False)
    assert cold[1], "the rich file carries diagnostics, cached with it"
    assert load_config(cfg) == cold  # fills
    assert len(entries(xdg)) == 3
    assert load_config(cfg) == cold  # hits


def node_classes(o: object, seen: set[type]) -> None:
    seen.add(type(o))
    if dataclasses.is_dataclass(o):
        for f in dataclasses.fields(o):
            node_classes(getattr(o, f.name), seen)
    elif isinstance(o, (list, tuple)):
        for x in o:
            node_classes(x, seen)
    elif isinstance(o, dict):
        for x in o.values():
            node_classes(x, seen)


def test_every_ast_node_class_round_trips() -> None:
    value = parse_file_text(RICH, "/abs/rich.tf")
    seen: set[type] = set()
    node_classes(value, seen)
    node_types = {c for c in vars(ast).values()
                  if isinstance(c, type) and issubclass(c, ast.Node) and c is not ast.Node}
    assert node_types - seen == set(), "add the missing syntax to RICH"
    assert node_types <= {s.cls for s in cache_codec.SPECS.values()}, "a field kind the codec lacks"
    data = encode(value, "k", "/abs/rich.tf")
    assert b"/abs/rich.tf" not in data  # ranges of the file itself carry no name
    assert decode(data, "k", "/abs/rich.tf") == value


def test_ranges_that_do_not_pack_round_trip() -> None:
    text = "a = 1\n" + " " * (1 << 20) + "b = 2\n"  # a column beyond 20 bits
    value = parse_file_text(text, "f.tf")
    assert value[0].attributes["b"].range.start_col > 1 << 20
    assert decode(encode(value, "k", "f.tf"), "k", "f.tf") == value
    # A range naming another file keeps its name.
    assert decode(encode(value, "k", "g.tf"), "k", "g.tf") == value


@pytest.mark.parametrize("depth", [100, 1000, 5000])
def test_deep_nesting_is_correct_warm_and_never_an_error(tmp_path: Path, xdg: Path,
                                                         depth: int) -> None:
    (tmp_path / "cfg").mkdir()
    cfg = tmp_path / "cfg"
    (cfg / "main.tf").write_text("locals {\n  a = " + "(" * depth + "1" + ")" * depth + "\n}\n")
    cold = load_config(cfg, use_cache=False)
    assert load_config(cfg) == cold
    assert load_config(cfg) == cold
    # Shallow trees are cached; past MAX_DEPTH the file is simply parsed each time.
    assert len(entries(xdg)) == (1 if 2 * depth < MAX_DEPTH else 0) or cold[1]


def test_the_key_covers_content_name_and_versions(tmp_path: Path, xdg: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = copy_basic(tmp_path)
    load_config(cfg)
    n = len(entries(xdg))
    main = cfg / "main.tf"
    main.write_text(main.read_text().replace('family = "web"', 'family = "web2"'))
    c, _ = load_config(cfg)
    assert c.module.resources["fg_task_definition.web"].body.attributes["family"].expr.value \
        == "web2"
    assert len(entries(xdg)) == n + 1
    shutil.copytree(cfg, tmp_path / "other")  # same content, another name
    load_config(tmp_path / "other")
    assert len(entries(xdg)) == n + 3
    monkeypatch.setattr(loader, "LOADER_VERSION", LOADER_VERSION + "-next")
    load_config(cfg)
    assert len(entries(xdg)) == n + 5


def test_a_warm_validate_imports_no_heavy_package(tmp_path: Path, xdg: Path) -> None:
    cfg = tmp_path / "hello"
    shutil.copytree(ROOT / "examples" / "hello", cfg,
                    ignore=shutil.ignore_patterns(".fgform", "state"))
    code = ("import sys\n"
            "sys.argv = ['fgform', '-chdir=' + sys.argv[1], 'validate']\n"
            "from fgform.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "heavy = ('docker', 'jinja2', 'deepdiff', 'lark', 'hcl2', 'requests')\n"
            "print(sorted(n for n in heavy if n in sys.modules), file=sys.stderr)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(xdg)}
    runs = [subprocess.run([sys.executable, "-c", code, str(cfg)], capture_output=True,
                           text=True, env=env) for _ in range(2)]
    assert "Success" in runs[1].stdout, runs[1].stdout + runs[1].stderr
    assert "'lark'" in runs[0].stderr  # the cold run parsed
    assert runs[1].stderr.strip().splitlines()[-1] == "[]"


def test_unused_entries_are_pruned_and_used_ones_kept(tmp_path: Path, xdg: Path) -> None:
    cfg = copy_basic(tmp_path)
    load_config(cfg)
    used = entries(xdg)
    now = time.time()
    days = 24 * 3600
    for e in used:  # in use, last touched 40 days ago
        os.utime(e, (now - 40 * days, now - 40 * days))
    stale = xdg / "fgform" / f"{'0' * 64}.json"
    stale.write_text("[]")
    os.utime(stale, (now - 31 * days, now - 31 * days))
    fresh = xdg / "fgform" / f"{'1' * 64}.json"
    fresh.write_text("[]")
    os.utime(fresh, (now - 29 * days, now - 29 * days))
    interrupted = xdg / "fgform" / ".tmp-x.json"
    interrupted.write_text("[")
    os.utime(interrupted, (now - 31 * days, now - 31 * days))
    load_config(cfg)  # hits: each refreshes its entry's time
    assert all(e.stat().st_mtime > now - days for e in used)
    (cfg / "new.tf").write_text('locals {\n  x = 1\n}\n')
    load_config(cfg)  # a write prunes
    left = set(entries(xdg)) | set((xdg / "fgform").glob(".tmp-*"))
    assert fresh in left and stale not in left and interrupted not in left
    assert set(used) <= left
