"""Template strip markers (`~`) and `<<-` heredoc indentation, exactly as Terraform.

Every expected value below was recorded from Terraform 1.11 (`output "c" { value = EXPR }`,
`terraform apply`, `terraform output -json`). HCL's rules, which these pin: a strip marker
trims the whitespace of the one literal token beside it, and in a heredoc or template file a
literal token ends at each new line; a `<<-` heredoc's indentation is counted after the strip
markers, only on lines that start with a literal token (a whitespace-only line is neither
counted nor trimmed).
"""

from __future__ import annotations

import pytest

from fgform.config.expr import EvalContext, evaluate
from fgform.config.functions import call
from fgform.config.hcl import parse_expression, parse_template

CASES = [
    ('"a ${~ "x" ~} b"',
     'axb'),
    ('"a  \\n ${~ "x"} b"',
     'ax b'),
    ('"a ${"x" ~}  \\n  b"',
     'a xb'),
    ('"a %{~ if true ~}  y  %{~ endif ~} z"',
     'ayz'),
    ('"a %{ if false ~} y %{~ else ~} n %{~ endif } z"',
     'a n z'),
    ('"[%{~ for x in [1,2,3] ~} ${x} %{~ endfor ~}]"',
     '[123]'),
    ('"[%{ for x in [1,2,3] ~} ${x} %{ endfor ~}]"',
     '[1 2 3 ]'),
    ('"[%{~ for x in [1,2,3] } ${x} %{~ endfor }]"',
     '[ 1 2 3]'),
    ('"  %{~ if true ~}  %{~ endif ~}  "',
     ''),
    ('"  %{ if true }  %{ endif }  "',
     '      '),
    ('"   "',
     '   '),
    ('"${~ "" ~}"',
     ''),
    ('"a\\n\\n  ${~ "b" ~}\\n\\n c"',
     'abc'),
    ('"%{ for k, v in {a=1,b=2} ~}\\n${k}=${v}\\n%{~ endfor ~}"',
     'a=1b=2'),
    ('"%{ for x in [] ~} ${x} %{~ endfor } end"',
     ' end'),
    ('"%{ if true }%{ if false }a%{ else ~}  b  %{~ endif ~}  %{ endif } c"',
     'b c'),
    ('<<-EOT\n    %{~ for x in [1, 2] ~}\n    item ${x}\n    %{~ endfor ~}\n    EOT',
     '    item 1\n    item 2\n'),
    ('<<-EOT\n    %{ for x in [1, 2] ~}\n    item ${x}\n    %{ endfor ~}\n    EOT',
     '    item 1\n    item 2\n'),
    ('<<-EOT\n    %{ for x in [1, 2] }\n      item ${x}\n    %{ endfor }\n    EOT',
     '\n  item 1\n\n  item 2\n\n'),
    ('<<-EOT\n    header\n    %{~ if true ~}\n      yes\n    %{~ else ~}\n      no\n    %{~ endif ~}\n    footer\n    EOT',
     '    header\n      yes\n    footer\n'),
    ('<<-EOT\n    header\n    %{ if true ~}\n      yes\n    %{ else ~}\n      no\n    %{ endif ~}\n    footer\n    EOT',
     'header\n      yes\n    footer\n'),
    ('<<-EOT\n      a\n    ${~ "b" ~}\n      c\n    EOT',
     '      a\nb      c\n'),
    ('<<-EOT\n    a\n\n    ${~ "b"}\n\n    c\n    EOT',
     '    a\n\nb\n\n    c\n'),
    ('<<-EOT\n    a   \n\n    ${"b" ~}   \n\n      c\n    EOT',
     'a   \n\nb\n  c\n'),
    ('<<-EOT\n  %{~ for x in ["p", "q"] ~}\n      ${x}\n      %{~ if x == "p" ~}\n        first\n      %{~ endif ~}\n  %{~ endfor ~}\n  EOT',
     '      p\n        first\n      q\n'),
    ('<<-EOT\n    %{ for x in ["p", "q"] ~}\n      ${x}\n      %{ if x == "p" ~}\n        first\n      %{ endif ~}\n    %{ endfor ~}\n    EOT',
     '      p\n          first\n            q\n      '),
    ('<<-EOT\n        \n    \n    EOT',
     '        \n    \n'),
    ('<<-EOT\n    EOT',
     ''),
    ('<<EOT\n    %{~ for x in [1, 2] ~}\n    item ${x}\n    %{~ endfor ~}\n    EOT',
     '    item 1\n    item 2\n'),
    ('<<EOT\n  a\n  %{ if true ~}\n    b\n  %{ endif }\n  c\nEOT',
     '  a\n      b\n  \n  c\n'),
    ('<<-EOT\n\ttab\n\t  ${~ "x" ~}\n\t  y\n\tEOT',
     '\ttab\nx\t  y\n'),
    ('<<-EOT\n    ${"a"}\n      b\n    EOT',
     'a\n  b\n'),
    ('<<-EOT\n      b\n    ${"a"}\n    EOT',
     '  b\na\n'),
    ('<<-EOT\n      b ${"a"}\n    c\n    EOT',
     '  b a\nc\n'),
    ('<<-EOT\n    x %{~ if true ~}\n\n\n    y\n    %{~ endif ~}\n\n\n    z\n    EOT',
     '    x\n\n    y\n\n\n    z\n'),
    ('<<-EOT\n    %{~ for x in [] ~}\n    ${x}\n    %{~ endfor ~}\n    EOT',
     ''),
    ('<<-EOT\n    %{~ if false ~}\n    a\n    %{~ endif ~}\n    EOT',
     ''),
    ('<<-EOT\n  \n  %{~ if true ~}\n  \n  %{~ endif ~}\n  \n  EOT',
     '  \n  \n  \n'),
    ('"a\\n  %{~ for x in [1, 2] ~}\\n  ${x}\\n  %{~ endfor ~}\\n"',
     'a12'),
    ('"x%{if true}%{~ if true ~}  y  %{~ endif}%{endif ~}  z"',
     'xyz'),
    ('"%{~ for k, v in {b = 2, a = 1} ~} ${k}=${v} %{~ endfor ~}"',
     'a=1b=2'),
    ('"  ${~ "a"}${"b" ~}  "',
     'ab'),
    ('"  ${~ "a" ~}  ${~ "b" ~}  "',
     'ab'),
    ('"$${~ x} ${~ "y"}"',
     '${~ x}y'),
    ('"\\u00a0 ${~ "nbsp"}"',
     'nbsp'),
    ('<<-EOT\n    %{~ for k, v in {b = 2, a = 1} ~}\n    ${k} = ${v}\n    %{~ endfor ~}\n    EOT',
     '    a = 1\n    b = 2\n'),
    ('<<-EOT\n      %{ if true }yes%{ endif }\n    x\n    EOT',
     '  yes\nx\n'),
    ('<<-EOT\n    a %{ if true ~}\n      b\n    %{~ endif } c\n      d\n    EOT',
     '    a       b\n c\n      d\n'),
    ('<<-EOT\n      ${"x"}   \n    y\n    EOT',
     '  x   \ny\n'),
    ('<<-EOT\n    %{ for x in ["a", "b"] }${x}%{ endfor }\n    EOT',
     'ab\n'),
    ('<<-EOT\n    %{ for x in ["a", "b"] }\n    ${x}\n    %{ endfor }\n    EOT',
     '\na\n\nb\n\n'),
    ('<<-EOT\n\t  a\n\tb\n\tEOT',
     '  a\nb\n'),
    ('<<-EOT\n    ${~ "x"}\n    EOT',
     'x\n'),
    ('<<-EOT\n    $${x}\n      y\n    EOT',
     '${x}\n  y\n'),
    ('<<-EOT\n\n    a\n    EOT',
     '\na\n'),
    ('<<EOT\n  ${~ "a" ~}\n  b\nEOT',
     'a  b\n'),
    ('<<-EOT\n    %{ if true ~}\n    %{ endif ~}\n      z\n    EOT',
     '          z\n'),
    ('<<-EOT\n    a ${"\\n"}\n      b\n    EOT',
     'a \n\n  b\n'),
    ('<<-EOT\n    ${"x"}${~ "y"}\n      z\n    EOT',
     'xy\n  z\n'),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_strip_markers_and_heredocs_as_terraform(text: str, expected: str) -> None:
    assert evaluate(parse_expression(text + "\n"), EvalContext(functions=call)) == expected


# templatefile: the file's text is a template (recorded with templatefile(...) in Terraform).
@pytest.mark.parametrize("text, variables, expected", [
    ("a\n\n${~ x}\n", {"x": "X"}, "a\nX\n"),
    ("  a\n  %{~ if true ~}\n\n  b\n  %{~ endif ~}\n\n", {}, "  a\n\n  b\n\n"),
    ("   \n \n", {}, "   \n \n"),
    ("x $${~ y} %%{ z }\n", {}, "x ${~ y} %{ z }\n"),
])
def test_template_file_text(text: str, variables: dict, expected: str) -> None:
    node = parse_template(text)
    assert evaluate(node, EvalContext(functions=call, bindings=variables)) == expected


def test_escaped_sequences_in_a_trimmed_heredoc() -> None:
    text = "<<-EOT\n    a $${~ b} %%{ c }\n      d\n    EOT\n"
    assert evaluate(parse_expression(text), EvalContext(functions=call)) == (
        "a ${~ b} %{ c }\n  d\n")


def test_interpolation_strip_positions_stay_right() -> None:
    """Blanking `~` for the grammar keeps columns: an error inside still points at it."""
    with pytest.raises(Exception) as info:
        evaluate(parse_expression('"a ${~ nosuch(1) ~} b"\n'), EvalContext(functions=call))
    assert "nosuch" in str(info.value)
