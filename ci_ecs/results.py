"""The outcomes of a deploy and of `ci-ecs register` (their `--output json` objects), and how several services'
results and errors are combined into one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ci_ecs.errors import CiEcsError, DeploymentFailedError, DeployTimeoutError


@dataclass
class DeployResult:
    """The outcome of a deploy; `as_json()` is the `--output json` contract (design.md)."""

    cluster: str
    service: str
    serviceArn: str | None = None  # noqa: N815 - the JSON contract's names
    serviceAction: str = "unchanged"  # noqa: N815
    taskDefinitionArn: str | None = None  # noqa: N815
    taskDefinitionRegistered: bool = False  # noqa: N815
    imageUri: str | None = None  # noqa: N815
    imageDigest: str | None = None  # noqa: N815
    imagePushed: bool = False  # noqa: N815
    deploymentId: str | None = None  # noqa: N815
    rolloutState: str | None = None  # noqa: N815
    # Blue/green, canary and linear deployments, followed through ECS's service-deployment API.
    serviceDeploymentArn: str | None = None  # noqa: N815
    serviceDeploymentStatus: str | None = None  # noqa: N815
    lifecycleStage: str | None = None  # noqa: N815
    publicIps: list[str] = field(default_factory=list)  # noqa: N815
    privateIps: list[str] = field(default_factory=list)  # noqa: N815
    loadBalancerDns: str | None = None  # noqa: N815
    serviceUrl: str | None = None  # noqa: N815
    # With `verify`: {"ok": bool, "checks": [{"url", "status", "ms", "error"}]}; None when nothing was probed.
    verify: dict[str, Any] | None = None
    durationSeconds: float = 0.0  # noqa: N815
    # Where the time went (ci_ecs.phases): [{"name", "start", "end", "seconds", "waitedOn"?, ...}], seconds from
    # the deploy's start, in order, covering its wall time.
    phases: list[dict[str, Any]] = field(default_factory=list)
    apiCalls: dict[str, int] = field(default_factory=dict)  # noqa: N815
    dryRun: bool = False  # noqa: N815
    changed: bool = False
    changes: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    # After a failure: the task definition the service was rolled back to (by ci-ecs, or by ECS's circuit breaker:
    # then it may still be under way); None when nothing was rolled back.
    rolledBackTo: str | None = None  # noqa: N815
    # Things that went wrong after the rollout succeeded (e.g. the address lookup); the deploy still succeeded.
    warnings: list[str] = field(default_factory=list)
    # With plan: exactly what CreateService/UpdateService would be sent ({"UpdateService": {...}}).
    request: dict[str, Any] | None = None
    # With a `services:` list: each service's own result (the fields above then sum them up).
    services: list[dict[str, Any]] | None = None

    def as_json(self) -> dict[str, Any]:
        """The JSON object `--output json` prints."""
        return asdict(self)


@dataclass
class RegisterResult:
    """The outcome of `ci-ecs register` (its `--output json` object)."""

    taskDefinitionArn: str | None = None  # noqa: N815 - the JSON contract's names
    taskDefinitionRegistered: bool = False  # noqa: N815
    family: str | None = None
    revision: int | None = None
    imageUri: str | None = None  # noqa: N815
    imageDigest: str | None = None  # noqa: N815
    imagePushed: bool = False  # noqa: N815
    dryRun: bool = False  # noqa: N815
    changed: bool = False
    changes: list[dict[str, Any]] = field(default_factory=list)
    durationSeconds: float = 0.0  # noqa: N815
    apiCalls: dict[str, int] = field(default_factory=dict)  # noqa: N815
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    # With a `services:` list: each entry's task definition (the fields above then name them all).
    taskDefinitions: list[dict[str, Any]] | None = None  # noqa: N815

    def as_json(self) -> dict[str, Any]:
        """The JSON object `register --output json` prints."""
        return asdict(self)

    def summary_lines(self) -> list[str]:
        """A few human lines for stdout."""
        state = "registered" if self.taskDefinitionRegistered else "unchanged"
        if self.dryRun and self.taskDefinitionRegistered:
            state = "would be registered"
        lines = [f"task definition: {self.taskDefinitionArn} ({state})"]
        if self.imageUri:
            lines.append(f"image: {self.imageUri}{' (pushed)' if self.imagePushed else ''}")
        lines.extend(f"warning: {warning}" for warning in self.warnings)
        return lines


def combine(total: DeployResult, results: list[DeployResult]) -> None:
    """Sum several services' results up into `total` (a `services:` list deploy): its own fields and `services`."""
    actions = {r.serviceAction for r in results}
    total.serviceAction = next((a for a in ("created", "updated") if a in actions), "unchanged")
    total.taskDefinitionRegistered = any(r.taskDefinitionRegistered for r in results)
    states = {r.rolloutState for r in results}
    total.rolloutState = states.pop() if len(states) == 1 else "MIXED"
    total.publicIps = sorted({ip for r in results for ip in r.publicIps})
    total.privateIps = sorted({ip for r in results for ip in r.privateIps})
    total.changed = any(r.changed for r in results)
    total.changes = [{**c, "service": r.service} for r in results for c in r.changes]
    total.warnings = [f"{r.service}: {w}" for r in results for w in r.warnings]
    total.services = [r.as_json() for r in results]
    verified = [r.verify for r in results if r.verify is not None]
    if verified:
        total.verify = {"ok": all(v["ok"] for v in verified) and len(verified) == len(results),
                        "checks": [check for v in verified for check in v["checks"]]}


def combined_error(message: str, names: list[str], errors: dict[str, CiEcsError], result: dict[str, Any], *,
                   any_result: bool) -> CiEcsError:
    """The one error of a several-service deploy where some services failed (`errors`, by service name).

    Every service timed out: a DeployTimeoutError. Otherwise a DeploymentFailedError carrying each failed
    service's stopped reasons, events and log tails (prefixed with its name); when no service produced a
    result (`any_result` False) and all errors share one exit code, that code (e.g. AccessDenied everywhere: 3).
    """
    if all(isinstance(e, DeployTimeoutError) for e in errors.values()):
        return DeployTimeoutError(message, result=result)
    failures = {n: e for n, e in errors.items() if isinstance(e, DeploymentFailedError)}
    error = DeploymentFailedError(
        message, result=result,
        stopped_reasons=[f"{n}: {r}" for n, e in failures.items() for r in e.stopped_reasons],
        events=[f"{n}: {event}" for n, e in failures.items() for event in e.events],
        log_tails=[tail for e in failures.values() for tail in e.log_tails])
    codes = {e.exit_code for e in errors.values()}
    if len(codes) == 1 and not any_result:
        error.exit_code = codes.pop()  # e.g. every service refused with AccessDenied: exit 3
    return error
