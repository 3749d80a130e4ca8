"""A service's sandbox bookkeeping and the deployment state every strategy reads and changes.

The ECS scheduler's state lives on moto's own models (``Service.deployments``/``events``) so every
moto response shows it; the sandbox's bookkeeping sits in ``service.sb_state`` (``sb_state``),
which moto's serializer ignores. The scheduler (``scheduler.py``), the strategies
(``strategies/``) and the service-deployment records (``deployments.py``) all build on this
module, which imports none of them: the imports have no cycle. Every function here runs with
the sandbox lock held.
"""

from __future__ import annotations

import copy
import math
import uuid
from typing import TYPE_CHECKING, Any

from moto.ecs.models import EC2ContainerServiceBackend
from moto.moto_api._internal import mock_random

from .lifecycle import utcnow

if TYPE_CHECKING:
    from .deployments import ServiceDeployment

# moto's Task, Service and Container carry the sandbox's extra attributes (sb_*, startedAt,
# stopCode...) that moto's type hints do not declare, so they are handled as Any here.
MotoTask = Any


MotoService = Any


MAX_EVENTS = 100


DEFAULT_DEPLOYMENT_CONFIGURATION: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}


LIVE_STATES = ("PROVISIONING", "PENDING", "ACTIVATING", "RUNNING")

# CreateService/UpdateService members moto drops that ECS keeps per service revision (ServiceRevision has all
# of them) and, the first three, per deployment (Deployment: serviceConnectConfiguration, volumeConfigurations,
# vpcLatticeConfigurations); ECS API reference. Their data planes are not emulated: they are stored and echoed.
REVISION_MEMBERS = ("serviceConnectConfiguration", "volumeConfigurations", "vpcLatticeConfigurations",
                    "gatewayConnectors", "monitoring")
DEPLOYMENT_MEMBERS = REVISION_MEMBERS[:3]


def new_deployment_id() -> str:
    """A deployment id shaped like ECS's: ``ecs-svc/`` and 19 digits."""
    return f"ecs-svc/{mock_random.randint(10**18, 10**19 - 1)}"


def circuit_breaker_threshold(desired_count: int, breaker: dict[str, Any] | None = None) -> int:
    """The circuit breaker's failure threshold for a desired count and the breaker's
    ``thresholdConfiguration`` (ECS API reference, ThresholdConfiguration / ThresholdType): COUNT
    uses ``value`` as is; BOUNDED_PERCENT (the default, value 50) is value % of the desired count,
    at least 3 and at most 200; UNBOUNDED_PERCENT the same without the 3-to-200 bounds.

    >>> [circuit_breaker_threshold(n) for n in (1, 6, 7, 1000)]
    [3, 3, 4, 200]
    >>> circuit_breaker_threshold(10, {"thresholdConfiguration": {"type": "COUNT", "value": 1}})
    1
    >>> circuit_breaker_threshold(1000, {"thresholdConfiguration": {"type": "UNBOUNDED_PERCENT", "value": 50}})
    500
    """
    threshold = (breaker or {}).get("thresholdConfiguration") or {}
    kind = threshold.get("type") or "BOUNDED_PERCENT"
    value = threshold.get("value")
    value = 50 if value is None else int(value)
    if kind == "COUNT":
        return value
    computed = math.ceil(value * desired_count / 100)
    if kind == "UNBOUNDED_PERCENT":
        return computed
    return min(200, max(3, computed))


def short_id(task: MotoTask) -> str:
    """How ECS names a task in service events: its id."""
    return str(task.id)


def sb_state(service: MotoService) -> dict[str, Any]:
    """The sandbox's bookkeeping for a service (created on first use)."""
    state = getattr(service, "sb_state", None)
    if state is None:
        state = {
            "uid": uuid.uuid4().hex,
            "last_completed": None,  # (deployment id, task definition ARN)
            "steady": False,
            "rollbacks": set(),  # deployment ids created by a rollback: never rolled back again
            "halted": set(),  # failed deployments that launch no more tasks
        }
        service.sb_state = state
    return state


def deployment_records(service: MotoService) -> list[ServiceDeployment]:
    """The service's service deployments (``deployments.ServiceDeployment``), newest first: kept in
    its bookkeeping so that they go with the service."""
    records: list[ServiceDeployment] = sb_state(service).setdefault("service_deployments", [])
    return records


def add_event(service: MotoService, message: str) -> None:
    """Prepend a service event (ECS lists the newest first)."""
    service.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": utcnow(), "message": message})
    del service.events[MAX_EVENTS:]


def deployment_configuration(service: MotoService) -> dict[str, Any]:
    """The service's deploymentConfiguration with ECS's defaults filled in."""
    config = dict(DEFAULT_DEPLOYMENT_CONFIGURATION)
    config.update(getattr(service, "deployment_configuration", None) or {})
    return config


def revision_members(service: MotoService) -> dict[str, Any]:
    """The service's REVISION_MEMBERS as CreateService/UpdateService last set them (a copy)."""
    return copy.deepcopy(dict(getattr(service, "sb_revision_members", None) or {}))


def new_deployment(service: MotoService, task_definition_arn: str) -> dict[str, Any]:
    """A PRIMARY, IN_PROGRESS deployment of a task definition, shaped like ECS's."""
    deployment_id = new_deployment_id()
    now = utcnow()
    launch_type = service.launch_type
    members = revision_members(service)
    return {
        **{name: members[name] for name in DEPLOYMENT_MEMBERS if name in members},
        "id": deployment_id,
        "status": "PRIMARY",
        "taskDefinition": task_definition_arn,
        "desiredCount": service.desired_count,
        "pendingCount": 0,
        "runningCount": 0,
        "failedTasks": 0,
        "createdAt": now,
        "updatedAt": now,
        "launchType": launch_type,
        # Deployment.capacityProviderStrategy (ECS API reference): "The capacity provider strategy that the
        # deployment is using" (a service created with one has no launchType).
        "capacityProviderStrategy": copy.deepcopy(getattr(service, "capacity_provider_strategy", None)) or None,
        "platformVersion": service.platform_version or ("1.4.0" if launch_type == "FARGATE" else None),
        "platformFamily": "Linux" if launch_type == "FARGATE" else None,
        "networkConfiguration": service.network_configuration or None,
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": f"ECS deployment {deployment_id} in progress.",
    }


def start_deployment(service: MotoService) -> dict[str, Any]:
    """UpdateService with a new task definition or forceNewDeployment: a new PRIMARY deployment."""
    for deployment in service.deployments:
        if deployment["status"] == "PRIMARY":
            deployment["status"] = "ACTIVE"
            deployment["updatedAt"] = utcnow()
    deployment = new_deployment(service, service.task_definition)
    service.deployments.insert(0, deployment)
    sb_state(service)["steady"] = False
    return deployment


def primary_deployment(service: MotoService) -> dict[str, Any] | None:
    """The service's PRIMARY deployment (the one ECS is rolling out), or None."""
    for deployment in service.deployments:
        if deployment["status"] == "PRIMARY":
            return deployment
    return None


def service_tasks(backend: EC2ContainerServiceBackend, service: MotoService) -> list[MotoTask]:
    """Tasks the scheduler started for this service (any state), oldest first."""
    uid = sb_state(service)["uid"]
    tasks = backend.tasks.get(service.cluster_name, {}).values()
    return sorted((t for t in tasks if getattr(t, "sb_service_uid", None) == uid), key=lambda t: t.sb_created)


def refresh_counts(service: MotoService, tasks: list[MotoTask]) -> None:
    """runningCount/pendingCount on each deployment and on the service, from the tasks."""
    running_total = pending_total = 0
    for deployment in service.deployments:
        mine = [t for t in tasks if t.sb_deployment == deployment["id"] and t.desired_status == "RUNNING"]
        running = sum(1 for t in mine if t.last_status == "RUNNING")
        pending = sum(1 for t in mine if t.last_status in ("PROVISIONING", "PENDING", "ACTIVATING"))
        if (deployment["runningCount"], deployment["pendingCount"]) != (running, pending):
            deployment["runningCount"], deployment["pendingCount"] = running, pending
            deployment["updatedAt"] = utcnow()
        running_total += running
        pending_total += pending
    service.running_count = running_total
    service.pending_count = pending_total
    service.current_service_revisions = current_revisions(service)


def current_revisions(service: MotoService) -> list[dict[str, Any]]:
    """Service.currentServiceRevisions: the revisions the service's deployments run, with their task counts
    (ServiceCurrentRevisionSummary). A circuit-breaker rollback runs the revision it rolls back to."""
    out = []
    for deployment in service.deployments:
        records = deployment_records(service)
        record = next((r for r in records if r.deployment_id == deployment["id"]), None)
        if record is None:
            record = next((r for r in records if r.rollback_deployment_id == deployment["id"]), None)
            arn = (record.rollback or {}).get("serviceRevisionArn") if record else None
        else:
            arn = record.target.arn
        if arn:
            out.append({"arn": arn, "requestedTaskCount": int(deployment["desiredCount"]),
                        "runningTaskCount": int(deployment["runningCount"]),
                        "pendingTaskCount": int(deployment["pendingCount"])})
    return out
