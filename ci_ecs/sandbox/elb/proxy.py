"""One HTTP server per listener, on its load balancer's loopback address: the data plane.

Each request asks the forwarder for a decision (under the sandbox lock, no I/O), then, with the
lock released, relays the request to the chosen target or answers as ALB does: fixed responses,
redirects, and ALB's own errors ("Troubleshoot your Application Load Balancers", HTTP errors:
502 when the target refuses or breaks the connection, 503 when the target group has no
registered target, 504 when the target does not answer in time).
"""

from __future__ import annotations

import errno
import http.client
import logging
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from .health import is_loopback

if TYPE_CHECKING:
    from .forwarder import Forwarder

log = logging.getLogger(__name__)

# Hop-by-hop headers a proxy does not pass on (RFC 9110 §7.6.1).
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade"})
ALB_ERRORS = {
    502: "502 Bad Gateway",
    503: "503 Service Temporarily Unavailable",
    504: "504 Gateway Time-out",
}
TARGET_TIMEOUT_SECONDS = 60.0  # ALB's default idle timeout (load balancer attribute idle_timeout.timeout_seconds)


@dataclass
class Decision:
    """What answers a request: a target (address, port), a fixed response, a redirect, or an ALB error."""

    status: int = 503
    address: str | None = None
    port: int | None = None
    body: bytes = b""
    content_type: str = "text/html"
    headers: dict[str, str] = field(default_factory=dict)


def alb_error(status: int) -> Decision:
    """ALB's own error page for 502/503/504."""
    title = ALB_ERRORS.get(status, str(status))
    page = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
            "</body>\r\n</html>\r\n")
    return Decision(status=status, body=page.encode())


class _Handler(BaseHTTPRequestHandler):
    server: _ListenerHTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive, as ALB offers; every answer has a Content-Length

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        return None

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        decision = self.server.listener.forwarder.decide(self.server.listener, self.command, self.path,
                                                         {k.lower(): v for k, v in self.headers.items()},
                                                         self.client_address[0])
        if decision.address is not None and decision.port is not None:
            decision = self._relay(decision, body)
        self._answer(decision)

    def _relay(self, decision: Decision, body: bytes) -> Decision:
        address, port = decision.address, decision.port
        if not is_loopback(address):  # never reached: the forwarder only hands out loopback targets
            return alb_error(503)
        listener = self.server.listener
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        client = self.client_address[0]
        forwarded = self.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{forwarded}, {client}" if forwarded else client
        headers["X-Forwarded-Proto"] = listener.protocol.lower()
        headers["X-Forwarded-Port"] = str(listener.port)
        connection = http.client.HTTPConnection(str(address), int(port or 0), timeout=TARGET_TIMEOUT_SECONDS)
        try:
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            data = b"" if self.command == "HEAD" else response.read()
            passed = {k: v for k, v in response.getheaders()
                      if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"}
            return Decision(status=response.status, body=data, headers=passed, content_type="")
        except TimeoutError:
            return alb_error(504)
        except (OSError, http.client.HTTPException):
            return alb_error(502)
        finally:
            connection.close()

    def _answer(self, decision: Decision) -> None:
        self.send_response(decision.status)
        headers = dict(decision.headers)
        if decision.content_type and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = decision.content_type
        if not any(k.lower() == "server" for k in headers):
            headers["Server"] = "awselb/2.0"
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(decision.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(decision.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve  # noqa: N815


class _ListenerHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    listener: ListenerServer


class ListenerServer:
    """A listener's socket on its load balancer's address; ``bound_port`` is where it answers
    (the listener's port, or a free one when that port cannot be bound: ``mapped`` is then True)."""

    def __init__(self, forwarder: Forwarder, arn: str, account: str, region: str, load_balancer_arn: str,
                 address: str, port: int, protocol: str) -> None:
        self.forwarder = forwarder
        self.arn, self.account, self.region, self.load_balancer_arn = arn, account, region, load_balancer_arn
        self.address, self.port, self.protocol = address, port, protocol or "HTTP"
        try:
            self._server = _ListenerHTTPServer((address, port), _Handler)
        except OSError as err:
            if err.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EPERM):
                raise
            self._server = _ListenerHTTPServer((address, 0), _Handler)
        self._server.listener = self
        self.bound_port = int(self._server.server_address[1])
        self.mapped = self.bound_port != port
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"ci-ecs-sandbox-elb-{address}:{self.bound_port}", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://ADDRESS:PORT`` where this listener answers."""
        return f"http://{self.address}:{self.bound_port}"

    def close(self) -> None:
        """Stop answering and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
