"""A loopback HTTP forwarder in front of the sandbox that delays, hangs, drops or swallows chosen AWS calls.

The sandbox's own fault injection (ci_ecs/sandbox/faults.py) answers with AWS-shaped errors; what it cannot
do is misbehave at the connection level, as a network or an overloaded endpoint does: answer late, never
answer, close the connection before forwarding, or forward a call and lose its answer. This proxy does,
per operation and per call number:

    with FaultProxy(sandbox.endpoint_url) as proxy:
        proxy.add("RegisterTaskDefinition", "delay", seconds=4)      # every call, forwarded 4 s late
        proxy.add("ecs:UpdateService", "swallow", calls={1})         # the first one reaches ECS, its answer is lost
        env = {"AWS_ENDPOINT_URL": proxy.url}

The operation is the `X-Amz-Target` header's (JSON protocols: ECS, ECR, Logs) or the form's `Action`
(query protocols: EC2, STS, ELB); the service is the SigV4 credential scope's. `proxy.calls` logs every
request on arrival (monotonic time, operation, call number, action), so a test can say what started when.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACTIONS = ("delay", "hang", "drop", "swallow")
# Hop-by-hop headers (RFC 9110 7.6.1) and the body framing, which the proxy sets itself.
_NOT_FORWARDED = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
                            "upgrade", "content-length"})


@dataclass(frozen=True)
class Rule:
    """What to do with the calls of one operation: `delay` (forward `seconds` late), `hang` (never answer, until
    the proxy stops), `drop` (close the connection, nothing forwarded), `swallow` (forward, then close the
    connection without the answer). `calls`: the call numbers (1-based, per operation) it applies to; None: all."""

    operation: str
    action: str
    seconds: float = 0.0
    calls: frozenset[int] | None = None

    def matches(self, service: str, operation: str, number: int) -> bool:
        svc, _, op = self.operation.rpartition(":")
        if op.lower() != operation.lower() or (svc and svc.lower() != service.lower()):
            return False
        return self.calls is None or number in self.calls


@dataclass(frozen=True)
class ProxyCall:
    """One request as it arrived."""

    at: float  # time.monotonic()
    service: str
    operation: str
    number: int  # of this operation, 1-based
    action: str  # the rule applied, "" when forwarded as is


@dataclass
class FaultProxy:
    """The forwarder; `url` is what AWS_ENDPOINT_URL should point at."""

    upstream: str
    rules: list[Rule] = field(default_factory=list)
    calls: list[ProxyCall] = field(default_factory=list)
    _counts: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    def add(self, operation: str, action: str, *, seconds: float = 0.0, calls: set[int] | None = None) -> Rule:
        """Misbehave on `operation` ("RegisterTaskDefinition" or "ecs:RegisterTaskDefinition"); the first
        matching rule applies."""
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, got {action!r}")
        rule = Rule(operation, action, seconds, frozenset(calls) if calls is not None else None)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Forget the rules, the log and the call numbers."""
        with self._lock:
            self.rules.clear()
            self.calls.clear()
            self._counts.clear()

    def calls_since(self, moment: float) -> list[ProxyCall]:
        """The calls that arrived at or after `moment` (time.monotonic())."""
        with self._lock:
            return [call for call in self.calls if call.at >= moment]

    def wait_for(self, operation: str, *, number: int = 1, timeout: float = 60.0) -> ProxyCall:
        """Block until call `number` of `operation` arrived; return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for call in self.calls:
                    if call.operation.lower() == operation.lower() and call.number == number:
                        return call
            time.sleep(0.02)
        raise AssertionError(f"{operation} call {number} never reached the proxy; calls: "
                             f"{[(c.operation, c.number) for c in self.calls]}")

    @property
    def url(self) -> str:
        assert self._server is not None, "start the proxy first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases every hanging call
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _arrived(self, service: str, operation: str) -> Rule | None:
        with self._lock:
            self._counts[operation] += 1
            number = self._counts[operation]
            rule = next((r for r in self.rules if r.matches(service, operation, number)), None)
            self.calls.append(ProxyCall(time.monotonic(), service, operation, number, rule.action if rule else ""))
            return rule


def identify(headers: Any, body: bytes) -> tuple[str, str]:
    """(service, operation) of a signed AWS request.

    >>> identify({"X-Amz-Target": "AmazonEC2ContainerServiceV20141113.DescribeServices",
    ...           "Authorization": "AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/ecs/aws4_request"}, b"")
    ('ecs', 'DescribeServices')
    """
    scope = re.search(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/", headers.get("Authorization") or "")
    service = scope.group(1) if scope else ""
    target = headers.get("X-Amz-Target") or ""
    if target:
        return service, target.rsplit(".", 1)[-1]
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    return service, (form.get("Action") or [""])[0]


class _Handler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"  # keep-alive, as AWS endpoints: botocore reuses its connections

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        return None

    def _relay(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        service, operation = identify(self.headers, body)
        rule = self.owner._arrived(service, operation) if operation else None
        action = rule.action if rule else ""
        if action == "delay" and rule is not None:
            if self.owner._stopping.wait(rule.seconds):
                return self._drop()
        elif action == "hang":
            self.owner._stopping.wait()
            return self._drop()
        elif action == "drop":
            return self._drop()
        status, reason, headers, answer = self._forward(body)
        if action == "swallow":
            return self._drop()
        self.send_response(status, reason)
        for name, value in headers:
            if name.lower() not in _NOT_FORWARDED:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        return None

    def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        upstream = urllib.parse.urlsplit(self.owner.upstream)
        connection = http.client.HTTPConnection(upstream.hostname or "127.0.0.1", upstream.port or 80, timeout=120)
        try:
            headers = {name: value for name, value in self.headers.items() if name.lower() not in _NOT_FORWARDED}
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.reason, response.getheaders(), response.read()
        finally:
            connection.close()

    def _drop(self) -> None:
        # Close without a byte of answer: the client sees the connection end (botocore: ConnectionClosedError).
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _relay  # noqa: N815 - BaseHTTPRequestHandler's names
