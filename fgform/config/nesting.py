"""Room for deeply nested expressions.

Every stage after parsing (conversion, references, evaluation, validation) walks expressions
recursively, one or a few Python frames per level of nesting. Python's default limit (1,000
frames) stops that at about 450 levels, where Terraform accepts 20,000 nested parentheses.
The loader measures how deep each expression goes and, the first time one goes deeper than
the default allows, calls `make_room` so the whole pipeline can follow it, up to
`MAX_NESTING` levels (deeper input is reported as an error at the level that crosses it).
Ordinary configurations never pay for this: the limits stay untouched.
"""

from __future__ import annotations

import sys
import threading

# Levels of nesting (parentheses, brackets, braces, calls, operators, conditionals) accepted
# in one expression: above what Terraform accepts (20,000 nested parentheses; it crashes at
# 100,000). A chain of left-associative operators (`1 + 1 + ... + 1`) does not count: the
# loader builds and the evaluator walks such a chain without recursing.
MAX_NESTING = 25_000

# Depth that needs no extra room: the default recursion limit (1,000) minus what the CLI,
# click and the walkers around an expression already use.
SHALLOW_NESTING = 100

# Python frames one level of nesting may cost in the deepest walker (a function call inside
# a function call: evaluate -> call -> argument list -> evaluate), with margin.
_FRAMES_PER_LEVEL = 6
# Bytes of C stack per Python frame on the deepest C-recursive path (a generator or builtin
# between every two Python calls): measured at about 300 on CPython 3.11 x86-64.
_STACK_PER_FRAME = 500
# The main thread's stack may grow into the gap the kernel leaves below it (at least 128
# MiB on Linux whatever RLIMIT_STACK was at start); stay well inside it.
_STACK_CAP = 100 * 1024 * 1024

_room = 0


def make_room(levels: int = MAX_NESTING) -> int:
    """Let this process recurse through expressions nested `levels` deep: raise the
    recursion limit, the main thread's stack limit and the stack size of threads started
    from now on (the apply walk evaluates in worker threads). Returns the number of levels
    there is room for, which is less than asked only when the stack cannot grow."""
    global _room
    if levels <= _room:
        return levels
    frames = _FRAMES_PER_LEVEL * levels
    stack = min(_STACK_CAP, frames * _STACK_PER_FRAME)
    stack = _grow_stack(stack)
    frames = min(frames, stack // _STACK_PER_FRAME)
    base = sys.getrecursionlimit() if _room == 0 else 0
    if frames + base > sys.getrecursionlimit():
        sys.setrecursionlimit(frames + base)
    try:
        if threading.stack_size() < stack:
            threading.stack_size(stack)
    except (ValueError, RuntimeError):  # a platform that fixes thread stacks
        pass
    _room = max(_room, frames // _FRAMES_PER_LEVEL)
    return min(levels, _room)


def _grow_stack(wanted: int) -> int:
    """Raise the soft stack limit towards `wanted` bytes; return what the stack may use."""
    try:
        import resource
    except ImportError:  # not a POSIX system: keep the default limits
        return 8 * 1024 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return wanted
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    try:
        resource.setrlimit(resource.RLIMIT_STACK, (target, hard))
    except (ValueError, OSError):
        return soft
    return target
