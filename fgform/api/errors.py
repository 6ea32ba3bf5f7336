"""Errors the API answers, in ECS's JSON 1.1 shape: `{"__type": CODE, "message": TEXT}`
with the HTTP status AWS gives that code."""

from __future__ import annotations

from typing import Any

# AWS's HTTP status for each error code the server answers. The ECS modelled errors are
# 400; a request with no signature at all is 403, but a bad one (wrong secret, expired,
# unknown key, malformed header) is 400, as ECS and the other JSON-protocol services answer
# them (boto3 and the aws CLI show "status code: 400" for InvalidSignatureException);
# ServerException is ECS's 500.
STATUS: dict[str, int] = {
    "ClientException": 400,
    "InvalidParameterException": 400,
    "ServiceNotFoundException": 400,
    "ServiceNotActiveException": 400,
    "ClusterNotFoundException": 400,
    "AccessDeniedException": 400,
    "ThrottlingException": 400,
    "InvalidAction": 400,
    "SerializationException": 400,
    "RequestEntityTooLargeException": 413,
    "MissingAuthenticationTokenException": 403,
    "UnrecognizedClientException": 400,
    "SignatureDoesNotMatch": 403,
    "InvalidSignatureException": 400,
    "IncompleteSignatureException": 400,
    "ServerException": 500,
}


class ApiError(Exception):
    """An error answered to the client: `code` is the `__type`, `message` the text shown
    by the aws CLI ("An error occurred (CODE) when calling the X operation: MESSAGE")."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else STATUS.get(code, 400)

    def body(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        return {"__type": self.code, "message": self.message}


def client_error(message: str) -> ApiError:
    """ECS's ClientException: the request is well formed but cannot be done."""
    return ApiError("ClientException", message)


def invalid_parameter(message: str) -> ApiError:
    """ECS's InvalidParameterException: a parameter is missing or has a wrong value."""
    return ApiError("InvalidParameterException", message)
