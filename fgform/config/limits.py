"""The largest values one expression may build (docs/language.md, "Limits").

Without them a `format("%999999999d", 1)`, a chain of locals each doubling the last
(`"${local.a}${local.a}"`) or three nested for-expressions over `range(1024)` take minutes
and gigabytes before anything can be reported. Shared by the evaluator (templates,
for-expressions) and the function library, so both refuse at the same size.
"""

from __future__ import annotations

from typing import Any

from fgform.values import Sensitive

MAX_STRING_LENGTH = 1 << 20  # characters
MAX_COLLECTION_LENGTH = 100_000  # elements of a list, set or map
# Iterations of one for-expression, counting the for-expressions and template `for`
# directives nested in it: a grid of range(1024) by range(1024) still fits, a cube does not.
MAX_FOR_ITERATIONS = 1 << 21
# Values in one list, map or object, nested ones included and a part counted each time it
# appears: locals that each hold the last one twice (`[local.a, local.a]`) share their
# parts, cheap to build but 2**depth values to every walk over them (rendering, state).
MAX_VALUE_ELEMENTS = 1 << 21


def element_count(value: Any, limit: int = MAX_VALUE_ELEMENTS) -> int:
    """How many values `value` holds, itself and every nested one, a shared part counted
    each time it appears; counting stops at the first part found to hold more than `limit`
    (the result is then above `limit`, not exact). Each distinct part is looked into once,
    so the count costs what the value's memory does, not what its paths do."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        v, children_done = stack.pop()
        while isinstance(v, Sensitive):
            v = v.value
        if not isinstance(v, (list, dict)):
            continue
        items = list(v.values()) if isinstance(v, dict) else v
        if not children_done:
            if id(v) not in sizes:
                stack.append((v, True))
                stack.extend((c, False) for c in items if isinstance(c, _NESTED))
            continue
        total = 1 + len(items)  # itself and its elements; nested parts add their own
        for c in items:
            if isinstance(c, _NESTED):
                while isinstance(c, Sensitive):
                    c = c.value
                total += sizes.get(id(c), 1) - 1
        if total > limit:
            return total
        sizes[id(v)] = total
    root = value
    while isinstance(root, Sensitive):
        root = root.value
    return sizes.get(id(root), 1)


_NESTED = (list, dict, Sensitive)
