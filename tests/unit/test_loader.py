"""Loader: files -> Config, syntax-error messages, duplicates, heredocs, the parse cache."""

from __future__ import annotations

import os
import random
import shutil
import textwrap
from pathlib import Path

import pytest

from fgform.config import ast
from fgform.config.expr import EvalContext, evaluate
from fgform.config.functions import call as call_function
from fgform.config.hcl import parse_expression, parse_file_text
from fgform.config.loader import load_config

FIXTURES = Path(__file__).parent / "fixtures" / "lang"


def write(tmp_path: Path, text: str, name: str = "main.tf") -> Path:
    (tmp_path / name).write_text(textwrap.dedent(text))
    return tmp_path


def load(tmp_path: Path, text: str):
    return load_config(write(tmp_path, text), use_cache=False)


def errors(diags) -> list[str]:
    return [f"{d.range}: {d.summary}: {d.detail}" for d in diags]


def test_basic_fixture(tmp_path: Path) -> None:
    src = tmp_path / "cfg"
    shutil.copytree(FIXTURES / "basic", src)
    cfg, diags = load_config(src, use_cache=False)
    assert diags == []
    m = cfg.module
    assert m.backend == {"type": "local", "path": "state/fg.tfstate"}
    var = m.variables["replicas"]
    assert var.has_default and isinstance(var.type, ast.Variable) and var.type.name == "number"
    assert len(var.validations) == 1
    svc = m.resources["fg_service.web"]
    assert isinstance(svc.count, ast.Literal) and svc.count.value == 2
    assert "count" not in svc.body.attributes and "depends_on" not in svc.body.attributes
    assert [r.parts for r in svc.depends_on] == [("fg_task_definition", "web")]
    td = m.resources["fg_task_definition.web"]
    assert td.lifecycle.create_before_destroy and td.lifecycle.ignore_changes == ["cpu",
                                                                                  "container"]
    assert [b.type for b in td.body.blocks] == ["container"]
    assert td.body.blocks[0].labels == ["web"]
    assert "web" in cfg.children and cfg.children["web"].path == ("web",)
    assert "n" in cfg.children["web"].module.outputs
    ctx = EvalContext(functions=call_function, locals={"name": "web"})
    # Recorded from Terraform 1.11: `%{ endfor ~}` ate the new line, so the next line
    # does not start a line for the `<<-` indentation and keeps its spaces.
    assert evaluate(m.locals["script"].expr, ctx) == (
        "#!/bin/sh\necho web ${HOME}\n    item a\n    item b\n")
    image = td.body.blocks[0].body.attributes["image"].expr
    assert evaluate(image, ctx) == 'x:web\n"q" \u00e9'
    assert str(svc.range).endswith("main.tf:41,1")


def test_ranges_point_at_the_source(tmp_path: Path) -> None:
    cfg, _ = load(tmp_path, """\
        locals {
          a = var.x + 1
        }
        """)
    attr_expr = cfg.module.locals["a"].expr
    assert isinstance(attr_expr, ast.Binary)
    assert (attr_expr.left.range.start_line, attr_expr.left.range.start_col) == (2, 7)
    assert (attr_expr.right.range.start_line, attr_expr.right.range.start_col) == (2, 15)


@pytest.mark.parametrize("text, expected", [
    ('resource "fg_service" "web" {\n  desired_count 5\n}\n',
     "main.tf:2,17: Invalid syntax: Expected `=` or `{` after `desired_count`, found `5`."),
    ("locals {\n  a = [1,\n}\n",
     "main.tf:3,1: Invalid syntax: Expected an expression or `]` after `,`, found `}`."),
    ("locals {\n a = 1 +\n}\n",
     "main.tf:3,1: Invalid syntax: Expected an expression after `+`, found `}`."),
    ("x {\n a = 1\n",
     "main.tf:2,7: Invalid syntax: Expected `}` after `1`, found the end of the file."),
    ("locals {\n  a = foo(1 2)\n}\n",
     "main.tf:2,13: Invalid syntax: Expected `)`, `,`, a new line or `...` after `1`, found "
     "`2`."),
    ("locals {\n a = x.\n}\n",
     "main.tf:2,8: Invalid syntax: Expected a name or a number after `x.`, found `}`."),
    ("a = 1 b = 2\n",
     "main.tf:1,7: Missing newline: Each argument and block must be on a line of its own; "
     "put a new line before this one."),
    ('locals {\n a = "\\q"\n}\n',
     'main.tf:2,7: Invalid escape sequence: The symbol "q" is not a valid escape sequence '
     "selector. Use \\\\ for a literal backslash."),
])
def test_syntax_error_messages(text: str, expected: str) -> None:
    _, diags = parse_file_text(text, "main.tf")
    assert errors(diags) == [expected]


def test_syntax_error_through_load_config_names_the_file(tmp_path: Path) -> None:
    _, diags = load(tmp_path, 'resource "fg_service" "web" {\n  desired_count 5\n}\n')
    assert len(diags) == 1
    assert diags[0].range.filename == str(tmp_path / "main.tf")
    assert (diags[0].range.start_line, diags[0].range.start_col) == (2, 17)


def test_object_items_need_a_separator() -> None:
    _, diags = parse_file_text("locals {\n  a = {x = 1 y = 2}\n}\n", "m.tf")
    assert [d.summary for d in diags] == ["Missing item separator"]


def test_duplicate_attributes_are_recorded_and_reported(tmp_path: Path) -> None:
    body, diags = parse_file_text('resource "a" "b" {\n  x = 1\n  x = 2\n}\n', "m.tf")
    inner = body.blocks[0].body
    assert [a.name_range.start_line for a in inner.duplicate_attributes] == [2]
    assert evaluate(inner.attributes["x"].expr, EvalContext(functions=call_function)) == 2
    _, diags = load(tmp_path, 'resource "fg_service" "web" {\n  desired_count = 1\n'
                              "  desired_count = 2\n}\n")
    assert [d.summary for d in diags] == ["Duplicate argument"]
    assert "main.tf:2,3" in diags[0].detail and diags[0].range.start_line == 3


def test_duplicate_names_name_both_places(tmp_path: Path) -> None:
    (tmp_path / "a.tf").write_text('resource "fg_cluster" "main" {}\nvariable "v" {}\n')
    (tmp_path / "b.tf").write_text('resource "fg_cluster" "main" {}\nvariable "v" {}\n'
                                   "locals {\n  x = 1\n}\nlocals {\n  x = 2\n}\n")
    _, diags = load_config(tmp_path, use_cache=False)
    msgs = errors(diags)
    assert any("Duplicate resource" in m and "a.tf:1,1" in m and "b.tf:1,1" in m for m in msgs)
    assert any("Duplicate variable" in m and "a.tf:2,1" in m for m in msgs)
    assert any("Duplicate local value" in m and "b.tf:4,3" in m for m in msgs)


def test_unknown_block_type_did_you_mean(tmp_path: Path) -> None:
    _, diags = load(tmp_path, 'resorce "fg_cluster" "main" {}\n')
    assert diags[0].summary == "Unsupported block type"
    assert diags[0].hint == 'Did you mean the block type "resource"?'


def test_label_count_and_backend_checks(tmp_path: Path) -> None:
    _, diags = load(tmp_path, 'resource "fg_cluster" {}\nbackend "s3" {}\n')
    assert [d.summary for d in diags] == ["Wrong number of block labels", "Unsupported backend"]


def test_top_level_backend_and_module_source_rules(tmp_path: Path) -> None:
    cfg, diags = load(tmp_path, """\
        backend "local" {
          path = "x.tfstate"
        }
        module "m" {
          source = "modules/m"
        }
        """)
    assert cfg.module.backend == {"type": "local", "path": "x.tfstate"}
    assert [d.summary for d in diags] == ["Invalid module source"]
    assert diags[0].hint == 'Did you mean "./modules/m"?'


def test_missing_module_dir_and_cycle(tmp_path: Path) -> None:
    _, diags = load(tmp_path, 'module "m" {\n  source = "./nope"\n  x = 1\n}\n')
    assert [d.summary for d in diags] == ["Module not found"]
    assert diags[0].range.start_line == 1
    cfg, diags = load_config(FIXTURES / "modcycle", use_cache=False)
    assert [d.summary for d in diags] == ["Module cycle"]
    assert "a" in cfg.children


def test_module_call_meta_arguments(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "main.tf").write_text('variable "n" {}\n')
    cfg, diags = load(tmp_path, """\
        module "m" {
          source     = "./m"
          for_each   = toset(["a"])
          n          = each.key
          depends_on = [fg_cluster.main]
        }
        """)
    assert diags == []
    call = cfg.module.module_calls["m"]
    assert list(call.inputs) == ["n"] and call.for_each is not None
    assert [r.parts for r in call.depends_on] == [("fg_cluster", "main")]


def test_variable_and_output_fields(tmp_path: Path) -> None:
    cfg, diags = load(tmp_path, """\
        variable "pw" {
          type        = string
          description = "The password"
          sensitive   = true
          nullable    = false
        }
        output "o" {
          value       = var.pw
          description = "out"
          sensitive   = true
        }
        output "bad" {
          description = "no value"
        }
        """)
    v = cfg.module.variables["pw"]
    assert (v.description, v.sensitive, v.nullable, v.has_default) == ("The password", True,
                                                                       False, False)
    assert cfg.module.outputs["o"].sensitive
    assert [d.summary for d in diags] == ["Missing required argument"]


def test_heredocs() -> None:
    text = 'locals {\n  a = <<EOT\n  keep ${x}\nEOT\n  b = <<-EOT\n    one\n      two\n    EOT\n}\n'
    body, diags = parse_file_text(text, "h.tf")
    assert diags == []
    attrs = body.blocks[0].body.attributes
    ctx = EvalContext(functions=call_function, bindings={"x": 1})
    assert evaluate(attrs["a"].expr, ctx) == "  keep 1\n"
    assert evaluate(attrs["b"].expr, ctx) == "one\n  two\n"
    interp = attrs["a"].expr.parts[1]
    assert (interp.range.start_line, interp.range.start_col) == (3, 10)


def test_string_escapes_and_literal_interpolation() -> None:
    node = parse_expression(r'"a\tb\\c \u0041 $${x} %%{y}"')
    assert evaluate(node, EvalContext(functions=call_function)) == "a\tb\\c A ${x} %{y}"


def test_unknown_attribute_at_top_level(tmp_path: Path) -> None:
    _, diags = load(tmp_path, "x = 1\n")
    assert diags[0].summary == "Unsupported argument"


def test_empty_dir_and_missing_dir(tmp_path: Path) -> None:
    _, diags = load_config(tmp_path, use_cache=False)
    assert [d.summary for d in diags] == ["No configuration files"]
    _, diags = load_config(tmp_path / "nope", use_cache=False)
    assert [d.summary for d in diags] == ["Configuration directory not readable"]


def test_fuzzed_truncations_never_raise() -> None:
    text = (FIXTURES / "basic" / "main.tf").read_text()
    rng = random.Random(7)
    cuts = sorted({rng.randrange(len(text)) for _ in range(60)})
    for cut in cuts:
        body, diags = parse_file_text(text[:cut], "f.tf")
        assert body is not None
    for _ in range(60):
        i = rng.randrange(len(text))
        mutated = text[:i] + rng.choice(['"', "{", "}", "$", "%{", "${", "\\", "<<EOT\n", "="]) \
            + text[i + 1:]
        parse_file_text(mutated, "f.tf")
    for junk in ["\x00", "\ufeff", "{" * 2000, "a = " + "(" * 3000 + "1" + ")" * 3000,
                 "a = <<EOT\n", 'a = "${', "%{ if }"]:
        parse_file_text(junk, "f.tf")


# -- quoted strings may not span lines (as HCL) -------------------------------------------------
MULTI_LINE_DETAIL = (
    "Quoted strings may not be split over multiple lines. To produce a multi-line string, "
    'either use the \\n escape to represent a newline character or use the "heredoc" '
    "multi-line template syntax.")


def _multi_line(diags) -> list[tuple[int, int, int, int]]:
    out = []
    for d in diags:
        assert d.summary == "Invalid multi-line string", d
        assert d.detail == MULTI_LINE_DETAIL
        r = d.range
        out.append((r.start_line, r.start_col, r.end_line, r.end_col))
    return out


def test_quoted_string_split_over_lines_is_an_error_at_the_new_line(tmp_path: Path) -> None:
    # terraform validate: "Invalid multi-line string" at 2:12-3:1 (the new line itself).
    _, diags = load(tmp_path, 'locals {\n  name = "a\nb"\n}\n')
    assert _multi_line(diags) == [(2, 12, 3, 1)]
    assert diags[0].range.filename == str(tmp_path / "main.tf")


def test_every_new_line_of_a_quoted_string_is_reported(tmp_path: Path) -> None:
    _, diags = load(tmp_path, 'locals {\n  name = "é${1}x\nb\n  c"\n}\n')
    assert _multi_line(diags) == [(2, 17, 3, 1), (3, 2, 4, 1)]


def test_multi_line_string_with_crlf_starts_at_the_cr(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_bytes(b'locals {\r\n  name = "a\r\nb"\r\n}\r\n')
    _, diags = load_config(tmp_path, use_cache=False)
    assert _multi_line(diags) == [(2, 12, 3, 1)]


@pytest.mark.parametrize("text,where", [
    ('resource "fg_cluster" "a\nb" {}\n', (1, 25, 2, 1)),  # a block label
    ('locals {\n  m = { "k\ney" = 1 }\n}\n', (2, 11, 3, 1)),  # an object key
    ('locals {\n  z = "a${"x\ny"}b"\n}\n', (2, 13, 3, 1)),  # a string inside ${ } (terraform: 2:13)
    ('locals {\n  e = "$${a\nb}"\n}\n', (2, 12, 3, 1)),  # an escaped interpolation
])
def test_multi_line_string_everywhere_a_quoted_string_is(tmp_path: Path, text: str,
                                                          where: tuple) -> None:
    _, diags = load(tmp_path, text)
    assert _multi_line(diags) == [where]


def test_new_lines_in_heredocs_and_interpolations_are_fine(tmp_path: Path) -> None:
    cfg, diags = load(tmp_path, '''\
        locals {
          x = 1
          h = <<EOT
        a
        b
        EOT
          i = "a${local.x +
          1}b"
          e = "a\\nb"
        }
        ''')
    assert diags == []
    ctx = EvalContext(functions=call_function, locals={"x": 1})
    assert evaluate(cfg.module.locals["i"].expr, ctx) == "a2b"
    assert evaluate(cfg.module.locals["e"].expr, ctx) == "a\nb"


def test_multi_line_string_in_a_variables_file_and_a_cached_load(tmp_path: Path) -> None:
    _, diags = parse_file_text('v = "a\nb"\n', "x.fgvars")
    assert _multi_line(diags) == [(1, 7, 2, 1)]
    write(tmp_path, 'locals {\n  name = "a\nb"\n}\n')
    for _ in range(2):  # the second load is a cache hit: same diagnostics
        _, diags = load_config(tmp_path)
        assert _multi_line(diags) == [(2, 12, 3, 1)]


def test_multi_line_string_in_an_expression_keeps_its_place() -> None:
    with pytest.raises(ValueError, match="Invalid multi-line string"):
        parse_expression('"ab\nc"', "x.tf", line=3, col=5)
    # Parsed on its own, then moved to its place (line 3, the text from column 5).
    from fgform.config.hcl import parse_text

    _, diags = parse_text('__x = "ab\nc"\n', "x.tf", col_shift=(3, 5 - 7))
    assert _multi_line(diags) == [(3, 8, 4, 1)]


# -- files that are not UTF-8 -------------------------------------------------------------------
@pytest.mark.parametrize("data,line,col,offset", [
    (b'locals {\n  a = "x"\n  name = "caf\xe9 ok"\n}\n', 3, 14, 32),  # terraform: 3:14, byte 32
    (b'locals {\n  name = "\xc3\xa9\xe2\x82\xac\xff"\n}\n', 2, 13, 24),  # after é and €
    (b'\xef\xbb\xbflocals {\xfe\n}\n', 1, 9, 11),  # a byte order mark takes no column
    (b'locals {\r\n  x = "\x80"\r\n}\r\n', 2, 8, 17),
    (b'\xff\xfel\x00', 1, 1, 0),  # UTF-16
])
def test_invalid_utf8_is_reported_at_the_first_bad_byte(tmp_path: Path, data: bytes, line: int,
                                                        col: int, offset: int) -> None:
    (tmp_path / "main.tf").write_bytes(data)
    _, diags = load_config(tmp_path, use_cache=False)
    (d,) = diags
    assert d.summary == "Invalid file encoding"
    assert (d.range.start_line, d.range.start_col, d.range.end_line, d.range.end_col) == \
        (line, col, line, col + 1)
    assert f"byte {offset} (0x{data[offset]:02X})" in d.detail
    # The file is named as in every other diagnostic of the file (the renderer shows both
    # relative to the configuration directory).
    assert d.range.filename == str(tmp_path / "main.tf")
    assert f'"{d.range.filename}"' in d.detail


def test_invalid_utf8_in_a_module_reads_relative_to_the_configuration(tmp_path: Path) -> None:
    from fgform.render.diagnostics import format_diagnostics

    (tmp_path / "mod").mkdir()
    (tmp_path / "mod" / "main.tf").write_bytes(b'locals {\n  x = "\xe9"\n}\n')
    write(tmp_path, 'module "m" {\n  source = "./mod"\n}\n')
    _, diags = load_config(tmp_path, use_cache=False)
    (d,) = diags
    text = format_diagnostics(diags, tmp_path)
    assert "on mod/main.tf line 2, column 8:" in text
    assert 'The file "mod/main.tf" is not valid UTF-8' in text
    assert str(tmp_path) not in text


# -- symlinks in the configuration: an error naming the file, never skipped ---------------------
VALID = 'output "ok" {\n  value = 1\n}\n'


def read_failures(diags) -> list[str]:
    return [d.detail for d in diags if d.summary == "Failed to read file"]


def test_a_dangling_or_looping_tf_symlink_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(VALID)
    (tmp_path / "gone.tf").symlink_to("renamed.tf")
    (tmp_path / "a.tf").symlink_to("b.tf")
    (tmp_path / "b.tf").symlink_to("a.tf")
    (tmp_path / "self.hcl").symlink_to("self.hcl")
    _, diags = load_config(tmp_path, use_cache=False)
    assert read_failures(diags) == [
        f'The file "{tmp_path / name}" could not be read: it is a symbolic link that loops '
        "back on itself (Too many levels of symbolic links)." for name in ("a.tf", "b.tf")
    ] + [
        f'The file "{tmp_path / "gone.tf"}" could not be read: it is a symbolic link to '
        '"renamed.tf", which does not exist (No such file or directory).',
        f'The file "{tmp_path / "self.hcl"}" could not be read: it is a symbolic link that '
        "loops back on itself (Too many levels of symbolic links).",
    ]


def test_only_a_real_directory_named_tf_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(VALID)
    (tmp_path / "notes.tf").mkdir()
    _, diags = load_config(tmp_path, use_cache=False)
    assert diags == []
    (tmp_path / "linked.tf").symlink_to("notes.tf")
    _, diags = load_config(tmp_path, use_cache=False)
    assert read_failures(diags) == [
        f'The file "{tmp_path / "linked.tf"}" could not be read: it is a symbolic link to '
        '"notes.tf", which is a directory.']


def test_a_fifo_named_tf_is_an_error_not_a_hang(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(VALID)
    os.mkfifo(tmp_path / "pipe.tf")
    _, diags = load_config(tmp_path, use_cache=False)
    assert read_failures(diags) == [
        f'The file "{tmp_path / "pipe.tf"}" could not be read: it is not a regular file.']


@pytest.mark.parametrize("link", ["loop", "dangling"])
def test_a_broken_module_source_link_is_an_error_at_the_call(tmp_path: Path, link: str
                                                              ) -> None:
    (tmp_path / "main.tf").write_text(VALID + '\nmodule "app" {\n  source = "./app"\n}\n')
    if link == "loop":
        (tmp_path / "app").symlink_to("app2")
        (tmp_path / "app2").symlink_to("app")
        why = "that loops back on itself (Too many levels of symbolic links)"
    else:
        (tmp_path / "app").symlink_to("../shared/app")
        why = 'to "../shared/app", which does not exist (No such file or directory)'
    _, diags = load_config(tmp_path, use_cache=False)
    assert [(d.summary, d.detail, d.range.start_line) for d in diags] == [
        ("Module not found", f'The module "app" has source "./app", but "{tmp_path / "app"}" '
         f"cannot be opened: it is a symbolic link {why}.", 5)]
    assert diags[0].range.filename == str(tmp_path / "main.tf")


# -- check_syntax: the front end's syntax check (fmt validates through it) ---------------------
@pytest.mark.parametrize("text,summary,where", [
    ("a = !*true\n", "Invalid syntax", "m.tf:1,6"),
    ('a = "%{ if true }x"\n', "Unterminated template directive", "m.tf:1,6"),
    ('a = "\\q"\n', "Invalid escape sequence", "m.tf:1,6"),
])
def test_check_syntax_reports_what_the_loader_rejects(tmp_path: Path, text: str, summary: str,
                                                      where: str) -> None:
    from fgform.config.hcl import check_syntax

    diags = check_syntax(text, "m.tf")
    assert [(d.summary, str(d.range)) for d in diags] == [(summary, where)]
    _, loaded = load_config(write(tmp_path, text, "m.tf"), use_cache=False)
    assert [d.summary for d in loaded] == [summary]


def test_check_syntax_accepts_valid_text_and_a_byte_order_mark() -> None:
    from fgform.config.hcl import check_syntax

    assert check_syntax('locals {\n  a = "${1 + 2}"\n}\n', "m.tf") == []
    assert check_syntax("\ufeffa = 1\n", "m.tf") == []
