"""Building and pushing images on the engine: fg_image's build, and fgform's own images (the
registry server, the load balancer proxy) built on first use.

The build context sent to the engine is made from `context_hash.context_files`, the same file
list `context_sha256` hashes, so the plan-time hash describes exactly what is built.
"""

from __future__ import annotations

import tarfile
import tempfile
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO

import docker
from docker.errors import APIError, ImageNotFound

from fgform.context_hash import context_files, dockerfile_location
from fgform.errors import FgformError
from fgform.fleet.docker import labels as L
from fgform.fleet.driver import FleetContext

TAIL_LINES = 30
# Contexts bigger than this are spooled to disk instead of memory while being sent.
_SPOOL_MAX = 32 << 20


def _context_archive(context: Path, dockerfile: str) -> tuple[IO[bytes], str]:
    """A tar of the context (the files the hash covers) and the Dockerfile's name in it.

    Owner and group are 0, as the docker CLI sends them, so the owner of the checkout does not
    leak into images.
    """
    files = context_files(context, dockerfile)
    _, df_arc = dockerfile_location(context, dockerfile)
    buf = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MAX)  # noqa: SIM115 - returned open
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for f in files:
            info = tar.gettarinfo(str(f.path), arcname=f.arcname)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isreg():
                with open(f.path, "rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
    buf.seek(0)
    return buf, df_arc


def _failure(lines: Iterable[str], error: str) -> str:
    """The message for a failed build: the failing step, then the last lines of output."""
    tail = list(lines)
    step = next((ln for ln in reversed(tail) if ln.startswith("Step ")), None)
    if step is not None:
        tail = tail[tail.index(step):] if step in tail else tail
    body = "\n".join(f"  {ln}" for ln in tail[-TAIL_LINES:])
    where = f" at {step}" if step else ""
    return f"image build failed{where}\n{body}\n{error.strip()}"


_builtin_lock = threading.Lock()


def ensure_builtin_image(client: docker.DockerClient, ctx: FleetContext, directory: Path,
                         tag: str, kind: str, what: str) -> str:
    """One of fgform's own images (the registry server, the load balancer proxy), built from
    `directory` when `tag` is missing. Shared by every lineage, so it carries only
    `fgform.managed` and its kind (test teardown by lineage does not rebuild it each time);
    the lock keeps parallel applies from building it twice."""
    with _builtin_lock:
        try:
            client.images.get(tag)
            return tag
        except ImageNotFound:
            pass
        ctx.log(f"building {what} image {tag}")
        build_image(client, ctx, directory, "Dockerfile", tag,
                    labels={L.MANAGED: "true", L.KIND: kind})
    return tag


def build_image(client: docker.DockerClient, ctx: FleetContext, context: str | Path,
                dockerfile: str, tag: str, *,
                build_args: Mapping[str, str] | None = None,
                labels: Mapping[str, str] | None = None) -> str:
    """Build `context` with the legacy builder and tag it; returns the image id.

    The log streams to `ctx.log`. On failure raises FgformError naming the failing step with
    the last lines of its output. `forcerm` because with `rm` alone a failed step leaves its
    stopped container behind.
    """
    archive, df_arc = _context_archive(Path(context), dockerfile)
    recent: deque[str] = deque(maxlen=200)  # enough to find the failing step's start
    last_step: str | None = None
    image_id: str | None = None
    try:
        stream = client.api.build(
            fileobj=archive, custom_context=True, dockerfile=df_arc, tag=tag,
            buildargs=dict(build_args or {}), labels=dict(labels or {}),
            rm=True, forcerm=True, decode=True,
        )
        # The engine sends a step's output in chunks as the process writes it, which do not
        # follow line ends ("ls: ", "cannot access 'x'", ": No such file"): keep the
        # unfinished line until its end arrives.
        partial = ""

        def take(line: str) -> None:
            nonlocal last_step
            line = line.rstrip()
            if not line:
                return
            if line.startswith("Step "):
                last_step = line
            recent.append(line)
            ctx.log(line)

        for item in stream:
            if "error" in item or "errorDetail" in item:
                if partial:
                    take(partial)
                    partial = ""
                msg = item.get("error") or (item.get("errorDetail") or {}).get("message", "")
                lines = list(recent)
                if last_step and last_step not in lines:
                    lines.insert(0, last_step)
                raise FgformError(_failure(lines, msg),
                                  hint="fix the Dockerfile or the build context")
            if "aux" in item and isinstance(item["aux"], dict) and "ID" in item["aux"]:
                image_id = item["aux"]["ID"]
            text = item.get("stream")
            if not text:
                continue
            text = (partial + text).replace("\r\n", "\n").replace("\r", "\n")
            *done, partial = text.split("\n")
            for line in done:
                take(line)
        if partial:
            take(partial)
    except APIError as exc:
        raise FgformError(f"image build failed: {exc.explanation or exc}") from exc
    finally:
        archive.close()
    if image_id is None:  # old engines only print "Successfully built"; ask for the tag
        image_id = client.images.get(tag).id
    return image_id


def push_image(client: docker.DockerClient, ctx: FleetContext, repository: str, tag: str
               ) -> str:
    """Push `repository:tag`; returns the manifest digest.

    The SDK's push never raises for a failed push: the failure is an `error` item in the
    stream, and the digest arrives as `aux.Digest`.
    """
    digest: str | None = None
    try:
        for item in client.api.push(repository, tag=tag, stream=True, decode=True):
            if "error" in item or "errorDetail" in item:
                msg = item.get("error") or (item.get("errorDetail") or {}).get("message", "")
                raise FgformError(f"push of {repository}:{tag} failed: {msg}")
            aux = item.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = aux["Digest"]
            elif item.get("status") and not item.get("progressDetail"):
                # Per-layer states ("Pushed", "Layer already exists"); progress bars skipped.
                ctx.log(" ".join(str(x) for x in (item.get("id"), item["status"]) if x))
    except APIError as exc:
        raise FgformError(f"push of {repository}:{tag} failed: {exc.explanation or exc}"
                          ) from exc
    if digest is None:
        raise FgformError(f"push of {repository}:{tag} reported no manifest digest")
    return digest
