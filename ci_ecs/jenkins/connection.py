"""Connect to a Jenkins controller with jenkinsapi; turn its HTTP and network failures into ci-ecs errors.

Exit codes (design.md): 1 for an unreachable controller or a failed call, 2 for bad usage, 3 when Jenkins
refuses the credentials or the permission (HTTP 401/403). The API token is registered with ci_ecs.redact, so
no message or log line can carry it.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ci_ecs.errors import CiEcsError, ConfigError, DeployTimeoutError, escape_control
from ci_ecs.redact import redact, register_secret


class JenkinsError(CiEcsError):
    """A Jenkins call failed, the controller cannot be reached, or a build did not succeed (exit 1)."""


class JenkinsAuthError(JenkinsError):
    """Jenkins refused the user/API token, or the user lacks a permission (HTTP 401/403, exit 3)."""

    exit_code = 3


class JenkinsTimeoutError(DeployTimeoutError):
    """The build did not finish (or did not leave the queue) within --timeout (exit 4)."""


@dataclass(frozen=True)
class Connection:
    """Where Jenkins is and who calls it; `token` is a Jenkins API token (never printed)."""

    url: str
    user: str | None = None
    token: str | None = None
    timeout: float = 30.0


def check_connection(conn: Connection) -> None:
    """Bad usage before any request: a URL that is not http(s), a token without a user or the reverse."""
    parts = urlsplit(conn.url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{conn.url!r} is not an http(s) URL of a Jenkins controller", key="--url")
    if parts.password:
        register_secret(parts.password)
    if bool(conn.user) != bool(conn.token):
        raise ConfigError("give both --user and --token (JENKINS_USER, JENKINS_API_TOKEN), or neither",
                          key="--user" if conn.token else "--token")


def connect(conn: Connection) -> Any:
    """A jenkinsapi `Jenkins` for `conn`; its first request (the job list) checks the URL and credentials.

    CSRF crumbs are jenkinsapi's CrumbRequester's business: it fetches one from /crumbIssuer before a POST.
    """
    check_connection(conn)
    register_secret(conn.token)
    # jenkinsapi logs "Failed request at URL ..." before raising; ci-ecs reports the error itself, in one line.
    logging.getLogger("jenkinsapi").addHandler(logging.NullHandler())
    try:
        from jenkinsapi.jenkins import Jenkins
    except ImportError:
        raise ConfigError("the jenkins commands need jenkinsapi: pip install 'ci-ecs[jenkins]'") from None
    with jenkins_errors(conn.url):
        return Jenkins(conn.url.rstrip("/"), username=conn.user or "", password=conn.token or "",
                       timeout=int(conn.timeout), use_crumb=True)


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")
_STATUS = re.compile(r"\bstatus=(\d{3})\b")


def _reason(exc: BaseException) -> str:
    """The short cause of a network error ("Connection refused"), not urllib3's nested repr."""
    text = str(exc)
    match = _ERRNO.search(text)
    if match:
        return match.group(1).strip()
    if "timed out" in text.lower():
        return "timed out"
    return type(exc).__name__


def http_error(status: int, url: str, what: str = "") -> JenkinsError:
    """The error for an HTTP status Jenkins answered with (401/403: credentials or permission, exit 3)."""
    path = urlsplit(url).path or "/"
    doing = f"{what}: " if what else ""
    if status == 401:
        return JenkinsAuthError(f"{doing}Jenkins refused the credentials (HTTP 401 on {path}): check --user "
                                "and the API token (JENKINS_API_TOKEN)")
    if status == 403:
        return JenkinsAuthError(f"{doing}Jenkins refused the request (HTTP 403 on {path}): the user lacks the "
                                "permission, or the token is wrong")
    return JenkinsError(f"{doing}Jenkins answered HTTP {status} on {path}")


@contextlib.contextmanager
def jenkins_errors(url: str, what: str = "") -> Iterator[None]:
    """Map requests/jenkinsapi failures inside the block to one-line JenkinsError/JenkinsAuthError.

    jenkinsapi's own exception texts carry the request body (a job's XML, a script): never printed.
    """
    import requests
    from jenkinsapi.custom_exceptions import JenkinsAPIException

    doing = f"{what}: " if what else ""
    try:
        yield
    except requests.HTTPError as exc:
        response = exc.response
        raise http_error(response.status_code if response is not None else 0,
                         response.url if response is not None else url, what) from None
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise JenkinsError(f"{doing}cannot reach Jenkins at {redact(url)}: {_reason(exc)}") from None
    except JenkinsAPIException as exc:
        match = _STATUS.search(str(exc))
        if match:
            raise http_error(int(match.group(1)), url, what) from None
        raise JenkinsError(f"{doing}{escape_control(redact(str(exc).splitlines()[0][:200]))}") from None
    except RuntimeError as exc:
        # CrumbRequester: "Failed to fetch crumb: <page>" when /crumbIssuer answers neither 200 nor 404.
        if str(exc).startswith("Failed to fetch crumb"):
            raise JenkinsAuthError(f"{doing}Jenkins refused a CSRF crumb (/crumbIssuer): the user lacks "
                                   "Overall/Read, or the token is wrong") from None
        raise


def check_response(response: Any, url: str, what: str, ok: tuple[int, ...] = (200,)) -> None:
    """Raise the mapped error unless `response` (a requests.Response) has one of the `ok` statuses."""
    if response.status_code not in ok:
        raise http_error(response.status_code, url, what)
