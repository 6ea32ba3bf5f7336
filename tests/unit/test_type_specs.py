"""Variable type specifications: Terraform's messages for the ones it refuses.

Every message below was recorded from Terraform 1.11 (`variable "a" { type = T }`,
`terraform validate`), its line breaks joined.
"""

from __future__ import annotations

import pytest

from fgform.config.hcl import parse_expression
from fgform.config.types import ANY, ListType, MapType, TypeSyntaxError, parse_type


@pytest.mark.parametrize("text, summary, message", [
    ('optional(string)', 'Invalid type specification',
     'Keyword "optional" is valid only as a modifier for object type attributes.'),
    ('tuple(string)', 'Invalid type specification',
     'Tuple type constructor requires a list of element types.'),
    ('object(string)', 'Invalid type specification',
     'Object type constructor requires a map whose keys are attribute names and whose values are the corresponding attribute types.'),
    ('list(strin)', 'Invalid type specification',
     'The keyword "strin" is not a valid type specification.'),
    ('foo(string)', 'Invalid type specification',
     'Keyword "foo" is not a valid type constructor.'),
    ('map(string, number)', 'Invalid type specification',
     'The map type constructor requires one argument specifying the element type.'),
    ('set()', 'Invalid type specification',
     'The set type constructor requires one argument specifying the element type.'),
    ('set', 'Invalid type specification',
     'The set type constructor requires one argument specifying the element type.'),
    ('any(string)', 'Invalid type specification',
     'Type constraint keyword "any" does not expect arguments.'),
    ('number(1)', 'Invalid type specification',
     'Primitive type keyword "number" does not expect arguments.'),
    ('object({a=string}, 1)', 'Invalid type specification',
     'The object type constructor requires one argument specifying the attribute types and values as a map.'),
    ('tuple([string], 2)', 'Invalid type specification',
     'The tuple type constructor requires one argument specifying the element types as a list.'),
    ('optional(string, 1, 2)', 'Invalid type specification',
     'Keyword "optional" is valid only as a modifier for object type attributes.'),
    ('object({a=optional(strin)})', 'Invalid type specification',
     'The keyword "strin" is not a valid type specification.'),
    ('object({a=optional()})', 'Invalid type specification',
     'Optional attribute modifier requires the attribute type as its argument.'),
    ('bool()', 'Invalid type specification',
     'Primitive type keyword "bool" does not expect arguments.'),
    ('list(any, any)', 'Invalid type specification',
     'The list type constructor requires one argument specifying the element type.'),
    ('object({(a)=string})', 'Invalid type specification',
     'Object constructor map keys must be attribute names.'),
    ('object({a=string, a=number})', 'Invalid type specification',
     'Object constructor map keys must be unique.'),
    ('list(list)', 'Invalid type specification',
     'The list type constructor requires one argument specifying the element type.'),
    ('map(map)', 'Invalid type specification',
     'The map type constructor requires one argument specifying the element type.'),
    ('tuple([list])', 'Invalid type specification',
     'The list type constructor requires one argument specifying the element type.'),
    ('object({a=list})', 'Invalid type specification',
     'The list type constructor requires one argument specifying the element type.'),
 ])
def test_refused_type_specifications(text: str, summary: str, message: str) -> None:
    with pytest.raises(TypeSyntaxError) as info:
        parse_type(parse_expression(text))
    assert (info.value.summary, str(info.value)) == (summary, message)
    assert info.value.range is not None


def test_bare_list_and_map_are_legacy_any() -> None:
    """Terraform 1.11 takes `type = list` / `type = map` (and converts [1, "a"] to
    ["1", "a"]); only at the top of a type, never inside one."""
    assert parse_type(parse_expression("list")) == ListType(ANY)
    assert parse_type(parse_expression("map")) == MapType(ANY)
