"""fg_image: build a context, tag it for a registry, push it, record the manifest digest.

The build context sent to the engine is made from `context_hash.context_files`, the same file
list `context_sha256` hashes, so the plan-time hash describes exactly what is built. Whether
to rebuild is the planner's decision (`update` happens when `context_sha256` or another
attribute changed); this driver always builds and pushes when called.
"""

from __future__ import annotations

import tarfile
import tempfile
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from docker.errors import APIError, ImageNotFound

from fgform.addresses import Address
from fgform.errors import FgformError
from fgform.fleet.context_hash import (
    context_files,
    context_sha256,
    dockerfile_location,
    resolve_context,
)
from fgform.fleet.docker import labels as L
from fgform.fleet.docker.client import get_client
from fgform.fleet.docker.registry import MANIFEST_ACCEPT, endpoint_of, registry_request
from fgform.fleet.driver import FleetContext

KIND = "image"
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


def ensure_builtin_image(ctx: FleetContext, directory: Path, tag: str, kind: str,
                         what: str) -> str:
    """One of fgform's own images (the registry server, the load balancer proxy), built from
    `directory` when `tag` is missing. Shared by every lineage, so it carries only
    `fgform.managed` and its kind (test teardown by lineage does not rebuild it each time);
    the lock keeps parallel applies from building it twice."""
    client = get_client()
    with _builtin_lock:
        try:
            client.images.get(tag)
            return tag
        except ImageNotFound:
            pass
        ctx.log(f"building {what} image {tag}")
        build_image(ctx, directory, "Dockerfile", tag,
                    labels={L.MANAGED: "true", L.KIND: kind})
    return tag


def build_image(ctx: FleetContext, context: str | Path, dockerfile: str, tag: str, *,
                build_args: Mapping[str, str] | None = None,
                labels: Mapping[str, str] | None = None) -> str:
    """Build `context` with the legacy builder and tag it; returns the image id.

    The log streams to `ctx.log`. On failure raises FgformError naming the failing step with
    the last lines of its output. `forcerm` because with `rm` alone a failed step leaves its
    stopped container behind.
    """
    client = get_client()
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


def push_image(ctx: FleetContext, repository: str, tag: str) -> str:
    """Push `repository:tag`; returns the manifest digest.

    The SDK's push never raises for a failed push: the failure is an `error` item in the
    stream, and the digest arrives as `aux.Digest`.
    """
    digest: str | None = None
    try:
        for item in get_client().api.push(repository, tag=tag, stream=True, decode=True):
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


class ImageDriver:
    """Builds, pushes, and removes images; live state is the registry's manifest."""

    type_name = "fg_image"

    def read(self, ctx: FleetContext, items: dict[Address, dict[str, Any]]
             ) -> dict[Address, dict[str, Any] | None]:
        # The live object is a manifest in a registry: one HEAD request per image (there is no
        # list call for "manifests by digest"); no Docker call at all.
        out: dict[Address, dict[str, Any] | None] = {}
        for addr, prior in items.items():
            endpoint, repo, digest = _endpoint(prior), prior.get("repository"), prior.get("digest")
            if not (endpoint and repo and digest):
                out[addr] = None
                continue
            try:
                status, _ = registry_request(endpoint, "HEAD", f"/v2/{repo}/manifests/{digest}",
                                             accept=MANIFEST_ACCEPT)
            except OSError:
                # Nothing listens there: the registry and everything in it is gone.
                out[addr] = None
                continue
            if status == 200:
                out[addr] = dict(prior)
            elif status == 404:
                out[addr] = None
            else:
                raise FgformError(f"registry {endpoint} answered {status} for {repo}@{digest}")
        return out

    def create(self, ctx: FleetContext, addr: Address, planned: dict[str, Any]
               ) -> dict[str, Any]:
        endpoint = endpoint_of(ctx, planned["registry"])
        repo, tag = planned["repository"], planned.get("tag") or "latest"
        dockerfile = planned.get("dockerfile") or "Dockerfile"
        context = resolve_context(planned["context"], ctx.config_dir)
        # Hash before building: what is recorded is what was sent (a file edited during the
        # build shows up as a change in the next plan, not silently).
        sha = context_sha256(context, dockerfile)
        ref = f"{endpoint}/{repo}"
        labels = L.base_labels(ctx, addr, attrs=_config(planned), kind=KIND,
                               **{"fgform.context-sha256": sha})
        ctx.log(f"building {ref}:{tag}")
        build_image(ctx, context, dockerfile, f"{ref}:{tag}",
                    build_args=planned.get("build_args") or {}, labels=labels)
        ctx.log(f"pushing {ref}:{tag}")
        try:
            digest = push_image(ctx, ref, tag)
        except FgformError:
            # Nothing records a tag that never reached the registry: drop it (the layers stay
            # in the build cache, so the retry builds in no time).
            _remove_local(f"{ref}:{tag}", quiet=True)
            raise
        return {**planned, "tag": tag, "dockerfile": dockerfile, "id": f"{ref}:{tag}",
                "context_sha256": sha, "digest": digest, "uri": f"{ref}@{digest}"}

    def update(self, ctx: FleetContext, addr: Address, prior: dict[str, Any],
               planned: dict[str, Any]) -> dict[str, Any]:
        new = self.create(ctx, addr, planned)
        # The old manifest stays in the registry: INACTIVE task definition revisions (and a
        # deployment's rollback) still run it by digest. Only a local tag that no longer names
        # this resource is dropped.
        if prior.get("id") and prior["id"] != new["id"]:
            _remove_local(prior["id"])
        return new

    def delete(self, ctx: FleetContext, addr: Address, prior: dict[str, Any], *,
               replacing: bool) -> None:
        endpoint, repo, digest = _endpoint(prior), prior.get("repository"), prior.get("digest")
        if endpoint and repo and digest:
            try:
                status, _ = registry_request(endpoint, "DELETE",
                                             f"/v2/{repo}/manifests/{digest}")
                if status not in (202, 404):
                    raise FgformError(f"registry {endpoint} refused to delete {repo}@{digest} "
                                      f"(HTTP {status})")
            except OSError:
                ctx.log(f"registry {endpoint} is not reachable; nothing to delete there")
        if prior.get("id"):
            _remove_local(prior["id"])
        # Earlier builds of this resource that a later build untagged (or that a killed apply
        # built but never recorded) are labelled with its address: they go with it. Run last
        # in a destroy (services go first), so no container uses them any more.
        try:
            leftovers = get_client().api.images(filters=L.label_filter(ctx, address=str(addr),
                                                                       kind=KIND))
        except APIError:
            leftovers = []
        for img in leftovers:
            for ref in img.get("RepoTags") or [img["Id"]]:
                if ref != "<none>:<none>":
                    _remove_local(ref, quiet=True)
            _remove_local(img["Id"], quiet=True)


def _endpoint(attrs: dict[str, Any]) -> str | None:
    """host:port of the registry an image was pushed to, from its recorded uri."""
    uri = attrs.get("uri")
    return uri.split("/", 1)[0] if isinstance(uri, str) and "/" in uri else None


def _remove_local(ref: str, quiet: bool = False) -> None:
    """Drop a local tag; the image itself goes when no tag is left (and no container uses it).

    `quiet`: best effort, never raise (clean-up after another failure)."""
    try:
        get_client().images.remove(ref)
    except ImageNotFound:
        pass
    except APIError as exc:
        if exc.status_code != 409 and not quiet:
            raise
        # 409: a container still uses it; the tag is harmless and the image must stay.


def _config(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: attrs.get(k) for k in ("registry", "repository", "tag", "context", "dockerfile",
                                      "build_args")}


DRIVER = ImageDriver()
