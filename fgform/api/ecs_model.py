"""ECS's API model (botocore's, the one the aws CLI and boto3 send by) and the check every
request's parameters pass before an action sees them: each member's JSON type is the one the
model gives it, as AWS's front end deserializes a request before acting on it. A wrong type
is a `SerializationException` naming the member, never an action half-run on a value it
did not expect (a RunTask whose `group` is a number would otherwise start a task).

Members the model does not know are ignored, as AWS ignores them; JSON null is an absent
member. Required members, lengths and enums are left to the actions, which word those
errors as ECS does.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

# How each of the model's scalar types arrives in JSON 1.1.
_SCALARS: dict[str, tuple[tuple[type, ...], str]] = {
    "string": ((str,), "a string"),
    "blob": ((str,), "a string (base64)"),
    "boolean": ((bool,), "true or false"),
    "integer": ((int,), "an integer"),
    "long": ((int,), "an integer"),
    "float": ((int, float), "a number"),
    "double": ((int, float), "a number"),
    "timestamp": ((int, float, str), "a timestamp"),
}


@lru_cache(maxsize=1)
def ecs_model() -> Any:
    """botocore's service model of ECS (loaded once); None when it cannot be loaded."""
    try:
        import botocore.session

        return botocore.session.get_session().get_service_model("ecs")
    except Exception:  # noqa: BLE001 - without the model, requests are checked by the actions
        return None


def json_kind(value: Any) -> str:
    """A JSON value's type in words, for messages: "a string", "a number", "null", ..."""
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def _problem(shape: Any, value: Any, path: str) -> str | None:
    """Why `value` does not have `shape`'s JSON type (the first member found), or None."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return f"{path} must be an object, not {json_kind(value)}"
        for name, member in shape.members.items():
            if name in value:
                found = _problem(member, value[name], f"{path}.{name}" if path else name)
                if found:
                    return found
        return None
    if kind == "list":
        if not isinstance(value, list):
            return f"{path} must be a list, not {json_kind(value)}"
        for i, item in enumerate(value):
            found = _problem(shape.member, item, f"{path}[{i}]")
            if found:
                return found
        return None
    if kind == "map":
        if not isinstance(value, dict):
            return f"{path} must be an object, not {json_kind(value)}"
        for key, item in value.items():
            found = _problem(shape.value, item, f"{path}.{key}")
            if found:
                return found
        return None
    types, wanted = _SCALARS.get(kind, ((object,), kind))
    # bool is an int to Python, never to JSON.
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        return f"{path} must be {wanted}, not {json_kind(value)}"
    return None


def type_problem(action: str, params: dict[str, Any]) -> str | None:
    """Why `params` cannot be `action`'s input (a member of the wrong JSON type), in words
    that name the member's path (`containerDefinitions[0].cpu`), never its value (it may be
    a secret); None when every member known to the model has its type, or the action or
    the model is unknown."""
    model = ecs_model()
    if model is None or action not in model.operation_names:
        return None
    shape = model.operation_model(action).input_shape
    if shape is None:
        return None
    found = _problem(shape, params, "")
    return f"{action}: {found}." if found else None
