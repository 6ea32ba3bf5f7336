"""fg_registry: a container registry (ECR)."""

from __future__ import annotations

from fgform.config.schema.checks import check_ip, check_port
from fgform.config.schema.model import ID, BlockSchema, ResourceSchema, attr, computed

FG_REGISTRY = ResourceSchema(
    "fg_registry",
    "A container registry (ECR): a Distribution registry server in a container. Its storage "
    "is a named volume that outlives replacement of the registry container.",
    BlockSchema("fg_registry", attributes=(
        attr("port", "number", "Host port the registry listens on.", default=5000,
             force_new=True, check=check_port, check_doc="1-65535"),
        attr("bind_address", "string", "Host address the port is published on.",
             default="127.0.0.1", force_new=True, check=check_ip, check_doc="an IP address"),
        attr("image", "string", "Registry server image; built from debian:bookworm-slim when "
             "unset.", force_new=True),
        ID,
        computed("endpoint", "string", "host:port to push to and pull from."),
        computed("volume", "string", "Named volume holding the registry's data."),
    )),
    create_before_destroy_supported=False,
    create_before_destroy_conflict="would use the same fixed container name as the old one",
)
