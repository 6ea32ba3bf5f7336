"""The differential test: every corpus expression evaluated by fgform and compared with the
value and type Terraform 1.11 gave for it (recorded by `scripts/record_terraform_corpus.py`
into `expected/`; this test needs no Terraform), and every reject-corpus expression, which
Terraform rejects, rejected by fgform too (a diagnostic, never a traceback).

The agreement ratchet: `known_differences.txt` lists the entries where fgform disagrees
today. An entry that disagrees and is not listed fails the test, and so does a listed
entry that now agrees (take it off the list: the list only shrinks). `FGFORM_DIFF_UPDATE=1`
rewrites the list from this run instead of failing.
"""

from __future__ import annotations

import os

from differential import corpus
from differential.fgform_side import accept_results, differences, reject_results

UPDATE = os.environ.get("FGFORM_DIFF_UPDATE") == "1"


def test_recordings_match_the_corpus() -> None:
    """Every entry has a recording of its current text (re-record after editing one), the
    agree corpus holds only what Terraform accepts and the reject corpus only what it
    rejects."""
    problems = []
    if corpus.INPUTS_DIGEST.read_text().strip() != corpus.inputs_digest():
        problems.append("prelude.tf or files/ changed since the recording: record again "
                        "(python3 scripts/record_terraform_corpus.py)")
    for records, entries in ((corpus.expected_accept(), corpus.accept_entries()),
                             (corpus.expected_reject(), corpus.reject_entries())):
        for e in entries:
            rec = records.get(e.id)
            if rec is None or rec.get("expr") != e.expr:
                problems.append(f"{e.id}: not recorded as it reads now")
            elif "error" in rec and "rejected" not in rec:
                problems.append(f"{e.id}: Terraform rejects it: move it to reject/")
            elif rec.get("rejected") is False:
                problems.append(f"{e.id}: Terraform accepts it: move it to corpus/")
        stale = set(records) - {e.id for e in entries}
        problems += [f"{s}: recorded but not in the corpus" for s in sorted(stale)]
    assert not problems, "\n".join(problems)


def test_corpus_size() -> None:
    """The corpus stays as large as issue 11 asks: 600+ expressions, 120+ rejections."""
    assert len(corpus.accept_entries()) >= 600
    assert len(corpus.reject_entries()) >= 120


def test_every_function_has_cases() -> None:
    """Each of Terraform 1.11's 118 functions is called by several agree-corpus entries."""
    assert len(corpus.TERRAFORM_FUNCTIONS) == 118
    entries = corpus.accept_entries()
    few = {f: n for f in corpus.TERRAFORM_FUNCTIONS
           if (n := corpus.calls(entries, f)) < corpus.MIN_CASES}
    assert not few, f"functions with fewer than {corpus.MIN_CASES} cases: {few}"


def test_no_crash_on_rejected_input() -> None:
    """What Terraform rejects, fgform reports as a diagnostic, never with a traceback."""
    crashes = [f"{i}: {got.message}" for i, (_e, _w, got) in reject_results().items()
               if got.kind == "crash"]
    assert not crashes, "\n".join(crashes)


def test_agreement_ratchet() -> None:
    """fgform agrees with Terraform on every entry but the known differences, and every
    known difference still disagrees."""
    diffs = differences()
    if UPDATE:
        corpus.write_known_differences(diffs)  # FGFORM_DIFF_UPDATE=1: the list follows
        return
    known = corpus.read_known_differences()
    new = {i: why for i, why in diffs.items() if i not in known}
    unknown_ids = sorted(set(known) - set(accept_results()) - set(reject_results()))
    fixed = sorted(i for i in known if i not in diffs and i not in unknown_ids)
    lines = [f"disagrees with Terraform (not in known_differences.txt): {i}: {why}"
             for i, why in sorted(new.items())]
    lines += [f"agrees now: remove from known_differences.txt: {i}" for i in fixed]
    lines += [f"known_differences.txt names no corpus entry: {i}" for i in unknown_ids]
    assert not lines, "\n".join(lines)
