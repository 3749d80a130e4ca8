"""A recording stand-in for GitHub's issue-comment REST API, on a loopback address.

No real part exists offline (GitHub's API cannot be run here), so the tests of the preview comment talk to
this small HTTP server, written from GitHub's REST reference (https://docs.github.com/en/rest/issues/comments):
"List issue comments" (GET /repos/{owner}/{repo}/issues/{n}/comments, paginated by `per_page`/`page` with a
Link header), "Create an issue comment" (POST, same path, 201) and "Update an issue comment"
(PATCH /repos/{owner}/{repo}/issues/comments/{id}). Every request is recorded; a request without the expected
`Authorization: Bearer <token>` gets 401 as GitHub answers.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_LIST = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
_ONE = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")


@dataclass
class Recorded:
    """One request the server answered."""

    method: str
    path: str
    authorization: str
    body: Any


@dataclass
class FakeGitHub:
    """The server's state: comments by (repository, number), and every request."""

    token: str
    max_page_size: int = 100
    url: str = ""
    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    _next_id: int = 1000
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, repository: str, number: int, body: str) -> int:
        """A comment someone else wrote."""
        with self._lock:
            self._next_id += 1
            self.comments.setdefault((repository, number), []).append({"id": self._next_id, "body": body})
            return self._next_id

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method in ("POST", "PATCH")]


def _handler(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            authorization = self.headers.get("Authorization", "")
            with state._lock:
                state.requests.append(Recorded(self.command, split.path, authorization, body))
            if authorization != f"Bearer {state.token}":
                self._send(401, {"message": "Bad credentials"})
                return
            if (match := _LIST.match(split.path)) and self.command == "GET":
                key = (match.group(1), int(match.group(2)))
                query = parse_qs(split.query)
                size = min(int(query.get("per_page", ["30"])[0]), state.max_page_size)
                page = int(query.get("page", ["1"])[0])
                items = state.comments.get(key, [])
                chunk = items[(page - 1) * size:page * size]
                headers = {}
                if page * size < len(items):
                    headers["Link"] = f'<{state.url}{split.path}?per_page={size}&page={page + 1}>; rel="next"'
                self._send(200, chunk, headers)
            elif (match := _LIST.match(split.path)) and self.command == "POST":
                key = (match.group(1), int(match.group(2)))
                with state._lock:
                    state._next_id += 1
                    comment = {"id": state._next_id, "body": body["body"]}
                    state.comments.setdefault(key, []).append(comment)
                self._send(201, comment)
            elif (match := _ONE.match(split.path)) and self.command == "PATCH":
                for items in state.comments.values():
                    for comment in items:
                        if comment["id"] == int(match.group(2)):
                            comment["body"] = body["body"]
                            self._send(200, comment)
                            return
                self._send(404, {"message": "Not Found"})
            else:
                self._send(404, {"message": "Not Found"})

        do_GET = do_POST = do_PATCH = _handle

    return Handler


@contextmanager
def fake_github(token: str, host: str = "127.0.0.1", max_page_size: int = 100) -> Iterator[FakeGitHub]:
    """The stand-in API on `host` (a loopback address) and a free port, for the `with` block."""
    state = FakeGitHub(token=token, max_page_size=max_page_size)
    server = ThreadingHTTPServer((host, 0), _handler(state))
    state.url = f"http://{host}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
