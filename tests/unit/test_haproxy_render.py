"""The HAProxy configuration rendered from a load balancer's attributes (plain data in, text
out). `haproxy -c` and real traffic over these configurations are in
tests/integration/test_load_balancer.py."""

from __future__ import annotations

import re

import pytest

from fgform.fleet.haproxy import (
    RenderError,
    backend_name,
    condition_acls,
    quote,
    render_haproxy_config,
    status_regex,
    wildcard_regex,
)


def _matches(quoted_regex: str, text: str, *, ignore_case: bool = False) -> bool:
    """Evaluate a rendered single-quoted regex with Python's re on the UTF-8 bytes HAProxy
    sees (same syntax for what the renderer emits: \\xNN escapes, classes, anchors)."""
    assert quoted_regex[0] == quoted_regex[-1] == "'"
    return re.search(quoted_regex[1:-1].encode(), text.encode(),
                     re.IGNORECASE if ignore_case else 0) is not None


@pytest.mark.parametrize(("pattern", "text", "hit"), [
    ("/api/*", "/api/users", True),
    ("/api/*", "/api", False),
    ("/api/*", "/API/users", False),  # paths are case-sensitive, as on an ALB
    ("/v?/x", "/v1/x", True),
    ("/v?/x", "/v12/x", False),
    ("/a.b", "/aXb", False),  # a dot is a dot, not "any character"
    ("/it's", "/it's", True),
    ("/x(y)[z]$^|+", "/x(y)[z]$^|+", True),
    ("/é*", "/été", True),
])
def test_wildcard_patterns_match_as_alb_does(pattern: str, text: str, hit: bool) -> None:
    assert _matches(wildcard_regex(pattern), text) is hit


def test_a_regex_holds_nothing_that_ends_a_word_or_a_line() -> None:
    rx = wildcard_regex("/a' b\"c\n#d\\e$f")
    assert re.fullmatch(r"'[A-Za-z0-9\\^$.*x]*'", rx), rx


def test_host_headers_are_case_insensitive_and_ignore_the_port() -> None:
    (line,), = condition_acls({"host_headers": ["*.example.com"]})
    assert line.startswith("req.hdr(host),field(1,:) -m reg -i ")
    rx = line.rsplit(" ", 1)[1]
    assert _matches(rx, "API.Example.COM", ignore_case=True)
    assert not _matches(rx, "example.com.evil", ignore_case=True)


def test_conditions_and_across_kinds_or_within_one() -> None:
    conds = condition_acls({
        "path_patterns": ["/a/*", "/b"], "http_request_methods": ["GET", "HEAD"],
        "source_ips": ["10.1.2.3/8"], "http_headers": [{"name": "X-Env", "values": ["c*"]}],
        "query_strings": [{"key": "v", "value": "2"}, {"key": None, "value": "beta"}]})
    # One list per condition (ANDed); several lines in one list are ORed (same ACL name).
    assert [len(c) for c in conds] == [2, 1, 1, 2, 1]
    assert conds[0] == ["path_beg '/a/'", "path -m reg '^\\x2fb$'"]
    assert conds[2] == ["method -m str GET HEAD"]
    assert conds[4] == ["src 10.0.0.0/8"]
    keyed, any_key = (line.rsplit(" ", 1)[1] for line in conds[3])
    assert _matches(keyed, "a=1&V=2", ignore_case=True)
    assert not _matches(keyed, "v=22", ignore_case=True)
    assert _matches(any_key, "x=BETA", ignore_case=True)


def test_status_matchers() -> None:
    assert status_regex("200-299") == "^(2[0-9][0-9])$"
    assert status_regex("200,204") == "^(200|204)$"
    assert status_regex("200-215") == "^(20[0-9]|210|211|212|213|214|215)$"


def test_quote_keeps_text_literal() -> None:
    assert quote('a "b" $HOME \\ \n') == '"a \\"b\\" \\$HOME \\\\ \\n"'


TG = {"web": {"health_check": {"path": "/health", "interval": 3, "timeout": 1,
                               "healthy_threshold": 2, "unhealthy_threshold": 4,
                               "matcher": "200", "port": "8081"},
              "load_balancing_algorithm_type": "least_outstanding_requests",
              "slow_start": 30},
      "api": {"health_check": None, "stickiness": {"enabled": True, "cookie_duration": 60}}}


def _lb(rules: list[dict], **default) -> dict:
    return {"name": "front", "listener": [{"port": 8080, "rule": rules, **default}]}


def test_rules_are_matched_by_priority_whatever_their_order() -> None:
    lb = _lb([{"priority": 20, "path_patterns": ["/b"], "target_group": "api"},
              {"priority": 5, "path_patterns": ["/a"], "fixed_response": {
                  "status_code": 200, "content_type": "text/plain", "body": "hi"}}],
             default_target_group="web")
    text = render_haproxy_config(lb, TG)
    first, second, default = (text.index(f"set-var(txn.rule) int({n})") for n in (5, 20, 0))
    assert first < second < default
    assert "http-request return status 200 content-type \"text/plain\" string \"hi\" " \
           "if { var(txn.rule) -m int eq 5 }" in text
    assert f"str({backend_name('api')}) if {{ var(txn.rule) -m int eq 20 }}" in text
    assert f"str({backend_name('web')}) if {{ var(txn.rule) -m int eq 0 }}" in text
    # Same input, same bytes; and the order rules are written in does not matter.
    lb_reversed = {**lb, "listener": [{**lb["listener"][0],
                                       "rule": lb["listener"][0]["rule"][::-1]}]}
    assert render_haproxy_config(lb_reversed, TG) == text


def test_a_body_with_newlines_and_quotes_stays_on_its_line() -> None:
    text = render_haproxy_config(_lb([], fixed_response={
        "status_code": 503, "content_type": "application/json",
        "body": '{"a": "$x"}\nbackend evil'}), TG)
    assert "\nbackend evil" not in text
    assert 'string "{\\"a\\": \\"\\$x\\"}\\nbackend evil" if' in text


def test_weighted_forward_splits_by_cumulative_weight_with_sticky_cookie() -> None:
    text = render_haproxy_config(_lb([], forward={
        "target_group": [{"id": "web", "weight": 90}, {"id": "api", "weight": 10},
                         {"id": "web2", "weight": 0}],
        "stickiness": {"enabled": True, "duration": 120}}),
        {**TG, "web2": {}})
    web, api = backend_name("web"), backend_name("api")
    assert "set-var(txn.pick) rand(100)" in text
    assert re.search(rf"str\({web}\) .*lt 90 }}", text)
    assert re.search(rf"str\({api}\) .*lt 100 }}", text)
    assert backend_name("web2") not in text.split("backend ", 1)[0]  # weight 0: never chosen
    assert f"req.cook(fgform_tg_8080_0) -m str {api} {web} }}" in text
    assert "Set-Cookie \"fgform_tg_8080_0=%[var(txn.be)]; Max-Age=120; Path=/\"" in text


def test_redirect_with_placeholders() -> None:
    text = render_haproxy_config(_lb([], redirect={
        "protocol": "#{protocol}", "host": "new.#{host}", "port": "#{port}",
        "path": "/v2/#{path}", "query": "#{query}", "status_code": "HTTP_301"}), TG)
    loc = "http://new.%[req.hdr(host),field(1,:)]:%[dst_port]/v2/%[path,regsub(^/,)]"
    assert f'redirect location "{loc}?%[query]" code 301 if ' \
           "{ var(txn.rule) -m int eq 0 } { query -m len gt 0 }" in text
    assert f'redirect location "{loc}" code 301 if {{ var(txn.rule) -m int eq 0 }}\n' in text


def test_target_group_backend_health_checks_and_servers() -> None:
    text = render_haproxy_config(
        _lb([{"priority": 1, "path_patterns": ["/api/*"], "target_group": "api"}],
            default_target_group="web"), TG,
        {"web": [{"id": "t2", "address": "10.0.0.3", "port": 80},
                 {"id": "t1", "address": "10.0.0.2", "port": 80, "state": "draining"}]})
    web = text[text.index(f"backend {backend_name('web')}"):]
    web = web[:web.index("\n\n")]
    assert "balance leastconn" in web
    assert 'http-check send meth GET uri "/health"' in web
    assert "http-check expect status 200" in web
    assert "timeout check 1s" in web
    opts = ("check inter 3s fall 4 rise 2 port 8081 slowstart 30s "
            "observe layer4 error-limit 1 on-error mark-down")
    assert web.endswith(f"server t1 10.0.0.2:80 {opts} disabled\n"
                        f"    server t2 10.0.0.3:80 {opts}")
    api = text[text.index(f"backend {backend_name('api')}"):]
    assert "balance roundrobin" in api
    assert "http-check expect rstatus '^(2[0-9][0-9]|3[0-9][0-9])$'" in api
    assert "insert indirect nocache dynamic attr \"Max-Age=60\"" in api
    # No rule uses a target group the load balancer does not forward to.
    assert "backend tg_" in text and text.count("\nbackend tg_") == 2


def test_a_failed_connection_goes_to_another_target_and_marks_its_target_down() -> None:
    targets = {"web": [{"id": "t1", "address": "10.0.0.2", "port": 80},
                       {"id": "t2", "address": "10.0.0.3", "port": 80}]}
    text = render_haproxy_config(_lb([], default_target_group="web"), TG, targets)
    defaults = text[text.index("\ndefaults\n"):text.index("\nfrontend ")]
    # Every retry of a failed connection is redispatched.
    assert "option redispatch 1\n" in defaults and "retries 3\n" in defaults
    assert "retry-on conn-failure" in defaults and "timeout connect 5s\n" in defaults
    servers = [ln for ln in text.splitlines() if ln.strip().startswith("server ")]
    assert len(servers) == 2
    assert all(ln.endswith(" observe layer4 error-limit 1 on-error mark-down")
               for ln in servers)
    assert render_haproxy_config(_lb([], default_target_group="web"), TG, targets) == text


def test_unknown_target_group_is_an_error() -> None:
    with pytest.raises(RenderError, match="'nope'"):
        render_haproxy_config(_lb([], default_target_group="nope"), TG)


def test_no_default_action_answers_404() -> None:
    text = render_haproxy_config(_lb([]), TG)
    assert 'http-request return status 404 content-type "text/plain" string "Not Found\\n"' \
        in text
