"""The stable window after COMPLETED: our tasks must stay up until each has been up `deploy.stable_seconds`
(ECS calls a deployment COMPLETED as soon as its tasks run, so a container that exits seconds later would be a
crash-looping service reported as success)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ci_ecs.ecs import EcsGateway
from ci_ecs.follow.early_success import required_running
from ci_ecs.follow.loop import MIN_POLL_SECONDS, STOPPED_POLL_BOUND_SECONDS
from ci_ecs.follow.state import (
    StoppedTasks,
    WaitOutcome,
    deleted_outcome,
    describe_or_none,
    find_deployment,
    gone_status,
    service_events,
)
from ci_ecs.service import primary_deployment

log = logging.getLogger(__name__)


def window_start(task: dict[str, Any], *, health_checked: bool, seen_at: float) -> float | None:
    """When a task's stable window starts (epoch seconds): with container health checks, when ci-ecs first saw
    it HEALTHY (`seen_at`, the time of the DescribeTasks that said so; None while it is not HEALTHY yet), else
    its startedAt, when it went RUNNING (API reference, Task.startedAt and Task.healthStatus).

    >>> window_start({"healthStatus": "UNKNOWN"}, health_checked=True, seen_at=9.0) is None
    True
    >>> window_start({"healthStatus": "HEALTHY"}, health_checked=True, seen_at=9.0)
    9.0
    """
    if health_checked:
        return seen_at if task.get("healthStatus") == "HEALTHY" else None
    started = task.get("startedAt")
    return float(started.timestamp()) if started is not None and hasattr(started, "timestamp") else seen_at


def _window_end(ecs: EcsGateway, cluster: str, deployment_id: str, tasks: list[dict[str, Any]], *,
                stable_seconds: float, health_checked: bool, seen_at: float, deadline: float,
                clock: Callable[[], float], sleep: Callable[[float], None]) -> float:
    """When the stable window of the last of our running tasks ends; health-checked tasks not HEALTHY yet are
    described again (about once a second, until `deadline`) until they are, or stop (their stop counts)."""
    ours = [t for t in tasks if t.get("startedBy") == deployment_id and t.get("lastStatus") == "RUNNING"]
    starts = [window_start(t, health_checked=health_checked, seen_at=seen_at) for t in ours]
    waiting = [str(t.get("taskArn")) for t, start in zip(ours, starts, strict=True) if start is None]
    known = [start for start in starts if start is not None]
    while waiting and clock() < deadline:
        sleep(min(MIN_POLL_SECONDS, max(0.0, deadline - clock())))
        described = ecs.describe_tasks(cluster, waiting)
        now = clock()
        waiting = []
        for task in described:
            if task.get("lastStatus") == "STOPPED" or task.get("desiredStatus") == "STOPPED":
                continue  # its stop is a failure the stopped-task listing counts
            if task.get("healthStatus") == "HEALTHY":
                known.append(now)
            else:
                waiting.append(str(task.get("taskArn")))
    if waiting:  # never HEALTHY within the deploy's time: watched from now on
        known.append(clock())
    return (max(known) if known else clock()) + stable_seconds


def _all_running(tasks: list[dict[str, Any]] | None, at_complete: dict[str, Any], deployment_id: str,
                 early: dict[str, Any] | None) -> bool:
    """With no window (`deploy.stable_seconds: 0` turns the check off): success at COMPLETED once the tasks just
    described (the address lookup's DescribeTasks, after COMPLETED) show ours running, our deployment still
    PRIMARY. False (fewer running, or no tasks described): the full check says why."""
    if tasks is None or at_complete.get("status") != "PRIMARY":
        return False
    running = sum(1 for t in tasks if t.get("startedBy") == deployment_id and t.get("lastStatus") == "RUNNING")
    return running >= required_running(int(at_complete.get("desiredCount", 0)), early)


def verify_stable(ecs: EcsGateway, cluster: str, service_name: str, deployment_id: str, *,
                  stable_seconds: float, running_since: float | None, completed: dict[str, Any],
                  stopped: StoppedTasks | None = None, started_at: float | None = None,
                  tasks: list[dict[str, Any]] | None = None, health_checked: bool = False,
                  seen_at: float | None = None, timeout: float | None = None,
                  early: dict[str, Any] | None = None, clock: Callable[[], float] = time.time,
                  sleep: Callable[[float], None] = time.sleep) -> WaitOutcome:
    """After COMPLETED: check that our tasks stay up until each has been up `stable_seconds`.

    ECS calls a deployment COMPLETED as soon as its tasks are RUNNING (and HEALTHY), so a container that exits
    seconds later is a crash-looping service reported as success. Each running task of our deployment (`tasks`,
    as described at `seen_at`) is watched from `window_start`: when ci-ecs first saw it HEALTHY with container
    health checks (`health_checked`), else from its startedAt; the time it has already run counts. Without
    `tasks`, `running_since` (the newest startedAt) starts the window. Our deployment's stopped tasks are
    listed every STOPPED_POLL_BOUND_SECONDS meanwhile and at the end: the real stops (`StoppedTasks`), not only
    the counts. Fails when one of our tasks stopped (a lower desired count excused), when our deployment is no
    longer PRIMARY, or when fewer tasks run than desired (with early success criteria, `early`: than their
    healthy percent of the desired count, ECS's own bar for success; early_success.required_running).
    """
    at_complete = find_deployment(completed, deployment_id) or {}
    desired_at_complete = int(at_complete.get("desiredCount", 0))
    if stable_seconds <= 0 and _all_running(tasks, at_complete, deployment_id, early):
        return WaitOutcome("COMPLETED", deployment_id, completed)
    stopped = stopped or StoppedTasks(ecs, cluster, service_name, deployment_id)
    wall_start = started_at if started_at is not None else clock()
    if stable_seconds > 0:
        if tasks is not None:
            seen = seen_at if seen_at is not None else clock()
            deadline = clock() + (timeout if timeout is not None else 900.0)
            until = _window_end(ecs, cluster, deployment_id, tasks, stable_seconds=stable_seconds,
                                health_checked=health_checked, seen_at=seen, deadline=deadline, clock=clock,
                                sleep=sleep)
        else:
            until = (running_since if running_since is not None else clock()) + stable_seconds
        remaining = until - clock()
        if remaining > 0:
            log.info("deployment %s: watching the tasks for %.0f s more", deployment_id, remaining)
        while remaining > 0:
            # A long window lists the stopped tasks on the way: a crash fails the deploy when it is seen.
            if remaining > STOPPED_POLL_BOUND_SECONDS:
                sleep(STOPPED_POLL_BOUND_SECONDS)
                stopped.poll()
                # A scale-in's stops (ServiceSchedulerInitiated) are weighed at the end, against the desired count.
                if any(t.get("stopCode") != "ServiceSchedulerInitiated" for t in stopped.failures()):
                    break
            else:
                sleep(remaining)
            remaining = until - clock()
    # The service and the stopped tasks are independent reads: both at once.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ci-ecs-stopped") as pool:
        listed = pool.submit(stopped.poll)
        described = describe_or_none(ecs, cluster, service_name)
        listed.result()
    gone = gone_status(described)
    if gone is not None:
        return deleted_outcome(deployment_id, service_name, described, gone, stopped, wall_start)
    service = described or {}
    ours = find_deployment(service, deployment_id) or {}
    desired = int(ours.get("desiredCount", 0))
    failures = stopped.failures(scaled_in=max(0, desired_at_complete - desired))
    replaced = ours.get("status") != "PRIMARY"
    # Once another deployment is PRIMARY, the scheduler stops our tasks to make room for it (stopCode
    # ServiceSchedulerInitiated, API reference Task.stopCode): that is the replacement, not a failure of ours. A
    # crash (any other stop code) still fails our deployment, whoever replaced it.
    if failures and not (replaced and all(t.get("stopCode") == "ServiceSchedulerInitiated" for t in failures)):
        return WaitOutcome("FAILED", deployment_id, service,
                           f"{len(failures)} task(s) of deployment {deployment_id} stopped after it completed",
                           stopped.reasons(failures), service_events(service, wall_start))
    if replaced:
        primary = primary_deployment(service) or {}
        return WaitOutcome("SUPERSEDED", deployment_id, service,
                           f"deployment {deployment_id} was replaced by deployment {primary.get('id')} "
                           f"({primary.get('taskDefinition')}) while its tasks were watched",
                           [], service_events(service, wall_start))
    running = int(ours.get("runningCount", 0))
    if running < required_running(min(desired, desired_at_complete), early):
        # The two reads above ran at once: a task that stopped between them is out of runningCount but not yet
        # listed. One more listing makes its stop (reason, exit code, log tail) the verdict when it is ours.
        stopped.poll()
        failures = stopped.failures(scaled_in=max(0, desired_at_complete - desired))
        if failures:
            return WaitOutcome("FAILED", deployment_id, service,
                               f"{len(failures)} task(s) of deployment {deployment_id} stopped after it completed",
                               stopped.reasons(failures), service_events(service, wall_start))
        # Our tasks may have crashed before COMPLETED was seen (ECS started replacements and still completed the
        # deployment): then those stops, though before the baseline, are why tasks are missing.
        return WaitOutcome("FAILED", deployment_id, service,
                           f"deployment {deployment_id}: {running} of {desired} tasks running after it completed",
                           stopped.reasons() or stopped.reasons(stopped.failures(before_baseline=True)),
                           service_events(service, wall_start))
    return WaitOutcome("COMPLETED", deployment_id, service)
