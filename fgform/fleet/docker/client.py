"""The one Docker engine connection every driver shares.

Only `fgform/fleet/docker/` imports the Docker SDK; the rest of fgform sees plain data.
"""

from __future__ import annotations

import os
import threading

import docker
from docker.errors import DockerException

from fgform.errors import DockerUnavailableError

# The engine from Debian's docker.io is 20.10 (API 1.41). Pinning the version avoids the
# SDK's version negotiation round trip and makes a newer client library talk the engine's
# dialect; DOCKER_API_VERSION overrides it for a newer engine.
DEFAULT_API_VERSION = "1.41"
DEFAULT_SOCKET = "unix:///var/run/docker.sock"

_lock = threading.Lock()
_client: docker.DockerClient | None = None


def docker_url() -> str:
    """The engine address: DOCKER_HOST when set, else the local socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def get_client() -> docker.DockerClient:
    """A cached, pinged client. Raises DockerUnavailableError when the engine is down.

    Cached because the applier calls drivers from several threads; the SDK's client is
    thread-safe (one requests session with a connection pool).
    """
    global _client
    with _lock:
        if _client is not None:
            return _client
        url = docker_url()
        try:
            client = docker.DockerClient(
                base_url=url,
                version=os.environ.get("DOCKER_API_VERSION") or DEFAULT_API_VERSION,
                timeout=int(os.environ.get("FGFORM_DOCKER_TIMEOUT", "300")),
                # Big enough for the applier's parallel walk plus streamed builds.
                max_pool_size=32,
            )
            client.ping()
        except (DockerException, OSError) as exc:
            raise DockerUnavailableError(
                f"Cannot reach the Docker engine at {url}: {_reason(exc)}",
                hint="Start the engine (run scripts/setup.sh as root), or point DOCKER_HOST "
                     "at a running one.",
            ) from exc
        _client = client
        return client


def _reason(exc: BaseException) -> str:
    """The innermost cause in words: "No such file or directory", "Connection refused"."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    best = str(exc)
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.strerror:
            best = cur.strerror
        for arg in getattr(cur, "args", ()):
            if isinstance(arg, BaseException):
                if isinstance(arg, OSError) and arg.strerror:
                    best = arg.strerror
                cur = arg
                break
        else:
            cur = cur.__cause__ or cur.__context__
    return best


def reset_client() -> None:
    """Forget the cached client (tests; after the engine restarted)."""
    global _client
    with _lock:
        if _client is not None:
            try:
                _client.close()
            except Exception:  # noqa: BLE001 - closing a dead connection must not fail
                pass
        _client = None
