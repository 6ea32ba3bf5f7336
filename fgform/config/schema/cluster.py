"""fg_cluster: a network and the capacity tasks are placed on."""

from __future__ import annotations

from fgform.config.schema.checks import check_cidr, check_whole
from fgform.config.schema.model import ID, BlockSchema, ResourceSchema, attr, computed

FG_CLUSTER = ResourceSchema(
    "fg_cluster",
    "A network (the VPC/subnet) and a fleet of capacity that tasks are placed on.",
    BlockSchema("fg_cluster", attributes=(
        attr("name", "string", "Cluster name; the resource name when unset.", force_new=True),
        attr("cidr_block", "string", "Subnet of the cluster network.", default="10.213.0.0/24",
             force_new=True, check=check_cidr, check_doc="an IPv4 CIDR, /28 or larger"),
        attr("engine", "string", "The engine that runs the cluster's tasks: \"docker\" (the "
             "local engine) or \"swarm\" (a Docker Swarm reached through DOCKER_HOST, its "
             "manager; its nodes are the capacity, so a `capacity` block is ignored).",
             enum=("docker", "swarm"), force_new=True),
        attr("placement_strategy", "string", "How tasks are spread over instances.",
             default="spread", enum=("spread", "binpack")),
        ID,
        computed("network_name", "string", "Docker network of the cluster."),
    ), blocks=(
        BlockSchema("capacity", "The fleet the capacity manager places tasks on.", max_items=1,
                    attributes=(
                        attr("instance_count", "number", "Number of instances.", default=1,
                             check=check_whole, check_doc="a whole number",
                             min=1, max=1000),
                        attr("instance_cpu", "number", "CPU units per instance.", min=128),
                        attr("instance_memory", "number", "Memory per instance, MiB.", min=64),
                    ), blocks=(
                        BlockSchema("attribute", "An attribute of the instances, for "
                                    "placement constraints (`attribute:NAME`).", key="name",
                                    attributes=(
                            attr("name", "string", "Attribute name (not ecs.instance-id or "
                                 "ecs.os-type, which are built in).", required=True,
                                 optional=False),
                            attr("value", "string", "The value of every instance."),
                            attr("values", "list(string)", "Instance i-K gets "
                                 "values[K % length] (round robin, like zones)."),
                        )),
                    )),
    )),
    create_before_destroy_supported=False,
    create_before_destroy_conflict="would use the same Docker network name as the old one",
)
