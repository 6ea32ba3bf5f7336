"""Docker label filters the integration tests' teardown uses (fgform itself always filters
by lineage and kind: `fgform.fleet.docker.labels.label_filter`)."""

from __future__ import annotations

from fgform.fleet.docker.labels import LINEAGE, MANAGED


def lineage_filter(lineage: str) -> dict[str, list[str]]:
    """Everything one lineage owns, whatever its kind."""
    return {"label": [f"{MANAGED}=true", f"{LINEAGE}={lineage}"]}
