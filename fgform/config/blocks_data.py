"""`data "TYPE" "NAME" { ... }` blocks -> data resources of a Module (`Resource` with
mode "data", in `Module.data_resources` by "data.TYPE.NAME").

A data resource takes Terraform's meta-arguments `count`, `for_each`, `depends_on` and
`provider`; its type must be one of fgform's data sources (`config/schema/data_sources.py`),
which the graph checks with the other types. `config/blocks.py` calls `decode_data` with
its decoder.
"""

from __future__ import annotations

from typing import Any

from fgform.config.model import Block, Body, Resource


def decode_data(d: Any, block: Block) -> None:
    """Decode one data block into `d.m.data_resources` (d: `blocks.ModuleDecoder`)."""
    rtype, name = block.labels
    d._no_dups(block.body)
    d._check_name("data resource", block)
    body = block.body
    res = Resource(type=rtype, name=name, body=body, range=block.range, mode="data")
    attrs = d.meta_arguments(res, "read", "[fg_image.app]")
    blocks = []
    for b in body.blocks:
        if b.type == "lifecycle":
            # Terraform's data lifecycle holds only pre/postconditions, which fgform does
            # not have: an empty block is accepted, anything in it is an error.
            d._unexpected(b.body, (), (), "a data resource's lifecycle block")
        else:
            blocks.append(b)
    res.body = Body(attributes=attrs, blocks=blocks, duplicate_attributes=[],
                    range=body.range)
    key = res.key
    prev = d.m.data_resources.get(key)
    if prev is not None:
        d.err("Duplicate data resource",
              f'A data resource "{rtype}" "{name}" was already declared at {prev.range}. '
              "Resource names must be unique per type in each module.", block.range)
        return
    d.m.data_resources[key] = res
