"""Parsing several configuration files at once in forked worker processes.

A cold run (a fresh CI runner, a new checkout) spends most of its time in lark's parse,
which holds the GIL: threads cannot share it, processes can. The workers are forked after
the parser is built, so they start with the grammar in memory, and each sends its file's
result back as a parse-cache entry (`cache_codec`, plain JSON: the parent decodes it with
every type checked, exactly as it reads the cache, and stores the same bytes in the cache).
Used only where it pays: several files missing from the cache, several cores, enough text.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from fgform.config import hcl
from fgform.config.cache_codec import Entry, decode, encode

# Below this much text to parse, forking costs more than the parse (a 100-resource
# configuration parses in about 0.1 s, a fork and a worker's result about 10 ms).
MIN_BYTES = 48 * 1024
MAX_WORKERS = 8


def worker_count(sizes: Sequence[int]) -> int:
    """How many worker processes to parse files of these sizes with (0: parse here)."""
    if len(sizes) < 2 or sum(sizes) < MIN_BYTES or not _can_fork():
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else (os.cpu_count() or 1)
    return min(cores, len(sizes), MAX_WORKERS) if cores > 1 else 0


def _can_fork() -> bool:
    import multiprocessing

    return sys.platform != "win32" and "fork" in multiprocessing.get_all_start_methods()


def _parse_one(job: tuple[str, str, str]) -> bytes | None:
    """In a worker: one file's text parsed, as cache-entry bytes (None: the entry format
    cannot hold this tree, e.g. nested deeper than it allows; the parent parses it)."""
    text, filename, key = job
    entry = hcl.parse_text(text, filename)
    try:
        return encode(entry, key, filename)
    except Exception:  # noqa: BLE001 - anything the format refuses is parsed by the parent
        return None


def parse_many(jobs: Sequence[tuple[str, str, str]], workers: int
               ) -> list[tuple[Entry, bytes | None]]:
    """Each (text, filename, key) parsed, in order: (the entry, its cache bytes or None).

    With `workers` > 1 the files are parsed in that many forked processes; a file a worker
    could not return is parsed here.
    """
    hcl.warm_up()  # the grammar is built once, before the fork, and inherited
    raw: list[bytes | None]
    if workers > 1:
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        # Biggest first, so the last file a worker takes is a small one.
        order = sorted(range(len(jobs)), key=lambda i: -len(jobs[i][0]))
        with ctx.Pool(workers) as pool:
            results = pool.map(_parse_one, [jobs[i] for i in order], chunksize=1)
        raw = [None] * len(jobs)
        for i, r in zip(order, results, strict=True):
            raw[i] = r
    else:
        raw = [None] * len(jobs)
    out: list[tuple[Entry, bytes | None]] = []
    for (text, filename, key), data in zip(jobs, raw, strict=True):
        entry = None
        if data is not None:
            try:
                entry = decode(data, key, filename)
            except Exception:  # noqa: BLE001 - a bad result is parsed again here
                entry, data = None, None
        if entry is None:
            entry = hcl.parse_text(text, filename)
        out.append((entry, data))
    return out
