"""The API server's HTTP side: a plain ASGI application around `protocol.Pipeline`, and
running it under uvicorn on a socket fgform binds itself (so "address in use" is a clear
error and port 0 gives a real port to print), with TLS when a certificate is given and a
graceful shutdown on SIGTERM/SIGINT: stop accepting, finish the requests in flight, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from fgform.api.limits import BodyTooLarge
from fgform.api.protocol import Pipeline, Request
from fgform.errors import FgformError

# How long a shutdown waits for requests in flight (a RunTask or a rolling UpdateService
# may take a while) before it cancels them.
GRACEFUL_SHUTDOWN_SECONDS = 120
# How long closing a TLS connection waits for the client's close_notify. asyncio's default
# (30 s) made every shutdown wait 30 s whenever a client (a long-lived boto3 client's pool)
# held an idle keep-alive connection it was not reading: the server had nothing left to say.
SSL_SHUTDOWN_SECONDS = 5.0


class _Loop(asyncio.SelectorEventLoop):
    """asyncio's loop, with TLS listeners that give up on a silent peer's close_notify
    after SSL_SHUTDOWN_SECONDS."""

    async def create_server(self, *args: Any, **kwargs: Any) -> asyncio.Server:  # type: ignore[override]
        if kwargs.get("ssl") is not None:
            kwargs.setdefault("ssl_shutdown_timeout", SSL_SHUTDOWN_SECONDS)
        return await super().create_server(*args, **kwargs)


class AsgiApp:
    """The ASGI application: every HTTP request goes through the pipeline."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any],
                       send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            return  # lifespan is off; websockets are not spoken
        headers: dict[str, str] = {}
        for name, value in scope.get("headers") or []:
            k = name.decode("latin-1").lower()
            v = value.decode("latin-1")
            headers[k] = f"{headers[k]},{v}" if k in headers else v
        client = scope.get("client")
        source = f"{client[0]}:{client[1]}" if client else None
        query = scope.get("query_string", b"").decode("latin-1")
        req = Request(method=scope["method"], path=scope["path"], query=query,
                      headers=headers, source=source)

        async def read_body(limit: int) -> bytes:
            chunks: list[bytes] = []
            size = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    break
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(limit)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            return b"".join(chunks)

        response = await self.pipeline.handle(req, read_body)
        await send({"type": "http.response.start", "status": response.status,
                    "headers": [(k.encode("latin-1"), v.encode("latin-1"))
                                for k, v in response.headers]})
        await send({"type": "http.response.body", "body": response.body})


@dataclass(frozen=True)
class Listen:
    """Where to listen: a host (an IP address or a name) and a port (0: any free one)."""

    host: str
    port: int

    @property
    def loopback(self) -> bool:
        """Whether only this machine can connect (127.0.0.0/8, ::1, localhost)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_listen(text: str) -> Listen:
    """`HOST:PORT`, `[IPV6]:PORT` or `:PORT` (all addresses); ValueError if not one."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(text)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        host = "0.0.0.0"
    return Listen(host, int(port))


def bind(listen: Listen) -> socket.socket:
    """A listening socket at `listen` (FgformError when the address cannot be had)."""
    try:
        infos = socket.getaddrinfo(listen.host, listen.port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise FgformError(f"cannot listen on {listen.host}:{listen.port}: "
                          f"{exc.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise FgformError(f"cannot listen on {_format(listen.host, listen.port)}: "
                          f"{exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def _format(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _Server(uvicorn.Server):
    """uvicorn's server, saying when it listens, and ending with exit status 0 on SIGTERM
    or SIGINT (uvicorn raises the signal again once it has shut down, which would end the
    process with the signal's status)."""

    def __init__(self, config: uvicorn.Config, on_listening: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_listening = on_listening

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        signals = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in signals}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        # Always asyncio's own loop (`_Loop`), whatever uvicorn would pick (uvloop when it
        # is installed): one behaviour to test.
        with asyncio.Runner(loop_factory=_Loop) as runner:
            runner.run(self.serve(sockets=sockets))

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            self._on_listening()


def serve(pipeline: Pipeline, listen: Listen, *, tls_cert: str | None = None,
          tls_key: str | None = None,
          on_listening: Callable[[str], None] = lambda url: None) -> None:
    """Serve the pipeline at `listen` until SIGTERM/SIGINT, then finish the requests in
    flight and return. `on_listening(url)` is called once the server accepts requests
    (with the real port when `listen.port` is 0). Startup errors raise FgformError."""
    sock = bind(listen)
    try:
        config = uvicorn.Config(
            AsgiApp(pipeline), lifespan="off", access_log=False, log_config=None,
            log_level="warning", server_header=False, date_header=True,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            ssl_certfile=tls_cert, ssl_keyfile=tls_key)
        try:
            config.load()
        except (OSError, ssl.SSLError) as exc:
            raise FgformError(f"cannot use the TLS certificate {tls_cert} and key "
                              f"{tls_key}: {getattr(exc, 'strerror', None) or exc}") from None
        host, port = sock.getsockname()[:2]
        scheme = "https" if tls_cert else "http"
        url = f"{scheme}://{_format(host, port)}"
        server = _Server(config, lambda: on_listening(url))
        server.run(sockets=[sock])
    finally:
        sock.close()
