"""Checks on image build contexts: inside the configuration directory, holding their
Dockerfile."""

from __future__ import annotations

import os
from typing import Any

from fgform.addresses import Address
from fgform.config.model import Resource
from fgform.context_hash import resolve_context
from fgform.errors import Diagnostic
from fgform.values import unmark


def check_image_contexts(configs: dict[Address, dict[str, Any]],
                         resources: dict[Address, Resource], config_dir: str
                         ) -> list[Diagnostic]:
    """An fg_image's `context` must be a directory inside the configuration directory
    (relative paths are taken from it) holding its `dockerfile`: found missing at apply, it
    fails after other resources were already changed, and a context elsewhere (an absolute
    path, `..`, a symbolic link out) would have plan read, and apply send to the engine,
    files that the reviewed change does not hold."""
    diags = []
    root = os.path.realpath(config_dir)
    for addr, cfg in configs.items():
        context, _ = unmark(cfg.get("context"))
        if addr.type != "fg_image" or not isinstance(context, str):
            continue
        res = resources[addr]
        attr = res.body.attributes.get("context")
        where = attr.range if attr else res.range
        path = resolve_context(context, config_dir)
        if not _inside(path, root):
            diags.append(Diagnostic.error(
                "Build context outside the configuration",
                f'The build context "{context}" of {addr} is outside the configuration '
                "directory. fgform builds only from files of the configuration, so that a "
                "plan never reads, and an apply never sends to Docker, files elsewhere on "
                "the machine.", where, "Move the context into the configuration directory."))
            continue
        if not os.path.isdir(path):
            what = "is not a directory" if os.path.exists(path) else "does not exist"
            diags.append(Diagnostic.error(
                "Invalid build context",
                f'The build context "{context}" of {addr} {what}. The context is a directory '
                "inside the configuration directory (a relative path starts there).", where))
            continue
        dockerfile, _ = unmark(cfg.get("dockerfile"))
        if not isinstance(dockerfile, str):
            continue
        df_attr = res.body.attributes.get("dockerfile")
        if not _inside(os.path.join(path, dockerfile), root):
            diags.append(Diagnostic.error(
                "Dockerfile outside the configuration",
                f'The dockerfile "{dockerfile}" of {addr} is outside the configuration '
                "directory: fgform builds only from files of the configuration.",
                df_attr.range if df_attr else where))
        elif not os.path.isfile(os.path.join(path, dockerfile)):
            diags.append(Diagnostic.error(
                "Missing Dockerfile",
                f'The build context "{context}" of {addr} has no file "{dockerfile}" to '
                "build from.", df_attr.range if df_attr else where,
                "Add it, or set `dockerfile` to its path within the context."))
    return diags


def _inside(path: str, root: str) -> bool:
    """Whether a path, its symbolic links resolved, is `root` (a resolved path) or in it."""
    real = os.path.realpath(path)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)
