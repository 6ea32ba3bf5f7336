"""The state file's content: the single source of truth for what fgform manages.

Serialised as JSON (`fgform/state/schema.json`; `state/README.md` at the top of the
repository describes it). `store.py` reads and writes it atomically under a lock; nothing
here touches the disk.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from fgform import __version__
from fgform.addresses import Address, Key, ModuleStep, format_module, parse_address
from fgform.values import typed_value

STATE_VERSION = 1


class InstanceStatus(Enum):
    """An instance's object is `READY`, or `TAINTED`: its creation failed part-way, so the
    next plan replaces it. The value is what the state file holds."""

    READY = "ready"
    TAINTED = "tainted"


@dataclass(slots=True)
class InstanceState:
    """One resource instance: its current object and any deposed ones.

    `attributes` is the current object; None only while the instance has deposed objects
    but no current one (a create_before_destroy replacement deposed the old object and its
    successor does not exist yet). Such an entry is invisible to `StateFile.get`,
    `addresses` and `sorted_instances`: there is no current object to plan or refresh.

    `deposed` holds Terraform's deposed objects: old objects of a create_before_destroy
    replacement that still exist, by deposed key (8 hex digits) -> their attributes. Apply
    deposes the current object before creating its successor and forgets the deposed one
    once it is deleted; whatever a crash or failure leaves here, the next plan deletes.
    Deposed objects share the instance's `sensitive_paths` and `dependencies`.
    """

    index_key: Key
    attributes: dict[str, Any] | None
    sensitive_paths: list[list[str | int]] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)  # resource addresses
    status: InstanceStatus = InstanceStatus.READY
    create_before_destroy: bool = False
    deposed: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The address the instance's fleet objects are labelled with, when a move (`moved`
    # block, `state mv`) gave the instance another one: Docker labels cannot change, so
    # drivers keep finding (and labelling) the objects by this address. None: its own.
    labelled_as: str | None = None

    def relabel(self, old: Any, new: Any) -> None:
        """Record that this instance moved from address `old` to `new` (keeping the address
        its objects were first labelled with)."""
        first = self.labelled_as or str(old)
        self.labelled_as = None if first == str(new) else first


def new_deposed_key(taken: Any = ()) -> str:
    """A random deposed key (8 hex digits, as Terraform's), not one of `taken`."""
    while True:
        key = secrets.token_hex(4)
        if key not in taken:
            return key


@dataclass(slots=True)
class ResourceState:
    module: str  # "" for the root, else "module.a.module.b[0]"
    type: str
    name: str
    instances: list[InstanceState] = field(default_factory=list)
    mode: str = "managed"  # "data" for a data resource (`data.TYPE.NAME`)


@dataclass(slots=True)
class OutputState:
    value: Any
    sensitive: bool = False
    # The value's type in Terraform's JSON form (`cty_type`), kept so that a list, set or
    # map read back from the file is one again (`output -json` reports it); None: inferred.
    type: Any = None


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
            if r.module == mod and r.type == addr.type and r.name == addr.name and \
                    r.mode == addr.mode:
                return r
        if not create:
            return None
        r = ResourceState(mod, addr.type, addr.name, mode=addr.mode)
        self.resources.append(r)
        return r

    def instance(self, addr: Address) -> InstanceState | None:
        """The instance entry, whether or not it has a current object (see `get`)."""
        r = self._resource(addr)
        if r is None:
            return None
        for inst in r.instances:
            if inst.index_key == addr.key:
                return inst
        return None

    def get(self, addr: Address) -> InstanceState | None:
        """The instance with its current object; None when it has none (absent, or only
        deposed objects)."""
        inst = self.instance(addr)
        return inst if inst is not None and inst.attributes is not None else None

    def set(self, addr: Address, inst: InstanceState) -> None:
        """Make `inst` the instance at `addr`. Deposed objects already recorded there stay
        (they are the instance's, not its current object's)."""
        inst.index_key = addr.key
        created = self._resource(addr) is None
        r = self._resource(addr, create=True)
        assert r is not None
        old = next((i for i in r.instances if i.index_key == addr.key), None)
        if old is not None and old.deposed and old is not inst:
            inst.deposed = {**old.deposed, **inst.deposed}
        if old is not None and old is not inst and inst.labelled_as is None:
            inst.labelled_as = old.labelled_as  # its objects keep their labels
        r.instances = [i for i in r.instances if i.index_key != addr.key] + [inst]
        # Apply calls this after every step: sort only what changed, not the whole state.
        r.instances.sort(key=_instance_order)
        if created:
            self.resources.sort(key=_resource_order)

    def remove(self, addr: Address, *, keep_deposed: bool = False) -> InstanceState | None:
        """Forget the instance at `addr` and return it (None if absent).

        With `keep_deposed`, only the current object is forgotten: deposed objects stay
        (in an entry without a current object), and the returned instance has none.
        """
        r = self._resource(addr)
        if r is None:
            return None
        found = next((i for i in r.instances if i.index_key == addr.key), None)
        r.instances = [i for i in r.instances if i.index_key != addr.key]
        if keep_deposed and found is not None and found.deposed:
            holder = InstanceState(found.index_key, None, list(found.sensitive_paths),
                                   list(found.dependencies), found.status,
                                   found.create_before_destroy, found.deposed,
                                   found.labelled_as)
            found.deposed = {}
            r.instances.append(holder)
            r.instances.sort(key=_instance_order)
        if not r.instances:
            self.resources.remove(r)
        return found

    # -- deposed objects --------------------------------------------------------------------
    def depose(self, addr: Address, key: str | None = None) -> str | None:
        """Move the current object at `addr` to the deposed objects (under `key`, or a new
        random key); return the key, or None when there is no current object."""
        inst = self.get(addr)
        if inst is None:
            return None
        key = key or new_deposed_key(inst.deposed)
        assert inst.attributes is not None
        inst.deposed[key] = inst.attributes
        inst.attributes = None
        inst.status = InstanceStatus.READY
        return key

    def restore_deposed(self, addr: Address, key: str) -> bool:
        """Make the deposed object `key` current again, if the instance has no current
        object (Terraform's MaybeRestoreResourceInstanceDeposed)."""
        inst = self.instance(addr)
        if inst is None or inst.attributes is not None or key not in inst.deposed:
            return False
        inst.attributes = inst.deposed.pop(key)
        return True

    def set_deposed(self, addr: Address, key: str, attributes: dict[str, Any]) -> None:
        """Record (or replace) the deposed object `key` at `addr`."""
        inst = self.instance(addr)
        if inst is None:
            self.set(addr, InstanceState(addr.key, None, deposed={key: attributes}))
        else:
            inst.deposed[key] = attributes

    def remove_deposed(self, addr: Address, key: str) -> dict[str, Any] | None:
        """Forget the deposed object `key` (it was deleted); an instance left with neither
        a current nor a deposed object goes too. Returns the object's attributes."""
        inst = self.instance(addr)
        if inst is None or key not in inst.deposed:
            return None
        attrs = inst.deposed.pop(key)
        if inst.attributes is None and not inst.deposed:
            self.remove(addr)
        return attrs

    def deposed_objects(self) -> list[tuple[Address, str, dict[str, Any], InstanceState]]:
        """Every deposed object as (address, deposed key, attributes, its instance), sorted
        by address and key."""
        out = []
        for r in self.resources:
            module: tuple[ModuleStep, ...] | None = None
            for inst in r.instances:
                if not inst.deposed:
                    continue
                if module is None:
                    module = _parse_module(r.module)
                addr = Address(r.type, r.name, inst.index_key, module, r.mode)
                out.extend((addr, k, v, inst) for k, v in inst.deposed.items())
        out.sort(key=lambda t: (t[0].sort_key(), t[1]))
        return out

    def addresses(self) -> list[Address]:
        """Every instance address in state that has a current object, sorted."""
        out = []
        for r in self.resources:
            module = _parse_module(r.module)
            for inst in r.instances:
                if inst.attributes is not None:
                    out.append(Address(r.type, r.name, inst.index_key, module, r.mode))
        return sorted(out)

    def sorted_instances(self) -> list[tuple[Address, InstanceState | None]]:
        """`[(a, self.get(a)) for a in self.addresses()]`, without get()'s scan of every
        resource for each address (quadratic: most of `show -json` of a 1,000-resource
        state)."""
        first: dict[tuple[str, str, str, str], ResourceState] = {}
        for r in self.resources:
            first.setdefault((r.module, r.type, r.name, r.mode), r)
        by_key: dict[int, dict[Any, InstanceState]] = {}
        out: list[tuple[Address, InstanceState | None]] = []
        for addr in self.addresses():
            r = first.get((format_module(addr.module), addr.type, addr.name, addr.mode))
            inst = None
            if r is not None:
                keys = by_key.get(id(r))
                if keys is None:
                    keys = by_key[id(r)] = {}
                    for i in r.instances:
                        if i.attributes is None:
                            continue  # no current object: get() does not see it
                        try:
                            keys.setdefault(i.index_key, i)  # the first, as get() finds
                        except TypeError:  # an unhashable key (not one fgform writes)
                            pass
                try:
                    inst = keys.get(addr.key)
                except TypeError:
                    inst = None
                if inst is None:  # absent, or unhashable: get()'s own scan
                    inst = next((i for i in r.instances if i.index_key == addr.key
                                 and i.attributes is not None), None)
            out.append((addr, inst))
        return out

    def _sort(self) -> None:
        # Skipped when it would change nothing: resources already in (module, type, name)
        # order, each with at most one instance (the common case; a pass over the resources
        # costs a fraction of the sort's key objects, and to_dict runs at every state write).
        prev: tuple[str, bool, str, str] | None = None
        for r in self.resources:
            k = _resource_order(r)
            if len(r.instances) > 1 or (prev is not None and k < prev):
                break
            prev = k
        else:
            return
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
                k: _output_dict(v) for k, v in sorted(self.outputs.items())
            },
            "resources": [_resource_dict(r) for r in self.resources],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StateFile:
        st = cls(
            lineage=data["lineage"],
            serial=int(data["serial"]),
            version=int(data.get("version", STATE_VERSION)),
            fgform_version=data.get("fgform_version", __version__),
            outputs={
                k: OutputState(typed_value(v.get("value"), v.get("type")),
                               bool(v.get("sensitive", False)), v.get("type"))
                for k, v in data.get("outputs", {}).items()
            },
        )
        for r in data.get("resources", []):
            st.resources.append(ResourceState(
                module=r.get("module", ""),
                type=r["type"],
                name=r["name"],
                mode=r.get("mode", "managed"),
                instances=[
                    InstanceState(
                        index_key=i.get("index_key"),
                        attributes=i.get("attributes", {}),
                        sensitive_paths=i.get("sensitive_paths", []),
                        dependencies=i.get("dependencies", []),
                        status=InstanceStatus(i.get("status", "ready")),
                        create_before_destroy=i.get("create_before_destroy", False),
                        deposed=dict(i.get("deposed") or {}),
                        labelled_as=i.get("labelled_as"),
                    )
                    for i in r.get("instances", [])
                ],
            ))
        return st


def _instance_dict(i: InstanceState) -> dict[str, Any]:
    out = {
        "index_key": i.index_key,
        "status": i.status.value,
        "attributes": i.attributes,
        "sensitive_paths": i.sensitive_paths,
        "dependencies": sorted(i.dependencies),
        "create_before_destroy": i.create_before_destroy,
    }
    if i.deposed:  # written only when there are any: most states never have one
        out["deposed"] = {k: i.deposed[k] for k in sorted(i.deposed)}
    if i.labelled_as is not None:  # only after a move
        out["labelled_as"] = i.labelled_as
    return out


def _instance_order(inst: InstanceState) -> tuple:
    return Address("t", "n", inst.index_key).sort_key()


def _resource_dict(r: ResourceState) -> dict[str, Any]:
    out: dict[str, Any] = {"module": r.module, "type": r.type, "name": r.name,
                           "instances": [_instance_dict(i) for i in r.instances]}
    if r.mode != "managed":  # written for data resources only: managed is the default
        out["mode"] = r.mode
    return out


def _resource_order(r: ResourceState) -> tuple[str, bool, str, str]:
    # Data resources first in each module, as Address.sort_key orders them.
    return (r.module, r.mode != "data", r.type, r.name)


def _parse_module(text: str) -> tuple[ModuleStep, ...]:
    if not text:
        return ()
    return parse_address(f"{text}.x.y").module


def _output_dict(out: OutputState) -> dict[str, Any]:
    entry = {"value": out.value, "sensitive": out.sensitive}
    if out.type is not None:
        entry["type"] = out.type
    return entry
