"""Task state changes every task runtime makes the same way (moto's Task/Container models)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from . import network


def utcnow() -> datetime:
    """Timestamps as moto stores them (aware UTC datetimes)."""
    return datetime.now(timezone.utc)


def mark_stopping(task: Any, reason: str, stop_code: str) -> None:
    """desiredStatus STOPPED with the first reason given (ECS keeps the first one)."""
    task.desired_status = "STOPPED"
    task.stopped_reason = task.stopped_reason or reason
    task.stop_code = task.stop_code or stop_code
    task.stopping_at = getattr(task, "stopping_at", None) or utcnow()
    if task.last_status == "RUNNING":
        task.last_status = "DEACTIVATING"


def finish_stop(task: Any, exit_code: int | None = 0) -> None:
    """lastStatus STOPPED; containers still running get ``exit_code`` (when the task had started);
    the task's ENI is deleted, as ECS deletes it."""
    task.last_status = "STOPPED"
    task.desired_status = "STOPPED"
    task.stopped_at = utcnow()
    task.execution_stopped_at = task.stopped_at
    task.connectivity = None
    for container in task.containers:
        if container.last_status != "STOPPED":
            container.last_status = "STOPPED"
            if container.exitCode is None and getattr(task, "started_at", None) is not None:
                container.exitCode = exit_code
    network.release_task_eni(task)


def task_health(checked: list[str]) -> str:
    """ECS's task healthStatus from the health statuses of its essential containers that have health checks (ECS
    API reference, Task.healthStatus): UNHEALTHY if any is, UNKNOWN while any is being evaluated or when none has a
    health check, else HEALTHY. Both runtimes reduce their containers with this one rule."""
    if not checked:
        return "UNKNOWN"
    if "UNHEALTHY" in checked:
        return "UNHEALTHY"
    if "UNKNOWN" in checked:
        return "UNKNOWN"
    return "HEALTHY"
