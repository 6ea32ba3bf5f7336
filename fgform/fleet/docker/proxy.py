"""Talking to a running HAProxy container: commands on its master and runtime (admin)
sockets through `docker exec`, `show stat` parsing, and installing a configuration with a
hitless reload.

Below the load balancer driver, target registration and `fgform lb status`, which all use it.
"""

from __future__ import annotations

import io
import re
import tarfile
import time
from pathlib import Path
from typing import Any

from fgform.errors import FgformError
from fgform.fleet.haproxy import ADMIN_SOCKET, MASTER_SOCKET

CONFIG_PATH = "/etc/haproxy/haproxy.cfg"
NEXT_CONFIG_PATH = "/etc/haproxy/fgform/next.cfg"
READY_TIMEOUT = 20.0


def socket_command(container: Any, sock: str, command: str, timeout: int = 5) -> str:
    """One command on a socket inside the container; its answer. The command travels in the
    environment, never through a shell's parser."""
    return socket_commands(container, sock, [command], timeout)[0]


# Ends each command's answer in a batch: a byte HAProxy's answers never hold, and the exit
# code of that command's socat.
_END = "\x1efgform-end:"


def socket_commands(container: Any, sock: str, commands: list[str], timeout: int = 5
                    ) -> list[str]:
    """Several commands on a socket inside the container, in order, each on its own
    connection but all in one `docker exec` (an exec costs far more than a connection
    inside the container); their answers, in the same order. Each command travels in the
    environment, never through a shell's parser. A command the socket did not answer
    raises FgformError; what an answer says is for the caller to check."""
    if not commands:
        return []
    env = {f"FGFORM_CMD_{i}": c for i, c in enumerate(commands)}
    script = ('i=0; while [ "$i" -lt ' + str(len(commands)) + ' ]; do '
              'eval "c=\\$FGFORM_CMD_$i"; '
              f'printf "%s\\n" "$c" | socat -t {timeout} - UNIX-CONNECT:{sock}; '
              f'printf "{_END}%d\\n" "$?"; i=$((i + 1)); done')
    code, out = container.exec_run(["sh", "-c", script], environment=env, user="root")
    text = out.decode(errors="replace")
    parts = text.split(_END)
    answers: list[str] = []
    for i, command in enumerate(commands):
        # parts[i]: the previous command's exit code line, then this command's answer.
        answer = parts[i].partition("\n")[2] if i else parts[i]
        rc_line = parts[i + 1].partition("\n")[0] if i + 1 < len(parts) else ""
        if code != 0 or rc_line != "0":
            raise FgformError(f"the proxy's socket {sock} did not answer {command!r}: "
                              f"{answer.strip() or text.strip()}")
        answers.append(answer)
    return answers


def reload_counts(container: Any) -> tuple[int, int]:
    """(reloads, failed reloads) from the master's `show proc`."""
    text = socket_command(container, MASTER_SOCKET, "show proc")
    m = re.search(r"^\d+\s+master\s+(\d+)\s+\[failed:\s*(\d+)\]", text, re.M)
    if m is None:
        raise FgformError(f"unexpected answer from the proxy's master: {text.strip()[:200]}")
    return int(m.group(1)), int(m.group(2))


def _put_file(container: Any, path: str, text: str) -> None:
    data = text.encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(Path(path).name)
        info.size, info.mode, info.mtime = len(data), 0o644, 0
        tar.addfile(info, io.BytesIO(data))
    container.put_archive(str(Path(path).parent), buf.getvalue())


def apply_config(container: Any, text: str, *, timeout: float = READY_TIMEOUT) -> bool:
    """Check `text` with `haproxy -c`, make it the live configuration and reload (hitless).
    Returns False when it equals the live one (nothing done). A configuration HAProxy
    rejects raises FgformError with HAProxy's message; the old one keeps serving."""
    code, live = container.exec_run(["cat", CONFIG_PATH])
    if code == 0 and live.decode(errors="replace") == text:
        return False
    _put_file(container, NEXT_CONFIG_PATH, text)
    code, out = container.exec_run(["haproxy", "-c", "-f", NEXT_CONFIG_PATH])
    if code != 0:
        # HAProxy's own lines, without its process-id prefix.
        lines = [re.sub(r"^\[(ALERT|WARNING)\]\s+\(\d+\)\s+:\s+", r"\1: ", ln)
                 for ln in out.decode(errors="replace").splitlines()
                 if "[ALERT]" in ln or "[WARNING]" in ln]
        raise FgformError("the proxy refused the new configuration (the old one keeps "
                          "serving):\n" + "\n".join(lines or [out.decode(errors="replace")]))
    before = reload_counts(container)
    code, out = container.exec_run(["mv", NEXT_CONFIG_PATH, CONFIG_PATH])
    if code != 0:
        raise FgformError(f"cannot install the proxy configuration: {out.decode().strip()}")
    # The master closes the connection as it re-executes: no answer to wait for.
    container.exec_run(["sh", "-c", f"echo reload | socat -t 1 - UNIX-CONNECT:{MASTER_SOCKET}"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            now = reload_counts(container)
        except FgformError:
            now = before  # the master is re-executing
        if now[1] > before[1]:
            raise FgformError("the proxy failed to reload its configuration; the old one "
                              "keeps serving:\n" + _tail_logs(container))
        if now[0] > before[0]:
            return True
        time.sleep(0.05)
    raise FgformError("the proxy did not reload within "
                      f"{timeout:.0f} s:\n" + _tail_logs(container))


def _tail_logs(container: Any) -> str:
    return container.logs(tail=20).decode(errors="replace")


def wait_master(container: Any) -> None:
    """Until the master answers on its socket; fails early with the logs when the proxy
    exits."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        container.reload()
        if container.status not in ("created", "running"):
            raise FgformError(f"the proxy exited ({container.status}):\n"
                              + _tail_logs(container))
        try:
            reload_counts(container)
            return
        except FgformError:
            time.sleep(0.05)
    raise FgformError("the proxy's master did not answer within "
                      f"{READY_TIMEOUT:.0f} s:\n" + _tail_logs(container))


def runtime(container: Any, command: str) -> str:
    """One runtime API command on the proxy's admin socket (inside the container)."""
    return runtime_all(container, [command])[0]


def runtime_all(container: Any, commands: list[str]) -> list[str]:
    """Several runtime API commands in order, in one `docker exec`; their answers."""
    return socket_commands(container, ADMIN_SOCKET, commands)


def parse_stat(text: str) -> dict[tuple[str, str], dict[str, str]]:
    """`show stat` CSV as {(proxy, server): {column: value}}."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or not lines[0].startswith("# "):
        return {}
    header = lines[0][2:].split(",")
    out = {}
    for line in lines[1:]:
        row = dict(zip(header, line.split(","), strict=False))
        out[(row.get("pxname", ""), row.get("svname", ""))] = row
    return out
