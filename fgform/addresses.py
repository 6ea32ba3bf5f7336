"""Resource addresses as Terraform writes them: module.m["a"].fg_service.web[0]."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

Key = int | str | None


def format_key(key: Key) -> str:
    """Render an instance key the way Terraform does: [0] or ["a"]."""
    if key is None:
        return ""
    if isinstance(key, int):
        return f"[{key}]"
    return "[" + json.dumps(key) + "]"


@dataclass(frozen=True, slots=True)
class ModuleStep:
    name: str
    key: Key = None

    def __str__(self) -> str:
        return f"module.{self.name}{format_key(self.key)}"


ModulePath = tuple[ModuleStep, ...]


def format_module(path: ModulePath) -> str:
    return ".".join(str(s) for s in path)


@dataclass(frozen=True, slots=True, order=False)
class Address:
    """A resource instance (key given) or a whole resource (key None and no count).

    `mode` is Terraform's: "managed" for a `resource` block, "data" for a `data` block
    (written `data.TYPE.NAME`)."""

    type: str
    name: str
    key: Key = None
    module: ModulePath = ()
    mode: str = "managed"

    @property
    def resource(self) -> Address:
        """The address of the resource this instance belongs to."""
        return Address(self.type, self.name, None, self.module, self.mode)

    @property
    def is_data(self) -> bool:
        """A data resource's instance (`data.fg_image.app`)."""
        return self.mode == "data"

    @property
    def module_address(self) -> str:
        return format_module(self.module)

    def __str__(self) -> str:
        base = f"{self.type}.{self.name}{format_key(self.key)}"
        if self.mode == "data":
            base = "data." + base
        return f"{format_module(self.module)}.{base}" if self.module else base

    def sort_key(self) -> tuple:
        """A stable order: module path, type, name, then int keys before string keys."""
        def k(key: Key) -> tuple:
            if key is None:
                return (0, 0, "")
            if isinstance(key, int):
                return (1, key, "")
            return (2, 0, key)
        # Data resources first, as Terraform lists them (`data.` sorts before `fg_`).
        return (tuple((s.name, k(s.key)) for s in self.module), self.mode != "data",
                self.type, self.name, k(self.key))

    def __lt__(self, other: Address) -> bool:
        return self.sort_key() < other.sort_key()


_STEP = re.compile(
    r'(?P<word>[A-Za-z_][A-Za-z0-9_-]*)(?:\[(?:(?P<int>\d+)|(?P<str>"(?:[^"\\]|\\.)*"))\])?'
)


class AddressError(ValueError):
    pass


def _parse_steps(text: str) -> list[tuple[str, Key]]:
    steps: list[tuple[str, Key]] = []
    pos = 0
    while pos < len(text):
        m = _STEP.match(text, pos)
        if not m:
            raise AddressError(f"invalid address {text!r} near {text[pos:]!r}")
        key: Key = None
        if m.group("int") is not None:
            key = int(m.group("int"))
        elif m.group("str") is not None:
            key = json.loads(m.group("str"))
        steps.append((m.group("word"), key))
        pos = m.end()
        if pos < len(text):
            if text[pos] != ".":
                raise AddressError(f"invalid address {text!r} near {text[pos:]!r}")
            pos += 1
    return steps


def parse_address(text: str) -> Address:
    """Parse `module.m[0].fg_service.web["a"]`; raises AddressError on anything else."""
    steps = _parse_steps(text.strip())
    module: list[ModuleStep] = []
    i = 0
    while i < len(steps) and steps[i][0] == "module":
        if i + 1 >= len(steps) or steps[i][1] is not None:
            raise AddressError(f"invalid address {text!r}: expected module.NAME")
        module.append(ModuleStep(steps[i + 1][0], steps[i + 1][1]))
        i += 2
    rest = steps[i:]
    mode = "managed"
    if len(rest) == 3 and rest[0] == ("data", None):
        mode, rest = "data", rest[1:]
    if len(rest) != 2 or rest[0][1] is not None:
        raise AddressError(f"invalid address {text!r}: expected TYPE.NAME or TYPE.NAME[KEY]")
    return Address(rest[0][0], rest[1][0], rest[1][1], tuple(module), mode)


def without_address(message: str, address: str) -> str:
    """`message` without a leading `address`: drivers name the resource in their messages
    (their logs print them alone), and the errors of apply and reconcile already name it in
    front ("updating fg_service.web: ..."), so the user would read it twice."""
    for sep in (": ", " "):
        if message.startswith(address + sep):
            return message[len(address) + len(sep):]
    return message
