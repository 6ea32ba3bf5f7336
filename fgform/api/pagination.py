"""ECS's pagination for List* actions: `maxResults` items at most, and an opaque
`nextToken` to continue after the last one returned (absent on the last page)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fgform.api.errors import invalid_parameter

T = TypeVar("T")


def max_results(params: dict[str, Any], *, default: int = 100, limit: int = 100) -> int:
    """`maxResults` (1..limit, `default` when absent); InvalidParameterException otherwise."""
    value = params.get("maxResults")
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        raise invalid_parameter(f"maxResults must be between 1 and {limit}.")
    return value


def _encode(action: str, key: list[Any]) -> str:
    raw = json.dumps({"a": action, "k": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(action: str, token: Any) -> list[Any]:
    if not isinstance(token, str) or not token:
        raise invalid_parameter("Invalid nextToken.")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise invalid_parameter("Invalid nextToken.") from None
    if not isinstance(data, dict) or data.get("a") != action or \
            not isinstance(data.get("k"), list):
        raise invalid_parameter("Invalid nextToken.")
    return data["k"]


def paginate(items: Sequence[T], params: dict[str, Any], *, action: str,
             key: Callable[[T], list[Any]], reverse: bool = False, default: int = 100,
             limit: int = 100) -> tuple[list[T], str | None]:
    """One page of `items` (sorted here by `key`, descending with `reverse`) after the
    request's `nextToken`, and the token of the next page (None on the last).

    The token names the last item returned (its key), not a position: items registered or
    removed between two calls neither repeat nor go missing among those left. A token is
    bound to its action (one of ListClusters is no token for ListTaskDefinitions)."""
    size = max_results(params, default=default, limit=limit)
    ordered = sorted(items, key=key, reverse=reverse)
    token = params.get("nextToken")
    if token is not None:
        after = _decode(action, token)
        try:
            ordered = [i for i in ordered if (key(i) < after if reverse else key(i) > after)]
        except TypeError:  # a token made by hand, with keys of other types
            raise invalid_parameter("Invalid nextToken.") from None
    page = ordered[:size]
    more = len(ordered) > size
    return page, (_encode(action, key(page[-1])) if more and page else None)
