"""What ECS reports about a deployment and its tasks, read for a verdict: the outcome of a wait, the service's
deployments, its events, and the stopped tasks of our deployment.

"Services stable" is not success: after a circuit-breaker rollback the service is stable again on the old task
definition. So ci-ecs follows the deployment id that our CreateService/UpdateService started. Only what ECS
reports as data decides: deployment ids, `status`, `rolloutState`, counts, task `startedBy`/`stopCode`. The
wording of event messages is shown to the user, never read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ci_ecs.ecs import SERVICE_EVENTS_KEPT, EcsGateway
from ci_ecs.errors import AwsError
from ci_ecs.service import primary_deployment

STOPPED_TASKS_SHOWN = 3
EVENTS_SHOWN = SERVICE_EVENTS_KEPT  # the gateway keeps no more (ci_ecs.ecs.lean_service)
# Task stop codes (API reference, Task.stopCode) that are not the task's own failure: someone stopped it,
# or the capacity under it went away. ServiceSchedulerInitiated is both a scale-in and a failed health
# check, so it is counted, less the tasks a lower desired count explains.
_NOT_A_FAILURE = ("UserInitiated", "SpotInterruption", "TerminationNotice")


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


