"""ROLLING: the scheduler's rolling update, reported through the service-deployment API.

The scheduler keeps driving the tasks (``scheduler.reconcile_service``); this module only maps
its ECS deployment onto the service deployment: IN_PROGRESS while the rollout is, SUCCESSFUL
once COMPLETED; a circuit-breaker failure with rollback is ROLLBACK_IN_PROGRESS until the
rollback deployment completes (ROLLBACK_SUCCESSFUL), without rollback STOPPED.
"""

from __future__ import annotations

from typing import Any

from .. import deployments, service_state
from ..context import SandboxContext
from ..lifecycle import utcnow


def sync(service: Any, record: deployments.ServiceDeployment, tasks: list[Any], ctx: SandboxContext) -> None:
    """Bring one rolling service deployment's status and counts up to date."""
    state = service_state.sb_state(service)
    by_id = {d["id"]: d for d in service.deployments}
    deployment = by_id.get(record.deployment_id)
    if record.stop_request and deployment is not None and deployment["rolloutState"] == "IN_PROGRESS":
        _stop(service, record, deployment, state)
        return
    if deployment is not None:
        # ECS's failedTasks resets once a task runs (Deployment.failedTasks); the breaker's count is the same.
        record.breaker_failures = int(deployment.get("failedTasks") or 0)
        record.counts = {
            "requested": int(deployment["desiredCount"]),
            "running": int(deployment["runningCount"]),
            "pending": int(deployment["pendingCount"]),
        }
    if record.rollback_deployment_id:
        rollback = by_id.get(record.rollback_deployment_id)
        if rollback is None or rollback["status"] != "PRIMARY":
            record.set_status("ROLLBACK_FAILED", record.status_reason)
        elif rollback["rolloutState"] == "COMPLETED":
            record.set_status("ROLLBACK_SUCCESSFUL", record.status_reason)
        return
    if deployment is None:
        record.set_status("STOPPED", record.status_reason or "Service deployment stopped.")
        return
    rollout = deployment["rolloutState"]
    if rollout == "IN_PROGRESS":
        record.set_status("IN_PROGRESS")
    elif rollout == "COMPLETED":
        record.set_status("SUCCESSFUL")
    elif rollout == "FAILED":
        record.breaker_triggered = bool(deployment.get("sb_breaker_triggered"))
        rollback = next(
            (d for d in service.deployments if d["id"] in state["rollbacks"] and d["status"] == "PRIMARY"), None
        )
        reason = deployment.get("rolloutStateReason")
        if rollback is not None:
            _rolling_back(record, rollback["id"], reason, service)
        else:
            record.set_status("STOPPED", reason)


def _rolling_back(record: deployments.ServiceDeployment, rollback_id: str, reason: str | None, service: Any) -> None:
    record.rollback_deployment_id = rollback_id
    source = record.sources[0].arn if record.sources else record.target.arn
    record.rollback = {"reason": reason or "Service deployment rolled back.", "startedAt": utcnow(),
                       "serviceRevisionArn": source}
    record.set_status("ROLLBACK_IN_PROGRESS", reason)


def _stop(
    service: Any, record: deployments.ServiceDeployment, deployment: dict[str, Any], state: dict[str, Any]
) -> None:
    """StopServiceDeployment on a rolling deployment: ROLLBACK starts a deployment of the last
    completed revision; ABORT stops launching."""
    request, record.stop_request = record.stop_request, None
    deployment["rolloutState"] = "FAILED"
    deployment["rolloutStateReason"] = "Service deployment stopped by StopServiceDeployment."
    deployment["updatedAt"] = utcnow()
    last_completed = state["last_completed"]
    if request == "ROLLBACK" and last_completed:
        service.task_definition = last_completed[1]
        rollback = service_state.start_deployment(service)
        state["rollbacks"].add(rollback["id"])
        _rolling_back(record, rollback["id"], "Service deployment rolled back by StopServiceDeployment.", service)
    else:
        state["halted"].add(deployment["id"])
        record.set_status("STOPPED", "Service deployment stopped by StopServiceDeployment.")
