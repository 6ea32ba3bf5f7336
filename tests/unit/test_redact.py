"""A sensitive value quoted by an error message never reaches the terminal."""

from __future__ import annotations

from pathlib import Path

from fgform.analysis import validate_config
from fgform.config.loader import load_config
from fgform.errors import Diagnostic, redact
from fgform.values import Sensitive, sensitive_strings

CONFIG = '''
variable "s" {
  default   = "hunter2"
  sensitive = true
}

variable "plain" {
  default = "visible-value"
}

resource "fg_target_group" "a" {
  port = var.s
}

resource "fg_target_group" "b" {
  port = var.plain
}

locals {
  n = tonumber(var.s)
  m = { a = 1 }[var.s]
}
'''


def test_errors_that_quote_a_sensitive_value_show_it_redacted(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(CONFIG)
    config, diags = load_config(tmp_path, use_cache=False)
    assert not diags
    found = validate_config(config, cwd=str(tmp_path))
    text = "\n".join(f"{d.summary} {d.detail} {d.hint}" for d in found)
    assert len(found) == 4, text
    assert "hunter2" not in text
    # each says what was wrong without the value
    assert 'attribute "port": a number is required.' in text
    assert "The given key does not identify an element in this collection value." in text
    # a value that is not sensitive is still quoted, so the message stays useful
    assert '"visible-value"' in text


def test_sensitive_strings_finds_nested_leaves_only_inside_marks() -> None:
    value = {"a": Sensitive({"k": "secret-1", "n": 12345, "short": "ab"}),
             "b": ["open", Sensitive("secret-2")], "c": "not-secret"}
    assert sensitive_strings(value) == {"secret-1", "12345", "secret-2"}


def test_redact_replaces_the_longest_secret_first() -> None:
    d = Diagnostic.error("bad value hunter2x", detail="hunter2x and hunter2", hint="x")
    redact([d], {"hunter2", "hunter2x"})
    assert d.summary == "bad value (sensitive value)"
    assert d.detail == "(sensitive value) and (sensitive value)"
