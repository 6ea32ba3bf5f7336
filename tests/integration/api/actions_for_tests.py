"""Actions registered only in the test servers that preload this module
(`start_api_server(preload="actions_for_tests")`), never in fgform: a slow one (graceful
shutdown mid-request), one that fails with an unexpected exception (ServerException), and
one that echoes its parameters (the audit log's redaction)."""

from __future__ import annotations

import time
from typing import Any

from fgform.api.actions import ApiContext, Target, action


def _everything(ctx: ApiContext, params: dict[str, Any]) -> list[Target]:
    return [Target("*")]


def _cluster(ctx: ApiContext, params: dict[str, Any]) -> list[Target]:
    name = params.get("cluster", "default")
    return [Target(ctx.identity.cluster(name), ctx.identity.cluster(name))]


@action("TestSleep", _everything)
def sleep(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    time.sleep(float(params.get("seconds", 1)))
    return {"slept": params.get("seconds", 1)}


@action("TestBoom", _everything)
def boom(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError(f"boom: {params.get('secret', '')}")


@action("TestEcho", _cluster, writes=True)
def echo(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    return {"params": params}
