"""`verify:` the access check: after our deployment completed, every task of it must answer over HTTP.

Each running task of the deployment is probed on its public IP (its private IP when it has none), or the
service's load balancer on its DNS name; ci-ecs probes whatever address ECS reports, on AWS and on the
sandbox alike. Requests retry until every target answered as wanted or `within` seconds passed (a task
whose status passes with a body that does not match fails at once: it serves the release's own page); each
request has its own timeout and reads at most `MAX_BODY_BYTES`. Redirects are not followed (a 3xx is an
answer). A task without an address, or with one from a documentation range that is never routed
(RFC 5737 / RFC 3849: the sandbox's simulated runtime hands those out), fails at once, without a request.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from ci_ecs.config import Config, ServiceEntry, VerifyConfig, status_ranges
from ci_ecs.errors import ConfigError, escape_control
from ci_ecs.network import Addresses

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
BODY_SHOWN = 120  # characters of a failing answer's body quoted in the message
RETRY_SECONDS = 1.0
MAX_WORKERS = 8
# Never routed on the internet (RFC 5737 TEST-NET-1/2/3, RFC 3849): no task can answer there.
_DOCUMENTATION_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"))


@dataclass
class Target:
    """What to probe: a task's address (`task` = its ARN) or the load balancer's DNS name (`task` None)."""

    host: str | None
    task: str | None = None
    label: str = ""
    port: int | None = None  # this target's own port (a bridge-mode task's host port), else the check's


@dataclass
class Check:
    """One target's last answer: the JSON result's `verify.checks` item (`task` and `body` stay out of it)."""

    url: str
    status: int | None = None
    ms: int | None = None
    error: str | None = None
    task: str | None = field(default=None, repr=False)
    body: str = field(default="", repr=False)
    # The answer is final: the status passed but the body does not match. From a task of our deployment that is
    # the release's own page, which retrying will not change (from a load balancer, an old task may answer).
    wrong_body: bool = field(default=False, repr=False)

    @property
    def ok(self) -> bool:
        """Whether this answer passed."""
        return self.error is None

    def short(self) -> str:
        """The failure in a few words: "status 404" or the connection error."""
        return f"status {self.status}" if self.status is not None else str(self.error)

    def as_json(self) -> dict[str, Any]:
        """{"url", "status", "ms", "error"}."""
        return {"url": self.url, "status": self.status, "ms": self.ms, "error": self.error}


@dataclass
class VerifyResult:
    """The access check's outcome: the JSON result's `verify` = {"ok": bool, "checks": [...]}."""

    ok: bool
    checks: list[Check] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """{"ok": bool, "checks": [{"url", "status", "ms", "error"}]}."""
        return {"ok": self.ok, "checks": [check.as_json() for check in self.checks]}

    def failed_tasks(self) -> list[str]:
        """The task ARNs whose check failed."""
        return [check.task for check in self.checks if not check.ok and check.task]

    def message(self) -> str:
        """One line naming the failed checks: URL, status (or error) and the start of the body."""
        failed = [check for check in self.checks if not check.ok]
        # The first in full (status and start of body); the others by URL and status.
        parts = [f"{check.url}: {check.error if n == 0 else check.short()}" for n, check in enumerate(failed[:3])]
        more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
        return f"verify failed: {len(failed)} of {len(self.checks)} check(s) failed: {'; '.join(parts)}{more}"


def unreachable_reason(host: str) -> str | None:
    """Why `host` cannot be reached at all, or None (a name, or an address that may answer).

    >>> unreachable_reason("203.0.113.7")
    'address not reachable: 203.0.113.7 is in 203.0.113.0/24, a documentation range that is never routed'
    >>> unreachable_reason("127.0.0.9") is None
    True
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    for network in _DOCUMENTATION_NETWORKS:
        if address in network:
            return f"address not reachable: {host} is in {network}, a documentation range that is never routed"
    if address.is_unspecified or address.is_multicast:
        return f"address not reachable: {host}"
    return None


def url_for(scheme: str, host: str, port: int | None, path: str) -> str:
    """The URL of one probe; an IPv6 address goes in brackets, the scheme's default port is left out.

    >>> url_for("http", "2001:db8::1", 8080, "/health")
    'http://[2001:db8::1]:8080/health'
    """
    netloc = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    if port and port != default:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{path}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx is the answer (it counts against `status`): never follow it to another host."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        return None


def _opener(scheme: str, host: str) -> urllib.request.OpenerDirector:
    handlers: list[Any] = [_NoRedirect()]
    if scheme == "https":
        context = ssl.create_default_context()
        try:
            ipaddress.ip_address(host)
            # A task's IP is in no certificate: what is checked here is that the task answers, not who it is.
            # A load balancer's DNS name is checked as any HTTPS client does.
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        except ValueError:
            pass
        handlers.append(urllib.request.HTTPSHandler(context=context))
    # Proxies from the environment (HTTP(S)_PROXY, NO_PROXY) apply as for any HTTP client of the CI job.
    return urllib.request.build_opener(*handlers)


def quote_body(text: str) -> str:
    r"""The start of a body, quoted on one line: cut at BODY_SHOWN characters *before* control characters are
    escaped (so no escape is cut in half), "…" when there was more.

    >>> quote_body("<h1>x</h1>\n" + "y" * 200)[:22]
    '"<h1>x</h1>\\nyyyyyyyyy'
    >>> quote_body("a\x1b[31m")
    '"a\\x1b[31m"'
    """
    shown = text[:BODY_SHOWN]
    return f'"{escape_control(shown)}{"…" if len(text) > BODY_SHOWN else ""}"'


def probe(url: str, host: str, settings: VerifyConfig, *, task: str | None = None,
          opener: urllib.request.OpenerDirector | None = None) -> Check:
    """One request to `url`: its status, time and, when it does not pass, why (status or body, quoted).

    `opener`: how to connect (default: to the URL's host, through the environment's proxies)."""
    check = Check(url, task=task)
    request = urllib.request.Request(url, headers={"User-Agent": "ci-ecs-verify", "Accept": "*/*"})
    started = time.monotonic()
    raw = b""
    try:
        with (opener or _opener(settings.scheme, host)).open(request, timeout=settings.timeout) as answer:
            check.status = int(answer.status)
            raw = answer.read(MAX_BODY_BYTES)
    except urllib.error.HTTPError as exc:  # 4xx/5xx, and 3xx since redirects are not followed
        check.status = int(exc.code)
        try:
            raw = exc.read(MAX_BODY_BYTES)
        except OSError:
            raw = b""
        finally:
            exc.close()
    except urllib.error.URLError as exc:
        check.error = f"no answer: {escape_control(str(exc.reason))}"
    except (OSError, ValueError) as exc:  # timeouts, resets, a malformed answer
        check.error = f"no answer: {escape_control(str(exc) or type(exc).__name__)}"
    check.ms = int((time.monotonic() - started) * 1000)
    check.body = raw.decode("utf-8", errors="replace")
    if check.status is None:
        return check
    if not any(low <= check.status <= high for low, high in status_ranges(settings.status)):
        check.error = f"status {check.status}, expected {settings.status}; body: {quote_body(check.body)}"
    elif settings.body and not re.search(settings.body, check.body):
        check.error = (f"status {check.status} but the body does not match {settings.body!r}; "
                       f"body: {quote_body(check.body)}")
        check.wrong_body = True
    return check


class CheckType(Protocol):
    """One kind of access check (HTTP today): where a target is probed and one probe of it.

    `verify_targets` owns the schedule (retries until `within`, at most MAX_WORKERS at once) and the
    unreachable-address rule; a check type only says how to reach a target and what its answer means.
    """

    def where(self, host: str, port: int | None) -> str:
        """What a probe of `host` on `port` is reported as (the check's `url`)."""

    def probe(self, where: str, host: str, *, task: str | None) -> Check:
        """One attempt; `Check.wrong_body` marks an answer that retrying will not change."""


@dataclass
class HttpCheck:
    """`verify:` over HTTP(S): `settings.scheme`, `path`, `status` and `body` (see `probe`)."""

    settings: VerifyConfig

    def where(self, host: str, port: int | None) -> str:
        """The probe's URL."""
        return url_for(self.settings.scheme, host, port, self.settings.path)

    def probe(self, where: str, host: str, *, task: str | None) -> Check:
        """One request to the URL."""
        return probe(where, host, self.settings, task=task)


def verify_targets(targets: list[Target], settings: VerifyConfig, port: int | None, *,
                   clock: Callable[[], float] = time.monotonic,
                   sleep: Callable[[float], None] = time.sleep, kind: CheckType | None = None) -> VerifyResult:
    """Probe every target until each passed once or `settings.within` seconds passed.

    `kind`: the check type (HttpCheck(settings) unless given).

    Targets without a reachable address fail at once; the others are retried (about once a second)
    until they pass. The result keeps each target's passing check, or its last failing one.
    """
    if not targets:
        return VerifyResult(False, [Check("", error="no running task of the deployment to verify")])
    kind = kind or HttpCheck(settings)
    deadline = clock() + settings.within
    done: dict[int, Check] = {}
    pending: dict[int, str] = {}
    for index, target in enumerate(targets):
        reason = "no address (neither a public nor a private IP)" if not target.host else \
            unreachable_reason(target.host)
        if reason or not target.host:
            where = target.host or target.label or target.task or "?"
            done[index] = Check(kind.where(target.host, target.port or port)
                                if target.host else f"(task {where})", error=reason, task=target.task)
        else:
            pending[index] = kind.where(target.host, target.port or port)
    last: dict[int, Check] = {}
    shown = ""
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, max(1, len(pending)))) as pool:
        while pending:
            started = clock()
            futures = {i: pool.submit(kind.probe, url, str(targets[i].host), task=targets[i].task)
                       for i, url in pending.items()}
            for index, future in futures.items():
                check = future.result()
                last[index] = check
                if check.ok or (check.wrong_body and targets[index].task):
                    # A task of our deployment that serves the wrong page fails at once: it will not change.
                    done[index] = check
                    del pending[index]
            if not pending:
                break
            remaining = deadline - clock()
            if remaining <= 0:
                break
            waiting = ", ".join(f"{last[i].url} ({last[i].short()})" for i in list(pending)[:3])
            if waiting != shown:  # in a CI log, a line per change, not per second
                log.info("verify: waiting for %d of %d target(s): %s", len(pending), len(targets), waiting,
                         extra={"live": True})
                shown = waiting
            sleep(min(max(0.0, RETRY_SECONDS - (clock() - started)), remaining))
    for index in pending:
        done[index] = last[index]
    checks = [done[i] for i in range(len(targets))]
    return VerifyResult(all(check.ok for check in checks), checks)


def load_balancer_port(settings: VerifyConfig) -> int:
    """The port a load balancer is probed on: `verify.port`, else the scheme's default."""
    return settings.port or (443 if settings.scheme == "https" else 80)



def image_port_mapping(definition: dict[str, Any], image_uri: str | None) -> dict[str, Any] | None:
    """The first port mapping of the container(s) running the deployed image, else of any container."""
    containers = definition.get("containerDefinitions", [])
    ordered = [c for c in containers if image_uri and c.get("image") == image_uri] + containers
    for container in ordered:
        for mapping in container.get("portMappings", []):
            if mapping.get("containerPort") or mapping.get("hostPort"):
                return {"container": container.get("name"), **mapping}
    return None


def check_port(config: Config, target: ServiceEntry, definition: dict[str, Any], image_uri: str | None) -> None:
    """A `verify` needs a port: its own, the load balancer's, or a port mapping of the image container."""
    verify = config.verify_for(target)
    if verify is None or verify.port or target.service.load_balancers:
        return
    if image_port_mapping(definition, image_uri) is None:
        index = next((i for i, entry in enumerate(config.services) if entry is target), None)
        prefix = "" if index is None else f"services[{index}]."
        raise ConfigError("no port to probe: the task definition has no port mapping (set verify.port, or "
                          "--no-verify)", key=f"{prefix}verify.port")


def bound_port(task: dict[str, Any], mapping: dict[str, Any]) -> int | None:
    """The host port ECS bound the mapping's container port to in this task (bridge mode's dynamic ports)."""
    for container in task.get("containers", []):
        if mapping and container.get("name") != mapping.get("container"):
            continue
        for binding in container.get("networkBindings", []):
            if binding.get("containerPort") == mapping.get("containerPort") and binding.get("hostPort"):
                return int(binding["hostPort"])
    return None


def verify_deployment(verify: VerifyConfig, definition: dict[str, Any], image_uri: str | None,
                      addresses: Addresses | None, deployment_id: str, *,
                      sleep: Callable[[float], None] = time.sleep) -> tuple[VerifyResult, list[dict[str, Any]]]:
    """Probe our deployment's running tasks (or the load balancer); the result and the tasks probed.

    Target selection: each task started by `deployment_id` on its public IP, else its private IP (as ECS
    reports them), on `verify.port`, else the port ECS bound the image container's mapping to (bridge mode),
    else the mapping's host or container port; the load balancer's DNS name instead when the service has
    one. A task without an address is a failed check, not a skip.
    """
    if addresses is None:
        return VerifyResult(False, [Check("", error="the tasks' addresses could not be looked up (see "
                                                    "warnings)")]), []
    tasks = [t for t in addresses.tasks if t.get("startedBy") == deployment_id]
    mapping = image_port_mapping(definition, image_uri) or {}
    port = verify.port or mapping.get("hostPort") or mapping.get("containerPort")
    if addresses.load_balancer_dns:
        log.info("verify: probing the load balancer %s", addresses.load_balancer_dns)
        return verify_targets([Target(addresses.load_balancer_dns, label="load balancer")], verify,
                              load_balancer_port(verify), sleep=sleep), tasks
    targets = []
    for task in tasks:
        arn = str(task.get("taskArn"))
        public, private = addresses.by_task.get(arn, (None, None))
        targets.append(Target(public or private, task=arn, label=f"task {arn.rsplit('/', 1)[-1]}",
                              port=None if verify.port else bound_port(task, mapping)))
    log.info("verify: probing %d task(s) of deployment %s", len(targets), deployment_id)
    return verify_targets(targets, verify, port, sleep=sleep), tasks
