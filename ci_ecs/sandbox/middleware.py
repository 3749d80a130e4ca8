"""WSGI middleware in front of moto: names each AWS call, logs it and injects faults.

The operation is read the way AWS routes it: the ``X-Amz-Target`` header for JSON protocols
(ECS, ECR: "AmazonEC2ContainerServiceV20141113.CreateService") and the ``Action`` form field
for query protocols (EC2, STS). The service comes from the SigV4 credential scope.
"""

from __future__ import annotations

import io
import json
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import parse_qs

from .faults import FaultInjector

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Services whose models the scheduler changes: their requests run under the runtime lock.
LOCKED_SERVICES = frozenset({"ecs", "ecr", "ec2"})
QUERY_PROTOCOL_XML_ROOT = {"ec2": "Response"}  # other query services use <ErrorResponse>


class Call(NamedTuple):
    """One AWS API call the sandbox received; compares equal to ("ecs", "CreateService")."""

    service: str
    operation: str


@dataclass(frozen=True)
class CallDetail:
    """A call with what the sandbox answered (``fault`` is "throttle", "5xx" or None)."""

    service: str
    operation: str
    region: str
    status: int
    fault: str | None


def parse_credential_scope(authorization: str) -> tuple[str, str]:
    """(region, service) from a SigV4 Authorization header, or ("", "") when unsigned.

    >>> parse_credential_scope("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/ecs/aws4_request, "
    ...                        "SignedHeaders=host, Signature=abc")
    ('us-east-1', 'ecs')
    """
    marker = "Credential="
    start = authorization.find(marker)
    if start < 0:
        return "", ""
    scope = authorization[start + len(marker) :].split(",", 1)[0].strip().split("/")
    if len(scope) != 5:
        return "", ""
    return scope[2], scope[3].lower()


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the request body and put it back so the wrapped app can read it again."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def identify(environ: dict[str, Any]) -> tuple[str, str, str]:
    """(service, operation, region) of a request; service "" when it is not an AWS call."""
    region, service = parse_credential_scope(environ.get("HTTP_AUTHORIZATION", ""))
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return service, target.rsplit(".", 1)[-1], region
    content_type = environ.get("CONTENT_TYPE", "")
    if environ.get("REQUEST_METHOD") == "POST" and "x-www-form-urlencoded" in content_type:
        form = parse_qs(_read_body(environ).decode("utf-8", "replace"))
        action = form.get("Action", [""])[0]
        if action:
            return service, action, region
    if service:
        # REST protocols (S3 and friends): the sandbox does not name their operations.
        return service, f"{environ.get('REQUEST_METHOD', 'GET')} {environ.get('PATH_INFO', '/')}", region
    return "", "", region


def error_response(service: str, fault: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """Status line, headers and body of an injected error, shaped like AWS's for the protocol."""
    request_id = str(uuid.uuid4())
    if fault == "throttle":
        status, json_code, query_code, message = "400 Bad Request", "ThrottlingException", "Throttling", "Rate exceeded"
        if service == "ec2":
            # EC2 throttles with RequestLimitExceeded (HTTP 503); botocore treats it as throttling.
            status, query_code = "503 Service Unavailable", "RequestLimitExceeded"
            message = "Request limit exceeded."
    else:
        status, json_code, query_code = "503 Service Unavailable", "ServiceUnavailableException", "ServiceUnavailable"
        message = "Service Unavailable (injected by the ci-ecs sandbox)"
    if service in {"ec2", "sts", "iam", "elasticloadbalancing", "sqs", "sns", "cloudformation"}:
        if QUERY_PROTOCOL_XML_ROOT.get(service) == "Response":
            body = (
                f"<Response><Errors><Error><Code>{query_code}</Code><Message>{message}</Message></Error>"
                f"</Errors><RequestID>{request_id}</RequestID></Response>"
            )
        else:
            body = (
                f"<ErrorResponse><Error><Type>Sender</Type><Code>{query_code}</Code><Message>{message}"
                f"</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
            )
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
        return status, headers, body.encode()
    payload = json.dumps({"__type": json_code, "message": message}).encode()
    headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("x-amzn-RequestId", request_id),
        ("x-amzn-ErrorType", f"{json_code}:"),
    ]
    return status, headers, payload


class SandboxMiddleware:
    """Wraps moto's WSGI app: request log, fault injection and the backend lock."""

    def __init__(self, app: WSGIApp, injector: FaultInjector, lock: threading.RLock) -> None:
        self.app = app
        self.injector = injector
        self.lock = lock
        self.request_log: list[Call] = []
        self.request_details: list[CallDetail] = []
        self._log_lock = threading.Lock()

    def clear_request_log(self) -> None:
        """Forget the calls received so far."""
        with self._log_lock:
            self.request_log.clear()
            self.request_details.clear()

    def _record(self, service: str, operation: str, region: str, status: int, fault: str | None) -> None:
        with self._log_lock:
            self.request_log.append(Call(service, operation))
            self.request_details.append(CallDetail(service, operation, region, status, fault))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        service, operation, region = identify(environ)
        if not service:
            # moto's own API (/moto-api) and unsigned requests pass through unlogged.
            return self.app(environ, start_response)

        fault = self.injector.decide(service, operation)
        if fault:
            status, headers, body = error_response(service, fault)
            self._record(service, operation, region, int(status.split()[0]), fault)
            start_response(status, [*headers, ("Content-Length", str(len(body)))])
            return [body]

        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"] = status
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        if service in LOCKED_SERVICES:
            with self.lock:
                # Consume the body inside the lock: moto serialises lazily from live models.
                result = self.app(environ, capture)
                try:
                    chunks = list(result)
                finally:
                    close = getattr(result, "close", None)
                    if close:
                        close()
        else:
            chunks = list(self.app(environ, capture))
        status_code = int(str(captured.get("status", "500")).split()[0])
        self._record(service, operation, region, status_code, None)
        return chunks
