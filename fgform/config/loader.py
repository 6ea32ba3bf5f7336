"""Files -> Config: parse every `*.hcl`/`*.tf` file of a directory and decode the blocks.

This is the only module that touches python-hcl2 and lark. It uses python-hcl2's grammar
(LALR, fast) but not its transformer: the raw lark tree is converted straight into fgform's
AST (config/ast.py), which keeps line/column ranges (read from the tokens: lark does not
propagate positions up the tree, which halved the parse time) and sees duplicate attributes.

Parsing costs milliseconds per block, so each file's converted body is kept in the user's
parse cache (config/cache.py: plain JSON in `~/.cache/fgform`, never in the configuration
directory), keyed by the file's content and name and the fgform/loader versions. A hit never
imports hcl2 or lark.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fgform import __version__ as FGFORM_VERSION
from fgform.config import ast, lexscan, nesting
from fgform.config.cache import ParseCache, entry_key
from fgform.config.model import (
    Attribute,
    Block,
    Body,
    Config,
    Lifecycle,
    Local,
    Module,
    ModuleCall,
    Output,
    Resource,
    Validation,
    Variable,
)
from fgform.errors import Diagnostic, SourceRange
from fgform.suggest import did_you_mean

# Bump when the AST or the conversion changes: old cache entries then stop matching.
LOADER_VERSION = "4"

CONFIG_SUFFIXES = (".hcl", ".tf")
TOP_LEVEL_BLOCKS = ("resource", "variable", "locals", "output", "module", "terraform",
                    "backend")


class _ConvertError(Exception):
    """A problem found while converting the parse tree (bad escape, stray %{else}...)."""

    def __init__(self, summary: str, detail: str, rng: SourceRange) -> None:
        super().__init__(detail)
        self.summary = summary
        self.detail = detail
        self.range = rng


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def load_config(dir: str | os.PathLike[str], *, use_cache: bool = True
                ) -> tuple[Config, list[Diagnostic]]:
    """Load the root module in `dir` and, recursively, every module it calls.

    Never raises for bad input: problems come back as diagnostics (the Config is as complete
    as the input allows).
    """
    root = Path(dir)
    cache = ParseCache.open() if use_cache else None
    diags: list[Diagnostic] = []
    # A cache hit converts nothing, so it cannot see how deep its expressions go: make room
    # for the deepest one up front (this only raises limits).
    nesting.make_room()
    with _gc_paused():
        config = _load_tree(root, (), [_real(root)], cache, diags)
    return config, diags


def load_module(dir: str | os.PathLike[str], *, use_cache: bool = True
                ) -> tuple[Module, list[Diagnostic]]:
    """Load the files of one directory into a Module (module calls are not followed)."""
    root = Path(dir)
    cache = ParseCache.open() if use_cache else None
    diags: list[Diagnostic] = []
    nesting.make_room()  # as load_config does
    with _gc_paused():
        module = _load_module(root, cache, diags)
    return module, diags


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Loading allocates many long-lived objects and frees few: the cyclic GC would only
    rescan them over and over (it made a 5,000-block load several times slower)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        # The parsed configuration lives as long as the process: move it out of the GC's
        # view, or the first collection after re-enabling rescans all of it (0.5 s at 5,000
        # blocks). Refcounting still frees it normally.
        gc.freeze()
        if was_enabled:
            gc.enable()


def parse_file_text(text: str, filename: str) -> tuple[Body, list[Diagnostic]]:
    """Parse one file's text into a Body (no cache)."""
    return _parse_text(text, filename)


def parse_expression(text: str, filename: str = "<expr>", line: int = 1, col: int = 1
                     ) -> ast.Node:
    """Parse one expression (as used by `-var` values and tests). Raises ValueError with a
    readable message on a syntax error."""
    body, diags = _parse_text(f"__x = {text}\n", filename, col_shift=(line, col - 7))
    if diags:
        d = diags[0]
        raise ValueError(f"{d.summary}: {d.detail}")
    if "__x" not in body.attributes:
        raise ValueError("not a single expression")
    return body.attributes["__x"].expr


def parse_template(text: str, filename: str = "<template>", line: int = 1, col: int = 1
                   ) -> ast.Node:
    """Parse template text (a heredoc body, or a `templatefile` file) into a Template.

    Raises ValueError with a readable message on a syntax error.
    """
    _import_parser()
    try:
        return _Converter(filename, "").template_from_text(text, line, col)
    except _ConvertError as e:
        raise ValueError(f"{e.range}: {e.summary}: {e.detail}") from None


# ---------------------------------------------------------------------------------------------
# Directories and modules
# ---------------------------------------------------------------------------------------------


def _real(path: Path) -> str:
    try:
        return str(path.resolve())
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (pathlib's own error)
        return str(path)


def _broken_link(path: Path) -> str | None:
    """Why `path` cannot be opened when a symbolic link is the cause (a loop, or a link to
    nothing), as a clause for a message; None when it opens or is simply missing."""
    try:
        os.stat(path)
        return None
    except OSError as e:
        return _link_problem(path, e)


def _link_problem(path: Path, e: OSError) -> str | None:
    if e.errno == errno.ELOOP:
        return f"it is a symbolic link that loops back on itself ({e.strerror})"
    try:
        target = os.readlink(path)
    except OSError:
        return None
    return f'it is a symbolic link to "{target}", which does not exist ({e.strerror})'


def _load_tree(dir: Path, path: tuple[str, ...], stack: list[str], cache: ParseCache | None,
               diags: list[Diagnostic]) -> Config:
    module = _load_module(dir, cache, diags, is_root=not path)
    config = Config(module=module, path=path)
    for name, call in module.module_calls.items():
        if "\0" in call.source:  # no file system call accepts it
            diags.append(Diagnostic.error(
                "Invalid module source",
                f'The module source {json.dumps(call.source)} holds a NUL character, which no '
                "path can hold.", call.range))
            continue
        child_dir = Path(os.path.normpath(dir / call.source))
        broken = _broken_link(child_dir)
        if broken is not None:
            diags.append(Diagnostic.error(
                "Module not found",
                f'The module "{name}" has source "{call.source}", but "{child_dir}" cannot be '
                f"opened: {broken}.", call.range,
                hint="The source must be a directory of *.tf files; fix or remove the link."))
            continue
        real = _real(child_dir)
        if real in stack:
            chain = " -> ".join([*(f'module "{p}"' for p in (*path, name))])
            diags.append(Diagnostic.error(
                "Module cycle",
                f'Module "{name}" (source "{call.source}") calls a module that is already '
                f"being loaded: {chain}. A module cannot call itself, directly or indirectly.",
                call.range))
            continue
        if not child_dir.is_dir():
            diags.append(Diagnostic.error(
                "Module not found",
                f'The module "{name}" has source "{call.source}", but the directory '
                f'"{child_dir}" does not exist.', call.range,
                hint="The source is a path relative to the directory of the calling module."))
            continue
        config.children[name] = _load_tree(child_dir, (*path, name), [*stack, real], cache,
                                           diags)
    return config


def _load_module(dir: Path, cache: ParseCache | None, diags: list[Diagnostic],
                 is_root: bool = True) -> Module:
    module = Module(dir=dir)
    try:
        names = sorted(os.listdir(dir))
    except OSError as e:
        diags.append(Diagnostic.error(
            "Configuration directory not readable",
            f'Cannot read the directory "{dir}": {e.strerror or e}.'))
        return module
    # Every entry but a directory is read, as Terraform does: a dangling or looping symlink
    # must be an error, never skipped (a skipped file makes the next plan destroy what it
    # declares).
    files = [dir / n for n in names if n.endswith(CONFIG_SUFFIXES) and not _is_dir(dir / n)]
    module.files = files
    for n in names:
        if n.endswith(".tf.json"):
            # Terraform reads them; skipped here, their resources would be planned away.
            diags.append(Diagnostic.error(
                "Unsupported configuration file",
                f'fgform does not read the JSON configuration syntax, so "{n}" would be '
                "ignored, and the next plan would destroy what it declares.",
                SourceRange(str(dir / n), 1),
                hint="Write it in the native syntax (a *.tf file), or move it out of the "
                     "directory."))
    if not files:
        diags.append(Diagnostic.error(
            "No configuration files",
            f'The directory "{dir}" contains no *.hcl or *.tf files.'))
        return module
    decoder = _ModuleDecoder(module, diags)
    for f in files:
        body, file_diags = _load_file(f, cache)
        diags.extend(file_diags)
        if body is not None:
            decoder.add_file(body)
    return module


def _is_dir(path: Path) -> bool:
    """A real directory (not a symlink to one: that is read, and fails, as in Terraform)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _read_failed(filename: str, why: str) -> Diagnostic:
    return Diagnostic.error("Failed to read file",
                            f'The file "{filename}" could not be read: {why}.')


def read_input_file(path: Path) -> tuple[bytes | None, str | None]:
    """The bytes of a configuration or variables file, or why it cannot be read (a dangling
    or looping symlink, a directory, a FIFO, a link out of its directory): such a file is an
    error, never skipped."""
    try:
        if path.is_symlink():
            # A link planted in a pull request (main.tf -> /proc/self/environ) would have the
            # plan in CI read a file of the runner and quote it in the syntax error.
            real = os.path.realpath(path)
            home = os.path.realpath(path.parent)
            if os.path.exists(real) and not real.startswith(home.rstrip(os.sep) + os.sep):
                return None, (f'it is a symbolic link to "{os.readlink(path)}", outside its '
                              "directory; fgform reads only files of the configuration")
        st = os.stat(path)
        # Only regular files: reading a FIFO named x.tf would block forever.
        if not stat.S_ISREG(st.st_mode):
            what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            if path.is_symlink():
                what = f'a symbolic link to "{os.readlink(path)}", which is {what}'
            return None, f"it is {what}"
        return path.read_bytes(), None
    except OSError as e:
        return None, _link_problem(path, e) or str(e.strerror or e)


def _load_file(path: Path, cache: ParseCache | None) -> tuple[Body | None, list[Diagnostic]]:
    filename = str(path)
    data, problem = read_input_file(path)
    if data is None:
        return None, [_read_failed(filename, problem or "unknown reason")]
    key = None
    if cache is not None:
        # Looked up before decoding: only files that decoded are stored, under their bytes.
        key = entry_key(data, filename, (FGFORM_VERSION, LOADER_VERSION))
        cached = cache.get(key, filename)
        if cached is not None:
            return cached
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, [encoding_diagnostic(data, e.start, filename)]
    text = text.lstrip("\ufeff")
    result = _parse_text(text, filename)
    if cache is not None and key is not None:
        cache.put(key, filename, result)
    return result


def encoding_diagnostic(data: bytes, bad: int, filename: str) -> Diagnostic:
    """A file that is not UTF-8, at the line and column of its first invalid byte (`bad`,
    an offset into `data`); `filename` is the one every other diagnostic of the file uses."""
    line_start = data.rfind(b"\n", 0, bad) + 1
    line = data.count(b"\n", 0, bad) + 1
    # Everything before the first invalid byte decodes; columns count characters, as the
    # parser's do (so a byte order mark, which the parser never sees, does not count).
    prefix = data[line_start:bad].decode("utf-8")
    if line == 1:
        prefix = prefix.lstrip("\ufeff")
    col = len(prefix) + 1
    return Diagnostic.error(
        "Invalid file encoding",
        f'The file "{filename}" is not valid UTF-8: byte {bad} (0x{data[bad]:02X}) is not part '
        "of a UTF-8 character. All input files must be UTF-8 encoded; ensure that UTF-8 "
        "encoding is selected in your editor.",
        SourceRange(filename, line, col, line, col + 1))


# ---------------------------------------------------------------------------------------------
# Parsing: text -> lark tree -> Body
# ---------------------------------------------------------------------------------------------

_parser: Any = None
_lark_exceptions: Any = None


def _import_parser() -> Any:
    """Import hcl2/lark lazily: a warm (cached) load must not pay for them."""
    global _parser, _lark_exceptions
    if _parser is None:
        import lark.exceptions as lark_exceptions
        from hcl2.parser import parser as hcl2_parser

        _parser = _without_positions(hcl2_parser())
        _lark_exceptions = lark_exceptions
    return _parser


def _without_positions(parser: Any) -> Any:
    """python-hcl2's parser (compiled once, cached by python-hcl2) rebuilt in memory without
    `propagate_positions`: copying every rule's position up the tree as it is built was half
    of the parse time (9 of 18 s on a 5 MB file). `_Converter.rng` finds positions from the
    tokens instead, and only for the nodes it keeps. Should lark's internals change, the
    parser as python-hcl2 built it still works, only slower."""
    try:
        from lark import Lark
        from lark.grammar import Rule
        from lark.lexer import TerminalDef

        data, memo = parser.memo_serialize([TerminalDef, Rule])
        return Lark._load_from_dict(data, memo, propagate_positions=False,
                                    postlex=parser.options.postlex)
    except Exception:  # noqa: BLE001 - any failure here only costs speed
        return parser


def _parse_text(text: str, filename: str, col_shift: tuple[int, int] | None = None
                ) -> tuple[Body, list[Diagnostic]]:
    parser = _import_parser()
    exc = _lark_exceptions
    # lark needs a final newline (no EOF token in the grammar).
    src = text if text.endswith("\n") else text + "\n"
    gc_was_enabled = gc.isenabled()
    # The parse allocates many small objects and frees none: the GC only costs time here.
    gc.disable()
    try:
        try:
            try:
                tree = parser.parse(src)
            except exc.UnexpectedInput:
                trimmed = lexscan.trim_heredoc_markers(src)
                if trimmed is None:
                    raise
                tree = parser.parse(trimmed)
                src = trimmed
        except exc.UnexpectedInput as e:
            return Body(), [_lexical_diagnostic(e, src, filename, col_shift)
                            or _syntax_diagnostic(e, src, filename, col_shift)]
        except RecursionError:
            return Body(), [Diagnostic.error("Invalid syntax", "The expression is nested too "
                                             "deeply.", SourceRange(filename, 1, 1))]
        conv = _Converter(filename, src, col_shift)
        try:
            body = conv.body(tree.children[0])
        except _ConvertError as e:
            return Body(), [Diagnostic.error(e.summary, e.detail, e.range)]
        except RecursionError:
            return Body(), [Diagnostic.error("Invalid syntax", "The expression is nested too "
                                             "deeply.", SourceRange(filename, 1, 1))]
        return body, conv.diags
    except Exception as e:  # never a traceback for any input
        return Body(), [Diagnostic.error("Invalid syntax", f"The file could not be read: {e}.",
                                         SourceRange(filename, 1, 1))]
    finally:
        if gc_was_enabled:
            gc.enable()


# Terminal names -> what users call them.
_TERMINAL_WORDS = {
    "RBRACE": "`}`", "LBRACE": "`{`", "LSQB": "`[`", "RSQB": "`]`", "LPAR": "`(`",
    "RPAR": "`)`", "EQ": "`=`", "COLON": "`:`", "COMMA": "`,`", "DOT": "`.`",
    "DBLQUOTE": '`"`', "NAME": "a name", "NL_OR_COMMENT": "a new line",
    "INT_LITERAL": "a number", "FLOAT_LITERAL": "a number", "STRING_CHARS": "text",
    "QMARK": "`?`", "FOR_OBJECT_ARROW": "`=>`", "ELLIPSIS": "`...`",
    "INTERP_START": "`${`", "DIRECTIVE_START": "`%{`", "ATTR_SPLAT": "`.*`",
    "FULL_SPLAT_START": "`[*]`", "PLUS": "`+`", "MINUS": "`-`", "ASTERISK": "`*`",
    "SLASH": "`/`", "PERCENT": "`%`", "DOUBLE_EQ": "`==`", "NEQ": "`!=`", "LT": "`<`",
    "GT": "`>`", "LEQ": "`<=`", "GEQ": "`>=`", "DOUBLE_AMP": "`&&`", "DOUBLE_PIPE": "`||`",
    "NOT": "`!`", "IN": "`in`", "IF": "`if`", "FOR": "`for`", "ELSE": "`else`",
    "ENDIF": "`endif`", "ENDFOR": "`endfor`", "TRUE": "`true`", "FALSE": "`false`",
    "NULL": "`null`", "HEREDOC_TEMPLATE": "a heredoc", "HEREDOC_TEMPLATE_TRIM": "a heredoc",
    "$END": "the end of the file", "STRIP_MARKER": "`~`", "COLONS": "`::`",
}
_EXPR_START = {"INT_LITERAL", "FLOAT_LITERAL", "DBLQUOTE", "LSQB", "LPAR", "NAME", "MINUS",
               "NOT", "HEREDOC_TEMPLATE"}
_OPERATORS = {"PLUS", "MINUS", "ASTERISK", "SLASH", "PERCENT", "DOUBLE_EQ", "NEQ", "LT", "GT",
              "LEQ", "GEQ", "DOUBLE_AMP", "DOUBLE_PIPE", "QMARK"}
_ORDER = ["EQ", "LBRACE", "RBRACE", "RSQB", "RPAR", "COMMA", "COLON", "FOR_OBJECT_ARROW",
          "DBLQUOTE", "NAME", "NL_OR_COMMENT"]


def _describe_expected(expected: set[str]) -> str:
    exp = set(expected)
    words: list[str] = []
    if "EQ" in exp and "LBRACE" in exp:
        # After a name in a body: an argument or a block; labels are rarely what was meant.
        return "`=` or `{`"
    if len(exp & _EXPR_START) >= 4:
        words.append("an expression")
        exp -= _EXPR_START | {"FLOAT_LITERAL", "HEREDOC_TEMPLATE_TRIM", "TEMPLATE_STRING",
                              "LBRACE", "TRUE", "FALSE", "NULL", "FOR", "IN", "IF", "FOR_EACH",
                              "ELSE", "ENDIF", "ENDFOR"}
        exp.discard("NL_OR_COMMENT")
    if len(exp & _OPERATORS) >= 3:
        words.append("an operator")
        exp -= _OPERATORS | {"DOT", "LSQB", "ATTR_SPLAT", "FULL_SPLAT_START"}
    if "STRING_CHARS" in exp and "DBLQUOTE" in exp:
        words.append('the closing `"`')
        exp -= {"STRING_CHARS", "DBLQUOTE", "INTERP_START", "DIRECTIVE_START",
                "ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"}
    if {"NAME", "DBLQUOTE"} <= exp and "LBRACE" in exp:
        words.append("a block label or `{`")
        exp -= {"NAME", "DBLQUOTE", "LBRACE", "IN", "IF", "FOR", "FOR_EACH", "ELSE", "ENDIF",
                "ENDFOR", "TRUE", "FALSE", "NULL"}
    rest = sorted(exp, key=lambda t: (_ORDER.index(t) if t in _ORDER else 99, t))
    for t in rest:
        w = _TERMINAL_WORDS.get(t)
        if w and w not in words:
            words.append(w)
    if not words:
        return "something else"
    if len(words) > 4:
        words = words[:4]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _token_text(token: Any) -> str:
    ttype = getattr(token, "type", "")
    if ttype == "$END":
        return "the end of the file"
    value = str(token)
    if ttype == "NL_OR_COMMENT" or value.strip() == "":
        return "a new line" if "\n" in value else "a space"
    value = value.strip()
    first = value.splitlines()[0] if value else value
    if len(first) > 24:
        first = first[:24] + "..."
    return f"`{first}`"


def _previous_word(src: str, line: int, col: int) -> str:
    lines = src.split("\n")
    before = "\n".join(lines[: line - 1] + [lines[line - 1][: col - 1]]) if 0 < line <= len(
        lines) else src
    before = before.rstrip()
    m = re.search(r'("[^"\n]*"|[\w.\-]+|\S)$', before)
    return m.group(1) if m else ""


def _lexical_diagnostic(e: Any, src: str, filename: str,
                        col_shift: tuple[int, int] | None) -> Diagnostic | None:
    """The first unclosed string or heredoc, or malformed number, when it comes before the
    parse error `e` (which it usually caused, lines later): None when there is none."""
    problem = lexscan.first_problem(src)
    if problem is None:
        return None
    line, col = _line_col(src, problem.offset)
    err_line = getattr(e, "line", -1)
    err_col = getattr(e, "column", -1)
    if isinstance(err_line, int) and err_line >= 1 and (line, col) > (err_line, err_col):
        return None
    end_line, end_col = _line_col(src, problem.end)
    if col_shift is not None:
        base_line, dcol = col_shift
        col = col + dcol if line == 1 else col
        end_col = end_col + dcol if end_line == 1 else end_col
        line, end_line = base_line + line - 1, base_line + end_line - 1
    return Diagnostic.error(problem.summary, problem.detail,
                            SourceRange(filename, line, col, end_line, end_col))


def _line_col(src: str, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of `offset` in `src`."""
    return src.count("\n", 0, offset) + 1, offset - src.rfind("\n", 0, offset)


def _syntax_diagnostic(e: Any, src: str, filename: str, col_shift: tuple[int, int] | None
                       ) -> Diagnostic:
    exc = _lark_exceptions
    line = getattr(e, "line", -1)
    col = getattr(e, "column", -1)
    if not isinstance(line, int) or line < 1:
        # Unexpected end of input: point just past the last non-blank text.
        stripped = src.rstrip()
        line = stripped.count("\n") + 1
        col = len(stripped.split("\n")[-1]) + 1
    if isinstance(e, exc.UnexpectedCharacters):
        found = e.char
        found_text = "a new line" if found == "\n" else f"`{found}`"
        allowed = set(e.allowed or ())
        expected = _describe_expected(allowed) if allowed else ""
    elif isinstance(e, exc.UnexpectedToken):
        found_text = _token_text(e.token)
        expected = _describe_expected(set(e.expected or ()))
    else:
        found_text = "the end of the file"
        expected = _describe_expected(set(getattr(e, "expected", None) or ()))
    prev = _previous_word(src, line, col)
    after = f" after `{prev}`" if prev else ""
    if expected:
        detail = f"Expected {expected}{after}, found {found_text}."
    else:
        detail = f"Unexpected {found_text}{after}."
    if col_shift is not None:
        base_line, dcol = col_shift
        col = col + dcol if line == 1 else col
        line = base_line + line - 1
    return Diagnostic.error("Invalid syntax", detail, SourceRange(filename, line, max(col, 1)))


# ---------------------------------------------------------------------------------------------
# Tree conversion
# ---------------------------------------------------------------------------------------------

_UNSEEN = object()
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.S)


class _Converter:
    """Turns one file's lark tree into Body/Block/Attribute and AST nodes."""

    def __init__(self, filename: str, src: str, col_shift: tuple[int, int] | None = None
                 ) -> None:
        self.filename = filename
        self.src = src
        self.diags: list[Diagnostic] = []
        # (line, dcol): positions on the tree's line 1 move by dcol, all lines by line - 1.
        self.shift = col_shift
        # First and last tokens of the trees seen (by id: trees live as long as this).
        self._edges: tuple[dict[int, Any], dict[int, Any]] = ({}, {})
        # Nesting depth of the expression being converted, and how deep it may go.
        self.depth = 0
        self.room = nesting.SHALLOW_NESTING
        self._expr = {
            "expr_term": self.expr_term,
            "conditional": self.conditional,
            "binary_op": self.binary_op,
            "unary_op": self.unary_op,
            "string": self.string,
            "int_lit": self.int_lit,
            "float_lit": self.float_lit,
            "identifier": self.identifier,
            "literal_value": self.literal_value,
            "tuple": self.tuple,
            "object": self.object,
            "function_call": self.function_call,
            "heredoc_template": self.heredoc,
            "heredoc_template_trim": self.heredoc,
            "index_expr_term": self.index_expr,
            "get_attr_expr_term": self.get_attr_expr,
            "attr_splat_expr_term": self.splat_expr,
            "full_splat_expr_term": self.splat_expr,
            "for_tuple_expr": self.for_expr,
            "for_object_expr": self.for_expr,
            "template_string": self.template_string,
        }

    # -- positions ------------------------------------------------------------------------

    def rng(self, item: Any) -> SourceRange:
        if hasattr(item, "data"):  # a tree: from its first token to its last
            first = self._edge_token(item, last=False)
            if first is None:
                return SourceRange(self.filename, 1, 1)
            end = self._edge_token(item, last=True)
            line, col, eline, ecol = first.line, first.column, end.end_line, end.end_column
        else:
            line = getattr(item, "line", None) or 1
            col = getattr(item, "column", None) or 1
            eline = getattr(item, "end_line", None) or line
            ecol = getattr(item, "end_column", None) or col
        if self.shift is not None:
            base, dcol = self.shift
            col = col + dcol if line == 1 else col
            ecol = ecol + dcol if eline == 1 else ecol
            line += base - 1
            eline += base - 1
        return SourceRange(self.filename, line, col, eline, ecol)

    def _edge_token(self, tree: Any, last: bool) -> Any:
        """The first (or last) token under `tree`, None when it holds none. Every tree on the
        way down is remembered, so asking again for any of them, as the conversion does
        from the outside in, costs nothing: a chain of n nested nodes stays O(n)."""
        # Usually the edge child holds the token a few levels down: go straight there.
        node = tree
        for _ in range(16):
            kids = node.children
            if not kids:
                break
            node = kids[-1] if last else kids[0]
            if node is None:
                break
            if not hasattr(node, "data"):
                return node
        memo = self._edges[last]
        found = memo.get(id(tree), _UNSEEN)
        if found is not _UNSEEN:
            return found
        # Depth-first in token order (reversed for the last token); a None in the stack marks
        # the end of the subtree opened last, which then held no token at all.
        opened: list[Any] = []
        stack: list[Any] = [tree]
        found = None
        while stack:
            node = stack.pop()
            if node is None:
                memo[id(opened.pop())] = None
                continue
            if not hasattr(node, "data"):
                found = node
                break
            known = memo.get(id(node), _UNSEEN)
            if known is not _UNSEEN:
                if known is not None:
                    found = known
                    break
                continue
            opened.append(node)
            stack.append(None)
            kids = [k for k in node.children if k is not None]
            stack.extend(kids if last else reversed(kids))
        for node in opened:  # what is still open holds the token found
            memo[id(node)] = found
        return found

    def span(self, a: Any, b: Any) -> SourceRange:
        ra, rb = self.rng(a), self.rng(b)
        return SourceRange(self.filename, ra.start_line, ra.start_col, rb.end_line, rb.end_col)

    def error(self, summary: str, detail: str, item: Any) -> _ConvertError:
        rng = item if isinstance(item, SourceRange) else self.rng(item)
        return _ConvertError(summary, detail, rng)

    # -- structure ------------------------------------------------------------------------

    @staticmethod
    def _trees(children: list[Any]) -> list[Any]:
        return [c for c in children
                if hasattr(c, "data") and c.data != "new_line_or_comment"]

    def body(self, tree: Any) -> Body:
        body = Body(range=self.rng(tree))
        last_end = None
        for item in self._trees(tree.children):
            r = self.rng(item)
            if last_end is not None and r.start_line == last_end:
                self.diags.append(Diagnostic.error(
                    "Missing newline", "Each argument and block must be on a line of its own; "
                    "put a new line before this one.", r))
            last_end = _last_line(item)
            if item.data == "attribute":
                name_tree = item.children[0]
                name = self.name_of(name_tree)
                expr = self.expr(item.children[2])
                attr = Attribute(name=name, expr=expr, range=r, name_range=self.rng(name_tree))
                if name in body.attributes:
                    body.duplicate_attributes.append(body.attributes.pop(name))
                body.attributes[name] = attr
            elif item.data == "block":
                body.blocks.append(self.block(item))
        return body

    def name_of(self, tree: Any) -> str:
        tok = tree.children[0] if hasattr(tree, "children") else tree
        return str(tok).strip()

    def block(self, tree: Any) -> Block:
        kids = [c for c in tree.children
                if not (hasattr(c, "data") and c.data == "new_line_or_comment")]
        btype = self.name_of(kids[0])
        labels: list[str] = []
        label_ranges: list[SourceRange] = []
        lbrace = None
        body_tree = None
        for c in kids[1:]:
            if hasattr(c, "data"):
                if c.data == "body":
                    body_tree = c
                elif c.data == "string":
                    tmpl = self.string(c)
                    if isinstance(tmpl, ast.Literal) and isinstance(tmpl.value, str):
                        labels.append(tmpl.value)
                    else:
                        raise self.error("Invalid block label",
                                         "Block labels must be plain strings, without "
                                         "interpolation.", c)
                    label_ranges.append(self.rng(c))
                else:
                    labels.append(self.name_of(c))
                    label_ranges.append(self.rng(c))
            elif getattr(c, "type", "") == "LBRACE":
                lbrace = c
        header = self.span(kids[0], lbrace if lbrace is not None else kids[0])
        body = self.body(body_tree) if body_tree is not None else Body()
        return Block(type=btype, labels=labels, body=body, range=header,
                     label_ranges=label_ranges)

    # -- expressions ----------------------------------------------------------------------

    def expr(self, tree: Any) -> ast.Node:
        fn = self._expr.get(getattr(tree, "data", None))
        if fn is None:
            raise self.error("Invalid expression", f"Unsupported syntax ({getattr(tree, 'data', tree)}).",
                             tree)
        self.depth += 1
        if self.depth > self.room:
            self._make_room(tree)
        try:
            return fn(tree)
        finally:
            self.depth -= 1

    def _make_room(self, tree: Any) -> None:
        """The expression goes deeper than the recursion limits allow: raise them once for
        the whole pipeline, or stop at the level that crosses the cap, right where it is."""
        if self.depth <= nesting.MAX_NESTING:
            self.room = nesting.make_room(nesting.MAX_NESTING)
        if self.depth > self.room:
            raise self.error("Expression nested too deeply",
                             f"This expression is nested more than {self.room:,} levels deep "
                             "(parentheses, brackets, braces, function calls and operators "
                             "inside one another); split it into local values.", tree)

    def expr_term(self, tree: Any) -> ast.Node:
        kids = tree.children
        first = kids[0]
        if getattr(first, "type", None) == "LPAR":
            inner = self._trees(kids)[0]
            return ast.Parens(self.rng(tree), self.expr(inner))
        inner = self._trees(kids)[0]
        fn = self._expr.get(getattr(inner, "data", None))
        # A wrapper around one term, not a level of nesting: do not count it as one.
        return fn(inner) if fn is not None else self.expr(inner)

    def conditional(self, tree: Any) -> ast.Node:
        c, t, f = self._trees(tree.children)
        return ast.Conditional(self.rng(tree), self.expr(c), self.expr(t), self.expr(f))

    def binary_op(self, tree: Any) -> ast.Node:
        # `a + b + ... + z` parses as a left-leaning tree as deep as the chain is long: walk
        # its left edge in a loop, so only the operands' own nesting costs recursion.
        spine = []
        while getattr(tree, "data", None) == "binary_op":
            spine.append(tree)
            tree = self._trees(tree.children)[0]
        node = self.expr(tree)
        for op_tree in reversed(spine):
            term = self._trees(op_tree.children)[1]
            op_token, right_tree = self._trees(term.children)[:2]
            op = str(op_token.children[0]).strip()
            node = ast.Binary(self.rng(op_tree), op, node, self.expr(right_tree))
        return node

    def unary_op(self, tree: Any) -> ast.Node:
        op = str(tree.children[0]).strip()
        operand = self.expr(self._trees(tree.children)[0])
        if op == "-" and isinstance(operand, ast.Literal) and isinstance(operand.value, (int, float)) \
                and not isinstance(operand.value, bool):
            return ast.Literal(self.rng(tree), -operand.value)
        return ast.Unary(self.rng(tree), op, operand)

    def int_lit(self, tree: Any) -> ast.Node:
        return ast.Literal(self.rng(tree), int(str(tree.children[0])))

    def float_lit(self, tree: Any) -> ast.Node:
        value = float(str(tree.children[0]))
        if value.is_integer() and abs(value) < 2**63:
            return ast.Literal(self.rng(tree), int(value))
        return ast.Literal(self.rng(tree), value)

    def identifier(self, tree: Any) -> ast.Node:
        return ast.Variable(self.rng(tree), str(tree.children[0]))

    def literal_value(self, tree: Any) -> ast.Node:
        v = str(tree.children[0])
        return ast.Literal(self.rng(tree), {"true": True, "false": False, "null": None}[v])

    def tuple(self, tree: Any) -> ast.Node:
        return ast.Tuple(self.rng(tree), tuple(self.expr(c) for c in self._trees(tree.children)))

    def object(self, tree: Any) -> ast.Node:
        items = []
        separated = True
        for c in tree.children:
            if getattr(c, "data", None) == "object_elem":
                if not separated:
                    raise self.error("Missing item separator",
                                     "Expected a comma or a new line between the items of "
                                     "this object.", c)
                separated = False
            elif getattr(c, "data", None) == "new_line_or_comment" or getattr(
                    c, "type", None) == "COMMA":
                separated = True
        for elem in self._trees(tree.children):
            key_tree, value_tree = self._trees(elem.children)[:2]
            inner = self._trees(key_tree.children)
            if not inner:  # a keyword used as a key: `in = 1`
                tok = key_tree.children[0]
                key: ast.Node = ast.Literal(self.rng(key_tree), str(tok.children[0] if hasattr(
                    tok, "children") else tok))
            elif inner[0].data == "keyword":
                key = ast.Literal(self.rng(key_tree), str(inner[0].children[0]))
            else:
                key = self.expr(inner[0])
                # A bare word is the key itself, not a variable; `(var.x) = 1` evaluates.
                if isinstance(key, ast.Variable):
                    key = ast.Literal(key.range, key.name)
            items.append((key, self.expr(value_tree)))
        return ast.Object(self.rng(tree), tuple(items))

    def function_call(self, tree: Any) -> ast.Node:
        idents = [c for c in tree.children if getattr(c, "data", None) == "identifier"]
        name = "::".join(str(i.children[0]) for i in idents)
        args: list[ast.Node] = []
        expand = False
        for c in tree.children:
            if getattr(c, "data", None) == "arguments":
                for a in c.children:
                    if hasattr(a, "data"):
                        if a.data != "new_line_or_comment":
                            args.append(self.expr(a))
                    elif a.type == "ELLIPSIS":
                        expand = True
        return ast.Call(self.rng(tree), name, tuple(args), expand)

    def _step(self, target: ast.Node, step: Any, start: Any) -> ast.Node:
        """Apply one get_attr/index step to target."""
        rng = self.span(start, step)
        if step.data == "get_attr":
            name_tree = self._trees(step.children)[0]
            return ast.GetAttr(rng, target, str(name_tree.children[0]))
        if step.data == "short_index":
            tok = step.children[-1]
            return ast.Index(rng, target, ast.Literal(self.rng(tok), int(str(tok))))
        if step.data == "braces_index":
            key_tree = self._trees(step.children)[0]
            return ast.Index(rng, target, self.expr(key_tree))
        raise self.error("Invalid expression", f"Unsupported step ({step.data}).", step)

    def get_attr_expr(self, tree: Any) -> ast.Node:
        target_tree, step = self._trees(tree.children)
        return self._step(self.expr(target_tree), step, tree)

    def index_expr(self, tree: Any) -> ast.Node:
        target_tree, step = self._trees(tree.children)
        return self._step(self.expr(target_tree), step, tree)

    def splat_expr(self, tree: Any) -> ast.Node:
        target_tree, splat = self._trees(tree.children)
        target = self.expr(target_tree)
        op_tok = splat.children[0]
        full = splat.data == "full_splat"
        steps = self._trees(splat.children)
        each: ast.Node = ast.SplatItem(self.rng(op_tok))
        # `.*` only carries attribute steps; an index after them applies to the result list.
        i = 0
        while i < len(steps) and (full or steps[i].data == "get_attr"):
            each = self._step(each, steps[i], op_tok)
            i += 1
        node: ast.Node = ast.Splat(self.span(tree, splat if i == len(steps) else steps[i - 1]
                                             if i else op_tok), target, each, full)
        for step in steps[i:]:
            node = self._step(node, step, tree)
        return node

    def for_expr(self, tree: Any) -> ast.Node:
        kids = tree.children
        intro = next(c for c in kids if getattr(c, "data", None) == "for_intro")
        names = [str(c.children[0]) for c in intro.children
                 if getattr(c, "data", None) == "identifier"]
        coll_tree = [c for c in self._trees(intro.children) if c.data != "identifier"][0]
        key_var, value_var = (names[0], names[1]) if len(names) == 2 else (None, names[0])
        exprs = [c for c in self._trees(kids) if c.data not in ("for_intro", "for_cond")]
        cond_tree = next((c for c in kids if getattr(c, "data", None) == "for_cond"), None)
        cond = self.expr(self._trees(cond_tree.children)[0]) if cond_tree is not None else None
        group = any(getattr(c, "type", None) == "ELLIPSIS" for c in kids)
        coll = self.expr(coll_tree)
        if tree.data == "for_object_expr":
            key, value = self.expr(exprs[0]), self.expr(exprs[1])
            return ast.For(self.rng(tree), key_var, value_var, coll, value, key, cond, group)
        return ast.For(self.rng(tree), key_var, value_var, coll, self.expr(exprs[0]), None,
                       cond, False)

    def template_string(self, tree: Any) -> ast.Node:
        raw = str(tree.children[0])
        return ast.Literal(self.rng(tree), self.unescape(raw[2:-2], tree, 2))

    # -- strings and templates ------------------------------------------------------------

    def unescape(self, raw: str, where: Any, offset: int = 0) -> str:
        """Resolve the backslash escapes of `raw`, the text `offset` characters into the
        token or tree `where` (errors point at the escape itself)."""
        if "\\" not in raw:
            return raw

        def repl(m: re.Match[str]) -> str:
            s = m.group(1)
            if s in _ESCAPES:
                return _ESCAPES[s]
            if s[0] in "uU" and len(s) > 1:
                code = int(s[1:], 16)
                # A surrogate half or a number past U+10FFFF is no character: UTF-8 cannot
                # hold it (Python would carry it and fail only when writing it out).
                if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                    raise self.error("Invalid escape sequence",
                                     f"Cannot encode character U+{code:04x} in UTF-8.",  # Terraform's %04x
                                     escape_range(m.start(), m.end()))
                return chr(code)
            if s in "uU":
                # Blame the escape with the characters that should have been its digits.
                digits = 4 if s == "u" else 8
                bad = re.match(rf'[^\s"\\]{{0,{digits}}}', raw[m.end():])
                width = bad.end() if bad else 0
                raise self.error("Invalid escape sequence",
                                 f"The \\{s} escape sequence must be followed by "
                                 f"{'four' if s == 'u' else 'eight'} hexadecimal digits.",
                                 escape_range(m.start(), m.end() + width))
            raise self.error("Invalid escape sequence",
                             f'The symbol "{s}" is not a valid escape sequence selector. '
                             'Use \\\\ for a literal backslash.',
                             escape_range(m.start(), m.end()))

        def escape_range(start: int, end: int) -> SourceRange:
            first = self.rng(where)
            line, col = _pos(raw, start, first.start_line, first.start_col + offset)
            end_line, end_col = _pos(raw, end, first.start_line, first.start_col + offset)
            return SourceRange(self.filename, line, col, end_line, end_col)

        return _ESCAPE_RE.sub(repl, raw)

    def string(self, tree: Any) -> ast.Node:
        flat: list[Any] = []
        for part in tree.children:
            if not hasattr(part, "data"):
                continue  # the quotes
            inner = part.children[0]
            if not hasattr(inner, "data"):
                ttype = inner.type
                text = str(inner)
                if "\n" in text:
                    self._multiline_string(inner, text)
                if ttype == "ESCAPED_INTERPOLATION":
                    flat.append(text[1:])
                elif ttype == "ESCAPED_DIRECTIVE":
                    flat.append(text[1:])
                else:
                    flat.append(self.unescape(text, inner))
                continue
            if inner.data == "interpolation":
                flat.append(self.expr(self._trees(inner.children)[0]))
            else:
                flat.append(self._directive_from_tree(inner))
        return self._assemble(flat, self.rng(tree))

    def _multiline_string(self, token: Any, text: str) -> None:
        """As HCL: the literal text of a quoted string may not hold a new line (one error
        at each, on the new line itself). A heredoc may, and so may the expression inside a
        `${ }` or `%{ }` of a quoted string (not the quoted strings within it, though)."""
        line, col = token.line, token.column
        start = 0
        while (nl := text.find("\n", start)) >= 0:
            # A CRLF new line starts at its CR.
            at = nl - 1 if nl > start and text[nl - 1] == "\r" else nl
            at_line = line + text.count("\n", 0, at)
            line_start = text.rfind("\n", 0, at) + 1
            at_col = (col if line_start == 0 else 1) + at - line_start
            self.diags.append(Diagnostic.error(
                "Invalid multi-line string",
                "Quoted strings may not be split over multiple lines. To produce a multi-line "
                "string, either use the \\n escape to represent a newline character or use the "
                '"heredoc" multi-line template syntax.',
                self._position(at_line, at_col, at_line + 1, 1)))
            start = nl + 1

    def _position(self, line: int, col: int, end_line: int, end_col: int) -> SourceRange:
        """A range from parser coordinates (shifted as `rng` shifts them)."""
        if self.shift is not None:
            base, dcol = self.shift
            col = col + dcol if line == 1 else col
            end_col = end_col + dcol if end_line == 1 else end_col
            line += base - 1
            end_line += base - 1
        return SourceRange(self.filename, line, col, end_line, end_col)

    def _directive_from_tree(self, tree: Any) -> tuple[Any, ...]:
        kind = tree.data.replace("template_", "")
        toks = [c for c in tree.children if not hasattr(c, "data")]
        strip_left = len(toks) > 1 and toks[1].type == "STRIP_MARKER"
        strip_right = len(toks) > 1 and toks[-2].type == "STRIP_MARKER"
        rng = self.rng(tree)
        if kind == "if_start":
            cond = self.expr(self._trees(tree.children)[0])
            return ("if", cond, strip_left, strip_right, rng)
        if kind == "for_start":
            trees = self._trees(tree.children)
            names = [str(t.children[0]) for t in trees if t.data == "identifier"]
            coll = self.expr([t for t in trees if t.data != "identifier"][0])
            return ("for", names, coll, strip_left, strip_right, rng)
        return (kind, strip_left, strip_right, rng)

    def _assemble(self, flat: list[Any], rng: SourceRange) -> ast.Node:
        """Flat parts (str, Node, directive tuples) -> nested Template parts."""
        # Strip markers first: `~` trims whitespace on that side of the directive.
        for i, p in enumerate(flat):
            if isinstance(p, tuple):
                sl, sr = (p[2], p[3]) if p[0] in ("if",) else (
                    (p[3], p[4]) if p[0] == "for" else (p[1], p[2]))
                if sl and i > 0 and isinstance(flat[i - 1], str):
                    flat[i - 1] = flat[i - 1].rstrip()
                if sr and i + 1 < len(flat) and isinstance(flat[i + 1], str):
                    flat[i + 1] = flat[i + 1].lstrip()
        pos = 0

        def parse_seq(stop: tuple[str, ...]) -> tuple[list[Any], Any]:
            nonlocal pos
            out: list[Any] = []
            while pos < len(flat):
                p = flat[pos]
                if isinstance(p, tuple):
                    kind = p[0]
                    if kind in stop:
                        return out, p
                    pos += 1
                    if kind == "if":
                        then_parts, end = parse_seq(("else", "endif"))
                        else_parts: list[Any] = []
                        if end is not None and end[0] == "else":
                            pos += 1
                            else_parts, end = parse_seq(("endif",))
                        if end is None or end[0] != "endif":
                            raise self.error("Unterminated template directive",
                                             "This %{if} has no matching %{endif}.", p[-1])
                        pos += 1
                        out.append(ast.TemplateIf(p[-1], p[1], _merge(then_parts),
                                                  _merge(else_parts)))
                    elif kind == "for":
                        body, end = parse_seq(("endfor",))
                        if end is None:
                            raise self.error("Unterminated template directive",
                                             "This %{for} has no matching %{endfor}.", p[-1])
                        pos += 1
                        names = p[1]
                        key_var, value_var = (names[0], names[1]) if len(names) == 2 else (
                            None, names[0])
                        out.append(ast.TemplateFor(p[-1], key_var, value_var, p[2],
                                                   _merge(body)))
                    else:
                        raise self.error("Unexpected template directive",
                                         f"This %{{{kind}}} has no matching opening "
                                         "directive.", p[-1])
                else:
                    out.append(p)
                    pos += 1
            return out, None

        parts, end = parse_seq(())
        merged = _merge(parts)
        if all(isinstance(p, str) for p in merged):
            return ast.Literal(rng, "".join(merged))
        return ast.Template(rng, merged)

    def heredoc(self, tree: Any) -> ast.Node:
        tok = tree.children[0]
        raw = str(tok)
        trim = raw.startswith("<<-")
        first_nl = raw.index("\n")
        lines = raw[first_nl + 1:].split("\n")
        # The last two items are the closing marker line and the empty tail after it.
        content_lines = lines[:-2] if len(lines) >= 2 else []
        content_lines = [ln[:-1] if ln.endswith("\r") else ln for ln in content_lines]
        if trim:
            indents = [len(ln) - len(ln.lstrip(" \t")) for ln in content_lines if ln.strip()]
            n = min(indents) if indents else 0
            content_lines = [ln[n:] for ln in content_lines]
        text = "".join(ln + "\n" for ln in content_lines)
        r = self.rng(tok)
        node = self.template_from_text(text, r.start_line + 1, 1)
        if isinstance(node, ast.Literal):
            return ast.Literal(r, node.value)
        return ast.Template(r, node.parts)  # type: ignore[attr-defined]

    def template_from_text(self, text: str, line: int, col: int) -> ast.Node:
        """Scan template text for ${...} and %{...} and parse the expressions inside."""
        flat: list[Any] = []
        i = 0
        n = len(text)
        lit: list[str] = []
        while i < n:
            if text.startswith("$${", i) or text.startswith("%%{", i):
                lit.append(text[i + 1:i + 3])
                i += 3
                continue
            if text.startswith("${", i) or text.startswith("%{", i):
                end = _scan_expr_end(text, i + 2)
                where = _pos(text, i, line, col)
                if end < 0:
                    raise self.error("Unterminated template string",
                                     "No closing `}` for this interpolation or directive.",
                                     SourceRange(self.filename, *where))
                if lit:
                    flat.append("".join(lit))
                    lit = []
                inner = text[i + 2:end]
                if text[i] == "$":
                    inner_text = inner[1:] if inner.startswith("~") else inner
                    inner_text = inner_text[:-1] if inner_text.endswith("~") else inner_text
                    offset = i + 2 + (1 if inner.startswith("~") else 0)
                    flat.append(self._sub_expr(inner_text, text, offset, line, col))
                else:
                    flat.append(self._directive_from_text(inner, text, i, line, col))
                i = end + 1
                continue
            lit.append(text[i])
            i += 1
        if lit:
            flat.append("".join(lit))
        return self._assemble(flat, SourceRange(self.filename, line, col))

    def _sub_expr(self, expr_text: str, text: str, offset: int, line: int, col: int
                  ) -> ast.Node:
        sline, scol = _pos(text, offset, line, col)
        body, diags = _parse_text(f"__x = {expr_text}\n", self.filename,
                                  col_shift=(sline, scol - 7))
        if diags or "__x" not in body.attributes:
            d = diags[0] if diags else None
            raise _ConvertError("Invalid template expression",
                                d.detail if d else "Expected one expression.",
                                d.range if d and d.range else SourceRange(self.filename, sline,
                                                                          scol))
        return body.attributes["__x"].expr

    def _directive_from_text(self, inner: str, text: str, start: int, line: int, col: int
                             ) -> tuple[Any, ...]:
        rng = SourceRange(self.filename, *_pos(text, start, line, col))
        strip_left = inner.startswith("~")
        body = inner[1:] if strip_left else inner
        strip_right = body.rstrip().endswith("~")
        if strip_right:
            body = body.rstrip()[:-1]
        m = re.match(r"\s*(if|else|endif|for|endfor)\b(.*)$", body, re.S)
        if not m:
            raise self.error("Invalid template directive",
                             "Expected one of if, else, endif, for or endfor after `%{`.", rng)
        kind, rest = m.group(1), m.group(2)
        body_offset = start + 2 + (1 if strip_left else 0) + m.start(2)
        if kind == "if":
            return ("if", self._sub_expr(rest, text, body_offset, line, col), strip_left,
                    strip_right, rng)
        if kind == "for":
            fm = re.match(r"\s*([A-Za-z_][\w-]*)\s*(?:,\s*([A-Za-z_][\w-]*)\s*)?\bin\b(.*)$",
                          rest, re.S)
            if not fm:
                raise self.error("Invalid template directive",
                                 "Expected `%{ for NAME in EXPR }` or "
                                 "`%{ for KEY, VALUE in EXPR }`.", rng)
            names = [fm.group(1)] + ([fm.group(2)] if fm.group(2) else [])
            coll = self._sub_expr(fm.group(3), text, body_offset + fm.start(3), line, col)
            return ("for", names, coll, strip_left, strip_right, rng)
        if rest.strip():
            raise self.error("Invalid template directive",
                             f"Unexpected text after %{{{kind}}}.", rng)
        return (kind, strip_left, strip_right, rng)


def _last_line(tree: Any) -> int | None:
    """The line of the last real token of a tree (trailing newlines and comments aside)."""
    # An explicit stack: the last item of a file may be nested thousands of levels deep.
    stack = [reversed(tree.children)]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
        elif hasattr(child, "data"):
            if child.data != "new_line_or_comment":
                stack.append(reversed(child.children))
        elif child.type != "NL_OR_COMMENT":
            value = str(child)
            line = child.end_line
            if value.endswith("\n"):  # heredocs end with their newline
                line -= 1
            return line
    return None


def _merge(parts: list[Any]) -> tuple[Any, ...]:
    out: list[Any] = []
    for p in parts:
        if isinstance(p, str):
            if not p:
                continue
            if out and isinstance(out[-1], str):
                out[-1] += p
                continue
        out.append(p)
    return tuple(out)


def _pos(text: str, offset: int, line: int, col: int) -> tuple[int, int]:
    before = text[:offset]
    nl = before.count("\n")
    if nl == 0:
        return line, col + offset
    return line + nl, offset - before.rfind("\n")


def _skip_string(text: str, i: int) -> int:
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i + 1
        if text.startswith("$${", i) or text.startswith("%%{", i):
            i += 3
            continue
        if text.startswith("${", i) or text.startswith("%{", i):
            j = _scan_expr_end(text, i + 2)
            if j < 0:
                return n
            i = j + 1
            continue
        if c == "\n":
            return i  # strings do not span lines; let the parser report it
        i += 1
    return n


def _scan_expr_end(text: str, i: int) -> int:
    """Index of the `}` closing an interpolation whose body starts at i, or -1."""
    depth = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i = _skip_string(text, i + 1)
            continue
        if c in "{([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


# ---------------------------------------------------------------------------------------------
# Decoding bodies into the model
# ---------------------------------------------------------------------------------------------

_BLOCK_LABELS = {"resource": 2, "variable": 1, "locals": 0, "output": 1, "module": 1,
                 "terraform": 0, "backend": 1}


def _static_string(node: ast.Node) -> str | None:
    if isinstance(node, ast.Literal) and isinstance(node.value, str):
        return node.value
    return None


def _static_bool(node: ast.Node) -> bool | None:
    if isinstance(node, ast.Literal) and isinstance(node.value, bool):
        return node.value
    return None


def _traversal_refs(node: ast.Node) -> list[ast.Reference] | None:
    """depends_on = [a.b, module.m]: a list of plain references."""
    from fgform.config.expr import references

    if not isinstance(node, ast.Tuple):
        return None
    out = []
    for item in node.items:
        if not isinstance(item, (ast.GetAttr, ast.Index, ast.Variable)):
            return None
        refs = references(item)
        if len(refs) != 1:
            return None
        out.append(refs[0])
    return out


def _attr_path(node: ast.Node) -> str | None:
    """An ignore_changes entry: a bare name or traversal (`image`, `tags["x"]`), or a
    string."""
    if isinstance(node, ast.Literal) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Variable):
        return node.name
    if isinstance(node, ast.GetAttr):
        inner = _attr_path(node.target)
        return f"{inner}.{node.name}" if inner else None
    if isinstance(node, ast.Index) and isinstance(node.key, ast.Literal):
        inner = _attr_path(node.target)
        k = node.key.value
        return (f"{inner}[{k}]" if isinstance(k, int) else f'{inner}["{k}"]') if inner else None
    return None


class _ModuleDecoder:
    """Fills a Module from the top-level bodies of its files."""

    def __init__(self, module: Module, diags: list[Diagnostic]) -> None:
        self.m = module
        self.diags = diags

    def err(self, summary: str, detail: str, rng: SourceRange | None, hint: str = "") -> None:
        self.diags.append(Diagnostic.error(summary, detail, rng, hint))

    def add_file(self, body: Body) -> None:
        for dup in body.duplicate_attributes:
            self.err("Unsupported argument",
                     f'An argument named "{dup.name}" is not expected at the top level of a '
                     "file.", dup.name_range)
        for attr in body.attributes.values():
            self.err("Unsupported argument",
                     f'An argument named "{attr.name}" is not expected at the top level of a '
                     "file; only blocks are.", attr.name_range,
                     hint=did_you_mean(attr.name, TOP_LEVEL_BLOCKS, "block type"))
        for block in body.blocks:
            want = _BLOCK_LABELS.get(block.type)
            if want is None:
                self.err("Unsupported block type",
                         f'Blocks of type "{block.type}" are not expected here.', block.range,
                         hint=did_you_mean(block.type, TOP_LEVEL_BLOCKS, "block type"))
                continue
            if len(block.labels) != want:
                what = {0: "no labels", 1: "one label", 2: "two labels"}[want]
                example = {"resource": 'resource "TYPE" "NAME" { ... }',
                           "variable": 'variable "NAME" { ... }',
                           "output": 'output "NAME" { ... }', "module": 'module "NAME" { ... }',
                           "backend": 'backend "local" { ... }'}.get(block.type,
                                                                    f"{block.type} {{ ... }}")
                self.err("Wrong number of block labels",
                         f'A "{block.type}" block takes {what}: {example}', block.range)
                continue
            getattr(self, "block_" + block.type)(block)

    def _check_unique(self, kind: str, key: str, table: dict[str, Any], rng: SourceRange
                      ) -> bool:
        if key in table:
            prev = table[key].range
            self.err(f"Duplicate {kind}",
                     f'A {kind} named "{key}" was already declared at {prev}. Each {kind} '
                     "name must be unique within a module.", rng)
            return False
        return True

    def _no_dups(self, body: Body) -> None:
        """Duplicate arguments anywhere inside a block are errors."""
        for dup in body.duplicate_attributes:
            later = body.attributes.get(dup.name)
            where = f" It is set again at {later.name_range}." if later else ""
            self.err("Duplicate argument",
                     f'The argument "{dup.name}" was already set at {dup.name_range}.{where} '
                     "Each argument may be set only once.", later.name_range if later
                     else dup.name_range)
        for b in body.blocks:
            self._no_dups(b.body)

    def _unexpected(self, body: Body, allowed: tuple[str, ...], blocks: tuple[str, ...],
                    where: str) -> None:
        for name, attr in body.attributes.items():
            if name not in allowed:
                self.err("Unsupported argument",
                         f'An argument named "{name}" is not expected in {where}.',
                         attr.name_range, hint=did_you_mean(name, allowed, "argument"))
        for b in body.blocks:
            if b.type not in blocks:
                self.err("Unsupported block type",
                         f'Blocks of type "{b.type}" are not expected in {where}.', b.range,
                         hint=did_you_mean(b.type, blocks, "block type"))

    def _check_name(self, kind: str, block: Block) -> None:
        """A block's name label must be an identifier: it becomes part of addresses and
        references (`fg_cluster.my cluster.id` could never be written)."""
        name = block.labels[-1]
        # A label with a line break is already reported as an invalid multi-line string.
        if not _valid_name(name) and "\n" not in name:
            self.err(f"Invalid {kind} name", "A name must start with a letter or underscore "
                     "and may contain only letters, digits, underscores, and dashes.",
                     block.label_ranges[-1] if block.label_ranges else block.range)

    def block_resource(self, block: Block) -> None:
        rtype, name = block.labels
        key = f"{rtype}.{name}"
        self._no_dups(block.body)
        self._check_name("resource", block)
        body = block.body
        res = Resource(type=rtype, name=name, body=body, range=block.range)
        attrs = dict(body.attributes)
        if "count" in attrs:
            res.count = attrs.pop("count").expr
        if "for_each" in attrs:
            res.for_each = attrs.pop("for_each").expr
        if res.count is not None and res.for_each is not None:
            self.err("Invalid combination of \"count\" and \"for_each\"",
                     'The "count" and "for_each" meta-arguments are mutually exclusive; only '
                     "one may be used to be explicit about the number of resources to create.",
                     body.attributes["for_each"].range)
        if "depends_on" in attrs:
            dep = attrs.pop("depends_on")
            refs = _traversal_refs(dep.expr)
            if refs is None:
                self.err("Invalid depends_on",
                         "depends_on must be a list of references, such as "
                         "[fg_service.web, module.db].", dep.range)
            else:
                res.depends_on = refs
        for meta in ("provider", "provisioner", "connection"):
            if meta in attrs:
                self.err("Unsupported argument",
                         f'The "{meta}" meta-argument is not supported by fgform.',
                         attrs[meta].name_range)
                attrs.pop(meta)
        blocks = []
        for b in body.blocks:
            if b.type == "lifecycle":
                res.lifecycle = self._lifecycle(b)
            elif b.type in ("provisioner", "connection"):
                self.err("Unsupported block type",
                         f'"{b.type}" blocks are not supported by fgform.', b.range)
            else:
                blocks.append(b)
        res.body = Body(attributes=attrs, blocks=blocks, duplicate_attributes=[],
                        range=body.range)
        if self._check_unique("resource", key, self.m.resources, block.range):
            self.m.resources[key] = res

    def _lifecycle(self, block: Block) -> Lifecycle:
        lc = Lifecycle(range=block.range)
        self._unexpected(block.body, ("prevent_destroy", "create_before_destroy",
                                      "ignore_changes"), (), "a lifecycle block")
        for flag in ("prevent_destroy", "create_before_destroy"):
            a = block.body.attributes.get(flag)
            if a is not None:
                v = _static_bool(a.expr)
                if v is None:
                    self.err("Invalid lifecycle argument",
                             f"{flag} must be true or false, written literally.", a.range)
                else:
                    setattr(lc, flag, v)
        ic = block.body.attributes.get("ignore_changes")
        if ic is not None:
            if isinstance(ic.expr, ast.Variable) and ic.expr.name == "all":
                lc.ignore_changes = ["all"]
            elif isinstance(ic.expr, ast.Literal) and ic.expr.value == "all":
                lc.ignore_changes = ["all"]
            elif isinstance(ic.expr, ast.Tuple):
                names = []
                for item in ic.expr.items:
                    p = _attr_path(item)
                    if p is None:
                        self.err("Invalid ignore_changes",
                                 "ignore_changes entries must be attribute names, such as "
                                 "[desired_count].", item.range)
                    else:
                        names.append(p)
                lc.ignore_changes = names
            else:
                self.err("Invalid ignore_changes",
                         "ignore_changes must be a list of attribute names, or all.", ic.range)
        return lc

    def block_variable(self, block: Block) -> None:
        name = block.labels[0]
        self._no_dups(block.body)
        body = block.body
        var = Variable(name=name, range=block.range)
        self._unexpected(body, ("type", "default", "description", "sensitive", "nullable"),
                         ("validation",), f'variable "{name}"')
        if not _valid_name(name):
            self.err("Invalid variable name", f'"{name}" is not a valid name: names start '
                     "with a letter or underscore and hold letters, digits, _ and -.",
                     block.label_ranges[0] if block.label_ranges else block.range)
        if name in ("source", "version", "providers", "count", "for_each", "lifecycle",
                    "depends_on", "locals"):
            self.err("Invalid variable name",
                     f'The variable name "{name}" is reserved (it is a module meta-argument).',
                     block.range)
        if "type" in body.attributes:
            var.type = body.attributes["type"].expr
        if "default" in body.attributes:
            var.default = body.attributes["default"].expr
            var.has_default = True
        var.description = self._static_str_attr(body, "description") or ""
        var.sensitive = bool(self._static_bool_attr(body, "sensitive", False))
        var.nullable = bool(self._static_bool_attr(body, "nullable", True))
        if not var.nullable and isinstance(var.default, ast.Literal) and var.default.value is None:
            self.err("Invalid default value for variable",
                     "A null default value is not valid when nullable=false.",
                     var.default.range)
        for v in body.blocks_of("validation"):
            self._unexpected(v.body, ("condition", "error_message"), (), "a validation block")
            cond = v.body.attributes.get("condition")
            msg = v.body.attributes.get("error_message")
            if cond is None or msg is None:
                missing = "condition" if cond is None else "error_message"
                self.err("Missing required argument",
                         f'The argument "{missing}" is required in a validation block.',
                         v.range)
                continue
            var.validations.append(Validation(cond.expr, msg.expr, v.range))
        if self._check_unique("variable", name, self.m.variables, block.range):
            self.m.variables[name] = var

    def _static_str_attr(self, body: Body, name: str) -> str | None:
        a = body.attributes.get(name)
        if a is None:
            return None
        v = _static_string(a.expr)
        if v is None:
            self.err("Invalid argument", f'"{name}" must be a literal string.', a.range)
        return v

    def _static_bool_attr(self, body: Body, name: str, default: bool) -> bool:
        a = body.attributes.get(name)
        if a is None:
            return default
        v = _static_bool(a.expr)
        if v is None:
            self.err("Invalid argument", f'"{name}" must be true or false, written literally.',
                     a.range)
            return default
        return v

    def block_locals(self, block: Block) -> None:
        self._no_dups(block.body)
        for b in block.body.blocks:
            self.err("Unsupported block type", "Blocks are not allowed in a locals block; "
                     "use name = value.", b.range)
        for name, attr in block.body.attributes.items():
            local = Local(name=name, expr=attr.expr, range=attr.range)
            if name in self.m.locals:
                prev = self.m.locals[name].range
                self.err("Duplicate local value",
                         f'A local value named "{name}" was already declared at {prev}. Local '
                         "value names must be unique within a module.", attr.name_range)
                continue
            self.m.locals[name] = local

    def block_output(self, block: Block) -> None:
        name = block.labels[0]
        self._no_dups(block.body)
        self._check_name("output", block)
        body = block.body
        self._unexpected(body, ("value", "description", "sensitive", "depends_on"), (),
                         f'output "{name}"')
        value = body.attributes.get("value")
        if value is None:
            self.err("Missing required argument",
                     f'The argument "value" is required in output "{name}".', block.range)
            return
        out = Output(name=name, expr=value.expr, range=block.range)
        out.description = self._static_str_attr(body, "description") or ""
        out.sensitive = self._static_bool_attr(body, "sensitive", False)
        dep = body.attributes.get("depends_on")
        if dep is not None:
            refs = _traversal_refs(dep.expr)
            if refs is None:
                self.err("Invalid depends_on", "depends_on must be a list of references.",
                         dep.range)
            else:
                out.depends_on = refs
        if self._check_unique("output", name, self.m.outputs, block.range):
            self.m.outputs[name] = out

    def block_module(self, block: Block) -> None:
        name = block.labels[0]
        self._no_dups(block.body)
        self._check_name("module", block)
        body = block.body
        src = body.attributes.get("source")
        if src is None:
            self.err("Missing required argument",
                     f'The argument "source" is required in module "{name}".', block.range)
            return
        source = _static_string(src.expr)
        if source is None:
            self.err("Invalid module source", "The module source must be a literal string.",
                     src.range)
            return
        if not (source.startswith("./") or source.startswith("../")):
            self.err("Invalid module source",
                     f'The module source "{source}" is not a local path. fgform only loads '
                     'modules from local directories, written as "./path" or "../path".',
                     src.range, hint=f'Did you mean "./{source}"?'
                     if not source.startswith(("/", ".")) and "::" not in source
                     and "://" not in source else "")
            return
        call = ModuleCall(name=name, source=source, range=block.range)
        for attr_name, attr in body.attributes.items():
            if attr_name == "source":
                continue
            if attr_name == "count":
                call.count = attr.expr
            elif attr_name == "for_each":
                call.for_each = attr.expr
            elif attr_name == "depends_on":
                refs = _traversal_refs(attr.expr)
                if refs is None:
                    self.err("Invalid depends_on", "depends_on must be a list of references.",
                             attr.range)
                else:
                    call.depends_on = refs
            elif attr_name in ("version", "providers"):
                self.err("Unsupported argument",
                         f'"{attr_name}" is not supported for local modules.', attr.name_range)
            else:
                call.inputs[attr_name] = attr
        for b in body.blocks:
            self.err("Unsupported block type",
                     f'Blocks of type "{b.type}" are not expected in a module block.', b.range)
        if self._check_unique("module call", name, self.m.module_calls, block.range):
            self.m.module_calls[name] = call

    def block_terraform(self, block: Block) -> None:
        self._no_dups(block.body)
        for b in block.body.blocks:
            if b.type == "backend":
                if len(b.labels) != 1:
                    self.err("Wrong number of block labels",
                             'A backend block takes one label: backend "local" { ... }',
                             b.range)
                    continue
                self.block_backend(b)
            elif b.type not in ("required_providers",):
                self.err("Unsupported block type",
                         f'Blocks of type "{b.type}" are not expected in a terraform block.',
                         b.range, hint=did_you_mean(b.type, ("backend",), "block type"))
        for name, attr in block.body.attributes.items():
            if name not in ("required_version",):
                self.err("Unsupported argument",
                         f'An argument named "{name}" is not expected in a terraform block.',
                         attr.name_range)

    def block_backend(self, block: Block) -> None:
        self._no_dups(block.body)
        kind = block.labels[0]
        if kind != "local":
            self.err("Unsupported backend",
                     f'The backend "{kind}" is not supported; fgform supports only "local".',
                     block.range)
            return
        self._unexpected(block.body, ("path",), (), 'backend "local"')
        backend = {"type": "local"}
        path = self._static_str_attr(block.body, "path")
        if path is not None:
            backend["path"] = path
        if self.m.backend is not None:
            self.err("Duplicate backend configuration",
                     "A module may declare only one backend.", block.range)
            return
        self.m.backend = backend


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _valid_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None
