"""Target health as an Application Load Balancer keeps it, and the HTTP health check itself.

From the ELB user guide, "Health checks for Application Load Balancer target groups": a newly
registered target "must pass one health check to be considered healthy"; a target is taken out
of service after UnhealthyThresholdCount consecutive failures and put back after
HealthyThresholdCount consecutive successes; the check is an HTTP GET of HealthCheckPath that
succeeds when the status is in the Matcher's HttpCode ("200", "200,202", "200-299"). States and
reason codes are the API reference's (TargetHealth: initial, healthy, unhealthy, unused,
draining, unavailable; Elb.InitialHealthChecking, Target.ResponseCodeMismatch, Target.Timeout,
Target.FailedHealthChecks, Target.NotInUse, Target.DeregistrationInProgress, Target.HealthCheckDisabled).
"""

from __future__ import annotations

import http.client
import ipaddress
import ssl
from dataclasses import dataclass


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8 and ::1: the only addresses the sandbox ever connects to.

    >>> is_loopback("127.4.0.2"), is_loopback("203.0.113.7"), is_loopback(None)
    (True, False, False)
    """
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def matcher_accepts(matcher: str, status: int) -> bool:
    """The target group's Matcher.HttpCode: codes, comma-separated, or ranges.

    >>> [matcher_accepts("200-299,302", s) for s in (204, 302, 404)]
    [True, True, False]
    """
    for part in (matcher or "200").split(","):
        part = part.strip()
        if "-" in part:
            low, high = part.split("-", 1)
            if int(low) <= status <= int(high):
                return True
        elif part and int(part) == status:
            return True
    return False


@dataclass(frozen=True)
class Outcome:
    """One health check's result: passed, else the reason code and description AWS gives."""

    ok: bool
    reason: str | None = None
    description: str | None = None


PASSED = Outcome(True)


def http_check(address: str, port: int, path: str, timeout: float, matcher: str, https: bool = False) -> Outcome:
    """GET ``path`` on ``address:port`` (loopback only: anything else is refused here, never connected to)."""
    if not is_loopback(address):
        return Outcome(False, "Target.FailedHealthChecks", "Health checks failed (the sandbox connects only to "
                                                          "loopback addresses and the tasks it runs)")
    connection: http.client.HTTPConnection
    if https:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # ALB does not validate target certificates either
        connection = http.client.HTTPSConnection(address, port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        connection.request("GET", path or "/", headers={"User-Agent": "ELB-HealthChecker/2.0"})
        status = connection.getresponse().status
    except TimeoutError:
        return Outcome(False, "Target.Timeout", "Request timed out")
    except (OSError, http.client.HTTPException):
        return Outcome(False, "Target.FailedHealthChecks", "Health checks failed")
    finally:
        connection.close()
    if matcher_accepts(matcher, status):
        return PASSED
    return Outcome(False, "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{status}]")


@dataclass
class TargetState:
    """What the load balancer knows about one registered target (target group, id, port).

    ``address`` is where the sandbox connects (a task's loopback address, or a loopback target id);
    None means never connected to (a simulated task: its health follows the task's state).
    """

    group_arn: str
    target_id: str
    port: int
    address: str | None = None
    connect_port: int | None = None
    task_arn: str | None = None
    state: str = "initial"
    reason: str | None = "Elb.RegistrationInProgress"
    description: str | None = "Target registration is in progress"
    successes: int = 0
    failures: int = 0
    next_check: float = 0.0
    drain_until: float | None = None

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.group_arn, self.target_id, self.port)

    def record(self, outcome: Outcome, healthy_threshold: int, unhealthy_threshold: int) -> None:
        """Apply one check: initial → healthy after one pass; healthy ↔ unhealthy on the thresholds."""
        if self.state in ("draining", "unused", "unavailable"):
            return
        if outcome.ok:
            self.failures = 0
            self.successes += 1
            if self.state == "initial" or self.successes >= healthy_threshold:
                self.state, self.reason, self.description = "healthy", None, None
            return
        self.successes = 0
        self.failures += 1
        if self.state == "initial":
            self.reason, self.description = "Elb.InitialHealthChecking", "Initial health checks in progress"
        if self.state == "unhealthy" or self.failures >= unhealthy_threshold:
            self.state, self.reason, self.description = "unhealthy", outcome.reason, outcome.description

    def drain(self, until: float) -> None:
        """Deregistration started: no new requests; gone from the group at ``until``."""
        self.state, self.reason = "draining", "Target.DeregistrationInProgress"
        self.description = "Target deregistration is in progress"
        self.drain_until = until

    @property
    def routable(self) -> bool:
        """Healthy targets get requests; unavailable ones too (health checks disabled)."""
        return self.state in ("healthy", "unavailable")
