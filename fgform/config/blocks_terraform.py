"""The `terraform` block's settings and provider configurations, as Terraform reads them:
`required_version` (checked against fgform's own version), `required_providers` (only
fgform's built-in provider, `fg`), `provider "fg" { alias = "..." }` blocks and the
`provider = fg.ALIAS` meta-argument of resources and data resources.

`config/blocks.py` calls these with its decoder (for its error helper); nothing here
evaluates an expression: every value these settings take is a literal, as in Terraform.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from fgform import __version__
from fgform.config import ast
from fgform.config.model import Attribute, Block, Module
from fgform.errors import SourceRange
from fgform.suggest import did_you_mean

# fgform's one provider: its resource types are fg_*, so its local name is "fg".
PROVIDER = "fg"
PROVIDER_SOURCE = "fgform/fg"

_VERSION = re.compile(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.\d+)*(?:-([0-9A-Za-z.-]+))?")
_CONSTRAINT = re.compile(r"\s*(=|!=|>=|<=|>|<|~>)?\s*(\S+)\s*")


class _Decoder(Protocol):
    """What these functions need of `blocks.ModuleDecoder`."""

    m: Module

    def err(self, summary: str, detail: str, rng: SourceRange | None,
            hint: str = "") -> None: ...

    def _no_dups(self, body: Any) -> None: ...


class ConstraintError(ValueError):
    """A version constraint string that is not Terraform's syntax."""


class PrereleaseConstraintError(ConstraintError):
    """A constraint naming a prerelease, which required_version refuses (as Terraform)."""


def _parse_version(text: str) -> tuple[tuple[int, int, int], str, int]:
    """(major, minor, patch), prerelease and how many numbers were written."""
    m = _VERSION.fullmatch(text.strip())
    if m is None:
        raise ConstraintError(text)
    nums = [int(g) if g is not None else 0 for g in m.group(1, 2, 3)]
    given = sum(1 for g in m.group(1, 2, 3) if g is not None)
    return (nums[0], nums[1], nums[2]), m.group(4) or "", given


def parse_constraints(text: str) -> list[tuple[str, tuple[int, int, int], str, int]]:
    """`">= 1.2, < 2.0"` -> [(op, version, prerelease, numbers written)]; raises
    ConstraintError when any part is not Terraform's constraint syntax."""
    out = []
    for part in text.split(","):
        m = _CONSTRAINT.fullmatch(part)
        if m is None:
            raise ConstraintError(text)
        version, pre, given = _parse_version(m.group(2))
        if pre:
            raise PrereleaseConstraintError(part.strip())
        out.append((m.group(1) or "=", version, pre, given))
    return out


def satisfies(version: str, constraints: str) -> bool:
    """Whether `version` meets every constraint of `constraints` (Terraform's syntax:
    `=`, `!=`, `>`, `>=`, `<`, `<=` and `~>`, the pessimistic operator: `~> 1.4` allows
    1.4 up to, not including, 2.0; `~> 1.4.2` allows 1.4.2 up to 1.5.0). Constraints
    naming a prerelease raise PrereleaseConstraintError; a prerelease version is compared
    by its version core only, as Terraform does for required_version."""
    have, _, _ = _parse_version(version)
    for op, want, _pre, given in parse_constraints(constraints):
        if op == "=":
            ok = have == want
        elif op == "!=":
            ok = have != want
        elif op == ">":
            ok = have > want
        elif op == ">=":
            ok = have >= want
        elif op == "<":
            ok = have < want
        elif op == "<=":
            ok = have <= want
        else:  # ~>: the last number written may grow, the ones before it stay
            fixed = max(given - 1, 1)
            ok = have >= want and have[:fixed] == want[:fixed]
        if not ok:
            return False
    return True


def _literal_string(node: ast.Node) -> str | None:
    if isinstance(node, ast.Literal) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Template) and all(isinstance(p, str) for p in node.parts):
        return "".join(node.parts)  # type: ignore[arg-type]
    return None


def check_required_version(d: _Decoder, attr: Attribute) -> None:
    """`required_version = ">= 1.2, < 2.0"`: fgform's version must meet it."""
    text = _literal_string(attr.expr)
    if text is None:
        d.err("Invalid required_version", "required_version must be a literal string, such "
              'as ">= 0.1, < 1.0".', attr.range)
        return
    try:
        ok = satisfies(__version__, text)
    except PrereleaseConstraintError as exc:
        d.err("Invalid required_version constraint",
              f"Prerelease version constraints are not supported: {exc}. Remove the "
              "prerelease information from the constraint.", attr.range)
        return
    except ConstraintError:
        d.err("Invalid version constraint",
              "This string does not use correct version constraint syntax.", attr.range)
        return
    if not ok:
        d.err("Unsupported fgform version",
              f"This configuration does not support fgform version {__version__}. To "
              "proceed, either choose another supported fgform version or update this "
              "version constraint. Version constraints are normally set for good reason, so "
              "updating the constraint may lead to other errors or unexpected behavior.",
              attr.range)


def check_required_providers(d: _Decoder, block: Block) -> None:
    """`required_providers { fg = { source = "fgform/fg", version = "..." } }`: fgform has
    only its built-in provider; any other is an error that names it."""
    d._no_dups(block.body)
    for b in block.body.blocks:
        d.err("Unsupported block type", f'Blocks of type "{b.type}" are not expected in '
              "required_providers; write NAME = { source = ..., version = ... }.", b.range)
    for name, attr in block.body.attributes.items():
        if name != PROVIDER:
            d.err("Provider not available",
                  f'fgform has no provider "{name}": it provisions a Docker fleet with its '
                  f'built-in provider "{PROVIDER}" (the fg_* resource types) only.',
                  attr.name_range, hint=f'Remove "{name}" from required_providers.')
            continue
        _check_fg_requirement(d, attr)


def _check_fg_requirement(d: _Decoder, attr: Attribute) -> None:
    expr = attr.expr
    if not isinstance(expr, ast.Object):
        text = _literal_string(expr)  # the legacy form: fg = "VERSION"
        if text is None:
            d.err("Invalid required_providers object",
                  "required_providers entries must be objects: "
                  'fg = { source = "fgform/fg", version = "..." }.', attr.range)
        else:
            _check_provider_version(d, text, expr.range)
        return
    for key_node, value in expr.items:
        key = key_node.name if isinstance(key_node, ast.Variable) else \
            _literal_string(key_node)
        text = _literal_string(value)
        if key == "configuration_aliases":
            _configuration_aliases(d, value)
        elif key not in ("source", "version"):
            d.err("Invalid required_providers object",
                  f'"{key}" is not expected in a required_providers entry: source, version '
                  "and configuration_aliases are.", key_node.range,
                  hint=did_you_mean(str(key), ("source", "version")))
        elif key == "source":
            if text is None or text.split("/")[-1] != PROVIDER:
                d.err("Invalid provider source",
                      f'The provider "fg" is fgform\'s built-in provider, source '
                      f'"{PROVIDER_SOURCE}"; this names another.', value.range)
        elif key == "version":
            if text is None:
                d.err("Invalid version constraint", "The version must be a literal string.",
                      value.range)
            else:
                _check_provider_version(d, text, value.range)


def _configuration_aliases(d: _Decoder, value: ast.Node) -> None:
    """`configuration_aliases = [fg.west]`: a module's callers give it these provider
    configurations (`providers = { fg.west = ... }`); inside, they are declared."""
    items = value.items if isinstance(value, ast.Tuple) else None
    if items is None:
        d.err("Invalid configuration_aliases", "configuration_aliases must be a list of "
              "provider configurations, such as [fg.west].", value.range)
        return
    for item in items:
        ref = _provider_text(item)
        if ref is None or "." not in ref or ref.split(".")[0] != PROVIDER:
            d.err("Invalid configuration_aliases", "Each entry must be fg.ALIAS.", item.range)
            continue
        d.m.providers.setdefault(ref, item.range)  # type: ignore[arg-type]


def module_providers(d: _Decoder, attr: Attribute) -> dict[str, str]:
    """A module call's `providers = { fg = fg.west, fg.east = fg }`: child configuration ->
    the caller's; the caller's are checked once every file is read (the graph does)."""
    out: dict[str, str] = {}
    if not isinstance(attr.expr, ast.Object):
        d.err("Invalid providers argument", "providers must be a map of provider "
              "configurations, such as { fg = fg.west }.", attr.range)
        return out
    for key_node, value in attr.expr.items:
        key = _provider_text(key_node)
        target = _provider_text(value)
        for text, node in ((key, key_node), (target, value)):
            if text is None or text.split(".")[0] != PROVIDER:
                d.err("Invalid providers argument", "Each key and value must be a "
                      "configuration of the provider fg: fg or fg.ALIAS.", node.range)
                break
        else:
            out[key] = target  # type: ignore[index]
    return out


def _provider_text(node: ast.Node) -> str | None:
    """`fg` or `fg.west` written as a reference (or quoted)."""
    text = _literal_string(node)
    if text is None:
        if isinstance(node, ast.Variable):
            text = node.name
        elif isinstance(node, ast.GetAttr) and isinstance(node.target, ast.Variable):
            text = f"{node.target.name}.{node.name}"
    if text is None or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)?",
                                        text):
        return None
    return text


def _check_provider_version(d: _Decoder, text: str, rng: SourceRange | None) -> None:
    """The built-in provider's version is fgform's."""
    try:
        ok = satisfies(__version__, text)
    except ConstraintError:
        d.err("Invalid version constraint",
              "This string does not use correct version constraint syntax.", rng)
        return
    if not ok:
        d.err("Unsupported provider version",
              f'The provider "fg" is built into fgform {__version__}, which does not meet '
              f'the constraint "{text}".', rng)


def decode_provider(d: _Decoder, block: Block) -> None:
    """`provider "fg" { alias = "west" }`: a configuration of the built-in provider (which
    has no settings of its own); another provider's block is an error naming it."""
    d._no_dups(block.body)
    name = block.labels[0]
    where = block.label_ranges[0] if block.label_ranges else block.range
    if name != PROVIDER:
        d.err("Provider not available",
              f'fgform has no provider "{name}": its only provider is the built-in '
              f'"{PROVIDER}" (the fg_* resource types).', where)
        return
    alias = None
    for attr_name, attr in block.body.attributes.items():
        if attr_name == "alias":
            alias = _literal_string(attr.expr)
            if alias is None or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", alias):
                d.err("Invalid provider configuration alias",
                      "An alias must be a literal string that is a valid name.", attr.range)
                return
        elif attr_name == "version":
            text = _literal_string(attr.expr)
            if text is not None:
                _check_provider_version(d, text, attr.expr.range)
        else:
            d.err("Unsupported argument",
                  f'An argument named "{attr_name}" is not expected here: the provider '
                  '"fg" has no settings (alias is its only argument).', attr.name_range)
    for b in block.body.blocks:
        d.err("Unsupported block type", f'Blocks of type "{b.type}" are not expected in a '
              "provider block.", b.range)
    key = PROVIDER if alias is None else f"{PROVIDER}.{alias}"
    prev = d.m.providers.get(key)
    if prev is not None:
        what = "without an alias" if alias is None else f'with alias "{alias}"'
        d.err("Duplicate provider configuration",
              f'A provider configuration for "{PROVIDER}" {what} was already given at {prev}. '
              "Each configuration for the same provider must have a distinct alias.",
              block.range)
        return
    d.m.providers[key] = block.range


def provider_reference(d: _Decoder, attr: Attribute) -> str | None:
    """A resource's `provider = fg` / `provider = fg.ALIAS` meta-argument as "fg" or
    "fg.ALIAS"; None (and an error) when it is anything else."""
    text = _provider_text(attr.expr)  # quoted references: Terraform warns, accepts them
    if text is None:
        d.err("Invalid provider reference",
              'provider must be a provider configuration: fg, or fg.ALIAS.', attr.range)
        return None
    if text.split(".")[0] != PROVIDER:
        d.err("Provider not available",
              f'fgform has no provider "{text.split(".")[0]}": its only provider is the '
              f'built-in "{PROVIDER}".', attr.range, hint=f"Use {PROVIDER} or {PROVIDER}.ALIAS.")
        return None
    return text


def check_provider_configured(module: Module, provider: str) -> str | None:
    """An error detail when `provider` ("fg.ALIAS") names no provider block of `module`; the
    default configuration ("fg") exists without a block, as Terraform's does."""
    if provider == PROVIDER or provider in module.providers:
        return None
    return (f'The provider configuration {provider} is not declared: add provider '
            f'"{PROVIDER}" {{ alias = "{provider.split(".", 1)[1]}" }}.')
