"""Cold loads parse the files missing from the parse cache in forked worker processes: the
configuration they give is exactly the one a one-process parse gives (same AST, same
diagnostics, same order), the workers' entries land in the cache and read back, and a small
configuration is parsed in-process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fgform.config import parse_pool
from fgform.config.cache import ParseCache
from fgform.config.loader import load_config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from gen_config import generate  # noqa: E402


def _load(d: Path, cache_home: Path | None, monkeypatch, workers: int | None):
    if cache_home is None:
        monkeypatch.setenv("FGFORM_NO_CACHE", "1")
    else:
        monkeypatch.delenv("FGFORM_NO_CACHE", raising=False)
        monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    if workers is not None:
        monkeypatch.setattr(parse_pool, "worker_count", lambda sizes: workers)
    return load_config(d)


def _shape(config) -> tuple:
    m = config.module
    return (sorted(m.resources), [(r.body, r.range) for _, r in sorted(m.resources.items())],
            sorted(m.variables))


def test_workers_give_the_configuration_one_process_gives(tmp_path: Path, monkeypatch) -> None:
    generate(400, tmp_path / "cfg")
    # A syntax error in one file: its diagnostic must come back from a worker unchanged.
    (tmp_path / "cfg" / "zz_broken.tf").write_text('resource "fg_cluster" "x" {\n  name = \n}\n')
    one, one_diags = _load(tmp_path / "cfg", None, monkeypatch, workers=0)
    two, two_diags = _load(tmp_path / "cfg", None, monkeypatch, workers=2)
    assert one_diags and [d.summary for d in one_diags] == [d.summary for d in two_diags]
    assert [d.range for d in one_diags] == [d.range for d in two_diags]
    assert len(one.module.resources) >= 399  # the broken file declares nothing
    assert _shape(one) == _shape(two)


def test_workers_fill_the_cache_with_entries_that_read_back(tmp_path: Path,
                                                            monkeypatch) -> None:
    generate(200, tmp_path / "cfg")
    cold, _ = _load(tmp_path / "cfg", tmp_path / "xdg", monkeypatch, workers=2)
    entries = list((tmp_path / "xdg" / "fgform").glob("*.json"))
    assert len(entries) == len(list((tmp_path / "cfg").glob("*.tf")))  # one per file
    calls = []
    monkeypatch.setattr(parse_pool, "parse_many", lambda *a: calls.append(a) or [])
    warm, _ = _load(tmp_path / "cfg", tmp_path / "xdg", monkeypatch, workers=None)
    assert calls == []  # every file came from the cache
    assert _shape(warm) == _shape(cold)


def test_a_file_the_cache_format_cannot_hold_is_parsed_by_the_parent(tmp_path: Path) -> None:
    deep = "locals {\n  x = " + "[" * 400 + "1" + "]" * 400 + "\n}\n"
    small = 'locals {\n  y = 1\n}\n'
    out = parse_pool.parse_many([(deep, "a.tf", "k1"), (small, "b.tf", "k2")], workers=2)
    (deep_entry, deep_bytes), (small_entry, small_bytes) = out
    assert deep_bytes is None and not deep_entry[1]  # parsed here, no diagnostics
    assert small_bytes is not None and not small_entry[1]
    assert "x" in deep_entry[0].blocks[0].body.attributes


@pytest.mark.parametrize("sizes, cores, expected", [
    ([100_000], 2, 0),              # one file: nothing to share
    ([1_000] * 10, 2, 0),           # too little text to pay for a fork
    ([20_000] * 10, 1, 0),          # one core
    ([20_000] * 10, 2, 2),
    ([20_000] * 3, 16, 3),          # no more workers than files
    ([20_000] * 40, 64, parse_pool.MAX_WORKERS),
])
def test_worker_count(monkeypatch, sizes, cores, expected) -> None:
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(cores)))
    assert parse_pool.worker_count(sizes) == expected


def test_cache_put_encoded_is_what_get_reads(tmp_path: Path) -> None:
    from fgform.config.cache_codec import encode
    from fgform.config.hcl import parse_text

    cache = ParseCache(tmp_path)
    entry = parse_text('locals {\n  a = "b"\n}\n', "m.tf")
    cache.put_encoded("k", encode(entry, "k", "m.tf"))
    assert cache.get("k", "m.tf") == entry
