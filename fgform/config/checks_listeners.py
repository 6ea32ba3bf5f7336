"""Checks on what listens on the host and how: two registries or load balancer listeners
on one host port, and load balancer listeners' default actions and rules."""

from __future__ import annotations

from typing import Any

from fgform.addresses import Address
from fgform.config.checks_references import attr_where
from fgform.config.dynamic import known_blocks, literal_blocks
from fgform.config.model import Block, Resource
from fgform.config.schema import ACTIONS, CONDITIONS
from fgform.errors import Diagnostic, SourceRange
from fgform.values import unmark

# -- host ports -------------------------------------------------------------------------------
# Addresses that publish a port on every host interface: they clash with any other address.
_WILDCARDS = ("0.0.0.0", "::", "")


def _listeners(addr: Address, cfg: dict[str, Any], res: Resource
               ) -> list[tuple[Any, Any, SourceRange]]:
    """(bind address, port, where it is written) of each host port a resource listens on:
    a registry's `port`, each `listener` of a load balancer. Task `host_port`s are placed
    by the capacity manager on its instances, not on the host's addresses."""
    bind, _ = unmark(cfg.get("bind_address"))
    if addr.type == "fg_registry":
        attr = res.body.attributes.get("port")
        return [(bind, unmark(cfg.get("port"))[0], attr.range if attr else res.range)]
    if addr.type == "fg_load_balancer":
        blocks = literal_blocks(res.body, "listener")
        out = []
        for i, listener in enumerate(known_blocks(cfg.get("listener"))):
            block = blocks[i] if i < len(blocks) else None
            attr = block.body.attributes.get("port") if block is not None else None
            where = attr.range if attr else block.range if block else res.range
            out.append((bind, listener.get("port") if isinstance(listener, dict) else None,
                        where))
        return out
    return []


def check_host_ports(configs: dict[Address, dict[str, Any]],
                     resources: dict[Address, Resource]) -> list[Diagnostic]:
    """Two registries, load balancer listeners or a mix of them cannot listen on the same
    host port and address: the second one would fail at apply, after the first was made."""
    diags: list[Diagnostic] = []
    taken: list[tuple[str, int, Address, SourceRange]] = []
    for addr, cfg in configs.items():
        for bind, port, where in _listeners(addr, cfg, resources[addr]):
            if not isinstance(port, int | float) or isinstance(port, bool) or \
                    not isinstance(bind, str) or (isinstance(port, float)
                                                  and not port.is_integer()):
                continue  # unknown until apply, or already reported (wrong type, 1e400)
            clash = next((t for t in taken if t[1] == port and (
                t[0] == bind or t[0] in _WILDCARDS or bind in _WILDCARDS)), None)
            if clash is None:
                taken.append((bind, int(port), addr, where))
                continue
            other = clash[2] if clash[2] != addr else "another listener of the same block"
            diags.append(Diagnostic.error(
                "Duplicate host port",
                f"{addr} listens on {bind}:{int(port)}, but {other} already listens on "
                f"{clash[0]}:{int(port)} (at {clash[3]}). Two listeners cannot share a host "
                "port: give one of them another port.", where))
    return diags


# -- load balancer listeners and rules ------------------------------------------------------
def _nth(blocks: list[Block], i: int) -> Block | None:
    """The i-th block of a kind, when the values line up with the written blocks (they do
    unless a `dynamic` block made them)."""
    return blocks[i] if i < len(blocks) else None


def _present(value: Any) -> bool:
    """Whether an action or condition is set: a non-empty value or block."""
    return value is not None and value != [] and value != ""


def check_listener_rules(configs: dict[Address, dict[str, Any]],
                         resources: dict[Address, Resource]) -> list[Diagnostic]:
    """What an ALB refuses in a listener: more than one default action; a rule with no
    condition, with no action or several, or with the priority of another rule of the same
    listener."""
    diags: list[Diagnostic] = []
    for addr, cfg in configs.items():
        if addr.type != "fg_load_balancer":
            continue
        res = resources[addr]
        lblocks = literal_blocks(res.body, "listener")
        for i, listener in enumerate(known_blocks(cfg.get("listener"))):
            if not isinstance(listener, dict):
                continue
            lblock = _nth(lblocks, i)
            lwhere = lblock.range if lblock is not None else res.range
            actions = [a for a in ACTIONS["listener"] if _present(listener.get(a))]
            if len(actions) > 1:
                diags.append(Diagnostic.error(
                    "Conflicting default actions",
                    f"A listener of {addr} has {len(actions)} default actions "
                    f"({', '.join(actions)}): a listener answers what no rule matches in "
                    "exactly one way.", lwhere, "Keep one of them."))
            rblocks = literal_blocks(lblock.body, "rule") if lblock is not None else []
            seen: dict[Any, SourceRange] = {}
            for j, rule in enumerate(known_blocks(listener.get("rule"))):
                rblock = _nth(rblocks, j)
                rwhere = rblock.range if rblock is not None else lwhere
                priority, _ = unmark(rule.get("priority"))
                if not any(_present(rule.get(c)) for c in CONDITIONS):
                    diags.append(Diagnostic.error(
                        "Rule without a condition",
                        f"Rule {priority} of {addr} has no condition, so it would match every "
                        "request. Give it at least one of: " + ", ".join(CONDITIONS) + ".",
                        rwhere, "For what no rule matches, use the listener's default action."))
                acts = [a for a in ACTIONS["rule"] if _present(rule.get(a))]
                if len(acts) != 1:
                    diags.append(Diagnostic.error(
                        "Rule without an action" if not acts else "Conflicting rule actions",
                        f"Rule {priority} of {addr} has "
                        + ("no action" if not acts else
                           f"{len(acts)} actions ({', '.join(acts)})")
                        + ": a rule has exactly one of target_group, forward, redirect and "
                          "fixed_response.", rwhere))
                if not isinstance(priority, int | float) or isinstance(priority, bool):
                    continue
                pwhere = attr_where(rblock, "priority", rwhere)
                if priority in seen:
                    diags.append(Diagnostic.error(
                        "Duplicate rule priority",
                        f"Two rules of the same listener of {addr} have priority "
                        f"{int(priority)} (the other at {seen[priority]}): rules are "
                        "evaluated by priority, so each needs its own.", pwhere))
                else:
                    seen[priority] = pwhere
    return diags
