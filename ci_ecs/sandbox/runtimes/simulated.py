"""The simulated task runtime: tasks are state only (the sandbox's original behaviour).

A task goes PROVISIONING → PENDING → RUNNING in ``task_start_seconds``; stopping takes half
that. Images in the sandbox's own ECR must exist (checked against the registry in ``sync``,
outside the lock); others count as pullable. A container can be told to exit with a docker
label (``CRASH_LABEL``, after ``CRASH_AFTER_LABEL`` seconds) to simulate a crashing app.

A one-off task (started by RunTask, not by a service) runs no command here, so it would otherwise run for
ever: its containers exit 0 after ``ONE_OFF_RUN_SECONDS`` of RUNNING (the crash labels give another code or
time), and the task stops as ECS stops a task whose essential container exited ("Essential container in task
exited", stopCode EssentialContainerExited; ECS API reference, Task.stopCode).
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.ecs import ecs_backends

from .. import ecr
from ..lifecycle import finish_stop, mark_stopping, utcnow
from ..runtime import Runtime
from . import TaskRuntime

CRASH_LABEL = "ci-ecs.sandbox/exit-code"
CRASH_AFTER_LABEL = "ci-ecs.sandbox/exit-after-seconds"
# How long a one-off task's containers run before they exit 0 (a migration or a job that succeeds).
ONE_OFF_RUN_SECONDS = 2.0

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

    def prepare(self, task: MotoTask, task_definition: Any, rt: Runtime) -> None:
        """Read the crash labels; the pull check runs on the next tick, outside the lock."""
        by_name = {d.get("name"): d for d in task_definition.container_definitions}
        one_off = getattr(task, "sb_service_uid", None) is None  # RunTask's, not a service's
        for container in task.containers:
            labels = (by_name.get(container.name) or {}).get("dockerLabels") or {}
            container.sb_exit_code = _int_label(labels.get(CRASH_LABEL))
            after = labels.get(CRASH_AFTER_LABEL)
            container.sb_exit_after = float(after) if after not in (None, "") else 0.0
            if one_off and container.sb_exit_code is None:
                container.sb_exit_code = 0
                if after in (None, ""):
                    container.sb_exit_after = ONE_OFF_RUN_SECONDS
        task.sb_stop_at = None
        task.sb_pull_error = None
        task.sb_pull_checked = False

    def sync(self, rt: Runtime) -> None:
        """Decide whether new tasks' images can be pulled, asking the registry without the lock."""
        with rt.lock:
            pending: list[tuple[MotoTask, list[str], str, str]] = [
                (task, [str(c.image or "") for c in task.containers], str(task._account_id), str(task.region_name))
                for regions in list(ecs_backends.values())
                for backend in list(regions.values())
                for tasks in list(backend.tasks.values())
                for task in list(tasks.values())
                if getattr(task, "sb_pull_checked", True) is False
            ]
            if rt.registry is None:  # moto's ECR models answer: read them under the lock
                _store_pull_results([(t, _first_pull_error(rt, images, a, r)) for t, images, a, r in pending])
                return
        if pending:
            results = [(t, _first_pull_error(rt, images, a, r)) for t, images, a, r in pending]
            with rt.lock:
                _store_pull_results(results)

    def request_stop(self, task: MotoTask, reason: str, stop_code: str, rt: Runtime) -> None:
        """desiredStatus STOPPED now, lastStatus STOPPED after a short drain."""
        if task.desired_status == "STOPPED" and task.sb_stop_at is not None:
            return
        task.stopping_at = None  # a new stop request: ECS stamps it now
        mark_stopping(task, reason, stop_code)
        # Stopping a task takes a moment in ECS too; half the start time keeps tests fast.
        task.sb_stop_at = rt.now() + max(0.05, task.sb_start_seconds / 2)

    def advance(self, task: MotoTask, rt: Runtime) -> str | None:
        """PROVISIONING → PENDING → RUNNING on the task's timer; crash labels; timed stops.

        A container that exits as it starts (``exit-after-seconds`` 0) fails without ever being
        seen RUNNING.
        """
        if task.last_status == "STOPPED":
            return None
        now = rt.now()
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
            task.sb_running_since = now
            task.sb_ready = True  # no health checks here: RUNNING is ready
            just_started = True
        if task.last_status == "RUNNING":
            for container in task.containers:
                code = container.sb_exit_code
                if code is None or container.last_status != "RUNNING":
                    continue
                if now - task.sb_running_since < container.sb_exit_after:
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
        return "running" if just_started else None


def _first_pull_error(rt: Runtime, images: list[str], account_id: str, region: str) -> str | None:
    for image in images:
        error = ecr.pull_error(image, account_id, region, rt.registry)
        if error:
            return error
    return None


def _store_pull_results(results: list[tuple[MotoTask, str | None]]) -> None:
    for task, error in results:
        task.sb_pull_error = error
        task.sb_pull_checked = True
