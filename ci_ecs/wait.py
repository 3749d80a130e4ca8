"""Follow *our* deployment to COMPLETED, or to a clear failure with the reasons ECS gave.

"Services stable" is not success: after a circuit-breaker rollback the service is stable again on the
old task definition. So we follow the deployment id that our CreateService/UpdateService started, and
succeed only when that deployment is COMPLETED and alone.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ci_ecs.ecs import EcsGateway
from ci_ecs.errors import DeployTimeoutError
from ci_ecs.service import primary_deployment

log = logging.getLogger(__name__)

MIN_POLL_SECONDS = 1.0
STOPPED_TASKS_SHOWN = 3
EVENTS_SHOWN = 5


def failure_threshold(desired_count: int) -> int:
    """ECS's circuit-breaker threshold: half the desired count, at least 3, at most 200.

    >>> [failure_threshold(n) for n in (1, 10, 1000)]
    [3, 5, 200]
    """
    return min(200, max(3, math.ceil(0.5 * desired_count)))


def poll_interval(elapsed: float, max_interval: float) -> float:
    """Seconds to the next poll: about 1 s at first, growing with the wait to at most `max_interval`.

    Growing in proportion to the time already spent keeps detection within ~10 % of the wait while
    a long wait costs at most one call per `max_interval`.
    """
    return min(max_interval, max(MIN_POLL_SECONDS, 0.1 * elapsed))


@dataclass
class WaitOutcome:
    """How the deployment ended."""

    state: str  # COMPLETED | FAILED | ROLLED_BACK | SUPERSEDED
    deployment_id: str
    service: dict[str, Any]
    reason: str = ""
    stopped_reasons: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    ecs_rollback_deployment: str | None = None


def _find(service: dict[str, Any], deployment_id: str) -> dict[str, Any] | None:
    for deployment in service.get("deployments", []):
        if deployment.get("id") == deployment_id:
            return dict(deployment)
    return None


def _events(service: dict[str, Any], since: float | None) -> list[str]:
    lines = []
    for event in service.get("events", [])[:EVENTS_SHOWN]:
        created = event.get("createdAt")
        stamp = created.timestamp() if hasattr(created, "timestamp") else None
        if since is not None and stamp is not None and stamp < since - 1:
            continue
        lines.append(str(event.get("message", "")))
    return lines


def _same_definition_successor(service: dict[str, Any], ours: dict[str, Any] | None) -> str | None:
    """The PRIMARY deployment's id when it replaced `ours` with the same task definition."""
    if ours is None or ours.get("status") == "PRIMARY" or ours.get("rolloutState") == "FAILED":
        return None
    primary = primary_deployment(service)
    if primary and primary.get("taskDefinition") == ours.get("taskDefinition"):
        return str(primary["id"])
    return None


def stopped_reasons(ecs: EcsGateway, cluster: str, service: str, deployment_id: str) -> list[str]:
    """Why our deployment's tasks stopped: up to three, e.g. "CannotPullContainerError: ..." (2 calls)."""
    arns = ecs.list_tasks(cluster, service=service, desired_status="STOPPED")
    if not arns:
        return []
    described = ecs.describe_tasks(cluster, arns[:100])
    # ECS starts a service's tasks with startedBy = the deployment id; older stopped tasks are not ours.
    tasks = [t for t in described if t.get("startedBy") == deployment_id] or described
    tasks.sort(key=lambda t: str(t.get("stoppedAt", "")), reverse=True)
    reasons: list[str] = []
    for task in tasks[:STOPPED_TASKS_SHOWN]:
        reason = str(task.get("stoppedReason") or task.get("stopCode") or "stopped")
        for container in task.get("containers", []):
            if container.get("reason") and str(container["reason"]) not in reason:
                reason += f" ({container['name']}: {container['reason']})"
            elif container.get("exitCode") not in (None, 0):
                reason += f" ({container['name']} exit code {container['exitCode']})"
        task_id = str(task.get("taskArn", "")).rsplit("/", 1)[-1]
        reasons.append(f"task {task_id}: {reason}")
    return reasons


def wait_for_deployment(ecs: EcsGateway, cluster: str, service_name: str, deployment_id: str, *,
                        timeout: float, max_interval: float = 15.0, started_at: float | None = None,
                        circuit_breaker: bool = False, timeout_label: float | None = None,
                        clock: Callable[[], float] = time.monotonic,
                        sleep: Callable[[float], None] = time.sleep) -> WaitOutcome:
    """Poll the service until `deployment_id` is COMPLETED and alone, or fails; raise on timeout.

    Without a circuit breaker ECS retries failing tasks forever; we call the deployment FAILED once as
    many tasks failed as the circuit breaker would allow (`failure_threshold`).
    """
    begin = clock()
    wall_start = started_at if started_at is not None else time.time()
    last_progress = ""
    seen_failed = 0
    # The caller has just created/updated (and so described) the service: nothing to see before a poll.
    sleep(min(MIN_POLL_SECONDS, timeout))
    while True:
        service = ecs.describe_service(cluster, service_name) or {}
        ours = _find(service, deployment_id)
        newer = _same_definition_successor(service, ours)
        if newer is not None:
            # Another deploy of the same task definition replaced ours (a concurrent run, or a forced
            # deployment): its success is ours, so follow it.
            log.info("deployment %s was replaced by %s of the same task definition; following it",
                     deployment_id, newer)
            deployment_id = newer
            continue
        if ours is None or ours.get("status") != "PRIMARY":
            primary = primary_deployment(service) or {}
            rolled_back = (ours or {}).get("rolloutState") == "FAILED" or "roll" in " ".join(
                _events(service, wall_start)).lower()
            state = "ROLLED_BACK" if rolled_back else "SUPERSEDED"
            reason = (f"deployment {deployment_id} failed and ECS's circuit breaker rolled the service back to "
                      f"{primary.get('taskDefinition')}"
                      if rolled_back else
                      f"deployment {deployment_id} was replaced by deployment {primary.get('id')} "
                      f"({primary.get('taskDefinition')}), started by someone else")
            return WaitOutcome(state, deployment_id, service, reason,
                               stopped_reasons(ecs, cluster, service_name, deployment_id),
                               _events(service, wall_start), primary.get("id"))
        desired = int(ours.get("desiredCount", 0))
        running = int(ours.get("runningCount", 0))
        pending = int(ours.get("pendingCount", 0))
        failed = int(ours.get("failedTasks", 0))
        rollout = ours.get("rolloutState")
        others = [d for d in service.get("deployments", []) if d.get("id") != deployment_id]
        if rollout == "FAILED":
            return WaitOutcome("FAILED", deployment_id, service,
                               str(ours.get("rolloutStateReason") or "deployment FAILED"),
                               stopped_reasons(ecs, cluster, service_name, deployment_id),
                               _events(service, wall_start))
        if failed > seen_failed:
            seen_failed = failed
            reasons = stopped_reasons(ecs, cluster, service_name, deployment_id)
            for reason in reasons[:1]:
                log.warning("deployment %s: %d task(s) failed; latest %s", deployment_id, failed, reason)
            if not circuit_breaker and failed >= failure_threshold(desired):
                return WaitOutcome("FAILED", deployment_id, service,
                                   f"{failed} tasks failed to start or stopped (threshold "
                                   f"{failure_threshold(desired)})", reasons, _events(service, wall_start))
        complete = running == desired and not others and rollout in ("COMPLETED", None)
        if complete:
            return WaitOutcome("COMPLETED", deployment_id, service)
        progress = f"{running}/{desired} running, {pending} pending"
        if others:
            progress += f", {sum(int(d.get('runningCount', 0)) for d in others)} old still running"
        if progress != last_progress:
            log.info("deployment %s: %s", deployment_id, progress, extra={"live": True})
            last_progress = progress
        elapsed = clock() - begin
        if elapsed >= timeout:
            raise DeployTimeoutError(f"deployment {deployment_id} of service {service_name} not finished after "
                                     f"{int(timeout_label or timeout)} s ({progress}, rolloutState {rollout})",
                                     deployment_id=deployment_id)
        sleep(min(poll_interval(elapsed, max_interval), max(0.0, timeout - elapsed)))
