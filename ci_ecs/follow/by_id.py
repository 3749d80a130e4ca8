"""Following a deployment by its id through DescribeServices (ROLLING, ECS's circuit breaker, the EXTERNAL
controller; and where the service-deployment API is not there or not allowed): the `Reader` of one poll, on
the loop every strategy shares (ci_ecs.follow.loop).

Success is our deployment COMPLETED and alone; a failure is its rolloutState FAILED, ECS's circuit breaker
rolling it back, someone else's deployment replacing it, or its tasks stopping (the loop's threshold).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ci_ecs.ecs import EcsGateway
from ci_ecs.follow.loop import Followed, Going, Poll, follow_polls
from ci_ecs.follow.state import (
    StoppedTasks,
    WaitOutcome,
    deleted_outcome,
    describe_or_none,
    find_deployment,
    gone_status,
    same_definition_successor,
    service_events,
)
from ci_ecs.phases import rolling_stage, rolling_waits
from ci_ecs.service import primary_deployment

log = logging.getLogger(__name__)


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


class DeploymentReader:
    """One DescribeServices per poll: our deployment (by id) in the service's deployments list."""

    names_state_at_deadline = False

    def __init__(self, ecs: EcsGateway, cluster: str, service_name: str, deployment_id: str, *,
                 stopped: StoppedTasks, wall_start: float, circuit_breaker: bool, breaker_rollback: bool,
                 previous_task_definition: str | None) -> None:
        self.ecs = ecs
        self.cluster = cluster
        self.service_name = service_name
        self.deployment_id = deployment_id
        self.stopped = stopped
        self.wall_start = wall_start
        self.circuit_breaker = circuit_breaker
        self.breaker_rollback = breaker_rollback
        self.previous_task_definition = previous_task_definition
        self.last_seen: dict[str, Any] | None = None  # our deployment at the last poll it was PRIMARY
        self.service: dict[str, Any] = {}  # the service as this poll described it
        self.complete = False

    def read(self, poll: Poll) -> Going | Followed | WaitOutcome:
        """DescribeServices: the service deleted, our deployment replaced (by a deployment of the same task
        definition: followed), or where it stands."""
        described = describe_or_none(self.ecs, self.cluster, self.service_name)
        gone = gone_status(described)
        if gone is not None:
            return deleted_outcome(self.deployment_id, self.service_name, described, gone, self.stopped,
                                   self.wall_start)
        service = described or {}
        deployment_id = self.deployment_id
        ours = find_deployment(service, deployment_id)
        newer = same_definition_successor(service, ours)
        if newer is not None:
            # Another deploy of the same task definition replaced ours (a concurrent run, or a forced
            # deployment): its success is ours, so follow it.
            log.info("deployment %s was replaced by %s of the same task definition; following it",
                     deployment_id, newer)
            self.deployment_id = newer
            self.stopped.follow(newer)
            self.last_seen = None
            return Followed()
        if ours is None or ours.get("status") != "PRIMARY":
            return _replaced(service, ours, self.last_seen, deployment_id, self.stopped, self.wall_start,
                             self.previous_task_definition, self.breaker_rollback)
        self.last_seen, self.service = ours, service
        desired = int(ours.get("desiredCount", 0))
        running = int(ours.get("runningCount", 0))
        pending = int(ours.get("pendingCount", 0))
        rollout = ours.get("rolloutState")
        others = [d for d in service.get("deployments", []) if d.get("id") != deployment_id]
        self.complete = running == desired and not others and rollout in ("COMPLETED", None)
        progress = f"{running}/{desired} running, {pending} pending"
        old_running = sum(int(d.get("runningCount", 0)) for d in others)
        if others:
            progress += f", {old_running} old still running"
        stage = rolling_stage(running, pending, desired, old_running, bool(others))
        return Going((running, pending, int(ours.get("failedTasks") or 0)), desired,
                     ending=self.complete or rollout == "FAILED", circuit_breaker=self.circuit_breaker,
                     what=f"deployment {deployment_id}", progress=progress,
                     timed_out=f"deployment {deployment_id} of service {self.service_name} not finished after "
                               f"{poll.label} s ({progress}, rolloutState {rollout})",
                     near_end=running >= desired and pending == 0 and bool(others),
                     near_threshold=self.circuit_breaker, stage=stage,
                     waiting=rolling_waits(stage, running, pending, desired, old_running),
                     starting=bool(desired and pending and running + pending >= desired))

    def ended(self, going: Going) -> WaitOutcome | None:
        """FAILED when ECS set our deployment's rolloutState FAILED."""
        ours = self.last_seen or {}
        if ours.get("rolloutState") != "FAILED":
            return None
        return WaitOutcome("FAILED", self.deployment_id, self.service,
                           str(ours.get("rolloutStateReason") or "deployment FAILED"),
                           self.stopped.reasons(self.stopped.failures(before_baseline=True)),
                           service_events(self.service, self.wall_start), ecs_failed=True)

    def failed(self, reason: str, reasons: list[str]) -> WaitOutcome:
        """ci-ecs's FAILED verdict, with the service as this poll described it."""
        return WaitOutcome("FAILED", self.deployment_id, self.service, reason, reasons,
                           service_events(self.service, self.wall_start))

    def finished(self, going: Going) -> WaitOutcome | None:
        """COMPLETED once our deployment runs its desired count alone."""
        if not self.complete:
            return None
        self.stopped.baseline(poll=False)  # the stable window counts what stops after COMPLETED
        return WaitOutcome("COMPLETED", self.deployment_id, self.service)


def wait_for_deployment(ecs: EcsGateway, cluster: str, service_name: str, deployment_id: str, *,
                        timeout: float, max_interval: float = 15.0, started_at: float | None = None,
                        circuit_breaker: bool = False, breaker_rollback: bool = False,
                        previous_task_definition: str | None = None, timeout_label: float | None = None,
                        clock: Callable[[], float] = time.monotonic,
                        sleep: Callable[[float], None] = time.sleep,
                        stopped: StoppedTasks | None = None,
                        started_counts: tuple[int, int, int] | None = None,
                        on_ending: Callable[[Going], None] | None = None) -> WaitOutcome:
    """Poll the service until `deployment_id` is COMPLETED and alone, or fails; raise on timeout.

    A deployment fails when ECS says so (rolloutState FAILED), or when as many of its tasks stopped
    as ECS's circuit breaker would allow (`failure_threshold`), counted from the stopped tasks
    themselves: without a circuit breaker ECS retries failing tasks forever, and with one it stops
    counting once a task ran, so a task that crashes after RUNNING is seen only this way. `started_counts`: our
    deployment's counts when our call started it; `on_ending`: called with the poll that ends it (`Poll`).
    """
    wall_start = started_at if started_at is not None else time.time()
    stopped = stopped or StoppedTasks(ecs, cluster, service_name, deployment_id)
    poll = Poll(stopped, timeout=timeout, max_interval=max_interval, timeout_label=timeout_label, clock=clock,
                sleep=sleep, started_counts=started_counts, on_ending=on_ending)
    ecs.expect(service=service_name)
    reader = DeploymentReader(ecs, cluster, service_name, deployment_id, stopped=stopped, wall_start=wall_start,
                              circuit_breaker=circuit_breaker, breaker_rollback=breaker_rollback,
                              previous_task_definition=previous_task_definition)
    return follow_polls(reader, poll)


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


