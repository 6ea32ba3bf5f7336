"""The service scheduler's bookkeeping: which results of a reconcile pass may go to state.

A pass (`fgform reconcile`) reads the state without the state lock, acts on the fleet under
the fleet lock (`fgform.state.lock`), and takes the state lock only to write each service's
reconciled record, re-reading the state first. What it learnt is written only where nobody
else wrote meanwhile: a service whose record changed since the pass read it (an apply that
ran before the pass could write, `state rm`, `state mv`) was changed by another operation,
and the next pass works from that operation's record instead.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fgform.addresses import Address
from fgform.state.model import StateFile


def record_reconciled(began: StateFile, current: StateFile | None, addr: Address,
                      after: dict[str, Any]) -> str | None:
    """Put `after`, the reconciled attributes of `addr`, into `current` (the state on disk
    now) if the service's record there is still the one in `began` (the state the pass
    started from); return None when it did, else why not."""
    if current is None:
        return "the state file is gone"
    if current.lineage != began.lineage:
        return "the state file now belongs to another lineage"
    then, now = began.get(addr), current.get(addr)
    if now is None:
        return "it was removed from the state meanwhile"
    if then is None or now != then:
        return "another operation changed it meanwhile"
    current.set(addr, dataclasses.replace(now, attributes=after))
    return None
