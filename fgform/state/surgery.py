"""Reading and editing a state by address, behind `fgform state list|rm|mv|pull`.

Each function takes a `StateFile` and returns data or text; none reads files, takes locks or
prints. The CLI reads the state, calls one of these, and for `rm`/`mv` writes the (mutated)
state back under the lock. Addresses given on the command line are patterns: a module
(`module.a`, every instance of the call), a resource (all its instances) or one instance.
`state pull` is the file's exact text, final newline included.
"""

from __future__ import annotations

from fgform.addresses import Address, AddressError, ModulePath, format_module, parse_address
from fgform.errors import FgformError
from fgform.state.model import ResourceState, StateFile
from fgform.state.store import dumps_state

# -- address patterns ------------------------------------------------------------------------


class _Pattern:
    """An address given on the command line: a module, a resource, or one instance.

    A module step written without a key (`module.a`) stands for every instance of that module
    call, as in Terraform's -target; a resource without a key stands for all its instances.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.module: ModulePath
        self.address: Address | None
        try:
            self.address = parse_address(text)
            self.module = self.address.module
        except AddressError:
            self.address = None
            self.module = _parse_module_only(text)

    def matches(self, addr: Address) -> bool:
        if self.address is None:
            return _module_prefix(self.module, addr.module)
        a = self.address
        if (a.type, a.name) != (addr.type, addr.name) or len(a.module) != len(addr.module):
            return False
        if not _module_prefix(a.module, addr.module):
            return False
        return a.key is None or a.key == addr.key


def _parse_module_only(text: str) -> ModulePath:
    if not text.strip().startswith("module."):
        raise FgformError(
            f"invalid address {text!r}",
            hint='Use TYPE.NAME, TYPE.NAME[KEY], module.NAME, or module.NAME["KEY"].TYPE.NAME.',
        )
    try:
        parsed = parse_address(text.strip() + ".x.y")
    except AddressError as e:
        raise FgformError(f"invalid address {text!r}: {e}") from e
    if (parsed.type, parsed.name, parsed.key) != ("x", "y", None):
        raise FgformError(f"invalid address {text!r}")
    return parsed.module


def _module_prefix(pattern: ModulePath, path: ModulePath) -> bool:
    if len(pattern) > len(path):
        return False
    return all(p.name == s.name and (p.key is None or p.key == s.key)
               for p, s in zip(pattern, path, strict=False))


def _patterns(addrs: list[str] | tuple[str, ...] | str) -> list[_Pattern]:
    return [_Pattern(a) for a in ([addrs] if isinstance(addrs, str) else addrs)]


# -- state list / rm -------------------------------------------------------------------------

def state_list(state: StateFile, addresses_filter: list[str] | str | None = None) -> list[str]:
    """Instance addresses in state, in Terraform's order; only those matching a filter if any.

    A filter may be an instance, a resource (all its instances) or a module (everything in it
    and in its child modules). A filter that matches nothing contributes nothing.
    """
    addrs = state.addresses()
    if addresses_filter:
        pats = _patterns(addresses_filter)
        addrs = [a for a in addrs if any(p.matches(a) for p in pats)]
    return [str(a) for a in addrs]


def state_rm(state: StateFile, addrs: list[str] | str) -> list[str]:
    """Forget the matching instances (the objects themselves are left running).

    Every address must match something, or nothing is removed: a typo must not half-apply.
    Returns the removed instance addresses, in order.
    """
    pats = _patterns(addrs)
    if not pats:
        raise FgformError("at least one address is required")
    all_addrs = state.addresses()
    missing = [p.text for p in pats if not any(p.matches(a) for a in all_addrs)]
    if missing:
        raise FgformError(
            "Invalid target address: no matching objects found for "
            + ", ".join(missing),
            hint="To view the available instances, use `fgform state list`.",
        )
    removed = [a for a in all_addrs if any(p.matches(a) for p in pats)]
    for a in removed:
        state.remove(a)
    return [str(a) for a in removed]


# -- state mv --------------------------------------------------------------------------------

def state_mv(state: StateFile, src: str, dst: str) -> list[tuple[str, str]]:
    """Rename an instance, a whole resource, or a module; return the (from, to) pairs moved.

    Instances keep their attributes; only their address changes (renaming a block in config
    without this makes fgform plan a destroy and a create). Fails, changing nothing, if the
    source is absent, the destination is taken, or the resource types differ.
    `dependencies` that named a moved resource are updated to its new address.
    """
    src_pat, dst_pat = _Pattern(src), _Pattern(dst)
    if (src_pat.address is None) != (dst_pat.address is None):
        raise FgformError(
            f"Invalid state move request: cannot move {src} to {dst}",
            hint="Move a module to a module, or a resource or instance to a resource or "
                 "instance.",
        )
    if src_pat.address is None:
        moves = _plan_module_move(state, src_pat.module, dst_pat.module, src, dst)
    else:
        assert dst_pat.address is not None
        moves = _plan_resource_move(state, src_pat.address, dst_pat.address)
    old_resources = {str(a.resource) for a, _ in moves}
    taken = [(a, state.remove(a)) for a, _ in moves]
    for (frm, to), (_, inst) in zip(moves, taken, strict=True):
        assert inst is not None
        inst.relabel(frm, to)  # its fleet objects keep the labels they were made with
        state.set(to, inst)
    # Dependencies are resource-level: rename a resource only once nothing is left under its
    # old address.
    remaining = {str(a.resource) for a in state.addresses()}
    renames = {str(a.resource): str(b.resource) for a, b in moves
               if str(a.resource) in old_resources - remaining}
    if renames:
        for r in state.resources:
            for inst in r.instances:
                inst.dependencies = [renames.get(d, d) for d in inst.dependencies]
    return [(str(a), str(b)) for a, b in moves]


def _plan_module_move(state: StateFile, src: ModulePath, dst: ModulePath, src_text: str,
                      dst_text: str) -> list[tuple[Address, Address]]:
    if src == dst[:len(src)]:
        raise FgformError(f"Invalid state move request: cannot move {src_text} into itself")
    addrs = state.addresses()
    moving = [a for a in addrs if a.module[:len(src)] == src]
    if not moving:
        raise FgformError(f"Invalid state move request: no objects in state under {src_text}",
                          hint="To view the available instances, use `fgform state list`.")
    if any(a.module[:len(dst)] == dst for a in addrs):
        raise FgformError(f"Invalid state move request: {dst_text} already exists in state")
    return [(a, Address(a.type, a.name, a.key, dst + a.module[len(src):], a.mode)) for a in moving]


def _plan_resource_move(state: StateFile, src: Address,
                        dst: Address) -> list[tuple[Address, Address]]:
    if src.type != dst.type:
        raise FgformError(
            f"Invalid state move request: cannot move {src} to {dst}: resource types don't "
            "match"
        )
    src_res = find_resource(state, src)
    if src_res is None or not src_res.instances:
        raise FgformError(f"Invalid state move request: no object {src} in state",
                          hint="To view the available instances, use `fgform state list`.")
    src_keys = [i.index_key for i in src_res.instances]
    dst_res = find_resource(state, dst)
    dst_keys = [i.index_key for i in dst_res.instances] if dst_res else []

    whole = src.key is None and src_keys != [None]
    if not whole and src.key not in src_keys:
        raise FgformError(f"Invalid state move request: no object {src} in state",
                          hint="To view the available instances, use `fgform state list`.")
    if whole:
        if dst.key is not None:
            raise FgformError(
                f"Invalid state move request: cannot move all instances of {src} to the "
                f"single instance {dst}"
            )
        if dst_res is not None and dst_keys:
            raise FgformError(f"Invalid state move request: {dst} already exists in state")
        return [(Address(src.type, src.name, k, src.module, src.mode),
                 Address(dst.type, dst.name, k, dst.module, dst.mode)) for k in src_keys]
    # One instance. The destination resource must not end up mixing keyed and unkeyed
    # instances: no config could produce that.
    others = [k for k in dst_keys if not (dst_res is src_res and k == src.key)]
    if dst.key in dst_keys:
        raise FgformError(f"Invalid state move request: {dst} already exists in state")
    if dst.key is None and others:
        raise FgformError(
            f"Invalid state move request: {dst.resource} has instances with keys "
            f"({', '.join(str(Address(dst.type, dst.name, k, dst.module)) for k in others)});"
            " give the destination a key"
        )
    if dst.key is not None and None in others:
        raise FgformError(f"Invalid state move request: {dst.resource} already exists in state "
                          "as a single instance without a key")
    return [(Address(src.type, src.name, src.key, src.module, src.mode), dst)]


def find_resource(state: StateFile, addr: Address) -> ResourceState | None:
    mod = format_module(addr.module)
    return next((r for r in state.resources
                 if (r.module, r.type, r.name, r.mode) == (mod, addr.type, addr.name, addr.mode)),
                None)


# -- state pull ------------------------------------------------------------------------------

def state_pull(state: StateFile) -> str:
    """The state as JSON, exactly as the state file holds it, final newline included."""
    return dumps_state(state)


__all__ = ["find_resource", "state_list", "state_mv", "state_pull", "state_rm"]
