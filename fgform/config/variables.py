"""Input variables: where their values come from, in Terraform's order of precedence.

Lowest to highest:

1. the `default` of the `variable` block;
2. environment variables `FGFORM_VAR_<name>`;
3. `terraform.tfvars`, `terraform.tfvars.json`, `terraform.fgvars`, `terraform.fgvars.json`
   in the configuration directory;
4. `*.auto.tfvars`, `*.auto.fgvars` (and their `.json` forms) in lexical order of file name;
5. `-var NAME=VALUE` and `-var-file FILE` in command-line order.

A later source replaces an earlier one's value whole (maps are not merged, as in Terraform).
Values given as strings (environment and `-var`) are taken literally for variables of a
primitive type (or no type), and parsed as HCL expressions for complex types, as Terraform
does. Each value is then converted to the variable's type, checked against `nullable`, marked
`Sensitive` when the variable is sensitive, and checked by its `validation` blocks.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fgform import numbers
from fgform.config import ast, functions, hcl, types
from fgform.config.ast import Node
from fgform.config.expr import EvalContext, EvalError, evaluate, type_name
from fgform.config.loader import encoding_diagnostic, read_input_file
from fgform.config.model import Module, Variable
from fgform.config.references import references
from fgform.errors import Diagnostic, SourceRange, redact
from fgform.suggest import did_you_mean
from fgform.values import (
    SENSITIVE_TEXT,
    UNKNOWN,
    Sensitive,
    contains_unknown,
    mark_sensitive,
    scrub,
    sensitive_strings,
    unmark,
)

ENV_PREFIX = "FGFORM_VAR_"
DEFAULT_FILES = ("terraform.tfvars", "terraform.tfvars.json", "terraform.fgvars",
                 "terraform.fgvars.json")
AUTO_SUFFIXES = (".auto.tfvars", ".auto.tfvars.json", ".auto.fgvars", ".auto.fgvars.json")


class _Raw:
    """A value as given, before conversion: a string still to be interpreted by the
    variable's type (environment, -var), or an evaluated value (files, defaults)."""

    __slots__ = ("value", "is_string_form", "range", "source")

    def __init__(self, value: Any, is_string_form: bool, range: SourceRange | None,
                 source: str) -> None:
        self.value = value
        self.is_string_form = is_string_form
        self.range = range
        self.source = source


def var_type(var: Variable) -> tuple[types.Type, list[Diagnostic]]:
    """The variable's type constraint (`any` when it has none)."""
    if var.type is None:
        return types.ANY, []
    try:
        return types.parse_type(var.type), []
    except types.TypeSyntaxError as exc:
        return types.ANY, [Diagnostic.error(exc.summary, str(exc), exc.range or var.range,
                                            exc.hint)]
    except EvalError as exc:
        return types.ANY, [Diagnostic.error("Invalid type specification", exc.message,
                                            exc.range or var.range)]


def default_references(var: Variable) -> list[Diagnostic]:
    """A variable's default is a constant: it is read before anything else exists, so a
    reference in it (`default = var.a`) is an error, as in Terraform, not an undeclared
    name."""
    if var.default is None:
        return []
    return [Diagnostic.error(
        "Variables not allowed",
        f"Variables may not be used here: the default of var.{var.name} must be a constant "
        f"value, so it cannot refer to {ref}. Use a local value to combine variables.",
        ref.range) for ref in references(var.default)[:1]]


def check_declaration(var: Variable) -> list[Diagnostic]:
    """The problems of a variable block itself, whether or not it is given a value: its
    type constraint and its default."""
    return var_type(var)[1] + default_references(var)


def resolve_variables(module: Module, config_dir: str | Path | None = None,
                      var_args: Sequence[tuple[str, str]] = (),
                      env: Mapping[str, str] | None = None, *,
                      require_values: bool = True,
                      ) -> tuple[dict[str, Any], list[Diagnostic]]:
    """The final values of a root module's variables, and every problem found.

    `var_args` are the command line's `("var", "NAME=VALUE")` and `("var-file", "PATH")`
    (or `("file", "PATH")`) in the order given; a relative PATH is tried against the
    current directory, then the configuration directory. `env` defaults to os.environ.

    A variable without a value (none given, no default) gets UNKNOWN. With
    `require_values` (plan, apply) that is also a "No value for required variable" error;
    without it (`validate`, which checks the configuration for any values its variables may
    be given, as `terraform validate` does) it is not a problem at all.
    """
    env = os.environ if env is None else env
    cdir = Path(config_dir) if config_dir is not None else module.dir
    diags: list[Diagnostic] = []
    given: dict[str, _Raw] = {}

    for key, text in sorted(env.items()):
        if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX):] in module.variables:
            # Undeclared FGFORM_VAR_ names are ignored, as Terraform ignores TF_VAR_ ones.
            given[key[len(ENV_PREFIX):]] = _Raw(text, True, None, f"environment {key}")

    # Present means any entry: a directory or a dangling or looping symlink named
    # terraform.fgvars is an error (read_input_file says why), never silently skipped.
    files = [cdir / n for n in DEFAULT_FILES if _present(cdir / n)]
    if cdir.is_dir():
        files += sorted((p for p in cdir.iterdir() if _present(p)
                         and p.name.endswith(AUTO_SUFFIXES)), key=lambda p: p.name)
    for f in files:
        _read_var_file(f, module, given, diags, explicit=False)

    for kind, text in var_args:
        if kind in ("var-file", "file"):  # the CLI says "file"; both are accepted
            path = Path(text)
            if not path.is_absolute() and not path.exists():
                path = cdir / text
            if not path.is_file():
                what = ("is a directory, not a file" if path.is_dir() else
                        "is not a regular file" if path.exists() else "does not exist")
                diags.append(Diagnostic.error(
                    "Failed to read variables file", f"Given variables file {text} {what}."))
                continue
            _read_var_file(path, module, given, diags, explicit=True)
            continue
        name, eq, value = text.partition("=")
        name = name.strip()
        if not eq or not name:
            diags.append(Diagnostic.error(
                "Invalid -var option",
                f'The given -var option {text!r} is not correctly specified. It must be a '
                "variable name and value separated by an equals sign, like -var=\"key=value\"."))
            continue
        if name not in module.variables:
            diags.append(Diagnostic.error(
                "Value for undeclared variable",
                f'A variable named "{name}" was assigned on the command line, but the root '
                "module does not declare a variable of that name. To use this value, add a "
                f'"variable" block to the configuration.',
                hint=_hint(name, module)))
            continue
        given[name] = _Raw(value, True, None, "-var")

    values: dict[str, Any] = {}
    for name, var in module.variables.items():
        raw = given.get(name)
        if raw is None:
            if not var.has_default:
                if not require_values:
                    values[name] = UNKNOWN
                    continue
                diags.append(Diagnostic.error(
                    "No value for required variable",
                    f'The root module input variable "{name}" is not set, and has no default '
                    "value. Use a -var or -var-file command line argument, an "
                    f"{ENV_PREFIX}{name} environment variable or a terraform.fgvars file to "
                    "provide a value for this variable.", var.range))
                values[name] = UNKNOWN
                continue
            bad_default = default_references(var)
            if bad_default:
                diags.extend(bad_default)
                values[name] = UNKNOWN
                continue
            value = _eval(var.default, diags) if var.default is not None else None
            rng = var.default.range if var.default is not None else var.range
        elif raw.is_string_form:
            value = _from_string(raw.value, var, diags, raw.source)
            rng = var.range
        else:
            value, rng = raw.value, raw.range or var.range
        if value is UNKNOWN and raw is not None and raw.is_string_form:
            values[name] = UNKNOWN
            continue
        values[name], d = finalize_variable(var, value, rng)
        diags.extend(d)
    # Every message above is written not to quote a sensitive value; this catches one that
    # still would (a parse error quoting a -var's text, say).
    secrets = sensitive_strings(values)
    for name, raw in given.items():
        var = module.variables.get(name)
        if var is not None and var.sensitive:
            secrets |= sensitive_strings(Sensitive(raw.value))
    return values, redact(diags, secrets)


def _hint(name: str, module: Module) -> str:
    return did_you_mean(name, sorted(module.variables))


def _eval(node: Node, diags: list[Diagnostic]) -> Any:
    try:
        return evaluate(node, EvalContext(functions=functions.call))
    except EvalError as exc:
        diags.append(Diagnostic.error(exc.summary, exc.message, exc.range or node.range,
                                      exc.hint))
        return UNKNOWN


def _from_string(text: str, var: Variable, diags: list[Diagnostic], source: str) -> Any:
    t, _ = var_type(var)
    if isinstance(t, (types.Primitive, types.AnyType)):
        return text
    try:
        node = hcl.parse_expression(text, f"<value for var.{var.name}>")
    except ValueError as exc:
        # A parse error quotes the text around its place: the value, when it is a secret.
        why = (". It does not parse; the parser's message is not shown, as it would quote "
               "the sensitive value.") if var.sensitive else f": {exc}"
        diags.append(Diagnostic.error(
            "Invalid expression for variable",
            f'The value of var.{var.name} from {source} must be an HCL expression for type '
            f"{t.friendly()}{why}", var.range))
        return UNKNOWN
    if not var.sensitive:
        return _eval(node, diags)
    found: list[Diagnostic] = []
    value = _eval(node, found)
    for d in found:
        diags.append(Diagnostic.error(
            d.summary, f"The value of var.{var.name} from {source} cannot be evaluated; "
            "it is sensitive, so the reason is not shown.", var.range))
    return value


def _read_var_file(path: Path, module: Module, given: dict[str, _Raw],
                   diags: list[Diagnostic], explicit: bool) -> None:
    raw, problem = read_input_file(path)
    if raw is None:
        diags.append(Diagnostic.error("Failed to read variables file",
                                      f'The file "{path}" could not be read: {problem}.'))
        return
    if path.name.endswith(".json"):
        try:
            # Numbers at 512 bits, as Terraform reads them (0.1 is HCL's 0.1).
            data = json.loads(raw, parse_float=numbers.parse_json_float)
        except (UnicodeDecodeError, json.JSONDecodeError, numbers.NumberError) as exc:
            diags.append(Diagnostic.error("Failed to read variables file",
                                          f"{path}: {exc}", SourceRange(str(path), 1)))
            return
        if not isinstance(data, dict):
            diags.append(Diagnostic.error("Invalid variables file",
                                          f"{path}: the root must be a JSON object.",
                                          SourceRange(str(path), 1)))
            return
        items = {k: (v, SourceRange(str(path), 1)) for k, v in data.items()}
    else:
        items = {}
        attrs, d = parse_file_attributes(path, raw)
        diags.extend(d)
        for name, attr in attrs.items():
            found: list[Diagnostic] = []
            call = _first_call(attr.expr)
            if call is not None:
                # As in Terraform: a variables file holds values, and a function such as
                # file() would read, from a file a pull request planted, whatever it names.
                diags.append(Diagnostic.error(
                    "Function calls not allowed", "Functions may not be called here.",
                    call.range))
                continue
            items[name] = (_eval(attr.expr, found), attr.range)
            _hide_source(found, module.variables.get(name))
            diags.extend(found)
    for name, (value, rng) in items.items():
        if name not in module.variables:
            # Terraform warns for files (they may be shared by several configurations).
            diags.append(Diagnostic.warning(
                "Value for undeclared variable",
                f'The variables file {path.name} assigns a value to "{name}", but the root '
                "module does not declare a variable of that name.", rng,
                _hint(name, module)))
            continue
        given[name] = _Raw(value, False, rng, str(path))


def parse_file_attributes(path: Path, raw: bytes) -> tuple[dict[str, Any], list[Diagnostic]]:
    """The top-level attributes of an HCL file (a .tfvars/.fgvars file whose bytes are
    `raw`), parsed by the HCL front end; blocks in such a file are errors."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return {}, [encoding_diagnostic(raw, exc.start, str(path))]
    body, diags = hcl.parse_file_text(text, str(path))
    diags = list(diags)
    for block in body.blocks:
        diags.append(Diagnostic.error(
            "Unexpected block in variables file",
            f'A variables file holds only "name = value" assignments, not "{block.type}" '
            "blocks.", block.range))
    return dict(body.attributes), diags


def _first_call(node: Node) -> ast.Call | None:
    """The first function call in an expression, if any (an explicit stack: a value may be
    nested deeper than Python's recursion limit)."""
    todo: list[Any] = [node]
    while todo:
        item = todo.pop()
        if isinstance(item, ast.Call):
            return item
        if isinstance(item, Node):
            todo.extend(reversed([getattr(item, f.name) for f in dataclasses.fields(item)]))
        elif isinstance(item, (list, tuple)):
            todo.extend(reversed(item))
        elif isinstance(item, dict):
            todo.extend(reversed([*item.keys(), *item.values()]))
    return None


def _present(path: Path) -> bool:
    """Any directory entry (symlinks included, even dangling ones; directories too, which
    read_input_file reports, as Terraform does, rather than skip)."""
    return os.path.lexists(path)


def _hide_source(diags: list[Diagnostic], var: Variable | None) -> list[Diagnostic]:
    """A sensitive variable's problems name the place of its value but do not print that
    source line: it holds the value (`password = "..."` in a .tfvars file, its default)."""
    if var is not None and var.sensitive:
        for d in diags:
            # The declaration (`variable "x" {`) is shown: it holds no value.
            d.show_source = d.range == var.range
    return diags


def finalize_variable(var: Variable, value: Any, range: SourceRange | None = None
                      ) -> tuple[Any, list[Diagnostic]]:
    """Convert a variable's raw value to its type, apply `nullable`, `sensitive` and the
    `validation` blocks. Returns the final value (UNKNOWN when unusable) and the problems."""
    value, diags = _finalize(var, value, range)
    return value, _hide_source(diags, var)


def _finalize(var: Variable, value: Any, range: SourceRange | None) -> tuple[Any,
                                                                            list[Diagnostic]]:
    diags: list[Diagnostic] = []
    where = range or var.range
    t, d = var_type(var)
    diags.extend(d)
    if value is None or (isinstance(value, Sensitive) and value.value is None):
        if not var.nullable and var.has_default and var.default is not None:
            # A non-nullable variable given null takes its default (Terraform 1.1+).
            value = _eval(var.default, diags)
        elif not var.nullable:
            diags.append(Diagnostic.error(
                "Required variable not set",
                f'Unsuitable value for var.{var.name}: required variable may not be set to '
                "null.", where))
            return UNKNOWN, diags
    if value is not None:
        if var.sensitive:
            # Marked before converting, so that a mismatch says what type was expected
            # without quoting the value.
            value = mark_sensitive(value)
        try:
            value = types.convert(value, t)
        except types.TypeMismatch as exc:
            diags.append(Diagnostic.error(
                "Invalid value for input variable",
                f"The given value is not suitable for var.{var.name} declared at "
                f"{var.range}: {exc.message}.", where))
            return UNKNOWN, diags
    if var.sensitive:
        value = mark_sensitive(value)
    diags.extend(check_validations(var, value, where))
    return value, diags


def check_validations(var: Variable, value: Any,
                      range: SourceRange | None = None) -> list[Diagnostic]:
    """Run a variable's `validation` blocks against its value; one error per failed one."""
    diags: list[Diagnostic] = []
    if contains_unknown(value):
        return diags  # checked when known
    ctx = EvalContext(variables={var.name: value}, functions=functions.call)
    for v in var.validations:
        try:
            ok = evaluate(v.condition, ctx)
        except EvalError as exc:
            diags.append(Diagnostic.error(
                "Invalid validation condition", exc.message, exc.range or v.range, exc.hint))
            continue
        ok, _ = unmark(ok)
        if ok is UNKNOWN:
            continue
        if ok is None or not isinstance(ok, bool):
            diags.append(Diagnostic.error(
                "Invalid validation result",
                "The validation condition must return true or false, not "
                f"{type_name(ok)}.", v.condition.range or v.range))
            continue
        if ok:
            continue
        try:
            msg = evaluate(v.error_message, ctx)
            msg, marked = unmark(msg)
        except EvalError:
            msg, marked = "The value is invalid.", []
        if not isinstance(msg, str) or msg is UNKNOWN:
            msg = "The value is invalid."
        elif marked:
            msg = mask_message(msg, value)
        diags.append(Diagnostic.error(
            "Invalid value for variable",
            f"{msg}\n\nThis was checked by the validation rule at {v.range}.",
            range or var.range))
    return diags


def mask_message(message: str, value: Any) -> str:
    """An error message built from a sensitive value, with that value masked as
    `(sensitive value)`; when a part of it too short to mask safely (`"ab"`) still shows,
    the whole message is withheld instead."""
    secrets = sensitive_strings(value)
    masked = scrub(message, secrets)
    rest = masked.replace(SENSITIVE_TEXT, "")
    if any(t in rest for t in sensitive_strings(value, min_len=1) - secrets):
        return ("The error message refers to a sensitive value, so fgform does not show it. "
                "Use nonsensitive() in error_message where the value may be shown.")
    return masked
