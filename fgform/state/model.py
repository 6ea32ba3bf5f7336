"""The state file's content: the single source of truth for what fgform manages.

Serialised as JSON (see `state/schema.json` at the top of the repository). `store.py` reads
and writes it atomically under a lock; nothing here touches the disk.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from fgform import __version__
from fgform.addresses import Address, Key, ModuleStep, format_module, parse_address

STATE_VERSION = 1


@dataclass(slots=True)
class InstanceState:
    index_key: Key
    attributes: dict[str, Any]
    sensitive_paths: list[list[str | int]] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)  # resource addresses
    status: str = "ready"  # "ready" or "tainted"
    create_before_destroy: bool = False


@dataclass(slots=True)
class ResourceState:
    module: str  # "" for the root, else "module.a.module.b[0]"
    type: str
    name: str
    instances: list[InstanceState] = field(default_factory=list)


@dataclass(slots=True)
class OutputState:
    value: Any
    sensitive: bool = False


@dataclass(slots=True)
class StateFile:
    lineage: str = field(default_factory=lambda: str(uuid.uuid4()))
    serial: int = 0
    version: int = STATE_VERSION
    fgform_version: str = __version__
    outputs: dict[str, OutputState] = field(default_factory=dict)
    resources: list[ResourceState] = field(default_factory=list)

    # -- instance access by address -------------------------------------------------------
    def _resource(self, addr: Address, create: bool = False) -> ResourceState | None:
        mod = format_module(addr.module)
        for r in self.resources:
            if r.module == mod and r.type == addr.type and r.name == addr.name:
                return r
        if not create:
            return None
        r = ResourceState(mod, addr.type, addr.name)
        self.resources.append(r)
        return r

    def get(self, addr: Address) -> InstanceState | None:
        r = self._resource(addr)
        if r is None:
            return None
        for inst in r.instances:
            if inst.index_key == addr.key:
                return inst
        return None

    def set(self, addr: Address, inst: InstanceState) -> None:
        inst.index_key = addr.key
        created = self._resource(addr) is None
        r = self._resource(addr, create=True)
        assert r is not None
        r.instances = [i for i in r.instances if i.index_key != addr.key] + [inst]
        # Apply calls this after every step: sort only what changed, not the whole state.
        r.instances.sort(key=_instance_order)
        if created:
            self.resources.sort(key=_resource_order)

    def remove(self, addr: Address) -> InstanceState | None:
        r = self._resource(addr)
        if r is None:
            return None
        found = next((i for i in r.instances if i.index_key == addr.key), None)
        r.instances = [i for i in r.instances if i.index_key != addr.key]
        if not r.instances:
            self.resources.remove(r)
        return found

    def addresses(self) -> list[Address]:
        """Every instance address in state, sorted."""
        out = []
        for r in self.resources:
            module = _parse_module(r.module)
            for inst in r.instances:
                out.append(Address(r.type, r.name, inst.index_key, module))
        return sorted(out)

    def sorted_instances(self) -> list[tuple[Address, InstanceState | None]]:
        """`[(a, self.get(a)) for a in self.addresses()]`, without get()'s scan of every
        resource for each address (quadratic: most of `show -json` of a 1,000-resource
        state)."""
        first: dict[tuple[str, str, str], ResourceState] = {}
        for r in self.resources:
            first.setdefault((r.module, r.type, r.name), r)
        by_key: dict[int, dict[Any, InstanceState]] = {}
        out: list[tuple[Address, InstanceState | None]] = []
        for addr in self.addresses():
            r = first.get((format_module(addr.module), addr.type, addr.name))
            inst = None
            if r is not None:
                keys = by_key.get(id(r))
                if keys is None:
                    keys = by_key[id(r)] = {}
                    for i in r.instances:
                        try:
                            keys.setdefault(i.index_key, i)  # the first, as get() finds
                        except TypeError:  # an unhashable key (not one fgform writes)
                            pass
                try:
                    inst = keys.get(addr.key)
                except TypeError:
                    inst = None
                if inst is None:  # absent, or unhashable: get()'s own scan
                    inst = next((i for i in r.instances if i.index_key == addr.key), None)
            out.append((addr, inst))
        return out

    def _sort(self) -> None:
        for r in self.resources:
            r.instances.sort(key=_instance_order)
        self.resources.sort(key=_resource_order)

    # -- JSON -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        self._sort()
        return {
            "version": self.version,
            "fgform_version": self.fgform_version,
            "serial": self.serial,
            "lineage": self.lineage,
            "outputs": {
                k: {"value": v.value, "sensitive": v.sensitive}
                for k, v in sorted(self.outputs.items())
            },
            "resources": [
                {
                    "module": r.module,
                    "type": r.type,
                    "name": r.name,
                    "instances": [
                        {
                            "index_key": i.index_key,
                            "status": i.status,
                            "attributes": i.attributes,
                            "sensitive_paths": i.sensitive_paths,
                            "dependencies": sorted(i.dependencies),
                            "create_before_destroy": i.create_before_destroy,
                        }
                        for i in r.instances
                    ],
                }
                for r in self.resources
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StateFile:
        st = cls(
            lineage=data["lineage"],
            serial=int(data["serial"]),
            version=int(data.get("version", STATE_VERSION)),
            fgform_version=data.get("fgform_version", __version__),
            outputs={
                k: OutputState(v.get("value"), bool(v.get("sensitive", False)))
                for k, v in data.get("outputs", {}).items()
            },
        )
        for r in data.get("resources", []):
            st.resources.append(ResourceState(
                module=r.get("module", ""),
                type=r["type"],
                name=r["name"],
                instances=[
                    InstanceState(
                        index_key=i.get("index_key"),
                        attributes=i.get("attributes", {}),
                        sensitive_paths=i.get("sensitive_paths", []),
                        dependencies=i.get("dependencies", []),
                        status=i.get("status", "ready"),
                        create_before_destroy=i.get("create_before_destroy", False),
                    )
                    for i in r.get("instances", [])
                ],
            ))
        return st


def _instance_order(inst: InstanceState) -> tuple:
    return Address("t", "n", inst.index_key).sort_key()


def _resource_order(r: ResourceState) -> tuple[str, str, str]:
    return (r.module, r.type, r.name)


def _parse_module(text: str) -> tuple[ModuleStep, ...]:
    if not text:
        return ()
    return parse_address(f"{text}.x.y").module
