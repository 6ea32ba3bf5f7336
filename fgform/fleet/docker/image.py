"""fg_image: build a context, tag it for a registry, push it, record the manifest digest.

The build context sent to the engine is made from `context_hash.context_files`, the same file
list `context_sha256` hashes, so the plan-time hash describes exactly what is built. Whether
to rebuild is the planner's decision (`update` happens when `context_sha256` or another
attribute changed); this driver always builds and pushes when called.
"""

from __future__ import annotations

from typing import Any

import docker
from docker.errors import APIError, ImageNotFound

from fgform.addresses import Address
from fgform.context_hash import context_sha256, resolve_context
from fgform.errors import FgformError
from fgform.fleet.docker import labels as L
from fgform.fleet.docker.build import build_image, push_image
from fgform.fleet.docker.client import DockerDriver
from fgform.fleet.docker.registry import endpoint_of
from fgform.fleet.docker.registry_http import MANIFEST_ACCEPT, registry_request
from fgform.fleet.driver import FleetContext

KIND = "image"


class ImageDriver(DockerDriver):
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
        endpoint = endpoint_of(self.client, ctx, planned["registry"])
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
        build_image(self.client, ctx, context, dockerfile, f"{ref}:{tag}",
                    build_args=planned.get("build_args") or {}, labels=labels)
        ctx.log(f"pushing {ref}:{tag}")
        try:
            digest = push_image(self.client, ctx, ref, tag)
        except FgformError:
            # Nothing records a tag that never reached the registry: drop it (the layers stay
            # in the build cache, so the retry builds in no time).
            _remove_local(self.client, f"{ref}:{tag}", quiet=True)
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
            _remove_local(self.client, prior["id"])
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
            _remove_local(self.client, prior["id"])
        # Earlier builds of this resource that a later build untagged (or that a killed apply
        # built but never recorded) are labelled with its address: they go with it. Run last
        # in a destroy (services go first), so no container uses them any more.
        try:
            leftovers = self.client.api.images(filters=L.label_filter(ctx, address=str(addr),
                                                                     kind=KIND))
        except APIError:
            leftovers = []
        for img in leftovers:
            for ref in img.get("RepoTags") or [img["Id"]]:
                if ref != "<none>:<none>":
                    _remove_local(self.client, ref, quiet=True)
            _remove_local(self.client, img["Id"], quiet=True)


def _endpoint(attrs: dict[str, Any]) -> str | None:
    """host:port of the registry an image was pushed to, from its recorded uri."""
    uri = attrs.get("uri")
    return uri.split("/", 1)[0] if isinstance(uri, str) and "/" in uri else None


def _remove_local(client: docker.DockerClient, ref: str, quiet: bool = False) -> None:
    """Drop a local tag; the image itself goes when no tag is left (and no container uses it).

    `quiet`: best effort, never raise (clean-up after another failure)."""
    try:
        client.images.remove(ref)
    except ImageNotFound:
        pass
    except APIError as exc:
        if exc.status_code != 409 and not quiet:
            raise
        # 409: a container still uses it; the tag is harmless and the image must stay.


def _config(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: attrs.get(k) for k in ("registry", "repository", "tag", "context", "dockerfile",
                                      "build_args")}

