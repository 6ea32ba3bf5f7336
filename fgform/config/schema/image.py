"""fg_image: an image built from a context directory and pushed to a registry."""

from __future__ import annotations

import os
from typing import Any

from fgform.config.schema.model import ID, BlockSchema, ResourceSchema, attr, computed


def _image_plan_time(attrs: dict[str, Any], config_dir: str) -> dict[str, Any]:
    """fg_image's `context_sha256`, hashed from the build context at plan time, so editing a
    file in the context changes the plan. Pure: reads files only."""
    # Imported late: the schema tables must load without the fleet package's modules.
    from fgform import context_hash

    context = attrs.get("context")
    if isinstance(context, str) and not os.path.isdir(
            context_hash.resolve_context(context, config_dir or ".")):
        return {}  # a missing context is validation's to report; the hash stays unknown
    return context_hash.plan_time_attrs(attrs, config_dir or ".")


FG_IMAGE = ResourceSchema(
    "fg_image",
    "An image built from a context directory and pushed to a registry.",
    BlockSchema("fg_image", attributes=(
        attr("registry", "string", "The `id` of the registry to push to.", required=True,
             optional=False, force_new=True),
        attr("repository", "string", "Repository name in the registry.", required=True,
             optional=False),
        attr("tag", "string", "Tag to push.", default="latest"),
        attr("context", "string", "Build context directory.", required=True, optional=False),
        attr("dockerfile", "string", "Dockerfile path within the context.", default="Dockerfile"),
        attr("build_args", "map(string)", "Build arguments.", default={}),
        ID,
        computed("context_sha256", "string",
                 "Content hash of the context, honouring .dockerignore; known at plan time."),
        computed("digest", "string", "Manifest digest of the pushed image."),
        computed("uri", "string", "ENDPOINT/REPOSITORY@sha256:... to run the image by."),
    )),
    # A rebuild pushes a new manifest: digest and uri are only known after apply.
    recomputed_on_update=("digest", "uri"),
    plan_time=_image_plan_time,
)
