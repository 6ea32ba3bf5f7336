"""`fgform lb status` from HAProxy's `show stat`: parsing, ALB's words for server states, the
table. The runtime API itself is exercised in tests/integration/test_load_balancer.py."""

from __future__ import annotations

import pytest

from fgform.fleet.docker.lb_status import (
    LoadBalancerStatus,
    TargetGroupStatus,
    TargetStatus,
    format_status,
    target_state,
)
from fgform.fleet.docker.proxy import parse_stat


@pytest.mark.parametrize(("status", "state"), [
    ("UP", "healthy"), ("UP 1/2", "healthy"), ("DOWN", "unhealthy"),
    ("DOWN 1/2", "initial"), ("DRAIN", "draining"), ("MAINT", "unused"),
    ("no check", "healthy"), ("MAINT (resolution)", "unused"),
])
def test_haproxy_status_in_alb_words(status: str, state: str) -> None:
    assert target_state(status) == state


def test_parse_stat_keys_rows_by_proxy_and_server() -> None:
    text = ("# pxname,svname,scur,status,hrsp_5xx\n"
            "tg_web_1,t1,2,UP,0\n"
            "tg_web_1,t2,0,DOWN,3\n\n")
    rows = parse_stat(text)
    assert rows[("tg_web_1", "t2")] == {"pxname": "tg_web_1", "svname": "t2", "scur": "0",
                                        "status": "DOWN", "hrsp_5xx": "3"}
    assert parse_stat("Unknown command\n") == {}


def test_format_status_table() -> None:
    st = LoadBalancerStatus("fg_load_balancer.front", "fgform-lb-x-front",
                            ["http://127.0.0.1:8080"], running=True, target_groups=[
                                TargetGroupStatus("web", "tg_web_1", [
                                    TargetStatus("t1", "10.0.0.2:8080", "healthy", "L7OK",
                                                 1, 120, 0),
                                    TargetStatus("t22", "10.0.0.3:8080", "draining", "",
                                                 0, 7, 2)]),
                                TargetGroupStatus("api", "tg_api_2")])
    assert format_status([st]) == (
        "fg_load_balancer.front  fgform-lb-x-front  http://127.0.0.1:8080\n"
        "  target group web\n"
        "    TARGET  ADDRESS        STATE     CHECK  CONNS  REQUESTS  5XX\n"
        "    t1      10.0.0.2:8080  healthy   L7OK   1      120       0\n"
        "    t22     10.0.0.3:8080  draining  -      0      7         2\n"
        "  target group api\n"
        "    no targets: requests get 503")
    st.running = False
    assert format_status([st]).splitlines()[0].endswith("(not running)")
