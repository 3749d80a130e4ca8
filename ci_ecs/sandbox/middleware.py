"""WSGI middleware in front of moto: names each AWS call, logs it and injects faults.

The operation is read the way AWS routes it: the ``X-Amz-Target`` header for JSON protocols
(ECS, ECR: "AmazonEC2ContainerServiceV20141113.CreateService") and the ``Action`` form field
for query protocols (EC2, STS). The service comes from the SigV4 credential scope.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import parse_qs

from . import shapes
from .faults import FaultInjector
from .rate_limits import RateLimiter

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Services whose models the scheduler or the task runtime reads or changes (the docker runtime
# resolves secrets and writes container output to CloudWatch Logs; the load balancers route by
# ELBv2's rules and register tasks there): requests run under the lock.
LOCKED_SERVICES = frozenset({"ecs", "ecr", "ec2", "logs", "secretsmanager", "ssm", "elasticloadbalancing"})
QUERY_PROTOCOL_XML_ROOT = {"ec2": "Response"}  # other query services use <ErrorResponse>
QUERY_SERVICES = frozenset({"ec2", "sts", "iam", "elasticloadbalancing", "sqs", "sns", "cloudformation"})
# The request log keeps the newest calls only: a sandbox serving a long CI job must not grow without bound.
MAX_REQUEST_LOG = 10_000


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
    fault: str | None  # "throttle", "rate-limit" (--rate-limits), "5xx", "region" (unknown region refused) or None


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


def error_response(service: str, fault: str, region: str = "") -> tuple[str, list[tuple[str, str]], bytes]:
    """Status line, headers and body of an error the sandbox answers itself, shaped like AWS's
    for the protocol: "throttle", "5xx", "denied", "region" (an unknown region in the credential scope)
    or "internal" (moto failed)."""
    request_id = str(uuid.uuid4())
    if fault == "throttle":
        status, json_code, query_code, message = "400 Bad Request", "ThrottlingException", "Throttling", "Rate exceeded"
        if service == "ec2":
            # EC2 throttles with RequestLimitExceeded (HTTP 503); botocore treats it as throttling.
            status, query_code = "503 Service Unavailable", "RequestLimitExceeded"
            message = "Request limit exceeded."
    elif fault == "region":
        # What AWS answers a request signed for a region it does not know (a typo in AWS_REGION):
        # "Credential should be scoped to a valid region, not 'xx-nowhere-1'." (HTTP 403).
        status, json_code, query_code = "403 Forbidden", "InvalidSignatureException", "SignatureDoesNotMatch"
        message = f"Credential should be scoped to a valid region, not '{region}'."
    elif fault == "denied":
        # What IAM answers a caller whose policy lacks the action (HTTP 400 AccessDeniedException for JSON
        # protocols; query protocols say UnauthorizedOperation / AccessDenied).
        status, json_code, query_code = "400 Bad Request", "AccessDeniedException", "UnauthorizedOperation"
        message = ("User: arn:aws:iam::123456789012:user/sandbox is not authorized to perform this operation "
                   "(denied by the ci-ecs sandbox)")
    elif fault == "internal":
        status, json_code, query_code = "500 Internal Server Error", "InternalFailure", "InternalFailure"
        message = "The request processing has failed because of an unknown error (ci-ecs sandbox)."
    else:
        status, json_code, query_code = "503 Service Unavailable", "ServiceUnavailable", "ServiceUnavailable"
        message = "Service Unavailable (injected by the ci-ecs sandbox)"
    if service in QUERY_SERVICES:
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
    """Wraps moto's WSGI app: request log, fault injection, the backend lock and, in test mode
    (``validate_responses``), the check of every response against botocore's model."""

    def __init__(
        self,
        app: WSGIApp,
        injector: FaultInjector,
        lock: threading.RLock,
        validate_responses: bool = False,
        violations_file: str | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        """``violations_file``: append each violation found in test mode to this file, one line
        each (how a sandbox in a child process tells the tests what it found). ``rate_limiter``: AWS's
        documented request throttling (rate_limits.py), None for unlimited."""
        self.app = app
        self.rate_limiter = rate_limiter
        self.violations_file = violations_file
        self.injector = injector
        self.lock = lock
        self.validate_responses = validate_responses
        self.request_log: deque[Call] = deque(maxlen=MAX_REQUEST_LOG)
        self.request_details: deque[CallDetail] = deque(maxlen=MAX_REQUEST_LOG)
        self.violations: deque[str] = deque(maxlen=MAX_REQUEST_LOG)
        self._log_lock = threading.Lock()

    def clear_request_log(self) -> None:
        """Forget the calls received so far."""
        with self._log_lock:
            self.request_log.clear()
            self.request_details.clear()

    def _answer(
        self, start_response: Callable[..., Any], service: str, operation: str, region: str, fault: str,
        recorded: str | None = None,
    ) -> list[bytes]:
        status, headers, body = error_response(service, fault, region)
        self._record(service, operation, region, int(status.split()[0]), recorded or fault)
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _record(self, service: str, operation: str, region: str, status: int, fault: str | None) -> None:
        with self._log_lock:
            self.request_log.append(Call(service, operation))
            self.request_details.append(CallDetail(service, operation, region, status, fault))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        service, operation, region = identify(environ)
        if not service:
            # moto's own API (/moto-api) and unsigned requests pass through unlogged.
            return self.app(environ, start_response)

        if region and not _known_region(service, region):
            # moto would fail with a KeyError (HTTP 500); AWS refuses the signature.
            return self._answer(start_response, service, operation, region, "region")
        if self.rate_limiter is not None and self.rate_limiter.enabled and not self._within_rate(
                environ, service, operation, region):
            # The same answer as an injected throttle, logged apart so a bench can count AWS-like throttling.
            return self._answer(start_response, service, operation, region, "throttle", recorded="rate-limit")
        fault = self.injector.decide(service, operation)
        if fault:
            return self._answer(start_response, service, operation, region, fault)

        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        try:
            if service in LOCKED_SERVICES:
                with self.lock:
                    # Consume the body inside the lock: moto serialises lazily from live models.
                    chunks = _consume(self.app(environ, capture))
            else:
                chunks = _consume(self.app(environ, capture))
        except Exception:  # noqa: BLE001 - an AWS-shaped 500 and a log line, not werkzeug's HTML page
            log.exception("sandbox: %s:%s failed inside moto", service, operation)
            self._violation(f"{service}:{operation}: moto raised (HTTP 500)")
            return self._answer(start_response, service, operation, region, "internal")
        status_code = int(str(captured.get("status", "500")).split()[0])
        self._record(service, operation, region, status_code, None)
        if self.validate_responses:
            problems = shapes.check_response(
                service, operation, status_code, list(captured.get("headers") or []), b"".join(chunks)
            )
            if status_code >= 500:
                problems.append(f"{operation}: HTTP {status_code} from moto")
            for problem in problems:
                self._violation(f"{service}:{problem}")
        return chunks

    def _within_rate(self, environ: dict[str, Any], service: str, operation: str, region: str) -> bool:
        """Take a token from the bucket AWS would charge this call to (per account and region)."""
        assert self.rate_limiter is not None
        params: dict[str, object] = {}
        if service in QUERY_SERVICES:
            params = dict(parse_qs(_read_body(environ).decode("utf-8", "replace")))
        return self.rate_limiter.allow(_account(environ), region, service, operation, params)

    def _violation(self, text: str) -> None:
        with self._log_lock:
            self.violations.append(text)
            if self.violations_file:
                with open(self.violations_file, "a", encoding="utf-8") as out:
                    out.write(text.replace("\n", " ") + "\n")

    def take_violations(self) -> list[str]:
        """The response-shape violations found since the last call (test mode), and forget them."""
        with self._log_lock:
            found = list(self.violations)
            self.violations.clear()
        return found


def _consume(result: Iterable[bytes]) -> list[bytes]:
    try:
        return list(result)
    finally:
        close = getattr(result, "close", None)
        if close:
            close()


def _account(environ: dict[str, Any]) -> str:
    """The account a request is signed for: moto's mapping of the SigV4 access key id (throttling is per account)."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    marker = "Credential="
    start = authorization.find(marker)
    access_key = authorization[start + len(marker):].split("/", 1)[0] if start >= 0 else ""
    from moto.iam.models import get_account_id_from

    return str(get_account_id_from(access_key)) if access_key else ""


def _known_region(service: str, region: str) -> bool:
    regions = shapes.known_regions(service)
    return not regions or region in regions
