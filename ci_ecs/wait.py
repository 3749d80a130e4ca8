"""Follow *our* deployment to COMPLETED, or to a clear failure with the reasons ECS gave.

"Services stable" is not success: after a circuit-breaker rollback the service is stable again on the
old task definition. So we follow the deployment id that our CreateService/UpdateService started, and
succeed only when that deployment is COMPLETED and alone, and its tasks stay up (`verify_stable`).

Only what ECS reports as data decides: deployment ids, `status`, `rolloutState`, counts, task
`startedBy`/`stopCode`. The wording of event messages is shown to the user, never read.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ci_ecs.ecs import EcsGateway
from ci_ecs.errors import AwsError, DeployTimeoutError
from ci_ecs.service import primary_deployment

log = logging.getLogger(__name__)

MIN_POLL_SECONDS = 1.0
# Near the end (new tasks all running, old ones draining; or one failed task short of the circuit breaker's
# threshold) polls come this often, as long as the wait's polls average at most one a second.
FAST_POLL_SECONDS = 0.25
# Otherwise polls come at least this far apart (then growing with the wait, `poll_interval`).
BACKOFF_POLL_SECONDS = 1.25
# Stopped tasks are listed when the counts suggest a stop, and at least this often otherwise (a task that
# crashed and was replaced between two polls leaves the counts as they were).
STOPPED_POLL_BOUND_SECONDS = 5.0
STOPPED_TASKS_SHOWN = 3
EVENTS_SHOWN = 5
# Task stop codes (API reference, Task.stopCode) that are not the task's own failure: someone stopped it,
# or the capacity under it went away. ServiceSchedulerInitiated is both a scale-in and a failed health
# check, so it is counted, less the tasks a lower desired count explains.
_NOT_A_FAILURE = ("UserInitiated", "SpotInterruption", "TerminationNotice")


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


def adaptive_interval(elapsed: float, max_interval: float, *, near_end: bool, polls: int) -> float:
    """Poll sooner when the deployment is about to end, back off otherwise.

    Near the end: FAST_POLL_SECONDS, as long as the polls so far (`polls`, over `elapsed` seconds) stay
    within one per second on average, the next one included. Otherwise `poll_interval`, at least
    BACKOFF_POLL_SECONDS: the time saved pays for the fast polls.

    >>> adaptive_interval(3.0, 15.0, near_end=True, polls=2)
    0.25
    >>> adaptive_interval(3.0, 15.0, near_end=True, polls=4)
    1.25
    """
    normal = max(BACKOFF_POLL_SECONDS, poll_interval(elapsed, max_interval))
    if near_end and polls + 1 <= elapsed + FAST_POLL_SECONDS:
        return min(normal, FAST_POLL_SECONDS)
    return normal


@dataclass
class WaitOutcome:
    """How the deployment ended.

    `ecs_failed` is True when ECS itself set the deployment's rolloutState to FAILED (its circuit
    breaker), False when ci-ecs called it failed from the tasks it saw stop.
    """

    # COMPLETED | FAILED | ROLLED_BACK | SUPERSEDED | TRAFFIC_SHIFTED (bake still running) | DELETED (the service
    # was deleted while we waited: `service_status` says how it was seen)
    state: str
    deployment_id: str
    service: dict[str, Any]
    reason: str = ""
    stopped_reasons: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    ecs_failed: bool = False
    # The service deployment (DescribeServiceDeployments) when it was followed through that API.
    service_deployment: dict[str, Any] | None = None
    # ECS is rolling the service back (service deployment ROLLBACK_REQUESTED / ROLLBACK_IN_PROGRESS).
    ecs_rolling_back: bool = False
    # DRAINING, INACTIVE or MISSING when the state is DELETED.
    service_status: str | None = None


# Service.status (API reference): ACTIVE, DRAINING or INACTIVE. DeleteService (API reference, its note) moves a
# service with tasks to DRAINING, then to INACTIVE once they stopped; an INACTIVE service may later be purged, and
# DescribeServices then answers ServiceNotFoundException (or a failure with reason MISSING, as for any unknown
# name). Either way nothing ci-ecs waits for can happen any more: the wait ends at that poll.
_GONE_STATUSES = ("DRAINING", "INACTIVE")


def gone_status(service: dict[str, Any] | None) -> str | None:
    """"DRAINING"/"INACTIVE" for a service being (or already) deleted, "MISSING" for None, else None.

    >>> [gone_status(s) for s in ({"status": "ACTIVE"}, {"status": "DRAINING"}, None)]
    [None, 'DRAINING', 'MISSING']
    """
    if service is None:
        return "MISSING"
    status = service.get("status")
    return str(status) if status in _GONE_STATUSES else None


def describe_or_none(ecs: EcsGateway, cluster: str, service_name: str) -> dict[str, Any] | None:
    """The service, or None when ECS no longer knows it (a MISSING failure or ServiceNotFoundException)."""
    try:
        return ecs.describe_service(cluster, service_name)
    except AwsError as err:
        if err.code == "ServiceNotFoundException":
            return None
        raise


def deleted_outcome(deployment_id: str, service_name: str, service: dict[str, Any] | None, status: str,
                    stopped: StoppedTasks, wall_start: float) -> WaitOutcome:
    """The wait's end when the service was deleted under it (`gone_status`)."""
    seen = "no longer exists" if status == "MISSING" else f"is {status}"
    reason = (f"service {service_name} was deleted while ci-ecs waited for deployment {deployment_id} (it {seen}); "
              "nothing was rolled back")
    return WaitOutcome("DELETED", deployment_id, service or {}, reason, stopped.reasons(),
                       service_events(service or {}, wall_start), service_status=status)


def find_deployment(service: dict[str, Any], deployment_id: str) -> dict[str, Any] | None:
    """The service's deployment with this id (a copy), or None."""
    for deployment in service.get("deployments", []):
        if deployment.get("id") == deployment_id:
            return dict(deployment)
    return None


def strategy_of(described: dict[str, Any]) -> str:
    """The deployment strategy a service or service deployment names in its deploymentConfiguration (ECS's
    default: ROLLING)."""
    return str((described.get("deploymentConfiguration") or {}).get("strategy") or "ROLLING")


def service_events(service: dict[str, Any], since: float | None) -> list[str]:
    lines = []
    for event in service.get("events", [])[:EVENTS_SHOWN]:
        created = event.get("createdAt")
        stamp = created.timestamp() if hasattr(created, "timestamp") else None
        if since is not None and stamp is not None and stamp < since - 1:
            continue
        lines.append(str(event.get("message", "")))
    return lines


def same_definition_successor(service: dict[str, Any], ours: dict[str, Any] | None) -> str | None:
    """The PRIMARY deployment's id when it replaced `ours` with the same task definition."""
    if ours is None or ours.get("status") == "PRIMARY" or ours.get("rolloutState") == "FAILED":
        return None
    primary = primary_deployment(service)
    if primary and primary.get("taskDefinition") == ours.get("taskDefinition"):
        return str(primary["id"])
    return None


def describe_stop(task: dict[str, Any]) -> str:
    """One line on why a task stopped: its stopped reason, stop code and containers' exit codes."""
    reason = str(task.get("stoppedReason") or task.get("stopCode") or "stopped")
    for container in task.get("containers", []):
        if container.get("reason") and str(container["reason"]) not in reason:
            reason += f" ({container['name']}: {container['reason']})"
        elif container.get("exitCode") not in (None, 0):
            reason += f" ({container['name']} exit code {container['exitCode']})"
    task_id = str(task.get("taskArn", "")).rsplit("/", 1)[-1]
    return f"task {task_id}: {reason}"


class StoppedTasks:
    """The stopped tasks of one deployment, found by ECS's own data: a service's tasks carry
    `startedBy` = the id of the deployment that started them (API reference, Task.startedBy).

    Each poll is one ListTasks(desiredStatus=STOPPED) call; only task ARNs not seen before are
    described. ECS's `failedTasks` counter cannot be used for this: it "resets to zero and stops being
    evaluated" once a task of the deployment runs (Deployment.failedTasks), so a container that
    crashes after reaching RUNNING never shows in it.
    """

    def __init__(self, ecs: EcsGateway, cluster: str, service: str, deployment_id: str) -> None:
        self.ecs = ecs
        self.cluster = cluster
        self.service = service
        self.deployment_id = deployment_id
        self._seen: set[str] = set()
        self.tasks: list[dict[str, Any]] = []
        self._counted_from = 0

    def follow(self, deployment_id: str) -> None:
        """Count the tasks of another deployment too (one that replaced ours with the same definition)."""
        self.deployment_id = deployment_id
        self._seen.clear()

    def baseline(self, *, poll: bool = True) -> None:
        """From now on count only tasks that stop after this call.

        For a deployment this run did not start (an unchanged re-run follows the service's own), or
        after COMPLETED: what stopped before belongs to another time (ECS lists stopped tasks for about
        an hour), and a healthy service's earlier replacements are not this run's failure.
        """
        if poll:
            self.poll()
        self._counted_from = len(self.tasks)

    def poll(self) -> list[dict[str, Any]]:
        """The deployment's tasks that stopped since the last poll."""
        arns = self.ecs.list_tasks(self.cluster, service=self.service, desired_status="STOPPED")
        new = [arn for arn in arns if arn not in self._seen]
        self._seen.update(new)
        if not new:
            return []
        mine = [t for t in self.ecs.describe_tasks(self.cluster, new) if t.get("startedBy") == self.deployment_id]
        self.tasks.extend(mine)
        return mine

    def failures(self, scaled_in: int = 0, *, before_baseline: bool = False) -> list[dict[str, Any]]:
        """Stopped tasks that count as failures; `scaled_in` tasks stopped by a lower desired count are not."""
        tasks = self.tasks if before_baseline else self.tasks[self._counted_from:]
        counted = [t for t in tasks if t.get("stopCode") not in _NOT_A_FAILURE]
        scheduler = [t for t in counted if t.get("stopCode") == "ServiceSchedulerInitiated"]
        forgiven = {id(t) for t in scheduler[:max(0, scaled_in)]}
        return [t for t in counted if id(t) not in forgiven]

    def reasons(self, failures: list[dict[str, Any]] | None = None) -> list[str]:
        """Why the newest failed tasks stopped (up to three)."""
        tasks = sorted(failures if failures is not None else self.failures(),
                       key=lambda t: str(t.get("stoppedAt") or t.get("stoppingAt") or ""), reverse=True)
        return [describe_stop(t) for t in tasks[:STOPPED_TASKS_SHOWN]]


def ours_to_count(failures: list[dict[str, Any]], ecs_failed: int, *, circuit_breaker: bool) -> int:
    """How many of our deployment's failed tasks ci-ecs holds against `failure_threshold` itself.

    With ECS's circuit breaker on, ECS counts the tasks that never reached RUNNING and acts at its threshold
    (rolloutState FAILED / a ROLLBACK_* service deployment): ci-ecs does not race it. It stops counting once a
    task ran (Deployment.failedTasks), so ci-ecs counts the tasks that stopped after running (they have a
    startedAt, API reference Task.startedAt). Without a breaker ECS retries forever: every failure counts.

    >>> ours_to_count([{"startedAt": 1}, {}], 2, circuit_breaker=True)
    1
    >>> ours_to_count([{"startedAt": 1}, {}], 3, circuit_breaker=False)
    3
    """
    if circuit_breaker:
        return sum(1 for t in failures if t.get("startedAt"))
    return max(len(failures), ecs_failed)


def _rolled_back(ours: dict[str, Any] | None, last_seen: dict[str, Any] | None, primary: dict[str, Any],
                 previous_task_definition: str | None, breaker_rollback: bool) -> bool:
    """Whether ECS rolled our deployment back, from states ECS reports.

    ECS marks the failed deployment's rolloutState FAILED and starts a new PRIMARY deployment of the
    last completed task definition (ECS developer guide, "deployment circuit breaker"); once that
    rollback completes, the failed deployment leaves the list. So: ours FAILED (now or when last seen)
    and another task definition PRIMARY; or ours gone, the breaker set to roll back, and the previous
    task definition PRIMARY again.
    """
    primary_definition = primary.get("taskDefinition")
    for seen in (ours, last_seen):
        if seen and seen.get("rolloutState") == "FAILED":
            return primary_definition != seen.get("taskDefinition")
    return (ours is None and breaker_rollback and previous_task_definition is not None
            and primary_definition == previous_task_definition)


class Poll:
    """The schedule every follower shares (by deployment id, or through the service-deployment API): the first
    sleep, when stopped tasks are listed, the failure count logged, the progress line, the timeout and the
    adaptive sleep between polls. Each follower reads its own API and decides its own verdict.
    """

    def __init__(self, stopped: StoppedTasks, *, timeout: float, max_interval: float,
                 timeout_label: float | None, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self.stopped = stopped
        self.timeout = timeout
        self.max_interval = max_interval
        self.label = int(timeout_label or timeout)  # the timeout as the user set it, for the message
        self.clock = clock
        self._sleep = sleep
        self.begin = clock()
        self.polls = 0
        self.counted_failures = 0
        self.last_progress = ""
        # (running, pending, failed) at the last poll, and when stopped tasks were last listed.
        self.last_counts: tuple[int, int, int] | None = None
        self.stopped_listed = -math.inf

    def first_sleep(self) -> None:
        """The caller has just created/updated (and so described) the service: nothing to see before a poll."""
        self._sleep(min(MIN_POLL_SECONDS, self.timeout))

    def list_stopped(self, counts: tuple[int, int, int], *, now: bool) -> None:
        """ListTasks(STOPPED) only when a stop may have happened: fewer running, more pending, more failed,
        `now` (the deployment ending either way), or the bound elapsed. A stopped task stays listed for about
        an hour, so a stop the counts hid is still found at the next listing (at the latest before success)."""
        last = self.last_counts
        if (last is None or counts[0] < last[0] or counts[1] > last[1] or counts[2] > last[2] or now
                or self.clock() - self.stopped_listed >= STOPPED_POLL_BOUND_SECONDS):
            self.stopped.poll()
            self.stopped_listed = self.clock()
        self.last_counts = counts

    def note_failures(self, deployment_id: str, failures: list[dict[str, Any]], failed_count: int) -> None:
        """Log the stopped tasks once their count grew."""
        if failed_count > self.counted_failures:
            self.counted_failures = failed_count
            reasons = self.stopped.reasons(failures or self.stopped.failures(before_baseline=True))
            log.warning("deployment %s: %d task(s) stopped; latest %s", deployment_id, self.counted_failures,
                        reasons[0] if reasons else "")

    def progress(self, what: str, progress: str) -> None:
        """Log the progress line when it changed (a line per change in a CI log, not per poll)."""
        if progress != self.last_progress:
            log.info("%s: %s", what, progress, extra={"live": True})
            self.last_progress = progress

    def sleep(self, deployment_id: str, timed_out: str, *, near_end: bool) -> None:
        """Raise DeployTimeoutError (`timed_out` its message, naming `label`) once the timeout passed, else sleep
        until the next poll: sooner `near_end`, backing off otherwise (`adaptive_interval`)."""
        elapsed = self.clock() - self.begin
        if elapsed >= self.timeout:
            raise DeployTimeoutError(timed_out, deployment_id=deployment_id)
        interval = adaptive_interval(elapsed, self.max_interval, near_end=near_end, polls=self.polls)
        self._sleep(min(interval, max(0.0, self.timeout - elapsed)))


def wait_for_deployment(ecs: EcsGateway, cluster: str, service_name: str, deployment_id: str, *,
                        timeout: float, max_interval: float = 15.0, started_at: float | None = None,
                        circuit_breaker: bool = False, breaker_rollback: bool = False,
                        previous_task_definition: str | None = None, timeout_label: float | None = None,
                        clock: Callable[[], float] = time.monotonic,
                        sleep: Callable[[float], None] = time.sleep,
                        stopped: StoppedTasks | None = None) -> WaitOutcome:
    """Poll the service until `deployment_id` is COMPLETED and alone, or fails; raise on timeout.

    A deployment fails when ECS says so (rolloutState FAILED), or when as many of its tasks stopped
    as ECS's circuit breaker would allow (`failure_threshold`), counted from the stopped tasks
    themselves: without a circuit breaker ECS retries failing tasks forever, and with one it stops
    counting once a task ran, so a task that crashes after RUNNING is seen only this way.
    """
    wall_start = started_at if started_at is not None else time.time()
    last_seen: dict[str, Any] | None = None
    stopped = stopped or StoppedTasks(ecs, cluster, service_name, deployment_id)
    poll = Poll(stopped, timeout=timeout, max_interval=max_interval, timeout_label=timeout_label, clock=clock,
                sleep=sleep)
    ecs.expect(service=service_name)
    poll.first_sleep()
    while True:
        described = describe_or_none(ecs, cluster, service_name)
        poll.polls += 1
        gone = gone_status(described)
        if gone is not None:
            return deleted_outcome(deployment_id, service_name, described, gone, stopped, wall_start)
        service = described or {}
        ours = find_deployment(service, deployment_id)
        newer = same_definition_successor(service, ours)
        if newer is not None:
            # Another deploy of the same task definition replaced ours (a concurrent run, or a forced
            # deployment): its success is ours, so follow it.
            log.info("deployment %s was replaced by %s of the same task definition; following it",
                     deployment_id, newer)
            deployment_id = newer
            stopped.follow(newer)
            last_seen = None
            continue
        if ours is None or ours.get("status") != "PRIMARY":
            return _replaced(service, ours, last_seen, deployment_id, stopped, wall_start,
                             previous_task_definition, breaker_rollback)
        last_seen = ours
        desired = int(ours.get("desiredCount", 0))
        running = int(ours.get("runningCount", 0))
        pending = int(ours.get("pendingCount", 0))
        rollout = ours.get("rolloutState")
        others = [d for d in service.get("deployments", []) if d.get("id") != deployment_id]
        ecs_failed = int(ours.get("failedTasks") or 0)
        complete = running == desired and not others and rollout in ("COMPLETED", None)
        poll.list_stopped((running, pending, ecs_failed), now=complete or rollout == "FAILED")
        failures = stopped.failures()
        if rollout == "FAILED":
            return WaitOutcome("FAILED", deployment_id, service,
                               str(ours.get("rolloutStateReason") or "deployment FAILED"),
                               stopped.reasons(stopped.failures(before_baseline=True)),
                               service_events(service, wall_start), ecs_failed=True)
        # ECS's own count of tasks that never reached RUNNING (Deployment.failedTasks) is exact until a task
        # runs; the stopped tasks seen since we started watching cover what it stops counting after that.
        failed_count = max(len(failures), ecs_failed)
        poll.note_failures(deployment_id, failures, failed_count)
        # Checked at every poll: a task that stops after running counts even when ECS's own count is higher.
        if ours_to_count(failures, ecs_failed, circuit_breaker=circuit_breaker) >= failure_threshold(desired):
            return WaitOutcome("FAILED", deployment_id, service,
                               f"{poll.counted_failures} tasks failed to start or stopped (threshold "
                               f"{failure_threshold(desired)})",
                               stopped.reasons(failures or stopped.failures(before_baseline=True)),
                               service_events(service, wall_start))
        if complete:
            stopped.baseline(poll=False)  # the stable window counts what stops after COMPLETED
            return WaitOutcome("COMPLETED", deployment_id, service)
        progress = f"{running}/{desired} running, {pending} pending"
        if others:
            progress += f", {sum(int(d.get('runningCount', 0)) for d in others)} old still running"
        poll.progress(f"deployment {deployment_id}", progress)
        near_end = (running >= desired and pending == 0 and bool(others)) or \
            (circuit_breaker and failed_count + 1 >= failure_threshold(desired))
        poll.sleep(deployment_id, f"deployment {deployment_id} of service {service_name} not finished after "
                   f"{poll.label} s ({progress}, rolloutState {rollout})", near_end=near_end)


def _replaced(service: dict[str, Any], ours: dict[str, Any] | None, last_seen: dict[str, Any] | None,
              deployment_id: str, stopped: StoppedTasks, wall_start: float, previous_task_definition: str | None,
              breaker_rollback: bool) -> WaitOutcome:
    """Our deployment is no longer PRIMARY: ECS's circuit breaker rolled it back, or someone replaced it."""
    primary = primary_deployment(service) or {}
    rolled_back = _rolled_back(ours, last_seen, primary, previous_task_definition, breaker_rollback)
    state = "ROLLED_BACK" if rolled_back else "SUPERSEDED"
    reason = (f"deployment {deployment_id} failed and ECS's circuit breaker rolled the service back to "
              f"{primary.get('taskDefinition')}"
              if rolled_back else
              f"deployment {deployment_id} was replaced by deployment {primary.get('id')} "
              f"({primary.get('taskDefinition')}), started by someone else")
    stopped.poll()
    return WaitOutcome(state, deployment_id, service, reason, stopped.reasons(),
                       service_events(service, wall_start), ecs_failed=rolled_back)


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


def verify_stable(ecs: EcsGateway, cluster: str, service_name: str, deployment_id: str, *,
                  stable_seconds: float, running_since: float | None, completed: dict[str, Any],
                  stopped: StoppedTasks | None = None, started_at: float | None = None,
                  tasks: list[dict[str, Any]] | None = None, health_checked: bool = False,
                  seen_at: float | None = None, timeout: float | None = None,
                  clock: Callable[[], float] = time.time,
                  sleep: Callable[[float], None] = time.sleep) -> WaitOutcome:
    """After COMPLETED: check that our tasks stay up until each has been up `stable_seconds`.

    ECS calls a deployment COMPLETED as soon as its tasks are RUNNING (and HEALTHY), so a container that exits
    seconds later is a crash-looping service reported as success. Each running task of our deployment (`tasks`,
    as described at `seen_at`) is watched from `window_start`: when ci-ecs first saw it HEALTHY with container
    health checks (`health_checked`), else from its startedAt; the time it has already run counts. Without
    `tasks`, `running_since` (the newest startedAt) starts the window. Our deployment's stopped tasks are
    listed every STOPPED_POLL_BOUND_SECONDS meanwhile and at the end: the real stops (`StoppedTasks`), not only
    the counts. Fails when one of our tasks stopped (a lower desired count excused), when our deployment is no
    longer PRIMARY, or when fewer tasks run than desired.
    """
    desired_at_complete = int((find_deployment(completed, deployment_id) or {}).get("desiredCount", 0))
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
    if failures:
        return WaitOutcome("FAILED", deployment_id, service,
                           f"{len(failures)} task(s) of deployment {deployment_id} stopped after it completed",
                           stopped.reasons(failures), service_events(service, wall_start))
    if ours.get("status") != "PRIMARY":
        primary = primary_deployment(service) or {}
        return WaitOutcome("SUPERSEDED", deployment_id, service,
                           f"deployment {deployment_id} was replaced by deployment {primary.get('id')} "
                           f"({primary.get('taskDefinition')}) while its tasks were watched",
                           [], service_events(service, wall_start))
    running = int(ours.get("runningCount", 0))
    if running < min(desired, desired_at_complete):
        return WaitOutcome("FAILED", deployment_id, service,
                           f"deployment {deployment_id}: {running} of {desired} tasks running after it completed",
                           stopped.reasons(), service_events(service, wall_start))
    return WaitOutcome("COMPLETED", deployment_id, service)
