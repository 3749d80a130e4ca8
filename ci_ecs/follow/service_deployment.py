"""Following a deployment through ECS's service-deployment API (any strategy: ROLLING, BLUE_GREEN, LINEAR,
CANARY): the `Reader` of one poll, on the loop every strategy shares (ci_ecs.follow.loop).

As in ci_ecs.follow.state, only what ECS reports as data decides (status, lifecycleStage, counts, circuit breaker
status), never the wording of a statusReason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ci_ecs.ecs import SERVICE_DEPLOYMENT_API_MISSING, EcsGateway
from ci_ecs.errors import AwsError
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
    strategy_of,
)
from ci_ecs.phases import rolling_stage, rolling_waits
from ci_ecs.service import primary_deployment

log = logging.getLogger(__name__)

# ECS's service-deployment API (ListServiceDeployments / DescribeServiceDeployments) reports blue/green,
# canary and linear deployments: their status, lifecycle stage, rollback and the alarms that fired.

SERVICE_DEPLOYMENT_FINAL_FAILURES = ("STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")
_ROLLING_BACK = ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")
# Production traffic has moved once the deployment is past POST_PRODUCTION_TRAFFIC_SHIFT (ServiceDeployment.
# lifecycleStage: BAKE_TIME, then CLEAN_UP).
TRAFFIC_SHIFTED_STAGES = ("BAKE_TIME", "CLEAN_UP")
# What an endpoint without the service-deployment API answers (older endpoints; moto has none).
_FIND_SKEW_SECONDS = 5.0


def find_service_deployment(ecs: EcsGateway, cluster: str, service_name: str,
                            deployment: dict[str, Any]) -> str | None:
    """The ARN of the service deployment of our ECS deployment (created with it, same task definition), or
    None when the endpoint has no service-deployment API (said at --debug) or none matches."""
    created = deployment.get("createdAt")
    from datetime import datetime

    after = created.timestamp() - _FIND_SKEW_SECONDS if isinstance(created, datetime) else time.time() - 600
    try:
        briefs = ecs.list_service_deployments(cluster, service_name, created_after=after)
    except AwsError as err:
        if err.code in SERVICE_DEPLOYMENT_API_MISSING:
            log.debug("ListServiceDeployments is not available here (%s): following deployment %s by its id",
                      err.code, deployment.get("id"))
            return None
        raise
    except (AttributeError, NotImplementedError) as err:  # an old botocore; moto's in-process mock
        log.debug("ListServiceDeployments is not available (%s): following deployment %s by its id",
                  type(err).__name__, deployment.get("id"))
        return None
    for brief in sorted(briefs, key=lambda b: str(b.get("createdAt") or ""), reverse=True):
        revision = brief.get("targetServiceRevisionArn")
        if not revision:
            continue
        described = ecs.describe_service_revisions([revision])
        if described and described[0].get("taskDefinition") == deployment.get("taskDefinition"):
            return str(brief["serviceDeploymentArn"])
    log.debug("no service deployment matches deployment %s: following it by its id", deployment.get("id"))
    return None


def describe_service_deployment(ecs: EcsGateway, arn: str) -> dict[str, Any]:
    """DescribeServiceDeployments for one ARN ({} when ECS does not know it)."""
    found = ecs.describe_service_deployments([arn])
    return found[0] if found else {}


def paused_hook(service_deployment: dict[str, Any]) -> dict[str, Any] | None:
    """The lifecycle hook the deployment waits on (AWAITING_ACTION), if any."""
    return next((h for h in service_deployment.get("lifecycleHookDetails") or []
                 if h.get("status") == "AWAITING_ACTION"), None)


def _failure_reason(arn: str, sd: dict[str, Any]) -> str:
    status = sd.get("status")
    parts = [f"service deployment {arn.rsplit('/', 1)[-1]} {status}"]
    fired = (sd.get("alarms") or {}).get("triggeredAlarmNames") or []
    if fired:
        parts.append(f"alarm(s) {', '.join(fired)} in ALARM")
    reason = sd.get("statusReason") or (sd.get("rollback") or {}).get("reason")
    if reason:
        parts.append(str(reason))
    return ": ".join(parts[:1]) + (" (" + "; ".join(parts[1:]) + ")" if parts[1:] else "")


# A policy written before ci-ecs followed rolling deployments this way may lack ecs:DescribeServiceDeployments.
_DENIED = ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation")


class ServiceDeploymentUnavailable(Exception):  # noqa: N818 - a signal to the caller, never shown to a user
    """The service deployment named cannot be followed: the first DescribeServiceDeployments was refused (no
    such API here, or not allowed: `error` says why), or it is older than our deployment (`error` None: the
    service named a previous one). The caller finds ours another way or follows the deployment by its id."""

    def __init__(self, reason: str, error: AwsError | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error


def _older(created: Any, than: Any) -> bool:
    """True when `created` is more than _FIND_SKEW_SECONDS before `than` (both datetimes; unknown: False)."""
    from datetime import datetime

    if not isinstance(created, datetime) or not isinstance(than, datetime):
        return False
    return (than - created).total_seconds() > _FIND_SKEW_SECONDS


def _stopped_verdict(ecs: EcsGateway, cluster: str, service_name: str, deployment_id: str, sd: dict[str, Any],
                     ) -> tuple[str, dict[str, Any], str | None]:
    """What a STOPPED service deployment means, from states ECS reports (ServiceDeployment.status,
    deploymentCircuitBreaker.status; the service's deployments list), never from its statusReason wording:

    ("FOLLOW", service, newer id) when another deployment of the same task definition replaced ours (a
    concurrent run or a forced deployment: its success is ours); ("SUPERSEDED", service, None) when a
    deployment of another task definition replaced it; ("FAILED", service, None) when ECS's circuit breaker
    stopped it (TRIGGERED) or it was stopped while still PRIMARY (StopServiceDeployment ABORT).
    """
    service = ecs.describe_service(cluster, service_name) or {}
    if ((sd.get("deploymentCircuitBreaker") or {}).get("status")) == "TRIGGERED":
        return "FAILED", service, None
    newer = same_definition_successor(service, find_deployment(service, deployment_id))
    if newer is not None:
        return "FOLLOW", service, newer
    primary = primary_deployment(service) or {}
    if primary.get("id") and primary.get("id") != deployment_id:
        return "SUPERSEDED", service, None
    return "FAILED", service, None


class ServiceDeploymentReader:
    """One DescribeServiceDeployments per poll: our service deployment (any strategy) by its ARN."""

    names_state_at_deadline = True

    def __init__(self, ecs: EcsGateway, cluster: str, service_name: str, deployment_id: str, arn: str, *,
                 stopped: StoppedTasks, wall_start: float, wait_until: str, created_after: Any) -> None:
        self.ecs = ecs
        self.cluster = cluster
        self.service_name = service_name
        self.deployment_id = deployment_id
        self.arn = arn
        self.stopped = stopped
        self.wall_start = wall_start
        self.wait_until = wait_until
        self.created_after = created_after
        self.sd: dict[str, Any] = {}  # the service deployment as this poll described it

    def read(self, poll: Poll) -> Going | WaitOutcome:
        """DescribeServiceDeployments (`_read_service_deployment`): where the target revision stands."""
        sd = _read_service_deployment(self.ecs, self.cluster, self.service_name, self.deployment_id, self.arn,
                                      first=poll.polls == 0, created_after=self.created_after,
                                      stopped=self.stopped, wall_start=self.wall_start)
        if isinstance(sd, WaitOutcome):
            return sd  # the service was deleted
        self.sd = sd
        status = sd.get("status")
        rolling = strategy_of(sd) == "ROLLING"
        requested, running, pending = _target_counts(sd)
        breaker = sd.get("deploymentCircuitBreaker") or {}
        breaker_on = breaker.get("status") not in (None, "DISABLED")
        rolling_back = status in _ROLLING_BACK
        old_running = sum(int(s.get("runningTaskCount") or 0) for s in sd.get("sourceServiceRevisions") or [])
        hook = paused_hook(sd)
        stage, waiting = _stage(sd, rolling, (running, pending, requested), old_running, hook)
        # A rolling deployment is about to end when its tasks all run and old ones drain (or one more failure
        # trips the threshold): poll sooner. Blue/green, canary and linear wait out bake times: back off.
        return Going((running, pending, int(breaker.get("failureCount") or 0)), requested,
                     ending=status in SERVICE_DEPLOYMENT_FINAL_FAILURES or status == "SUCCESSFUL" or rolling_back,
                     circuit_breaker=breaker_on, what=f"service deployment {self.arn.rsplit('/', 1)[-1]}",
                     progress=_progress(sd, old_running, hook),
                     timed_out=_timed_out(self.arn, self.service_name, poll.label, sd, hook),
                     near_end=rolling and bool(requested and running >= requested and pending == 0
                                               and old_running > 0),
                     near_threshold=rolling and breaker_on and requested > 0,
                     starting=rolling and bool(requested and pending and running + pending >= requested),
                     # ECS's rollback's own stops are not ours
                     counting=bool(requested) and not rolling_back, note=not rolling_back,
                     stage=stage, waiting=waiting)

    def ended(self, going: Going) -> WaitOutcome | Followed | None:
        """ECS ended the service deployment (or production traffic moved, with `traffic-shifted`): `_ended`; a
        deployment of the same task definition replaced ours: followed."""
        ended = _ended(self.ecs, self.cluster, self.service_name, self.deployment_id, self.arn, self.sd,
                       self.stopped, self.wall_start, self.wait_until)
        if isinstance(ended, tuple):
            self.deployment_id, self.arn = ended
            return Followed(relist=True)
        return ended

    def failed(self, reason: str, reasons: list[str]) -> WaitOutcome:
        """ci-ecs's FAILED verdict, with the service described now."""
        service = self.ecs.describe_service(self.cluster, self.service_name) or {}
        return WaitOutcome("FAILED", self.deployment_id, service, reason, reasons,
                           service_events(service, self.wall_start), service_deployment=self.sd)

    def finished(self, going: Going) -> None:
        """Success is ECS's verdict (`ended`): nothing more to weigh."""
        return None


def follow_service_deployment(ecs: EcsGateway, cluster: str, service_name: str, deployment_id: str, arn: str, *,
                              timeout: float, wait_until: str = "completed", max_interval: float = 15.0,
                              started_at: float | None = None, timeout_label: float | None = None,
                              stopped: StoppedTasks | None = None, created_after: Any = None,
                              started_counts: tuple[int, int, int] | None = None,
                              on_ending: Callable[[Going], None] | None = None,
                              clock: Callable[[], float] = time.monotonic,
                              sleep: Callable[[float], None] = time.sleep) -> WaitOutcome:
    """Follow our service deployment (any strategy: ROLLING, BLUE_GREEN, LINEAR, CANARY) until SUCCESSFUL (or,
    with `traffic-shifted`, until production traffic has moved), or until ECS stopped or rolled it back; raise
    DeployTimeoutError naming the lifecycle stage (also when the run's deadline ends a call in flight).

    `created_after`: our ECS deployment's createdAt; a service deployment created well before it is not ours
    (ServiceDeploymentUnavailable); `started_counts`: our deployment's counts when our call started it;
    `on_ending`: called with the poll that ends it (`Poll`).
    One DescribeServiceDeployments per poll, on the loop every strategy shares
    (ci_ecs.follow.loop): our deployment's stopped tasks are counted by startedBy there (`StoppedTasks`,
    `ours_to_count`), since ECS's circuit breaker stops counting once a task ran, so a container that crashes
    after RUNNING reaches `failure_threshold` only this way (ci-ecs's verdict, FAILED).

    ROLLBACK_REQUESTED / ROLLBACK_IN_PROGRESS end a ROLLING deployment's wait at once (ECS is starting the old
    revision's tasks again, which may take minutes; the result says ECS rolls back), while a blue/green,
    canary or linear rollback (traffic moving back to the blue revision, still running) is followed to
    ROLLBACK_SUCCESSFUL / ROLLBACK_FAILED so the result says where the service is.
    """
    wall_start = started_at if started_at is not None else time.time()
    stopped = stopped or StoppedTasks(ecs, cluster, service_name, deployment_id)
    poll = Poll(stopped, timeout=timeout, max_interval=max_interval, timeout_label=timeout_label, clock=clock,
                sleep=sleep, started_counts=started_counts, on_ending=on_ending)
    ecs.expect(service=service_name, service_deployment=arn)  # its last describes are batched too
    reader = ServiceDeploymentReader(ecs, cluster, service_name, deployment_id, arn, stopped=stopped,
                                     wall_start=wall_start, wait_until=wait_until, created_after=created_after)
    return follow_polls(reader, poll)


def _read_service_deployment(ecs: EcsGateway, cluster: str, service_name: str, deployment_id: str, arn: str, *,
                             first: bool, created_after: Any, stopped: StoppedTasks, wall_start: float
                             ) -> dict[str, Any] | WaitOutcome:
    """One DescribeServiceDeployments of `arn`; the DELETED outcome when the service was deleted meanwhile.

    At the first poll (`first`), a refused call (no such API here, or not allowed), an ARN ECS does not know
    or a service deployment created well before `created_after` raise ServiceDeploymentUnavailable (the
    caller finds ours another way, or follows the deployment by its id); later, an unknown ARN on an ACTIVE
    service is an AwsError.
    """
    try:
        sd = describe_service_deployment(ecs, arn)
    except AwsError as err:
        if first and (err.code in SERVICE_DEPLOYMENT_API_MISSING or err.code in _DENIED):
            raise ServiceDeploymentUnavailable(err.message, err) from err
        raise
    if not sd:
        # ECS deletes a service's service deployments with the service (developer guide, "View service
        # history using Amazon ECS service deployments"): DescribeServiceDeployments then answers a MISSING
        # failure. The service's own status says whether it is gone.
        described = describe_or_none(ecs, cluster, service_name)
        gone = gone_status(described)
        if gone is not None:
            return deleted_outcome(deployment_id, service_name, described, gone, stopped, wall_start)
        if first:  # the caller looks for ours another way, or follows the deployment by its id
            raise ServiceDeploymentUnavailable(f"service deployment {arn} is not known to ECS")
        raise AwsError(f"describe service deployment {arn}", "MISSING",
                       f"ECS no longer knows it, while service {service_name} is ACTIVE")
    if first and _older(sd.get("createdAt"), created_after):
        # Not the one our deployment started (an endpoint whose answer named the previous one).
        raise ServiceDeploymentUnavailable(f"service deployment {arn} was created before deployment "
                                           f"{deployment_id}")
    return sd


def _ended(ecs: EcsGateway, cluster: str, service_name: str, deployment_id: str, arn: str, sd: dict[str, Any],
           stopped: StoppedTasks, wall_start: float, wait_until: str) -> WaitOutcome | tuple[str, str] | None:
    """The outcome when ECS ended the service deployment (or production traffic moved, with
    `traffic-shifted`); the (deployment id, ARN) to follow instead; None while it goes on.

    ROLLBACK_REQUESTED / ROLLBACK_IN_PROGRESS end a ROLLING deployment's wait at once; a blue/green, canary or
    linear rollback is followed to its end (see follow_service_deployment).
    """
    status, stage = sd.get("status"), sd.get("lifecycleStage")
    if status == "SUCCESSFUL" or (wait_until == "traffic-shifted" and status == "IN_PROGRESS"
                                  and stage in TRAFFIC_SHIFTED_STAGES):
        service = ecs.describe_service(cluster, service_name) or {}
        stopped.baseline(poll=False)  # the stable window counts what stops after SUCCESSFUL
        state = "COMPLETED" if status == "SUCCESSFUL" else "TRAFFIC_SHIFTED"
        return WaitOutcome(state, deployment_id, service, service_deployment=sd)
    if status == "STOPPED":
        return _stopped_outcome(ecs, cluster, service_name, deployment_id, arn, sd, stopped, wall_start)
    if status in SERVICE_DEPLOYMENT_FINAL_FAILURES or (status in _ROLLING_BACK and strategy_of(sd) == "ROLLING"):
        service = ecs.describe_service(cluster, service_name) or {}
        state = "ROLLED_BACK" if status == "ROLLBACK_SUCCESSFUL" else "FAILED"
        return WaitOutcome(state, deployment_id, service, _failure_reason(arn, sd),
                           stopped.reasons(stopped.failures(before_baseline=True)), service_events(service, wall_start),
                           ecs_failed=True, service_deployment=sd, ecs_rolling_back=status in _ROLLING_BACK)
    return None


def _stopped_outcome(ecs: EcsGateway, cluster: str, service_name: str, deployment_id: str, arn: str,
                     sd: dict[str, Any], stopped: StoppedTasks, wall_start: float) -> WaitOutcome | tuple[str, str]:
    """A STOPPED service deployment: the outcome (SUPERSEDED or FAILED, `_stopped_verdict`), or the
    (deployment id, service deployment ARN) to follow instead (a deployment of the same task definition)."""
    verdict, service, newer = _stopped_verdict(ecs, cluster, service_name, deployment_id, sd)
    if verdict == "FOLLOW" and newer is not None and service.get("currentServiceDeployment"):
        log.info("deployment %s was replaced by %s of the same task definition; following it",
                 deployment_id, newer)
        stopped.follow(newer)
        return newer, str(service["currentServiceDeployment"])
    if verdict == "SUPERSEDED":
        primary = primary_deployment(service) or {}
        return WaitOutcome("SUPERSEDED", deployment_id, service,
                           f"deployment {deployment_id} was replaced by deployment {primary.get('id')} "
                           f"({primary.get('taskDefinition')}), started by someone else",
                           stopped.reasons(), service_events(service, wall_start), service_deployment=sd)
    return WaitOutcome("FAILED", deployment_id, service, _failure_reason(arn, sd),
                       stopped.reasons(stopped.failures(before_baseline=True)), service_events(service, wall_start),
                       ecs_failed=True, service_deployment=sd)


def _stage(sd: dict[str, Any], rolling: bool, counts: tuple[int, int, int], old_running: int,
           hook: dict[str, Any] | None) -> tuple[str, str]:
    """The rollout's stage for the deploy's phases (ci_ecs.phases) and what it waits on: a blue/green, canary or
    linear deployment's lifecycleStage as ECS reports it (ServiceDeployment.lifecycleStage, API reference); a
    rolling one's from the target and source revisions' task counts (`rolling_stage`)."""
    running, pending, requested = counts
    if rolling:
        stage = rolling_stage(running, pending, requested, old_running, bool(sd.get("sourceServiceRevisions")))
        return stage, rolling_waits(stage, running, pending, requested, old_running)
    stage = str(sd.get("lifecycleStage") or sd.get("status") or "")
    target = sd.get("targetServiceRevision") or {}
    if hook:
        waiting = f"lifecycle hook {hook.get('hookId')} (awaiting action: ci-ecs continue)"
    elif stage == "BAKE_TIME":
        minutes = (sd.get("deploymentConfiguration") or {}).get("bakeTimeInMinutes")
        waiting = f"bake time ({minutes} min)" if minutes is not None else "bake time"
    elif target.get("requestedProductionTrafficWeight") is not None and "TRAFFIC" in stage:
        waiting = f"{target['requestedProductionTrafficWeight']:g}% of production traffic on the new revision"
    else:
        waiting = f"{running}/{requested} new tasks RUNNING, {pending} pending"
    return stage, waiting


def _timed_out(arn: str, service_name: str, label: int, sd: dict[str, Any], hook: dict[str, Any] | None) -> str:
    """The timeout's message: where the service deployment stands, and a paused hook."""
    requested, running, _ = _target_counts(sd)
    return (f"service deployment {arn} of service {service_name} not finished after {label} s (status "
            f"{sd.get('status')}, lifecycle stage {sd.get('lifecycleStage') or '-'}, {running}/{requested} running"
            + ("; a lifecycle hook awaits `ci-ecs continue`" if hook else "") + ")")


def _target_counts(sd: dict[str, Any]) -> tuple[int, int, int]:
    """The target revision's requested, running and pending task counts (ServiceDeployment.targetServiceRevision)."""
    target = sd.get("targetServiceRevision") or {}
    return (int(target.get("requestedTaskCount") or 0), int(target.get("runningTaskCount") or 0),
            int(target.get("pendingTaskCount") or 0))


def _progress(sd: dict[str, Any], old_running: int, hook: dict[str, Any] | None) -> str:
    """A service deployment's progress line: status, stage, task counts, traffic weight, a paused hook."""
    status, stage = sd.get("status"), sd.get("lifecycleStage")
    target = sd.get("targetServiceRevision") or {}
    requested, running, pending = _target_counts(sd)
    progress = f"{status}{f', stage {stage}' if stage else ''}, {running}/{requested} running, {pending} pending"
    if old_running:
        progress += f", {old_running} old still running"
    if target.get("requestedProductionTrafficWeight") is not None:
        progress += f", {target['requestedProductionTrafficWeight']:g}% of production traffic"
    if hook:
        progress += f"; waiting for lifecycle hook {hook.get('hookId')} (ci-ecs continue)"
    return progress
