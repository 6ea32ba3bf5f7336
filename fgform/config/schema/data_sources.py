"""The data sources' tables: what `data "fg_image"`, `data "fg_task_definition"` and
`data "fg_cluster"` take and what they read.

Arguments are the non-computed attributes; the computed ones are what the fleet reads
(`Fleet.read_data`). A data resource is read during plan when its arguments are known and
nothing it depends on has changes pending, else during apply, as in Terraform.
"""

from __future__ import annotations

from fgform.config.schema.model import BlockSchema, ResourceSchema, attr, computed

DATA_FG_IMAGE = ResourceSchema(
    "fg_image",
    "An image in a registry, looked up by repository and tag: its manifest digest.",
    BlockSchema("fg_image", attributes=(
        attr("registry", "string", "The `id` of the registry to look in.", required=True,
             optional=False),
        attr("repository", "string", "Repository name in the registry.", required=True,
             optional=False),
        attr("tag", "string", "Tag to look up.", default="latest"),
        computed("id", "string", "ENDPOINT/REPOSITORY:TAG."),
        computed("digest", "string", "Manifest digest the tag names now."),
        computed("uri", "string", "ENDPOINT/REPOSITORY@sha256:... to run the image by."),
    )),
)

DATA_FG_TASK_DEFINITION = ResourceSchema(
    "fg_task_definition",
    "The latest ACTIVE revision of a task definition family (from the state, where "
    "revisions are registered).",
    BlockSchema("fg_task_definition", attributes=(
        attr("family", "string", "The family to look up.", required=True, optional=False),
        computed("id", "string", "FAMILY:REVISION."),
        computed("arn", "string", "FAMILY:REVISION, as a service's task_definition takes."),
        computed("revision", "number", "The revision number."),
        computed("status", "string", "ACTIVE."),
        computed("cpu", "number", "CPU units of the task."),
        computed("memory", "number", "Memory of the task, MiB."),
        computed("container", "list(any)", "The revision's containers (as in state)."),
    )),
)

DATA_FG_CLUSTER = ResourceSchema(
    "fg_cluster",
    "An existing cluster, by name (made by this or another configuration).",
    BlockSchema("fg_cluster", attributes=(
        attr("name", "string", "The cluster's name.", required=True, optional=False),
        computed("id", "string", "The cluster's id (its name), as services take it."),
        computed("network_name", "string", "Docker network of the cluster."),
        computed("cidr_block", "string", "Subnet of the cluster network."),
        computed("engine", "string", "\"docker\" (the local engine) or \"swarm\"."),
    )),
)

DATA_SCHEMAS: dict[str, ResourceSchema] = {
    s.type: s for s in (DATA_FG_IMAGE, DATA_FG_TASK_DEFINITION, DATA_FG_CLUSTER)
}


def get_data_schema(type_name: str) -> ResourceSchema | None:
    """The table of data source `type_name`; None when fgform has no such data source."""
    return DATA_SCHEMAS.get(type_name)
