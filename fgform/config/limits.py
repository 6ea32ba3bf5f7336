"""The largest values one expression may build (docs/language.md, "Limits").

Without them a `format("%999999999d", 1)`, a chain of locals each doubling the last
(`"${local.a}${local.a}"`) or three nested for-expressions over `range(1024)` take minutes
and gigabytes before anything can be reported. Shared by the evaluator (templates,
for-expressions) and the function library, so both refuse at the same size.
"""

from __future__ import annotations

MAX_STRING_LENGTH = 1 << 20  # characters
MAX_COLLECTION_LENGTH = 100_000  # elements of a list, set or map
# Iterations of one for-expression, counting the for-expressions and template `for`
# directives nested in it: a grid of range(1024) by range(1024) still fits, a cube does not.
MAX_FOR_ITERATIONS = 1 << 21
