"""Agreement with Terraform per class of the differential corpus.

Run from the repository: `python3 scripts/differential_report.py` (add `-v` to list every
disagreement with its reason). The same comparison as the test, printed.
"""

from __future__ import annotations

import sys

from differential import corpus
from differential.fgform_side import accept_results, differences, reject_results


def main(argv: list[str]) -> int:
    """Print agreement per class (accept corpus, then reject corpus) and the totals."""
    diffs = differences()
    rows: list[tuple[str, int, int]] = []
    for kind, results in (("corpus", accept_results()), ("reject", reject_results())):
        by_class: dict[str, list[str]] = {}
        for ident in results:
            by_class.setdefault(ident.split("/")[0], []).append(ident)
        for cls, ids in sorted(by_class.items()):
            rows.append((f"{kind}/{cls}", sum(i not in diffs for i in ids), len(ids)))
    width = max(len(r[0]) for r in rows)
    for name, ok, n in rows:
        print(f"{name:<{width}}  {ok:4d}/{n:<4d} {100 * ok / n:5.1f}%")
    for kind, results in (("corpus", accept_results()), ("reject", reject_results())):
        ok = sum(i not in diffs for i in results)
        print(f"{'total ' + kind:<{width}}  {ok:4d}/{len(results):<4d} "
              f"{100 * ok / len(results):5.1f}%")
    kinds: dict[str, int] = {}
    for why in diffs.values():
        kind = ("type only" if why.startswith("type ") else
                "fgform error" if why.startswith("fgform error") else
                "crash" if why.startswith("crash") else
                "rejection" if "Terraform rejects" in why else "value")
        kinds[kind] = kinds.get(kind, 0) + 1
    print("disagreements by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    if "-v" in argv:
        for ident, why in sorted(diffs.items()):
            print(f"{ident}: {why}")
    known = corpus.read_known_differences()
    print(f"known_differences.txt: {len(known)} entries")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
