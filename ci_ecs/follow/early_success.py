"""Early success criteria, as a service deployment reports them (issue 26 item 3).

With `deploymentConfiguration.earlySuccessCriteria`, ECS ends a rolling deployment once `healthyPercent` of the
desired count is healthy on the target revision (ECS API reference, DeploymentEarlySuccessCriteria): the service
deployment's status is then SUCCESSFUL, which is what ci-ecs follows, as for any deployment. With
`sourceServiceRevisionCleanup: DEFERRED`, ECS removes the source revision's tasks after it completed the
deployment ("The time when Amazon ECS removes the source revisions' tasks relative to deployment completion"),
so the old revision may still run tasks when ci-ecs reports success: `cleanup_note` says so. And the target
revision may still be scaling up then ("Amazon ECS continues to scale the target service revision" after
completing): the stable window asks for `required_running` tasks, not the whole desired count. Only ECS's data
is read (the deployment configuration of the service deployment or the service, sourceServiceRevisions[].
runningTaskCount / pendingTaskCount), never an event's or a status reason's wording.
"""

from __future__ import annotations

import math
from typing import Any


def criteria(service_deployment: dict[str, Any]) -> dict[str, Any] | None:
    """The enabled early success criteria of a service deployment (DescribeServiceDeployments) or a service
    (DescribeServices: Service.deploymentConfiguration has the same member), else None.

    >>> criteria({"deploymentConfiguration": {"earlySuccessCriteria": {"enable": True, "healthyPercent": 50}}})
    {'enable': True, 'healthyPercent': 50}
    >>> criteria({"deploymentConfiguration": {"earlySuccessCriteria": {"enable": False}}}) is None
    True
    """
    found = ((service_deployment.get("deploymentConfiguration") or {}).get("earlySuccessCriteria")) or {}
    return dict(found) if found.get("enable") is True else None


def old_tasks(service_deployment: dict[str, Any]) -> int:
    """The tasks the source revisions still run or start (ServiceRevisionSummary running + pending counts)."""
    return sum(int(revision.get("runningTaskCount") or 0) + int(revision.get("pendingTaskCount") or 0)
               for revision in service_deployment.get("sourceServiceRevisions") or [])


def cleanup_note(service_deployment: dict[str, Any]) -> str | None:
    """What to tell the user when ECS reported success at its early success criteria and, with DEFERRED clean-up,
    the old revision still has tasks: None otherwise (BLOCKING removes them before success is reported).

    >>> cleanup_note({"status": "SUCCESSFUL", "deploymentConfiguration": {"earlySuccessCriteria": {
    ...     "enable": True, "healthyPercent": 50, "sourceServiceRevisionCleanup": "DEFERRED"}},
    ...     "sourceServiceRevisions": [{"runningTaskCount": 2, "pendingTaskCount": 0}]})[-78:]
    'still being cleaned up (2 task(s) left, sourceServiceRevisionCleanup DEFERRED)'
    """
    found = criteria(service_deployment)
    if service_deployment.get("status") != "SUCCESSFUL" or found is None:
        return None
    if found.get("sourceServiceRevisionCleanup") != "DEFERRED":
        return None
    left = old_tasks(service_deployment)
    if not left:
        return None
    return (f"ECS ended the deployment at its early success criteria ({found.get('healthyPercent')}% of the desired "
            f"count healthy); the old revision is still being cleaned up ({left} task(s) left, "
            "sourceServiceRevisionCleanup DEFERRED)")


def required_running(desired: int, found: dict[str, Any] | None) -> int:
    """The running tasks the stable window asks of a completed deployment: all `desired` ones, or with early
    success criteria `healthyPercent` of them ("This percentage is relative to the service's desiredCount",
    DeploymentEarlySuccessCriteria.healthyPercent; a fraction of a task rounds up).

    >>> half = {"healthyPercent": 50}
    >>> required_running(4, None), required_running(4, half), required_running(3, half)
    (4, 2, 2)
    """
    if not found or not isinstance(found.get("healthyPercent"), int):
        return desired
    return min(desired, math.ceil(desired * int(found["healthyPercent"]) / 100))
