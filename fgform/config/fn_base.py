"""What every module of the function library shares: the error a function raises
(`FuncError`) and what an implementation receives besides its arguments (`CallInfo`).

Here, not in `functions.py`, so that the modules holding groups of functions (`fn_text`,
`fn_encoding`, `fn_time`, `fn_files`, `fn_crypto`, `fn_misc`) can raise it while
`functions.py` imports them to register their functions: no import cycle."""

from __future__ import annotations

from dataclasses import dataclass

from fgform.config import ast
from fgform.config.context import EvalContext


class FuncError(Exception):
    """A function rejects its input. `arg` is the index of the guilty argument, if one is."""

    def __init__(self, message: str, arg: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.arg = arg


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What a function implementation may need besides its arguments."""

    name: str
    node: ast.Call
    ctx: EvalContext
