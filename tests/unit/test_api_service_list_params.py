"""ECS service list parameters of the wrong type (found by tests/integration/api/
test_api_e2e.py's malformed-parameter sweep): InvalidParameterException, never a crash
(a 500 over HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from fgform.api import ecs_service_shapes as S
from fgform.api.errors import ApiError
from fgform.state.model import StateFile


@pytest.mark.parametrize("value", [7, True, 1.5, {"type": "distinctInstance"}, "x"])
@pytest.mark.parametrize("key", ["placementConstraints", "placementStrategy"])
def test_placement_not_a_list(key: str, value: Any) -> None:
    with pytest.raises(ApiError) as err:
        S.placement_blocks({key: value})
    assert err.value.code == "InvalidParameterException"


@pytest.mark.parametrize("value", [7, True, {"targetGroupArn": "tg"}, "x"])
def test_load_balancers_not_a_list(value: Any) -> None:
    with pytest.raises(ApiError) as err:
        S.load_balancer_blocks(StateFile(), {"loadBalancers": value}, None)
    assert err.value.code == "InvalidParameterException"


def test_absent_or_null_is_empty() -> None:
    assert S.placement_blocks({}) == ([], [])
    assert S.placement_blocks({"placementConstraints": None, "placementStrategy": []}) == \
        ([], [])
