"""ECS's service-deployment API in the sandbox: service deployments and service revisions.

Every deployment the scheduler starts (a PRIMARY ``ecs-svc/...`` deployment) has a service
deployment (``arn:aws:ecs:REGION:ACCOUNT:service-deployment/CLUSTER/SERVICE/ID``) and a target
service revision (``...:service-revision/CLUSTER/SERVICE/ID``), as ECS records them
("View service history using Amazon ECS service deployments"). The strategy modules
(``strategies/``) move a service deployment through its statuses and lifecycle stages; this
module holds the records and answers ListServiceDeployments, DescribeServiceDeployments,
DescribeServiceRevisions, StopServiceDeployment and ContinueServiceDeployment. The deployment
settings ECS refuses are refused by ``deployment_rules``.

Records live on the service's sandbox bookkeeping (``service_state.deployment_records``), under the sandbox lock.
"""

from __future__ import annotations

import base64
import copy
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.ecs import ecs_backends
from moto.ecs.exceptions import InvalidParameterException

from . import service_state
from .lifecycle import utcnow

MotoService = Any

FINAL_STATUSES = frozenset({"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
DEFAULT_HOOK_TIMEOUT_MINUTES = 1440  # DeploymentLifecycleHookTimeoutConfiguration: default 24 hours


class ServiceDeploymentNotFoundException(ServiceException):
    """ECS's answer to Stop/ContinueServiceDeployment for an ARN it does not know."""

    code = "ServiceDeploymentNotFoundException"


@dataclass
class Revision:
    """A service revision: what one deployment runs."""

    arn: str
    service_arn: str
    cluster_arn: str
    task_definition: str
    launch_type: str | None
    platform_version: str | None
    network_configuration: dict[str, Any] | None
    load_balancers: list[dict[str, Any]]
    created_at: datetime
    members: dict[str, Any] = field(default_factory=dict)  # service_state.REVISION_MEMBERS that were set

    def public(self) -> dict[str, Any]:
        """As DescribeServiceRevisions gives it."""
        out: dict[str, Any] = {
            "serviceRevisionArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "taskDefinition": self.task_definition,
            "loadBalancers": copy.deepcopy(self.load_balancers),
            "createdAt": self.created_at,
        }
        if self.launch_type:
            out["launchType"] = self.launch_type
        if self.platform_version:
            out["platformVersion"] = self.platform_version
        if self.network_configuration:
            out["networkConfiguration"] = copy.deepcopy(self.network_configuration)
        out.update(copy.deepcopy(self.members))
        return out


@dataclass
class ServiceDeployment:
    """One service deployment; ``public()`` is the DescribeServiceDeployments shape.

    The fields after ``hooks`` are the strategy's working state (never serialised)."""

    arn: str
    service_arn: str
    cluster_arn: str
    deployment_id: str  # the ECS deployment (tasks' startedBy)
    strategy: str
    configuration: dict[str, Any]
    target: Revision
    sources: list[Revision]
    created_at: datetime = field(default_factory=utcnow)
    status: str = "PENDING"
    status_reason: str | None = None
    lifecycle_stage: str | None = None
    started_at: datetime | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None
    stopped_at: datetime | None = None
    rollback: dict[str, Any] | None = None
    alarms: dict[str, Any] | None = None
    hooks: list[dict[str, Any]] = field(default_factory=list)
    # working state
    stage_index: int = 0
    stage_since: float = 0.0
    stage_work_done: bool = False
    step: int = 0
    step_since: float | None = None
    production_weight: float = 0.0
    test_weight: float = 0.0
    traffic: list[dict[str, Any]] = field(default_factory=list)  # per load balancer: rules, blue, green
    rollback_deployment_id: str | None = None  # a rolling deployment's rollback (circuit breaker)
    source_deployment_ids: list[str] = field(default_factory=list)
    pending_action: str | None = None  # from ContinueServiceDeployment: CONTINUE | ROLLBACK
    stop_request: str | None = None  # from StopServiceDeployment: ROLLBACK | ABORT
    counts: dict[str, int] = field(default_factory=lambda: {"requested": 0, "running": 0, "pending": 0})
    # ServiceDeploymentCircuitBreaker (API reference): failureCount and TRIGGERED, kept by the strategy.
    breaker_failures: int = 0
    breaker_triggered: bool = False
    source_counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def final(self) -> bool:
        """True once the deployment reached a status ECS never leaves."""
        return self.status in FINAL_STATUSES

    def set_status(self, status: str, reason: str | None = None) -> None:
        """Change the status (and reason); finishedAt/stoppedAt as ECS sets them."""
        now = utcnow()
        if status != self.status or reason != self.status_reason:
            self.status = status
            self.status_reason = reason
            self.updated_at = now
        if status == "IN_PROGRESS" and self.started_at is None:
            self.started_at = now
        if status in ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED") and self.finished_at is None:
            self.finished_at = now
        if status == "STOPPED" and self.stopped_at is None:
            self.stopped_at = now

    def set_stage(self, stage: str | None) -> None:
        """Enter a lifecycle stage."""
        if stage != self.lifecycle_stage:
            self.lifecycle_stage = stage
            self.updated_at = utcnow()

    def brief(self) -> dict[str, Any]:
        """As ListServiceDeployments gives it."""
        out: dict[str, Any] = {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "createdAt": self.created_at,
            "targetServiceRevisionArn": self.target.arn,
            "status": self.status,
        }
        if self.started_at:
            out["startedAt"] = self.started_at
        if self.finished_at:
            out["finishedAt"] = self.finished_at
        if self.status_reason:
            out["statusReason"] = self.status_reason
        return out

    def public(self) -> dict[str, Any]:
        """As DescribeServiceDeployments gives it."""
        out = self.brief()
        out.pop("targetServiceRevisionArn")
        green = self.production_weight if self.strategy != "ROLLING" else None
        target: dict[str, Any] = {
            "arn": self.target.arn,
            "requestedTaskCount": self.counts["requested"],
            "runningTaskCount": self.counts["running"],
            "pendingTaskCount": self.counts["pending"],
        }
        if green is not None:
            target["requestedProductionTrafficWeight"] = float(green)
            target["requestedTestTrafficWeight"] = float(self.test_weight)
        sources = []
        for revision in self.sources:
            counts = self.source_counts.get(revision.arn, {})
            source: dict[str, Any] = {
                "arn": revision.arn,
                "requestedTaskCount": counts.get("requested", 0),
                "runningTaskCount": counts.get("running", 0),
                "pendingTaskCount": counts.get("pending", 0),
            }
            if green is not None:
                source["requestedProductionTrafficWeight"] = float(100 - green)
                source["requestedTestTrafficWeight"] = float(100 - self.test_weight)
            sources.append(source)
        out["targetServiceRevision"] = target
        out["sourceServiceRevisions"] = sources
        out["deploymentConfiguration"] = copy.deepcopy(self.configuration)
        if self.updated_at:
            out["updatedAt"] = self.updated_at
        if self.stopped_at:
            out["stoppedAt"] = self.stopped_at
        if self.lifecycle_stage:
            out["lifecycleStage"] = self.lifecycle_stage
        if self.rollback:
            out["rollback"] = dict(self.rollback)
        breaker = self.configuration.get("deploymentCircuitBreaker") or {}
        if not breaker.get("enable"):
            out["deploymentCircuitBreaker"] = {"status": "DISABLED"}
        else:
            status = "TRIGGERED" if self.breaker_triggered else (
                "MONITORING_COMPLETE" if self.status == "SUCCESSFUL" else "MONITORING")
            threshold = service_state.circuit_breaker_threshold(self.counts["requested"], breaker)
            out["deploymentCircuitBreaker"] = {"status": status, "failureCount": self.breaker_failures,
                                               "threshold": threshold}
        if self.alarms:
            out["alarms"] = copy.deepcopy(self.alarms)
        if self.hooks:
            out["lifecycleHookDetails"] = [{k: v for k, v in h.items() if not k.startswith("sb_")} for h in self.hooks]
        return out


# ------------------------------------------------------------------------------ records


def _records(service: MotoService) -> list[ServiceDeployment]:
    return service_state.deployment_records(service)


def records(service: MotoService) -> list[ServiceDeployment]:
    """The service's service deployments, newest first."""
    return _records(service)


def forget(service: MotoService) -> None:
    """DeleteService: the service's service deployments are deleted with it (DescribeServiceDeployments then
    answers MISSING for their ARNs), and it names no current one."""
    _records(service).clear()
    service.current_service_deployment = None


def for_deployment(service: MotoService, deployment_id: str) -> ServiceDeployment | None:
    """The service deployment of an ECS deployment id (``ecs-svc/...``)."""
    return next((r for r in _records(service) if r.deployment_id == deployment_id), None)


def _arn_prefix(service: MotoService, kind: str) -> str:
    return f"arn:aws:ecs:{service.region_name}:{service._account_id}:{kind}/{service.cluster_name}/{service.name}"


def _new_revision(service: MotoService, deployment: dict[str, Any]) -> Revision:
    return Revision(
        arn=f"{_arn_prefix(service, 'service-revision')}/{uuid.uuid4().int % 10**19:019d}",
        service_arn=service.arn,
        cluster_arn=f"arn:aws:ecs:{service.region_name}:{service._account_id}:cluster/{service.cluster_name}",
        task_definition=deployment["taskDefinition"],
        launch_type=deployment.get("launchType"),
        platform_version=deployment.get("platformVersion"),
        network_configuration=deployment.get("networkConfiguration"),
        load_balancers=copy.deepcopy(list(getattr(service, "load_balancers", None) or [])),
        created_at=deployment["createdAt"],
        members=service_state.revision_members(service),
    )


def record_new_deployments(service: MotoService) -> None:
    """Give every ECS deployment the scheduler started a service deployment (rollbacks the
    circuit breaker starts belong to the deployment they roll back, as in ECS)."""
    if service.status != "ACTIVE":  # a deleted service's service deployments are gone (`forget`)
        return
    state = service_state.sb_state(service)
    known = {r.deployment_id for r in _records(service)}
    for deployment in reversed(service.deployments):
        if deployment["id"] in known or deployment["id"] in state["rollbacks"]:
            continue
        if deployment["status"] != "PRIMARY":
            continue
        configuration = service_state.deployment_configuration(service)
        strategy = str(configuration.get("strategy") or "ROLLING")
        sources = [r for r in _records(service) if r.status == "SUCCESSFUL"][:1]
        revision = _new_revision(service, deployment)
        record = ServiceDeployment(
            arn=f"{_arn_prefix(service, 'service-deployment')}/{_short_id()}",
            service_arn=service.arn,
            cluster_arn=revision.cluster_arn,
            deployment_id=deployment["id"],
            strategy=strategy,
            configuration=copy.deepcopy(configuration),
            target=revision,
            sources=[s.target for s in sources],
            source_deployment_ids=[d["id"] for d in service.deployments if d["id"] != deployment["id"]],
        )
        record.created_at = deployment["createdAt"]
        record.updated_at = record.created_at
        record.counts["requested"] = service.desired_count
        alarms = configuration.get("alarms") or {}
        record.alarms = (
            {"status": "MONITORING", "alarmNames": list(alarms.get("alarmNames") or []), "triggeredAlarmNames": []}
            if alarms.get("enable")
            else {"status": "DISABLED"}
        )
        # A newer deployment replaces one still in progress (ECS stops it).
        for older in _records(service):
            if not older.final:
                older.set_status("STOPPED", f"Service deployment stopped: superseded by {record.arn}.")
        _records(service).insert(0, record)
        known.add(deployment["id"])
        # Service.currentServiceDeployment (API reference): the ARN of the service's current service deployment,
        # in the CreateService/UpdateService response as in DescribeServices.
        service.current_service_deployment = record.arn


def _short_id() -> str:
    return base64.b32encode(uuid.uuid4().bytes).decode().rstrip("=").lower()[:22]


# ------------------------------------------------------------------------------ validation


# ------------------------------------------------------------------------------ API


def _all_services() -> list[MotoService]:
    return [s for regions in ecs_backends.values() for b in regions.values() for s in b.services.values()]


def find(arn: str) -> tuple[MotoService, ServiceDeployment] | None:
    """The service and record of a service deployment ARN."""
    for service in _all_services():
        for record in _records(service):
            if record.arn == arn:
                return service, record
    return None


def list_deployments(
    service: MotoService, statuses: list[str] | None, created: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """ListServiceDeployments' briefs, newest first, filtered by status and creation time."""
    record_new_deployments(service)
    out = []
    for record in _records(service):
        if statuses and record.status not in statuses:
            continue
        if created and created.get("after") is not None and record.created_at < _when(created["after"]):
            continue
        if created and created.get("before") is not None and record.created_at > _when(created["before"]):
            continue
        out.append(record.brief())
    return out


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):  # moto parses timestamps to naive UTC datetimes
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(float(value), tz=timezone.utc)


def describe_revisions(arns: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(serviceRevisions, failures) for DescribeServiceRevisions."""
    found: dict[str, Revision] = {}
    for service in _all_services():
        for record in _records(service):
            for revision in [record.target, *record.sources]:
                found[revision.arn] = revision
    revisions = [found[a].public() for a in arns if a in found]
    failures = [{"arn": a, "reason": "MISSING"} for a in arns if a not in found]
    return revisions, failures


def continue_deployment(arn: str, hook_id: str, action: str) -> str:
    """ContinueServiceDeployment: resolve the paused hook; the strategy acts on the next tick."""
    located = find(arn)
    if located is None:
        raise ServiceDeploymentNotFoundException(f"Service deployment not found: {arn}")
    _service, record = located
    hook = next((h for h in record.hooks if h["hookId"] == hook_id), None)
    if record.final or hook is None or hook["status"] != "AWAITING_ACTION":
        raise InvalidParameterException(f"The service deployment has no lifecycle hook {hook_id} awaiting action.")
    hook["status"] = "SUCCEEDED" if action == "CONTINUE" else "FAILED"
    record.pending_action = action
    record.updated_at = utcnow()
    return record.arn


def stop_deployment(arn: str, stop_type: str) -> str:
    """StopServiceDeployment: ROLLBACK (default) or ABORT, carried out by the strategy."""
    located = find(arn)
    if located is None:
        raise ServiceDeploymentNotFoundException(f"Service deployment not found: {arn}")
    _service, record = located
    if record.final:
        raise InvalidParameterException(f"The service deployment is already {record.status}.")
    record.stop_request = stop_type
    record.set_status("ROLLBACK_REQUESTED" if stop_type == "ROLLBACK" else "STOP_REQUESTED", record.status_reason)
    return record.arn


# ------------------------------------------------------------------------------ moto responses
# Operations moto does not have, added to its ECS response class by ``patches.install``.


def _service_of(response: Any) -> MotoService:
    backend = response.ecs_backend
    return backend._get_service(response._get_param("cluster") or "default", str(response._get_param("service")))


def _list_service_deployments(self: Any) -> Any:
    service = _service_of(self)
    briefs = list_deployments(service, self._get_param("status"), self._get_param("createdAt"))
    start = int(self._get_param("nextToken") or 0)
    size = int(self._get_param("maxResults") or 20)
    page = briefs[start : start + size]
    out: dict[str, Any] = {"serviceDeployments": page}
    if start + size < len(briefs):
        out["nextToken"] = str(start + size)
    return ActionResult(out)


def _describe_service_deployments(self: Any) -> Any:
    found, failures = [], []
    for arn in self._get_param("serviceDeploymentArns") or []:
        located = find(arn)
        if located is None:
            failures.append({"arn": arn, "reason": "MISSING"})
        else:
            found.append(located[1].public())
    return ActionResult({"serviceDeployments": found, "failures": failures})


def _describe_service_revisions(self: Any) -> Any:
    revisions, failures = describe_revisions(list(self._get_param("serviceRevisionArns") or []))
    return ActionResult({"serviceRevisions": revisions, "failures": failures})


def _stop_service_deployment(self: Any) -> Any:
    arn = stop_deployment(str(self._get_param("serviceDeploymentArn")), self._get_param("stopType") or "ROLLBACK")
    return ActionResult({"serviceDeploymentArn": arn})


def _continue_service_deployment(self: Any) -> Any:
    action = self._get_param("action") or "CONTINUE"
    arn = continue_deployment(str(self._get_param("serviceDeploymentArn")), str(self._get_param("hookId")), action)
    return ActionResult({"serviceDeploymentArn": arn})


RESPONSE_METHODS = {
    "list_service_deployments": _list_service_deployments,
    "describe_service_deployments": _describe_service_deployments,
    "describe_service_revisions": _describe_service_revisions,
    "stop_service_deployment": _stop_service_deployment,
    "continue_service_deployment": _continue_service_deployment,
}
