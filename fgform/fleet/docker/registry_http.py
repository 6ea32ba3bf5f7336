"""Talking to a registry over HTTP: the endpoint clients push to, and one request to its API.

No Docker here: both the registry driver (readiness) and the image driver (manifests) use it.
"""

from __future__ import annotations

import ipaddress
import urllib.error
import urllib.request

# Every manifest kind a pushed image may have; without an Accept header the registry answers
# HEAD/GET for schema-2 manifests with a converted schema-1 one (another digest) or 404.
MANIFEST_ACCEPT = ", ".join((
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
))


def endpoint_for(bind_address: str, port: int) -> str:
    """host:port clients push to. A wildcard bind is reached on loopback, which the engine
    also trusts as an insecure (plain HTTP) registry without configuration."""
    ip = ipaddress.ip_address(bind_address)
    if ip.is_unspecified:
        return f"127.0.0.1:{port}"
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def registry_request(endpoint: str, method: str, path: str, *, accept: str | None = None,
                     timeout: float = 10.0) -> tuple[int, dict[str, str]]:
    """One HTTP request to a registry; returns (status, headers). Never raises on 4xx/5xx.

    Raises OSError (URLError) when nothing listens at `endpoint`.
    """
    req = urllib.request.Request(f"http://{endpoint}{path}", method=method)
    if accept:
        req.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
            return resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers or {})
