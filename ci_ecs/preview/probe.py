"""`verify` of a preview behind a shared listener: the preview's host name need not resolve yet (its DNS record
may come later, and on the sandbox it never does), so each request goes to the listener's load balancer (its DNS
name) while carrying the preview's host name: in the Host header and, over HTTPS, in the TLS SNI, so the
listener's host-header rule and certificate selection see what a browser would send."""

from __future__ import annotations

import http.client
import socket
import ssl
import urllib.request
from dataclasses import dataclass
from typing import Any

from ci_ecs.config import VerifyConfig
from ci_ecs.verify import Check, probe, url_for


def _connection(address: str, base: type[http.client.HTTPConnection]) -> type[http.client.HTTPConnection]:
    """An http.client connection class that connects to `address` whatever the URL's host (kept for Host/SNI)."""

    class Pinned(base):  # type: ignore[valid-type, misc]
        def connect(self) -> None:
            sock = socket.create_connection((address, self.port), self.timeout)
            if isinstance(self, http.client.HTTPSConnection):
                # server_hostname = the preview's host: the SNI a browser sends (and the name the certificate
                # is checked against).
                self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
            else:
                self.sock = sock

    return Pinned


class _PinnedHttp(urllib.request.HTTPHandler):
    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address

    def http_open(self, req: Any) -> Any:
        return self.do_open(_connection(self.address, http.client.HTTPConnection), req)


class _PinnedHttps(urllib.request.HTTPSHandler):
    def __init__(self, address: str, context: ssl.SSLContext) -> None:
        super().__init__(context=context)
        self.address = address
        self.context = context

    def https_open(self, req: Any) -> Any:
        return self.do_open(_connection(self.address, http.client.HTTPSConnection), req, context=self.context)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        return None  # a 3xx is the answer, as in ci_ecs.verify


def pinned_opener(address: str) -> urllib.request.OpenerDirector:
    """An opener that sends every request to `address` (no proxy: the load balancer is reached directly)."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect(), _PinnedHttp(address),
                                       _PinnedHttps(address, ssl.create_default_context()))


@dataclass
class ThroughLoadBalancer:
    """A verify check type (ci_ecs.verify.CheckType): `http(s)://HOST/path` fetched from the load balancer."""

    settings: VerifyConfig
    host: str  # the preview's host name
    address: str  # the load balancer's DNS name

    def where(self, host: str, port: int | None) -> str:
        """The URL as the preview's (its host name), on the listener's port."""
        return url_for(self.settings.scheme, self.host, port, self.settings.path)

    def probe(self, where: str, host: str, *, task: str | None) -> Check:
        """One request to the URL, connected to the load balancer."""
        return probe(where, self.host, self.settings, task=task, opener=pinned_opener(self.address))
