"""The swarm load balancer's HAProxy configuration: one server-template per service
forwarding to a target group, resolving `tasks.<swarm service name>` through Docker's DNS;
the local rendering is unchanged. The real proxy on a real swarm:
tests/integration/swarm/test_swarm_lb.py."""

from __future__ import annotations

from typing import Any

from fgform.fleet.driver import FleetContext
from fgform.fleet.haproxy import backend_name, render_haproxy_config
from fgform.fleet.swarm import load_balancer as SLB
from fgform.fleet.swarm.lb_status import is_empty_slot, slot_service
from fgform.fleet.swarm.naming import swarm_service_name

LINEAGE = "0123456789abcdef"


def _ctx(**services: dict[str, Any]) -> FleetContext:
    resources: dict[str, dict[str, Any]] = {
        "fg_cluster.main": {"id": "main", "engine": "swarm", "network_name": "fg-main"},
        "fg_cluster.other": {"id": "other", "engine": "swarm", "network_name": "fg-other"},
        "fg_target_group.web": {"id": "web", "health_check": {"interval": 3,
                                                              "unhealthy_threshold": 4,
                                                              "healthy_threshold": 5}},
        "fg_target_group.api": {"id": "api"},
    }
    for name, attrs in services.items():
        resources[f"fg_service.{name}"] = attrs
    return FleetContext(lineage=LINEAGE, resources=resources)


def _svc(name: str, tg: str, port: int = 8080, cluster: str = "main", **extra: Any
         ) -> dict[str, Any]:
    return {"id": f"{cluster}/{name}", "cluster": cluster, "desired_count": 3,
            "load_balancer": [{"target_group": tg, "container_name": "app",
                               "container_port": port}], **extra}


LB = {"cluster": "main", "listener": [{"port": 80, "default_target_group": "web", "rule": [
    {"priority": 1, "path_patterns": ["/api/*"], "target_group": "api"}]}]}


def test_each_service_of_a_target_group_is_a_server_template_resolved_by_docker_dns() -> None:
    ctx = _ctx(web=_svc("web", "web"), web2=_svc("web2", "web", 9000),
               api=_svc("api", "api", 3000))
    text = SLB.render_for(ctx, LB, "lb")
    name = swarm_service_name(LINEAGE, "main/web")
    assert (f"    server-template {name}- 10 tasks.{name}:8080 check inter 3s fall 4 rise 5 "
            "observe layer4 error-limit 1 on-error mark-down resolvers docker "
            "resolve-prefer ipv4 init-addr last,none\n") in text
    web_backend = text.split(f"backend {backend_name('web')}\n")[1].split("\n\n")[0]
    assert web_backend.count("server-template ") == 2
    assert f"tasks.{swarm_service_name(LINEAGE, 'main/web2')}:9000" in web_backend
    api_backend = text.split(f"backend {backend_name('api')}\n")[1].split("\n\n")[0]
    assert f"tasks.{swarm_service_name(LINEAGE, 'main/api')}:3000" in api_backend
    assert "\nresolvers docker\n    nameserver dns 127.0.0.11:53\n" in text
    for line in ("hold valid 10s", "hold obsolete 0s", "hold nx 0s", "timeout resolve 1s",
                 "accepted_payload_size 8192"):
        assert f"\n    {line}\n" in text
    # A reload keeps what each slot resolved to, and its health.
    assert f"server-state-file {SLB.STATE_FILE}\n" in text
    assert "    load-server-state-from-file global\n" in text
    # No `server` lines: nothing is registered on swarm.
    assert "\n    server " not in text


def test_services_of_another_cluster_are_not_targets() -> None:
    ctx = _ctx(web=_svc("web", "web", cluster="other"))
    assert "    server-template " not in SLB.render_for(ctx, LB, "lb")


def test_slots_cover_a_deployment_at_maximum_percent() -> None:
    assert SLB.slots({"desired_count": 3}) == SLB.MIN_SLOTS
    assert SLB.slots({"desired_count": 8}) == 16  # ECS's default maximum_percent: 200
    assert SLB.slots({"desired_count": 8, "deployment": {"maximum_percent": 150}}) == 12
    assert SLB.slots({"desired_count": 7, "deployment": [{"maximum_percent": 150}]}) == 11


def test_service_changes_reported_by_the_service_driver_win_over_state() -> None:
    ctx = _ctx(web=_svc("web", "web"))
    try:
        with SLB._LOCK:
            SLB._services["fg_service.web"] = _svc("web", "web", desired_count=20)
            SLB._services["fg_service.new"] = _svc("new", "api")
        templates = SLB.templates_of(ctx, LB, ["web", "api"])
        assert [t["count"] for t in templates["web"]] == [40]
        assert templates["api"][0]["fqdn"] == f"tasks.{swarm_service_name(LINEAGE, 'main/new')}"
        with SLB._LOCK:
            SLB._services["fg_service.web"] = None  # deleted
        assert SLB.templates_of(ctx, LB, ["web"]) == {"web": []}
    finally:
        SLB._services.clear()


def test_without_templates_the_local_rendering_is_unchanged() -> None:
    tgs = {"web": {}, "api": {}}
    targets = {"web": [{"id": "t1", "address": "10.0.0.2", "port": 80}]}
    plain = render_haproxy_config(LB, tgs, targets)
    assert render_haproxy_config(LB, tgs, targets, templates={}, resolvers=None) == plain
    assert "resolvers" not in plain and "server-state" not in plain


def test_on_swarm_follows_the_cluster_engine() -> None:
    ctx = _ctx()
    assert SLB.on_swarm(ctx, LB)
    ctx.resources["fg_cluster.main"]["engine"] = "docker"
    assert not SLB.on_swarm(ctx, LB)
    assert not SLB.on_swarm(ctx, {"cluster": "nowhere"})


def test_lb_status_slots() -> None:
    assert slot_service("fg-89abcdef-main-web-12") == "fg-89abcdef-main-web"
    assert is_empty_slot({"addr": "", "status": "MAINT (resolution)"})
    assert is_empty_slot({"addr": "-", "status": "MAINT"})
    assert not is_empty_slot({"addr": "10.0.1.5:8080", "status": "UP"})


def test_the_local_target_group_reload_leaves_swarm_load_balancers_alone() -> None:
    """A target group's update reloads the load balancers forwarding to it; the local
    engine's function must not render a swarm one (it would drop its server templates):
    with no client at all, it returns without touching one."""
    from fgform.fleet.docker.load_balancer import reconfigure_for_target_group

    ctx = _ctx(web=_svc("web", "web"))
    ctx.resources["fg_load_balancer.front"] = {**LB, "id": "fgform-lb-x-front"}
    reconfigure_for_target_group(None, ctx, {"id": "web"})  # type: ignore[arg-type]
