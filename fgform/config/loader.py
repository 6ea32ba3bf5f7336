"""Files -> Config: walk a module's directory (and the modules it calls), read every
`*.hcl`/`*.tf` file, parse it through the HCL front end (config/hcl.py) or take it from the
parse cache, and decode the blocks (config/blocks.py).

Parsing costs milliseconds per block, so each file's converted body is kept in the user's
parse cache (config/cache.py: plain JSON in `~/.cache/fgform`, never in the configuration
directory), keyed by the file's content and name and the fgform/loader versions. A hit never
imports hcl2 or lark.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

from fgform import __version__ as FGFORM_VERSION
from fgform.config import nesting, parse_pool
from fgform.config.blocks import ModuleDecoder
from fgform.config.cache import ParseCache, entry_key
from fgform.config.model import Body, Config, Module
from fgform.errors import Diagnostic, SourceRange

# Bump when the AST or the conversion changes: old cache entries then stop matching.
LOADER_VERSION = "6"

CONFIG_SUFFIXES = (".hcl", ".tf")


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
    config = _load_tree(root, (), [_real(root)], cache, diags)
    return config, diags


def load_module(dir: str | os.PathLike[str], *, use_cache: bool = True
                ) -> tuple[Module, list[Diagnostic]]:
    """Load the files of one directory into a Module (module calls are not followed)."""
    root = Path(dir)
    cache = ParseCache.open() if use_cache else None
    diags: list[Diagnostic] = []
    nesting.make_room()  # as load_config does
    module = _load_module(root, cache, diags)
    return module, diags


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
    decoder = ModuleDecoder(module, diags)
    for body, file_diags in _load_files(files, cache):
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


def _load_files(paths: list[Path], cache: ParseCache | None
                ) -> list[tuple[Body | None, list[Diagnostic]]]:
    """Each file's Body and diagnostics, in order: from the cache where it has the file's
    bytes, else parsed (several misses of some size: in parallel worker processes)."""
    results: list[tuple[Body | None, list[Diagnostic]] | None] = []
    misses: list[tuple[int, str, str, str | None]] = []  # (index, text, filename, key)
    for path in paths:
        filename = str(path)
        data, problem = read_input_file(path)
        if data is None:
            results.append((None, [_read_failed(filename, problem or "unknown reason")]))
            continue
        key = None
        if cache is not None:
            # Looked up before decoding: only files that decoded are stored, under their
            # bytes.
            key = entry_key(data, filename, (FGFORM_VERSION, LOADER_VERSION))
            cached = cache.get(key, filename)
            if cached is not None:
                results.append(cached)
                continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            results.append((None, [encoding_diagnostic(data, e.start, filename)]))
            continue
        misses.append((len(results), text.lstrip("\ufeff"), filename, key))
        results.append(None)
    if misses:
        workers = parse_pool.worker_count([len(text) for _, text, _, _ in misses])
        parsed = parse_pool.parse_many([(text, filename, key or "")
                                        for _, text, filename, key in misses], workers)
        for (i, _, filename, key), (entry, encoded) in zip(misses, parsed, strict=True):
            results[i] = entry
            if cache is not None and key is not None:
                if encoded is not None:
                    cache.put_encoded(key, encoded)
                else:
                    cache.put(key, filename, entry)
    return [r for r in results if r is not None]


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

