"""The differential corpus: expressions grouped by class, read from `corpus/*.exprs` (values
Terraform computes) and `reject/*.exprs` (expressions Terraform rejects), the fixture files
the file functions read (`files/`), and the values Terraform 1.11 gave (`expected/`).

An `.exprs` file is a list of entries; each starts with a header line `=== NAME` (NAME is
`[a-z0-9_]+`, unique in its file) and holds the expression on the lines after it, up to the
next header (trailing blank lines dropped; heredocs may span lines). A header may end with
` sensitive`: the output block then says `sensitive = true` (Terraform requires it for a
sensitive value). Lines before the first header are comments.

Shared by the recorder (`scripts/record_terraform_corpus.py`, which runs Terraform), the
test (`test_differential.py`, which runs fgform) and the report (`report.py`). Numbers stay
exact: JSON is parsed with `Decimal` and written back as the same digits.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CORPUS_DIR = HERE / "corpus"
REJECT_DIR = HERE / "reject"
FILES_DIR = HERE / "files"
PRELUDE = HERE / "prelude.tf"
EXPECTED_DIR = HERE / "expected"
KNOWN_DIFFERENCES = HERE / "known_differences.txt"

_HEADER = re.compile(r"^=== ([a-z0-9_]+)( sensitive)?\s*$")


@dataclass(frozen=True, slots=True)
class Entry:
    """One expression of the corpus: `cls/name` is its id."""

    cls: str
    name: str
    expr: str
    sensitive: bool = False

    @property
    def id(self) -> str:
        return f"{self.cls}/{self.name}"


def read_exprs(path: Path) -> list[Entry]:
    """The entries of one `.exprs` file, in file order. Raises ValueError on a malformed
    header or a duplicate name."""
    cls = path.stem
    entries: list[Entry] = []
    name: str | None = None
    sensitive = False
    lines: list[str] = []

    def close() -> None:
        if name is None:
            return
        text = "\n".join(lines).rstrip()
        if not text.strip():
            raise ValueError(f"{path}: entry {name!r} has no expression")
        entries.append(Entry(cls, name, text, sensitive))

    for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if line.startswith("==="):
            m = _HEADER.match(line)
            if not m:
                raise ValueError(f"{path}:{n}: malformed header {line!r}")
            close()
            name, sensitive, lines = m.group(1), bool(m.group(2)), []
            if any(e.name == name for e in entries):
                raise ValueError(f"{path}:{n}: duplicate entry {name!r}")
        elif name is not None:
            lines.append(line)
    close()
    return entries


def accept_entries() -> list[Entry]:
    """Every entry of the agree corpus (`corpus/*.exprs`), sorted by id."""
    return sorted((e for p in sorted(CORPUS_DIR.glob("*.exprs")) for e in read_exprs(p)),
                  key=lambda e: e.id)


def reject_entries() -> list[Entry]:
    """Every entry of the reject corpus (`reject/*.exprs`), sorted by id."""
    return sorted((e for p in sorted(REJECT_DIR.glob("*.exprs")) for e in read_exprs(p)),
                  key=lambda e: e.id)


def output_name(i: int) -> str:
    """The output block name of the i-th entry of a batch."""
    return f"o{i:04d}"


def config_text(entries: list[Entry]) -> tuple[str, dict[str, tuple[int, int]]]:
    """One `main.tf` declaring one output per entry, and each output's first and last line
    (so a diagnostic's line tells whose it is)."""
    out: list[str] = []
    where: dict[str, tuple[int, int]] = {}
    line = 1
    for i, e in enumerate(entries):
        block = [f'output "{output_name(i)}" {{']
        if e.sensitive:
            block.append("  sensitive = true")
        block += [f"  value = {e.expr}", "}", ""]
        text = "\n".join(block) + "\n"
        n = text.count("\n")
        where[output_name(i)] = (line, line + n - 2)
        line += n
        out.append(text)
    return "".join(out), where


# -- exact JSON ------------------------------------------------------------------------------
def loads(text: str) -> Any:
    """JSON with every number a Decimal (no float rounding)."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def number_text(d: Decimal) -> str:
    """A number's canonical text: plain digits, no exponent, no trailing zeros (1.50 -> 1.5,
    2.0 -> 2, 1E+3 -> 1000), as Terraform prints numbers."""
    if not d.is_finite():
        raise ValueError(f"not a finite number: {d}")
    if d == 0:
        return "0"
    # Not d.normalize(): that rounds to the context's 28 digits; 'f' is exact.
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def canon(value: Any) -> str:
    """Compact canonical JSON: sorted keys, exact numbers, strings not ASCII-escaped."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Decimal):
        return number_text(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return number_text(Decimal(repr(value)))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ",".join(canon(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{canon(v)}"
                              for k, v in sorted(value.items())) + "}"
    raise TypeError(f"not JSON: {type(value).__name__}")


def write_expected(path: Path, records: dict[str, dict[str, Any]]) -> None:
    """Write {name: record} as JSON, one entry a line, sorted (deterministic, diffable);
    numbers keep their exact digits."""
    lines = [f"  {json.dumps(k, ensure_ascii=False)}: {canon(v)}"
             for k, v in sorted(records.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")


def read_expected(path: Path) -> dict[str, dict[str, Any]]:
    """The records of one expected file, numbers as Decimals."""
    return loads(path.read_text(encoding="utf-8"))


def expected_accept() -> dict[str, dict[str, Any]]:
    """Terraform's recorded outcome of every agree-corpus entry, by id: `{"expr", "type",
    "value"}` (and `"sensitive": true` when `output -json` says so), `{"expr", "null": true}` (Terraform leaves a null output out of
    `terraform output -json`), or `{"expr", "error"}`."""
    out: dict[str, dict[str, Any]] = {}
    for p in sorted((EXPECTED_DIR / "accept").glob("*.json")):
        for name, rec in read_expected(p).items():
            out[f"{p.stem}/{name}"] = rec
    return out


def expected_reject() -> dict[str, dict[str, Any]]:
    """Terraform's recorded outcome of every reject-corpus entry, by id: `{"expr",
    "rejected": bool, "error": first line of its error summary}`."""
    out: dict[str, dict[str, Any]] = {}
    for p in sorted((EXPECTED_DIR / "reject").glob("*.json")):
        for name, rec in read_expected(p).items():
            out[f"{p.stem}/{name}"] = rec
    return out


def read_known_differences() -> dict[str, str]:
    """`known_differences.txt`: entry id -> reason (one `ID  reason` a line, `#` comments)."""
    out: dict[str, str] = {}
    if not KNOWN_DIFFERENCES.exists():
        return out
    for line in KNOWN_DIFFERENCES.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        ident, _, reason = line.partition(" ")
        out[ident] = reason.strip()
    return out


def write_known_differences(diffs: dict[str, str]) -> None:
    """Rewrite `known_differences.txt`, sorted, reasons on one line."""
    head = ("# Corpus entries (tests/differential) where fgform disagrees with Terraform 1.11"
            " today.\n# The test fails when an entry not listed disagrees, and when a listed"
            " one agrees:\n# the list only shrinks. Regenerate: FGFORM_DIFF_UPDATE=1 pytest"
            " tests/differential\n")
    body = "".join(f"{k}  {' '.join(v.split())[:160]}\n" for k, v in sorted(diffs.items()))
    KNOWN_DIFFERENCES.write_text(head + body, encoding="utf-8")


# Terraform 1.11's built-in functions (`terraform metadata functions -json`, the names
# without a `core::` prefix): the corpus calls each at least MIN_CASES times.
TERRAFORM_FUNCTIONS = tuple("""
abs abspath alltrue anytrue base64decode base64encode base64gzip base64sha256 base64sha512
basename bcrypt can ceil chomp chunklist cidrhost cidrnetmask cidrsubnet cidrsubnets coalesce
coalescelist compact concat contains csvdecode dirname distinct element endswith
ephemeralasnull file filebase64 filebase64sha256 filebase64sha512 fileexists filemd5 fileset
filesha1 filesha256 filesha512 flatten floor format formatdate formatlist indent index
issensitive join jsondecode jsonencode keys length log lookup lower matchkeys max md5 merge
min nonsensitive one parseint pathexpand plantimestamp pow range regex regexall replace
reverse rsadecrypt sensitive setintersection setproduct setsubtract setunion sha1 sha256
sha512 signum slice sort split startswith strcontains strrev substr sum templatefile
templatestring textdecodebase64 textencodebase64 timeadd timecmp timestamp title tobool
tolist tomap tonumber toset tostring transpose trim trimprefix trimspace trimsuffix try upper
urlencode uuid uuidv5 values yamldecode yamlencode zipmap
""".split())
MIN_CASES = 3


def calls(entries: list[Entry], function: str) -> int:
    """How many entries call `function` (by name, not as a longer name's tail)."""
    pattern = re.compile(r"(?<![\w:])" + re.escape(function) + r"\(")
    return sum(1 for e in entries if pattern.search(e.expr))


INPUTS_DIGEST = EXPECTED_DIR / "inputs.sha256"


def inputs_digest() -> str:
    """sha256 over what every entry may read besides its own text (`prelude.tf` and the
    fixture files): recordings made with other inputs are stale."""
    import hashlib

    h = hashlib.sha256()
    for p in [PRELUDE, *sorted(p for p in FILES_DIR.rglob("*") if p.is_file())]:
        h.update(str(p.relative_to(HERE)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()
