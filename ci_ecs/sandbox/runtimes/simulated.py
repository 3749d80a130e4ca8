"""The simulated task runtime: tasks are state only (the sandbox's original behaviour).

A task goes PROVISIONING → PENDING → RUNNING in ``task_start_seconds``; stopping takes half that,
or the timing profile's stop time (``timing``: ``--timing ecs``). Images in the sandbox's own ECR
must exist (checked against the registry in ``sync``, outside the lock); others count as pullable.
A container can be told to exit with a docker label (``CRASH_LABEL``, after ``CRASH_AFTER_LABEL``
seconds) to simulate a crashing app; with a restart policy that allows it (``restart_policy``) the
container restarts in place and exits again after the same time.

A one-off task (started by RunTask, not by a service) runs no command here, so it would otherwise run for
ever: its containers exit 0 after ``ONE_OFF_RUN_SECONDS`` of RUNNING (the crash labels give another code or
time), and the task stops as ECS stops a task whose essential container exited ("Essential container in task
exited", stopCode EssentialContainerExited; ECS API reference, Task.stopCode).

A container with a health check reports HEALTHY (or, with ``HEALTH_LABEL`` UNHEALTHY, UNHEALTHY)
``HEALTH_AFTER_LABEL`` seconds after it starts; until then UNKNOWN, as ECS reports it.
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.ecs import ecs_backends

from .. import ecr, restart_policy
from ..context import SandboxContext
from ..lifecycle import finish_stop, mark_stopping, task_health, utcnow
from .base import TaskRuntime

CRASH_LABEL = "ci-ecs.sandbox/exit-code"
CRASH_AFTER_LABEL = "ci-ecs.sandbox/exit-after-seconds"
# How long a one-off task's containers run before they exit 0 (a migration or a job that succeeds).
ONE_OFF_RUN_SECONDS = 2.0
# A container with a ``healthCheck`` reports UNKNOWN when it starts, then the result of its
# checks after HEALTH_AFTER_LABEL seconds (default: the sandbox's task start time): HEALTHY, or
# UNHEALTHY when HEALTH_LABEL says so (an app whose health check fails).
HEALTH_LABEL = "ci-ecs.sandbox/health-status"
HEALTH_AFTER_LABEL = "ci-ecs.sandbox/health-after-seconds"

MotoTask = Any


def _int_label(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return 1  # any non-numeric value still means "crash"


class SimulatedRuntime(TaskRuntime):
    """Tasks as timed state changes; nothing runs."""

    name = "simulated"

    def prepare(self, task: MotoTask, task_definition: Any, ctx: SandboxContext) -> None:
        """Read the crash labels; the pull check runs on the next tick, outside the lock."""
        by_name = {d.get("name"): d for d in task_definition.container_definitions}
        one_off = getattr(task, "sb_service_uid", None) is None  # RunTask's, not a service's
        for container in task.containers:
            definition = by_name.get(container.name) or {}
            labels = definition.get("dockerLabels") or {}
            container.sb_exit_code = _int_label(labels.get(CRASH_LABEL))
            after = labels.get(CRASH_AFTER_LABEL)
            container.sb_exit_after = float(after) if after not in (None, "") else 0.0
            if one_off and container.sb_exit_code is None:
                container.sb_exit_code = 0
                if after in (None, ""):
                    container.sb_exit_after = ONE_OFF_RUN_SECONDS
            container.sb_restart_policy = restart_policy.policy_of(definition)
            container.sb_restart_count = 0
            container.sb_health_check = bool(definition.get("healthCheck"))
            status = str(labels.get(HEALTH_LABEL) or "HEALTHY").upper()
            container.sb_health_result = "UNHEALTHY" if status == "UNHEALTHY" else "HEALTHY"
            health_after = labels.get(HEALTH_AFTER_LABEL)
            container.sb_health_after = float(health_after) if health_after not in (None, "") else task.sb_start_seconds
        task.sb_stop_at = None
        task.sb_pull_error = None
        task.sb_pull_checked = False

    def sync(self, ctx: SandboxContext) -> None:
        """Decide whether new tasks' images can be pulled, asking the registry without the lock."""
        with ctx.lock:
            pending: list[tuple[MotoTask, list[str], str, str]] = [
                (task, [str(c.image or "") for c in task.containers], str(task._account_id), str(task.region_name))
                for regions in list(ecs_backends.values())
                for backend in list(regions.values())
                for tasks in list(backend.tasks.values())
                for task in list(tasks.values())
                if getattr(task, "sb_pull_checked", True) is False
            ]
            if ctx.registry is None:  # moto's ECR models answer: read them under the lock
                _store_pull_results([(t, _first_pull_error(ctx, images, a, r)) for t, images, a, r in pending])
                return
        if pending:
            results = [(t, _first_pull_error(ctx, images, a, r)) for t, images, a, r in pending]
            with ctx.lock:
                _store_pull_results(results)

    def request_stop(self, task: MotoTask, reason: str, stop_code: str, ctx: SandboxContext) -> None:
        """desiredStatus STOPPED now, lastStatus STOPPED after a short drain."""
        if task.desired_status == "STOPPED" and task.sb_stop_at is not None:
            return
        task.stopping_at = None  # a new stop request: ECS stamps it now
        mark_stopping(task, reason, stop_code)
        # Stopping a task takes a moment in ECS too: the timing profile's stop time (timing.py: ECS-like, the ENI's
        # detachment), else half the start time, which keeps tests fast.
        stop = ctx.task_stop_seconds if ctx.task_stop_seconds is not None else task.sb_start_seconds / 2
        task.sb_stop_at = ctx.now() + max(0.05, stop)

    def advance(self, task: MotoTask, ctx: SandboxContext) -> str | None:
        """PROVISIONING → PENDING → RUNNING on the task's timer; crash labels; timed stops.

        A container that exits as it starts (``exit-after-seconds`` 0) fails without ever being
        seen RUNNING.
        """
        if task.last_status == "STOPPED":
            return None
        now = ctx.now()
        if task.sb_stop_at is not None:
            if now >= task.sb_stop_at:
                finish_stop(task)
            return None
        start = task.sb_start_seconds
        age = now - task.sb_created
        if task.last_status == "PROVISIONING" and age >= start * 0.25:
            task.last_status = "PENDING"
            task.pull_started_at = utcnow()
        just_started = False
        if task.last_status == "PENDING" and age >= start and getattr(task, "sb_pull_checked", True):
            if task.sb_pull_error:
                task.stopped_reason = task.sb_pull_error
                task.stop_code = "TaskFailedToStart"
                task.desired_status = "STOPPED"
                task.stopping_at = utcnow()
                for container in task.containers:
                    container.reason = task.sb_pull_error
                finish_stop(task, exit_code=None)
                task.sb_failed = True
                return "failed"
            task.last_status = "RUNNING"
            task.pull_stopped_at = utcnow()
            task.started_at = utcnow()
            task.connectivity = "CONNECTED"
            task.connectivity_at = task.started_at
            for container in task.containers:
                container.last_status = "RUNNING"
                container.runtime_id = f"{task.id}-{uuid.uuid4().hex[:10]}"
                container.sb_started_at = now
            task.sb_running_since = now
            just_started = True
        if task.last_status == "RUNNING":
            for container in task.containers:
                code = container.sb_exit_code
                if code is None or container.last_status != "RUNNING":
                    continue
                ran_for = now - container.sb_started_at
                if ran_for < container.sb_exit_after:
                    continue
                if restart_policy.should_restart(container.sb_restart_policy, code, ran_for, ctx.minute_seconds):
                    # Restarted in place: the task stays RUNNING, the container runs (and crashes) again.
                    container.sb_started_at = now
                    container.sb_restart_count += 1
                    continue
                container.last_status = "STOPPED"
                container.exitCode = code
                container.reason = None
                if container.sb_essential:
                    task.stopped_reason = "Essential container in task exited"
                    task.stop_code = "EssentialContainerExited"
                    task.desired_status = "STOPPED"
                    task.stopping_at = utcnow()
                    finish_stop(task)
                    if code == 0 and task.sb_service_uid is None:
                        return None  # a one-off task that did its work: stopped, not failed
                    task.sb_failed = True
                    return "failed"
            self._health(task, now)
            if not task.sb_ready and task.health_status in _READY_HEALTH[_has_health_checks(task)]:
                # A task is ready (it counts as healthy for the rollout and the circuit breaker)
                # once RUNNING and, when its essential containers have health checks, HEALTHY.
                task.sb_ready = True
                return "running"
        return "running" if just_started and task.sb_ready else None

    def _health(self, task: MotoTask, now: float) -> None:
        """Container and task healthStatus: UNKNOWN until the first check result, as ECS reports."""
        for container in task.containers:
            if not getattr(container, "sb_health_check", False) or container.last_status != "RUNNING":
                continue
            if now - task.sb_running_since >= container.sb_health_after:
                container.health_status = container.sb_health_result
        task.health_status = task_health_status(task.containers)


# Task health statuses at which a RUNNING task is ready: any without health checks, else HEALTHY.
_READY_HEALTH = {False: ("UNKNOWN", "HEALTHY", "UNHEALTHY"), True: ("HEALTHY",)}


def _has_health_checks(task: MotoTask) -> bool:
    return any(getattr(c, "sb_health_check", False) and c.sb_essential for c in task.containers)


def task_health_status(containers: list[Any]) -> str:
    """ECS's task healthStatus (lifecycle.task_health) from its essential containers with health checks."""
    return task_health([c.health_status for c in containers if getattr(c, "sb_health_check", False) and c.sb_essential])


def _first_pull_error(ctx: SandboxContext, images: list[str], account_id: str, region: str) -> str | None:
    for image in images:
        error = ecr.pull_error(image, account_id, region, ctx.registry)
        if error:
            return error
    return None


def _store_pull_results(results: list[tuple[MotoTask, str | None]]) -> None:
    for task, error in results:
        task.sb_pull_error = error
        task.sb_pull_checked = True
