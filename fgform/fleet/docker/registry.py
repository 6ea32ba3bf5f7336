"""fg_registry: a Distribution registry server in a container (the fleet's ECR).

- The server image `fgform/registry:<ver>` is built from `images/registry/` on first use
  (`<ver>` is the content hash of that directory, so editing the Dockerfile or config builds a
  new image); the `image` attribute overrides it.
- Storage is the named volume `fgform-registry-<lineage8>-<name>`. It outlives replacement of
  the container (a port change keeps every pushed image). `delete()` removes the volume
  unless `replacing`: the applier says so for the delete half of a replacement, and not for
  a plain delete (destroy, or the resource left the configuration).
- `id` is the container name, the same as the volume name: stable across replacement, so
  fg_image (whose `registry` forces a replacement) is not replaced when the registry is.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, NotFound

from fgform.addresses import Address
from fgform.context_hash import context_sha256
from fgform.errors import FgformError
from fgform.fleet.docker import labels as L
from fgform.fleet.docker.build import ensure_builtin_image
from fgform.fleet.docker.client import DockerDriver
from fgform.fleet.docker.registry_http import endpoint_for, registry_request
from fgform.fleet.driver import FleetContext

KIND = "registry"
IMAGE_DIR = Path(__file__).parent / "images" / "registry"
IMAGE_REPO = "fgform/registry"
CONTAINER_PORT = 5000
DATA_DIR = "/var/lib/docker-registry"
READY_TIMEOUT = 30.0


def object_name(ctx: FleetContext, addr: Address | str) -> str:
    """`fgform-registry-<lineage8>-<name>`: the container's and the volume's name.

    The address is folded into Docker's name alphabet so module paths and keys fit.
    """
    slug = re.sub(r"[^a-zA-Z0-9_.-]+", "-", _addr_name(addr)).strip("-.") or "registry"
    return f"fgform-registry-{ctx.lineage[:8]}-{slug}"


def _addr_name(addr: Address | str) -> str:
    """The address without the resource type: `main`, `module.m.main["a"]`."""
    if isinstance(addr, Address):
        return str(addr).replace(f"{addr.type}.", "", 1)
    return str(addr).replace("fg_registry.", "", 1)


def endpoint_of(client: docker.DockerClient, ctx: FleetContext, registry_id: str) -> str:
    """The endpoint of the registry whose `id` is `registry_id`.

    From `ctx.resources` when the registry is in this run or state; else from the container's
    published port (a registry managed elsewhere, or by another state).
    """
    for attrs in ctx.resources.values():
        if (isinstance(attrs, dict) and attrs.get("id") == registry_id
                and isinstance(attrs.get("endpoint"), str) and "volume" in attrs):
            return attrs["endpoint"]
    try:
        container = client.containers.get(registry_id)
    except NotFound as exc:
        raise FgformError(f"registry {registry_id!r} does not exist",
                          hint="reference an fg_registry's id (fg_registry.NAME.id)") from exc
    binding = _binding(container.attrs)
    if binding is None:
        raise FgformError(f"registry container {registry_id!r} publishes no port")
    return endpoint_for(*binding)


def _binding(attrs: dict[str, Any]) -> tuple[str, int] | None:
    """(bind_address, port) published for the registry port, from a container's attrs."""
    bindings = (attrs.get("HostConfig") or {}).get("PortBindings") or {}
    for b in bindings.get(f"{CONTAINER_PORT}/tcp") or []:
        return (b.get("HostIp") or "0.0.0.0", int(b["HostPort"]))
    return None


def server_image_tag() -> str:
    """`fgform/registry:<ver>`: versioned by the content of the image directory."""
    return f"{IMAGE_REPO}:{context_sha256(IMAGE_DIR)[:12]}"


def ensure_server_image(client: docker.DockerClient, ctx: FleetContext) -> str:
    """The built-in registry server image, built when missing."""
    return ensure_builtin_image(client, ctx, IMAGE_DIR, server_image_tag(), KIND,
                                "registry server")


class RegistryDriver(DockerDriver):
    """A registry container with a named data volume, healthy before create returns."""

    type_name = "fg_registry"

    def read(self, ctx: FleetContext, items: dict[Address, dict[str, Any]]
             ) -> dict[Address, dict[str, Any] | None]:
        client = self.client
        # One list call per object kind. The containers' is unfiltered: it also finds, by
        # name, the registries an `import` adopted (labelled otherwise, or not at all).
        every = client.api.containers(all=True)
        containers = {}
        by_name = {}
        for c in every:
            labels = c.get("Labels") or {}
            if (labels.get(L.MANAGED) == "true" and labels.get(L.LINEAGE) == ctx.lineage
                    and labels.get(L.KIND) == KIND):
                containers[labels.get(L.ADDRESS)] = c
            for n in c.get("Names") or []:
                by_name[n.lstrip("/")] = c
        volumes = {v.name for v in client.volumes.list(filters=L.label_filter(ctx, kind=KIND))}
        out: dict[Address, dict[str, Any] | None] = {}
        for addr, prior in items.items():
            c = containers.get(str(addr))
            if c is None and prior.get("id"):
                c = by_name.get(str(prior["id"]))
                if c is not None and (c.get("Labels") or {}).get(L.LINEAGE) == ctx.lineage:
                    c = None  # this state's own: only an import adopts another's
                if c is not None:
                    # An imported registry: as state says, but for what stopped or went.
                    out[addr] = dict(prior) if c.get("State") == "running" else None
                    continue
            # A stopped registry serves nothing: report it gone so the plan recreates it
            # (create reuses the volume, so no data is lost).
            if c is None or c.get("State") != "running":
                out[addr] = None
                continue
            live = dict(prior)
            # A container labelled with the hash of the configuration in state was made from
            # it: its port and image are what state says (Docker's own spelling of them, such
            # as an image listed by id once its tag moved, is no drift). Any other container
            # under this address shows its real port and image, so the plan replaces it.
            if not L.made_from(c.get("Labels"), _config(prior)):
                for p in c.get("Ports") or []:
                    if p.get("PrivatePort") == CONTAINER_PORT and p.get("PublicPort"):
                        live["bind_address"] = p.get("IP") or "0.0.0.0"
                        live["port"] = p["PublicPort"]
                        live["endpoint"] = endpoint_for(live["bind_address"], live["port"])
                        break
                if prior.get("image"):  # only a user-chosen image is an attribute to compare
                    live["image"] = c.get("Image")
            live["id"] = (c.get("Names") or ["/" + str(prior.get("id"))])[0].lstrip("/")
            vol = object_name(ctx, addr)
            live["volume"] = vol if vol in volumes else None
            out[addr] = live
        return out

    def import_object(self, ctx: FleetContext, addr: Address, ident: str
                      ) -> dict[str, Any] | None:
        """The attributes of an existing registry container named (or with the id) `ident`,
        made by fgform (any state) or not: its published port for 5000/tcp, its image
        (null for fgform's built-in server image) and its data volume."""
        try:
            c = self.client.api.inspect_container(ident)
        except NotFound:
            return None
        labels = c.get("Config", {}).get("Labels") or {}
        if labels.get(L.LINEAGE) == ctx.lineage and labels.get(L.ADDRESS) != str(addr):
            raise FgformError(f"container {ident} is already managed by "
                              f"{labels.get(L.ADDRESS)} in this state")
        binding = _binding(c)
        if binding is None:
            raise FgformError(f"container {ident} publishes no port for {CONTAINER_PORT}/tcp, "
                              "so it cannot be a registry",
                              hint="import a container that serves the registry API on port "
                                   f"{CONTAINER_PORT}")
        image = str((c.get("Config") or {}).get("Image") or "")
        volume = next((m.get("Name") for m in c.get("Mounts") or []
                       if m.get("Type") == "volume" and m.get("Name")), None)
        name = str(c.get("Name") or ident).lstrip("/")
        return {"port": binding[1], "bind_address": binding[0],
                "image": None if image.startswith(IMAGE_REPO + ":") else image,
                "id": name, "endpoint": endpoint_for(*binding), "volume": volume}

    def create(self, ctx: FleetContext, addr: Address, planned: dict[str, Any]
               ) -> dict[str, Any]:
        client = self.client
        name = object_name(ctx, addr)
        bind, port = str(planned.get("bind_address") or "127.0.0.1"), int(planned.get("port")
                                                                          or 5000)
        image = planned.get("image") or ensure_server_image(client, ctx)
        # The hash of the attributes as returned (and so stored in state), which read compares.
        labels = L.base_labels(ctx, addr, kind=KIND, attrs=_config(
            {"port": port, "bind_address": bind, "image": planned.get("image")}))

        new_volume = False
        try:
            client.volumes.get(name)
            ctx.log(f"reusing registry volume {name}")
        except NotFound:
            client.volumes.create(name, labels=L.base_labels(ctx, addr, kind=KIND))
            new_volume = True
        try:
            self._remove_leftover(client, ctx, name)
            container = client.containers.create(
                image, name=name, detach=True, labels=labels,
                ports={f"{CONTAINER_PORT}/tcp": (bind, port)},
                volumes={name: {"bind": DATA_DIR, "mode": "rw"}},
                # Comes back after an engine restart, like a managed service would.
                restart_policy={"Name": "unless-stopped"},
                init=True,  # stop() returns at once instead of waiting out SIGTERM
            )
        except BaseException:
            if new_volume:
                self._remove_volume(client, name)
            raise
        try:
            container.start()
        except APIError as exc:
            # A failed start (port clash) leaves the container `created`: never leave it, nor
            # a volume made for it (nothing in state would ever name it again).
            container.remove(force=True)
            if new_volume:
                self._remove_volume(client, name)
            text = str(exc.explanation or exc)
            if "already allocated" in text or "address already in use" in text:
                raise FgformError(
                    f"port {port} on {bind} is already in use",
                    hint="choose another `port` for the registry, or stop what listens there",
                ) from exc
            raise FgformError(f"registry container {name} failed to start: {text}") from exc

        endpoint = endpoint_for(bind, port)
        try:
            self._wait_ready(container, endpoint)
        except FgformError:
            container.remove(force=True)
            if new_volume:
                self._remove_volume(client, name)
            raise
        ctx.log(f"registry {name} serving at {endpoint}")
        return {**planned, "bind_address": bind, "port": port, "image": planned.get("image"),
                "id": name, "endpoint": endpoint, "volume": name}

    def update(self, ctx: FleetContext, addr: Address, prior: dict[str, Any],
               planned: dict[str, Any]) -> dict[str, Any]:
        # Every configurable attribute forces replacement: nothing to do in place.
        return {**planned, "id": prior["id"], "endpoint": prior["endpoint"],
                "volume": prior["volume"]}

    def delete(self, ctx: FleetContext, addr: Address, prior: dict[str, Any], *,
               replacing: bool) -> None:
        """Remove the container; the data volume too unless `replacing` (the new registry
        keeps serving the same data)."""
        client = self.client
        name = prior.get("id") or object_name(ctx, addr)
        try:
            client.containers.get(name).remove(force=True)
        except NotFound:
            pass
        if not replacing:
            try:
                client.volumes.get(prior.get("volume") or object_name(ctx, addr)).remove(
                    force=True)
            except NotFound:
                pass

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _remove_volume(client: docker.DockerClient, name: str) -> None:
        try:
            client.volumes.get(name).remove(force=True)
        except (NotFound, APIError):
            pass

    @staticmethod
    def _remove_leftover(client: docker.DockerClient, ctx: FleetContext, name: str) -> None:
        L.remove_leftover(client, ctx, name, "registry")

    @staticmethod
    def _wait_ready(container: Any, endpoint: str) -> None:
        """Until GET /v2/ answers 200; fail early with the logs when the server exits."""
        deadline = time.monotonic() + READY_TIMEOUT
        next_status = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                status, _ = registry_request(endpoint, "GET", "/v2/", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass  # not listening yet
            if time.monotonic() >= next_status:
                next_status += 1.0
                container.reload()
                if container.status not in ("created", "running"):
                    logs = container.logs(tail=30).decode(errors="replace")
                    raise FgformError(f"registry server exited ({container.status}):\n{logs}")
            time.sleep(0.05)
        logs = container.logs(tail=30).decode(errors="replace")
        raise FgformError(f"registry at {endpoint} did not answer GET /v2/ within "
                          f"{READY_TIMEOUT:.0f} s:\n{logs}")


def _config(attrs: dict[str, Any]) -> dict[str, Any]:
    """The user-settable attributes (what the config-hash label covers)."""
    return {k: attrs.get(k) for k in ("port", "bind_address", "image")}

