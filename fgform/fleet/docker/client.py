"""Making the Docker engine connection that the drivers are given.

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


def docker_url() -> str:
    """The engine address: DOCKER_HOST when set, else the local socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def get_client() -> docker.DockerClient:
    """A new, pinged client. Raises DockerUnavailableError when the engine is down.

    The one place a client is made: build it once (at the CLI boundary) and hand it to the
    drivers; the SDK's client is thread-safe (one requests session with a connection pool),
    so the applier's threads share it.
    """
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
    return client


class LazyClient:
    """A client that connects (`get_client`) on first use, then stays connected.

    Built at the CLI boundary, so commands that never touch the fleet (validate, fmt, a plan
    of resources without Docker objects) run without an engine, and the first Docker call
    fails with DockerUnavailableError exactly where it did before.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: docker.DockerClient | None = None

    def connect(self) -> docker.DockerClient:
        """The real client, connecting on the first call."""
        with self._lock:
            if self._client is None:
                self._client = get_client()
            return self._client

    def __getattr__(self, name: str) -> object:
        return getattr(self.connect(), name)


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


class DockerDriver:
    """Base of the drivers that talk to the engine: each is built with its client."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
