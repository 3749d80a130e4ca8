"""Following a deployment once it was started: which deployment to follow and its fallbacks, the failure
verdict and the rollback policy.

Both ways of following run on the one poll loop (ci_ecs.follow.loop): `follow_service_deployment` through ECS's
service-deployment API (ci_ecs.follow.service_deployment), `wait_for_deployment` by deployment id
(ci_ecs.follow.by_id); `verify_stable` watches the stable window (ci_ecs.follow.stable). `Follower` picks one,
falls back when the service-deployment API is not there (or not allowed), turns what it saw into a
DeploymentFailedError and rolls back when that is wanted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ci_ecs import phases
from ci_ecs.config import Config
from ci_ecs.ecs import BatchingEcsGateway, EcsGateway
from ci_ecs.errors import DeploymentFailedError, DeployTimeoutError, ServiceDeletedError
from ci_ecs.follow.by_id import wait_for_deployment
from ci_ecs.follow.early_success import cleanup_note, criteria
from ci_ecs.follow.loop import Going
from ci_ecs.follow.prefetch import AddressPrefetch
from ci_ecs.follow.service_deployment import (
    ServiceDeploymentUnavailable,
    describe_service_deployment,
    find_service_deployment,
    follow_service_deployment,
)
from ci_ecs.follow.stable import verify_stable
from ci_ecs.follow.state import (
    StoppedTasks,
    WaitOutcome,
    describe_or_none,
    describe_stop,
    find_deployment,
    gone_status,
    strategy_of,
)
from ci_ecs.network import Addresses
from ci_ecs.results import DeployResult
from ci_ecs.service import ServiceResult, primary_deployment
from ci_ecs.tails import LogTail

log = logging.getLogger(__name__)


def health_checked(definition: dict[str, Any]) -> bool:
    """Whether the task's health comes from container health checks: a task is HEALTHY once all its essential
    containers are, and UNKNOWN when none has a health check (API reference, Task.healthStatus)."""
    return any(c.get("healthCheck") for c in definition.get("containerDefinitions", []) if c.get("essential", True))


def started_counts(outcome: ServiceResult, deployment_id: str) -> tuple[int, int, int] | None:
    """(running, pending, failed) of our deployment as the CreateService/UpdateService answer that started it
    reports them (Deployment.runningCount, pendingCount, failedTasks; 0, 0, 0 for a new deployment), or None when
    this run did not start it (the first poll then lists the stopped tasks whatever its counts).

    >>> started_counts(ServiceResult("updated", {"deployments": [{"id": "d", "runningCount": 0}]}, "d", None,
    ...                              started_deployment=True), "d")
    (0, 0, 0)
    """
    ours = find_deployment(outcome.service, deployment_id) if outcome.started_deployment else None
    if ours is None:
        return None
    return (int(ours.get("runningCount") or 0), int(ours.get("pendingCount") or 0),
            int(ours.get("failedTasks") or 0))


class Follower:
    """Follows the deployments of one deploy in one cluster, sharing its deadline, sleep and result bookkeeping.

    `remaining(timeout)`: seconds left of the deploy's timeout; `sleep`: the deploy's cancellable sleep
    (Deployer._sleep); `finish(result)`: the result's JSON with its duration and API calls filled in;
    `log_tails(tasks)`: the log lines of failed tasks (never fails).
    """

    def __init__(self, config: Config, ecs: EcsGateway, cluster: str, *, started: float,
                 remaining: Callable[[float], float], sleep: Callable[[float], None],
                 finish: Callable[[DeployResult], dict[str, Any]],
                 log_tails: Callable[[list[dict[str, Any]]], list[LogTail]]) -> None:
        self.config = config
        self.ecs = ecs
        self.cluster = cluster
        self.started = started
        self.remaining = remaining
        self._sleep = sleep
        self.finish = finish
        self.log_tails = log_tails

    def rollout(self, outcome: ServiceResult, result: DeployResult, definition: dict[str, Any],
                addresses_of: Callable[[dict[str, Any]], Addresses | None]
                ) -> tuple[str, dict[str, Any], Addresses | None]:
        """Follow the deployment `outcome` started (or the service's own, unfinished one) to its end, then
        watch the stable window; the deployment followed, the service as last described and its addresses.

        Raises the failure verdict (DeploymentFailedError, after a rollback when wanted) or DeployTimeoutError.
        A service already settled is watched only while its newest task is younger than the stable window.
        """
        config, ecs, cluster, name = self.config, self.ecs, self.cluster, result.service
        deployment_id = str(outcome.deployment_id)
        settled = outcome.action == "unchanged" and self.settled(outcome.service, deployment_id)
        service = outcome.service
        early = criteria(service)
        stopped = StoppedTasks(ecs, cluster, name, deployment_id)
        if outcome.action == "unchanged" and config.deploy.wait and not settled:
            stopped.baseline()  # the service's own deployment: what stopped before this run is not its verdict
        # One service: its addresses are looked up alongside the deployment's last reads (ci_ecs.follow.prefetch).
        # Several: each poll's reads are batched across the services (BatchingEcsGateway), lookups included.
        prefetch = AddressPrefetch(addresses_of, service)
        on_ending = None if isinstance(ecs, BatchingEcsGateway) else prefetch.start
        if config.deploy.wait and not settled:
            phases.begin(phases.ROLLOUT, f"deployment {deployment_id}")
            final = self.follow(name, deployment_id, outcome, stopped, result, on_ending=on_ending)
            result.rolloutState = "COMPLETED" if final.state == "COMPLETED" else "IN_PROGRESS"
            if final.state == "TRAFFIC_SHIFTED":
                result.warnings.append(f"production traffic has moved; the bake is still running "
                                       f"(lifecycle stage {result.lifecycleStage}): ECS finishes the deployment")
            # Early success criteria (issue 26): ECS's SUCCESSFUL is the verdict; the old revision may still be
            # cleaned up (DEFERRED) and the new one still scaling up.
            early = criteria(final.service_deployment or {}) or criteria(final.service or {})
            note = cleanup_note(final.service_deployment or {}) if final.state == "COMPLETED" else None
            if note:
                log.info("service %s: %s", name, note)
                result.warnings.append(note)
            deployment_id, service = final.deployment_id, final.service
            result.deploymentId = deployment_id
        phases.begin("addresses", "the running tasks' network interfaces and the load balancer's name")
        addresses, seen_at = prefetch.take(service)  # the tasks were described (HEALTHY or not) at `seen_at`
        running_since = addresses.newest_start(deployment_id) if addresses else None
        # A settled service whose newest task is younger than the stable window may be crash-looping (ECS
        # replaced a task that exited): watch it too. Tasks up for longer cost no call.
        young = running_since is not None and time.time() - running_since < config.deploy.stable_seconds
        if config.deploy.wait and (not settled or young):
            if settled:
                stopped.baseline()
            seen_as = "HEALTHY" if health_checked(definition) else "RUNNING"
            phases.begin("stable-window", f"each new task to stay up {config.deploy.stable_seconds:g} s from when "
                         f"it was first seen {seen_as} (deploy.stable_seconds)")
            # Each task is watched from when it was first seen HEALTHY (RUNNING without container health checks).
            stable = verify_stable(ecs, cluster, name, deployment_id, stable_seconds=config.deploy.stable_seconds,
                                   running_since=running_since, completed=service, stopped=stopped,
                                   started_at=self.started, sleep=self._sleep,
                                   tasks=addresses.tasks if addresses else None,
                                   health_checked=health_checked(definition), seen_at=seen_at,
                                   timeout=max(1.0, self.remaining(config.deploy.timeout)), early=early)
            if stable.state != "COMPLETED":
                result.rolloutState = stable.state
                raise self.failure(name, stable, outcome, result, stopped=stopped)
        return deployment_id, service, addresses

    @staticmethod
    def settled(service: dict[str, Any], deployment_id: str) -> bool:
        """True when the service already runs only this deployment, complete (an unchanged re-run)."""
        deployments = service.get("deployments", [])
        if len(deployments) != 1 or deployments[0].get("id") != deployment_id:
            return False
        only = deployments[0]
        return only.get("rolloutState") in ("COMPLETED", None) and \
            only.get("runningCount") == only.get("desiredCount") and service.get("status") == "ACTIVE"

    @staticmethod
    def circuit_breaker(service: dict[str, Any]) -> tuple[bool, bool]:
        """(enabled, rollback) of the service's deployment circuit breaker."""
        breaker = (service.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker") or {}
        return bool(breaker.get("enable")), bool(breaker.get("rollback"))

    def follow(self, name: str, deployment_id: str, outcome: ServiceResult, stopped: StoppedTasks,
               result: DeployResult, *, on_ending: Callable[[Going], None] | None = None) -> WaitOutcome:
        """Follow our deployment to its end: through its service deployment when ECS names one (falling back to
        ListServiceDeployments, then to the deployment id), else by deployment id. Raises the failure verdict.
        `on_ending`: called with the poll that ends it (ci_ecs.follow.loop.Poll)."""
        config = self.config
        breaker, breaker_rollback = self.circuit_breaker(outcome.service)
        remaining = self.remaining(config.deploy.timeout)
        log.info("waiting for deployment %s of %s (timeout %d s)", deployment_id, name, max(0, int(remaining)))
        arn = self._service_deployment_arn(result.cluster, name, deployment_id, outcome)
        if arn:
            try:
                return self._follow_service_deployment(name, deployment_id, arn, outcome, stopped, result,
                                                       on_ending=on_ending)
            except ServiceDeploymentUnavailable as exc:
                result.serviceDeploymentArn = None
                if exc.error is None:
                    log.debug("%s: looking for ours", exc.reason)
                    ours = find_deployment(outcome.service, deployment_id) or {}
                    found = find_service_deployment(self.ecs, result.cluster, name, ours)
                    if found:
                        return self._follow_service_deployment(name, deployment_id, found, outcome, stopped,
                                                               result, check_age=False, on_ending=on_ending)
                    log.debug("following deployment %s by its id", deployment_id)
                elif strategy_of(outcome.service) != "ROLLING":
                    raise exc.error from None
                else:
                    # A rolling deployment can be followed by its id as well: a deploy policy without
                    # ecs:DescribeServiceDeployments keeps working, and the result says what to add.
                    result.warnings.append(f"service deployment not followed ({exc.error.code}): following "
                                           f"deployment {deployment_id} by its id; `ci-ecs iam-policy` lists "
                                           "ecs:DescribeServiceDeployments")
                    log.warning("%s", result.warnings[-1])
        try:
            waited = wait_for_deployment(self.ecs, result.cluster, name, deployment_id,
                                         timeout=max(1.0, remaining), max_interval=config.deploy.max_poll_interval,
                                         started_at=self.started, circuit_breaker=breaker,
                                         breaker_rollback=breaker_rollback,
                                         previous_task_definition=outcome.previous_task_definition,
                                         timeout_label=config.deploy.timeout, sleep=self._sleep, stopped=stopped,
                                         started_counts=started_counts(outcome, deployment_id), on_ending=on_ending)
        except DeployTimeoutError as exc:
            result.rolloutState = "IN_PROGRESS"
            exc.result = self.finish(result)
            raise
        if waited.state == "COMPLETED":
            log.info("deployment %s of %s completed", waited.deployment_id, name)
            return waited
        result.rolloutState = waited.state
        raise self.failure(name, waited, outcome, result, stopped=stopped)

    def _service_deployment_arn(self, cluster: str, name: str, deployment_id: str,
                                outcome: ServiceResult) -> str | None:
        """The service deployment to follow (every strategy, ROLLING included), or None to follow the ECS
        deployment by its id.

        CreateService/UpdateService/DescribeServices name the service's current service deployment
        (Service.currentServiceDeployment, API reference): no extra call. It is ours when our call started a
        deployment, or when an unchanged re-run follows the service's own deployment still IN_PROGRESS. A
        desired-count change alone starts no service deployment: its scaling is followed by deployment id.
        Endpoints without the service-deployment API leave the field out; a blue/green, canary or linear
        deployment is then looked up with ListServiceDeployments, a rolling one followed by its id.
        """
        service = outcome.service
        ours = find_deployment(service, deployment_id)
        started = outcome.started_deployment or (
            outcome.action == "unchanged" and (ours or {}).get("rolloutState") == "IN_PROGRESS")
        if not started or ours is None:
            return None
        current = service.get("currentServiceDeployment")
        if current:
            return str(current)
        if strategy_of(service) != "ROLLING":
            return find_service_deployment(self.ecs, cluster, name, ours)
        log.debug("the service names no current service deployment (an endpoint without the service-deployment "
                  "API): following deployment %s by its id", deployment_id)
        return None

    def _follow_service_deployment(self, name: str, deployment_id: str, arn: str,
                                   outcome: ServiceResult, stopped: StoppedTasks,
                                   result: DeployResult, *, check_age: bool = True,
                                   on_ending: Callable[[Going], None] | None = None) -> WaitOutcome:
        """Follow a service deployment (any strategy) through the service-deployment API."""
        config = self.config
        result.serviceDeploymentArn = arn
        ours = find_deployment(outcome.service, deployment_id) or {}
        log.info("following service deployment %s (%s)", arn.rsplit("/", 1)[-1],
                 "until production traffic has moved" if config.deploy.wait_until == "traffic-shifted"
                 else "until it is SUCCESSFUL")
        try:
            waited = follow_service_deployment(self.ecs, result.cluster, name, deployment_id, arn,
                                               timeout=max(1.0, self.remaining(config.deploy.timeout)),
                                               wait_until=config.deploy.wait_until,
                                               max_interval=config.deploy.max_poll_interval,
                                               started_at=self.started, timeout_label=config.deploy.timeout,
                                               stopped=stopped, sleep=self._sleep,
                                               created_after=ours.get("createdAt") if check_age else None,
                                               started_counts=started_counts(outcome, deployment_id),
                                               on_ending=on_ending)
        except DeployTimeoutError as exc:
            result.rolloutState = "IN_PROGRESS"
            last = describe_service_deployment(self.ecs, arn)
            result.serviceDeploymentStatus, result.lifecycleStage = last.get("status"), last.get("lifecycleStage")
            exc.result = self.finish(result)
            raise
        sd = waited.service_deployment or {}
        result.serviceDeploymentStatus, result.lifecycleStage = sd.get("status"), sd.get("lifecycleStage")
        if waited.state in ("COMPLETED", "TRAFFIC_SHIFTED"):
            return waited
        result.rolloutState = waited.state
        raise self.failure(name, waited, outcome, result, stopped=stopped)

    def failure(self, name: str, waited: WaitOutcome, outcome: ServiceResult,
                result: DeployResult, *, stopped: StoppedTasks | None = None,
                tail_tasks: list[dict[str, Any]] | None = None) -> DeploymentFailedError:
        """The error for a failed deployment, after rolling back when that is wanted.

        It carries the log tails of the tasks whose stopped reasons it shows (from `stopped`), or of
        `tail_tasks` (the tasks a failed verify probed).
        """
        if waited.state == "DELETED":
            # Nothing to roll back: ECS refuses UpdateService on a DRAINING or INACTIVE service
            # (ServiceNotActiveException), and someone meant it to go.
            return ServiceDeletedError(
                waited.reason, service=name, status=waited.service_status or "MISSING",
                deployment_id=waited.deployment_id, stopped_reasons=waited.stopped_reasons, events=waited.events,
                result=self.finish(result))
        lines = [waited.reason]
        rolled_back_to = self._rollback_verdict(name, waited, outcome, result, lines)
        result.rolledBackTo = rolled_back_to
        if tail_tasks is None and stopped is not None:
            shown = set(waited.stopped_reasons)
            tail_tasks = list({t.get("taskArn"): t for t in stopped.tasks if describe_stop(t) in shown}.values())
        if tail_tasks:
            phases.begin("logs", f"the last log lines of {len(tail_tasks)} failed task(s)")
        return DeploymentFailedError(
            "; ".join(line for line in lines if line), deployment_id=waited.deployment_id,
            stopped_reasons=waited.stopped_reasons, events=waited.events, rolled_back_to=rolled_back_to,
            result=self.finish(result), log_tails=self.log_tails(tail_tasks or []))

    def _rollback_verdict(self, name: str, waited: WaitOutcome, outcome: ServiceResult, result: DeployResult,
                          lines: list[str]) -> str | None:
        """Where the failed deployment leaves the service (the revision it goes back to, or None), after rolling
        back when that is ours to do; what happened is added to `lines`."""
        breaker, breaker_rollback = self.circuit_breaker(outcome.service)
        ecs_breaker_rolls_back = waited.state == "FAILED" and waited.ecs_failed and breaker and breaker_rollback
        if waited.state == "ROLLED_BACK":
            return (primary_deployment(waited.service) or {}).get("taskDefinition") or None
        if (waited.ecs_rolling_back or ecs_breaker_rolls_back) and outcome.action == "created":
            # A service's first deployment has no earlier one to go back to: ECS's circuit breaker rolls back
            # "to the last deployment that completed" (developer guide, deployment circuit breaker), and there
            # is none. Say what happened, not a rollback.
            lines.append("nothing to roll back to: the service was created by this deploy")
            return None
        if waited.ecs_rolling_back:
            # ECS started the rollback (circuit breaker, alarm or StopServiceDeployment): not ours to start.
            lines.append(f"ECS rolls the service back (service deployment "
                         f"{(waited.service_deployment or {}).get('status')})")
            return outcome.previous_task_definition
        if ecs_breaker_rolls_back:
            lines.append("ECS's circuit breaker rolls back the service")
            return outcome.previous_task_definition
        if waited.state == "FAILED":
            ecs_rolls_back = breaker_rollback and waited.ecs_failed
            return self._roll_back(name, outcome, ecs_rolls_back, lines,
                                   ours={str(outcome.deployment_id), waited.deployment_id}, result=result)
        return None

    def _roll_back(self, name: str, outcome: ServiceResult, ecs_rolls_back: bool,
                   lines: list[str], *, ours: set[str] | None = None, result: DeployResult | None = None
                   ) -> str | None:
        """Put the service back on the revision it ran before this deploy, unless someone else moved it since.

        `ours`: the ids of this deploy's deployment (and of a same-definition deployment it followed). The
        service is rolled back only while it still runs what this deploy deployed: its taskDefinition is ours
        and its PRIMARY deployment is ours. UpdateService has no condition to make it conditional (no expected
        revision or token among its parameters, ECS API reference), so the check is a DescribeServices right
        before it, and the UpdateService answer is checked for a deployment that slipped in between.
        """
        config = self.config
        cluster = self.cluster
        previous = outcome.previous_task_definition
        wanted = config.deploy.rollback if config.deploy.rollback is not None else not ecs_rolls_back
        if not wanted:
            lines.append("not rolled back (--no-rollback)")
            return None
        if outcome.action == "created":
            lines.append("nothing to roll back to: the service was created by this deploy")
            return None
        current = outcome.service.get("taskDefinition")
        if not previous or previous == current:
            # A re-run that changed nothing (or only counts and settings) has no other revision to go back to.
            lines.append(f"not rolled back: this deploy did not change the service's task definition "
                         f"({current or 'unknown'})")
            return None
        seen: set[str] = set()
        if ours is not None:
            now = describe_or_none(self.ecs, cluster, name)
            moved = self._moved_since(name, now, ours, str(current), previous)
            if moved == "back":
                lines.append(f"the service already runs {previous} again (rolled back)")
                return previous
            if moved:
                lines.append(f"not rolled back: {moved}")
                if result is not None:
                    result.warnings.append(f"not rolled back: {moved}")
                return None
            seen = {str(d.get("id")) for d in (now or {}).get("deployments", [])}
        log.warning("rolling back service %s to %s", name, previous)
        phases.begin("rollback", f"the service back on {previous.rsplit('/', 1)[-1]}")
        updated = self.ecs.update_service({"cluster": cluster, "service": name, "taskDefinition": previous})
        if ours is not None:
            slipped = [d for d in updated.get("deployments", []) if d.get("status") != "PRIMARY"
                       and str(d.get("id")) not in seen]
            if slipped and result is not None:
                # Someone's UpdateService landed between our DescribeServices and ours: say so, do not fight it.
                result.warnings.append(
                    f"deployment {slipped[0].get('id')} ({slipped[0].get('taskDefinition')}) was started by someone "
                    f"else right before the rollback and was replaced by it")
                log.warning("%s", result.warnings[-1])
        back = primary_deployment(updated)
        remaining = self.remaining(config.deploy.timeout)
        if back and back.get("id") and remaining > 0:
            breaker, _ = self.circuit_breaker(updated)
            back_arn = updated.get("currentServiceDeployment")  # the rollback's own service deployment
            try:
                if back_arn:
                    waited = follow_service_deployment(self.ecs, cluster, name, str(back["id"]), str(back_arn),
                                                       timeout=remaining, max_interval=config.deploy.max_poll_interval,
                                                       sleep=self._sleep)
                else:
                    waited = wait_for_deployment(self.ecs, cluster, name, str(back["id"]), timeout=remaining,
                                                 max_interval=config.deploy.max_poll_interval,
                                                 circuit_breaker=breaker, sleep=self._sleep)
                lines.append(f"rolled back to {previous} ({waited.state.lower()})")
            except DeployTimeoutError:
                lines.append(f"rolling back to {previous}: not finished within the deploy's timeout")
        else:
            lines.append(f"rolling back to {previous}: started, not waited for (the deploy's timeout is spent)")
        return previous

    @staticmethod
    def _moved_since(name: str, service: dict[str, Any] | None, ours: set[str], deployed: str,
                     previous: str) -> str | None:
        """Why the service no longer runs what this deploy deployed (someone else moved it), "back" when it runs
        the previous revision again (ECS's rollback, or someone's), or None when it is still ours to roll back."""
        gone = gone_status(service)
        if service is None or gone is not None:
            return f"service {name} is {gone} (being deleted)"
        primary = primary_deployment(service) or {}
        running = service.get("taskDefinition")
        if running == previous and primary.get("taskDefinition") == previous:
            return "back"
        if running == deployed and primary.get("id") in ours:
            return None
        return (f"service {name} now runs deployment {primary.get('id')} ({primary.get('taskDefinition') or running}), "
                "started by someone else after this deploy; left as it is")

