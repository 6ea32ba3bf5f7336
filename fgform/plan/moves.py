"""Terraform's refactoring blocks applied to the prior state before planning: `moved`
(objects change address, chains followed) and `removed` (which instances a block names).

Pure: state in, state out. `apply_moves` runs before refresh, so the plan compares each
moved object with the configuration at its new address and shows
`# A has moved to B` / `# (moved from A)`.

Rules, as Terraform 1.11's (internal/refactoring):
- a statement declared in module `m` applies inside every instance of `m`;
- a whole resource (`fg_x.a` -> `fg_x.b`) or module call (`module.a` -> `module.b`) keeps each
  instance's key; an instance statement (`fg_x.a[0]` -> `fg_x.b["k"]`,
  `module.a[0]` -> `module.b`) moves that one instance;
- statements chain: an object at `a` with `a -> b` and `b -> c` ends at `c`;
- a `from` with no object in state does nothing;
- an object whose destination already holds an object stays where it is, and the plan warns
  ("Unresolved resource instance address changes"): Terraform then plans to destroy it if
  its old address is no longer configured.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from fgform.addresses import Address, ModulePath, ModuleStep
from fgform.config.meta_model import Endpoint, MovedBlock, RemovedBlock
from fgform.config.model import Config
from fgform.state.model import InstanceState, StateFile

UNRESOLVED_WARNING = (
    "Unresolved resource instance address changes\n"
    "fgform tried to adjust resource instance addresses in the prior state\n"
    "based on change information recorded in the configuration, but some\n"
    "adjustments did not succeed due to existing objects already at the intended\n"
    "addresses:\n"
    "{lines}\n"
    "\n"
    "fgform has planned to destroy these objects. If fgform's proposed\n"
    "changes aren't appropriate, you must first resolve the conflicts using the\n"
    "\"fgform state\" subcommands and then create a new plan."
)


@dataclass(slots=True)
class MoveResult:
    """The state with every move made, and what moved: new address -> previous address."""

    state: StateFile | None
    moved: dict[Address, Address] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def statements(config: Config) -> list[tuple[tuple[str, ...], MovedBlock]]:
    """Every moved block with the module call path (names) that declares it, parents first."""
    out: list[tuple[tuple[str, ...], MovedBlock]] = []

    def visit(cfg: Config) -> None:
        out.extend((tuple(cfg.path), mv) for mv in cfg.module.moved)
        for name in sorted(cfg.children):
            visit(cfg.children[name])

    visit(config)
    return out


def removed_blocks(config: Config) -> list[tuple[tuple[str, ...], RemovedBlock]]:
    """Every removed block with the module call path that declares it."""
    out: list[tuple[tuple[str, ...], RemovedBlock]] = []

    def visit(cfg: Config) -> None:
        out.extend((tuple(cfg.path), rm) for rm in cfg.module.removed)
        for name in sorted(cfg.children):
            visit(cfg.children[name])

    visit(config)
    return out


def _split(decl: tuple[str, ...], addr: Address) -> tuple[ModulePath, ModulePath] | None:
    """(the declaring module's instance path, the rest) when `addr` lies inside an instance
    of the module `decl` names."""
    if len(addr.module) < len(decl):
        return None
    if any(s.name != n for s, n in zip(addr.module, decl, strict=False)):
        return None
    return addr.module[:len(decl)], addr.module[len(decl):]


def move_target(decl: tuple[str, ...], src: Endpoint, dst: Endpoint, addr: Address
                ) -> Address | None:
    """Where the statement `src -> dst` (declared in module `decl`) moves the object at
    `addr`; None when it does not apply to it."""
    parts = _split(decl, addr)
    if parts is None:
        return None
    prefix, rest = parts
    if src.is_module:
        n = len(src.module)
        if len(rest) < n:
            return None
        for i, step in enumerate(src.module):
            if rest[i].name != step.name:
                return None
            if (i < n - 1 or src.instance) and rest[i].key != step.key:
                return None
        last = dst.module[-1]
        key = last.key if dst.instance else rest[n - 1].key
        module = prefix + dst.module[:-1] + (ModuleStep(last.name, key),) + rest[n:]
        return Address(addr.type, addr.name, addr.key, module)
    assert src.resource is not None and dst.resource is not None
    if rest != src.module or (addr.type, addr.name) != (src.resource.type, src.resource.name):
        return None
    if src.instance and addr.key != src.resource.key:
        return None
    key = dst.resource.key if dst.instance else addr.key
    return Address(dst.resource.type, dst.resource.name, key, prefix + dst.module)


def _entries(state: StateFile) -> list[Address]:
    """Every instance entry of the state (deposed-only ones too), sorted."""
    out = []
    for r in state.resources:
        for inst in r.instances:
            out.append(Address(r.type, r.name, inst.index_key, _module_path(r.module)))
    return sorted(out)


def _module_path(text: str) -> ModulePath:
    if not text:
        return ()
    from fgform.addresses import parse_address

    return parse_address(f"{text}.t.n").module


def _implied(config: Config, addr: Address) -> Address | None:
    """Terraform's implied moves: `x` to `x[0]` when the resource now has `count`, `x[0]` to
    `x` when it has neither `count` nor `for_each`."""
    cfg: Config | None = config
    for step in addr.module:
        cfg = cfg.children.get(step.name) if cfg is not None else None
    res = cfg.module.resources.get(f"{addr.type}.{addr.name}") if cfg is not None else None
    if res is None:
        return None
    if res.count is not None and addr.key is None:
        return Address(addr.type, addr.name, 0, addr.module)
    if res.count is None and res.for_each is None and addr.key == 0:
        return Address(addr.type, addr.name, None, addr.module)
    return None


def apply_moves(config: Config, state: StateFile | None) -> MoveResult:
    """A copy of `state` with the configuration's moved blocks applied (see the module
    docstring); `state` itself is not changed."""
    stmts = statements(config)
    if state is None:
        return MoveResult(state)
    entries = _entries(state)
    final: dict[Address, Address] = {}
    for addr in entries:
        cur, used = addr, set()
        while True:
            for i, (decl, mv) in enumerate(stmts):
                if i in used:
                    continue
                nxt = move_target(decl, mv.from_, mv.to, cur)
                if nxt is not None:
                    used.add(i)
                    cur = nxt
                    break
            else:
                break
        if cur != addr:
            final[addr] = cur
    for addr in entries:
        if addr not in final:
            implied = _implied(config, addr)
            if implied is not None and implied not in entries:
                final[addr] = implied
    if not final:
        return MoveResult(state)
    moved_state = StateFile.from_dict(state.to_dict())
    staying = set(entries) - set(final)
    taken: set[Address] = set(staying)
    result = MoveResult(moved_state)
    unresolved: list[str] = []
    picked: list[tuple[Address, Address, InstanceState]] = []
    for old, new in sorted(final.items()):
        if new in taken:
            unresolved.append(f"  - {old} could not move to {new}")
            continue
        taken.add(new)
        inst = moved_state.remove(old)
        assert inst is not None
        picked.append((old, new, inst))
    for old, new, inst in picked:
        inst.relabel(old, new)
        moved_state.set(new, inst)
        result.moved[new] = old
    if unresolved:
        result.warnings.append(UNRESOLVED_WARNING.format(lines="\n".join(unresolved)))
    return result


def removed_match(blocks: Iterable[tuple[tuple[str, ...], RemovedBlock]], addr: Address
                  ) -> RemovedBlock | None:
    """The removed block that names the instance `addr` (its resource, or a module it is
    in), if any."""
    for decl, rm in blocks:
        parts = _split(decl, addr)
        if parts is None:
            continue
        _, rest = parts
        ep = rm.from_
        if ep.is_module:
            n = len(ep.module)
            if len(rest) >= n and all(rest[i].name == s.name and (i == n - 1 or
                                                                   rest[i].key == s.key)
                                      for i, s in enumerate(ep.module)):
                return rm
            continue
        assert ep.resource is not None
        if rest == ep.module and (addr.type, addr.name) == (ep.resource.type, ep.resource.name):
            return rm
    return None


__all__ = ["MoveResult", "UNRESOLVED_WARNING", "apply_moves", "move_target",
           "removed_blocks", "removed_match", "statements"]
