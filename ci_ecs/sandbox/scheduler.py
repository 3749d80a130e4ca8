"""The ECS service scheduler moto lacks: deployments, task lifecycle, rolling updates, events
and the deployment circuit breaker.

State lives on moto's own models (``Service.deployments``/``events``, ``Task`` objects in
``backend.tasks``) so every moto response shows it; the sandbox's bookkeeping sits in
attributes prefixed ``sb_`` that moto's serializer ignores. Every function here runs with the
runtime lock held (the scheduler tick, or a patched request handler).

Wording follows what ECS writes, e.g. "(service web) has started 2 tasks: (task 1a2b) (task
3c4d).", "(service web) has reached a steady state." and rolloutStateReason "ECS deployment
ecs-svc/123 completed.".
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
from typing import Any

from moto.ecs import ecs_backends
from moto.ecs.models import Container, EC2ContainerServiceBackend, Task
from moto.moto_api._internal import mock_random

from . import network, strategies
from .context import SandboxContext
from .lifecycle import utcnow

log = logging.getLogger(__name__)

# moto's Task, Service and Container carry the sandbox's extra attributes (sb_*, startedAt,
# stopCode...) that moto's type hints do not declare, so they are handled as Any here.
MotoTask = Any
MotoService = Any

MAX_EVENTS = 100
MAX_STOPPED_TASKS_PER_CLUSTER = 500
DEFAULT_DEPLOYMENT_CONFIGURATION: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}
LIVE_STATES = ("PROVISIONING", "PENDING", "ACTIVATING", "RUNNING")
HEALTH_STOP_REASON = "Task failed container health checks"  # ECS's stoppedReason


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


def rolling_bounds(desired: int, config: dict[str, Any]) -> tuple[int, int]:
    """(minimum healthy tasks, maximum tasks) for a rolling update.

    ECS rounds the minimum up and the maximum down.

    >>> rolling_bounds(3, {"minimumHealthyPercent": 50, "maximumPercent": 200})
    (2, 6)
    """
    min_percent = int(config.get("minimumHealthyPercent", 100))
    max_percent = int(config.get("maximumPercent", 200))
    minimum = min(desired, math.ceil(desired * min_percent / 100))
    maximum = math.floor(desired * max_percent / 100)
    if desired > 0:
        maximum = max(maximum, 1)  # always room for one task, or nothing could ever start
    return minimum, maximum


def _short(task: MotoTask) -> str:
    return str(task.id)


# --------------------------------------------------------------------------- services


def _sb(service: MotoService) -> dict[str, Any]:
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


def add_event(service: MotoService, message: str) -> None:
    """Prepend a service event (ECS lists the newest first)."""
    service.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": utcnow(), "message": message})
    del service.events[MAX_EVENTS:]


def deployment_configuration(service: MotoService) -> dict[str, Any]:
    """The service's deploymentConfiguration with ECS's defaults filled in."""
    config = dict(DEFAULT_DEPLOYMENT_CONFIGURATION)
    config.update(getattr(service, "deployment_configuration", None) or {})
    return config


def new_deployment(service: MotoService, task_definition_arn: str) -> dict[str, Any]:
    """A PRIMARY, IN_PROGRESS deployment of a task definition, shaped like ECS's."""
    deployment_id = new_deployment_id()
    now = utcnow()
    launch_type = service.launch_type
    return {
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
        "platformVersion": service.platform_version or ("1.4.0" if launch_type == "FARGATE" else None),
        "platformFamily": "Linux" if launch_type == "FARGATE" else None,
        "networkConfiguration": service.network_configuration or None,
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": f"ECS deployment {deployment_id} in progress.",
    }


def initialise_service(service: MotoService) -> None:
    """Replace moto's static deployment with a live one after CreateService."""
    _sb(service)
    service.created_at = utcnow()
    service.created_by = f"arn:aws:iam::{service._account_id}:root"
    service.deployment_configuration = deployment_configuration(service)
    service.pending_count = 0
    service.running_count = 0
    if service.task_definition and service.deployment_controller.get("type", "ECS") == "ECS":
        service.deployments = [new_deployment(service, service.task_definition)]
    refresh_counts(service, [])


def start_deployment(service: MotoService) -> dict[str, Any]:
    """UpdateService with a new task definition or forceNewDeployment: a new PRIMARY deployment."""
    for deployment in service.deployments:
        if deployment["status"] == "PRIMARY":
            deployment["status"] = "ACTIVE"
            deployment["updatedAt"] = utcnow()
    deployment = new_deployment(service, service.task_definition)
    service.deployments.insert(0, deployment)
    _sb(service)["steady"] = False
    return deployment


def _primary(service: MotoService) -> dict[str, Any] | None:
    for deployment in service.deployments:
        if deployment["status"] == "PRIMARY":
            return deployment
    return None


def service_tasks(backend: EC2ContainerServiceBackend, service: MotoService) -> list[MotoTask]:
    """Tasks the scheduler started for this service (any state), oldest first."""
    uid = _sb(service)["uid"]
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
    from . import deployments  # noqa: PLC0415 - deployments imports this module

    service.current_service_revisions = deployments.current_revisions(service)


# --------------------------------------------------------------------------- tasks


def prepare_task(task: MotoTask, backend: EC2ContainerServiceBackend, ctx: SandboxContext) -> None:
    """Turn a task moto just created into one the scheduler drives from PROVISIONING.

    moto creates tasks already RUNNING and advances them on each DescribeTasks (its
    ManagedState); the sandbox empties the transition table and sets states itself.
    """
    task._transitions = []
    task.sb_service_uid = getattr(task, "sb_service_uid", None)
    task.last_status = "PROVISIONING"
    task.desired_status = "RUNNING"
    now = ctx.now()
    task.sb_created = now
    task.sb_start_seconds = ctx.task_start_seconds
    task.sb_ready = False
    task.sb_failed = False
    task.sb_deployment = getattr(task, "sb_deployment", None)
    task.created_at = utcnow()
    task.connectivity = None
    task.stop_code = None
    task.stopped_reason = None  # moto's "" would show as an empty stoppedReason
    task.health_status = "UNKNOWN"
    task.version = 1
    task_definition = backend.describe_task_definition(task.task_definition_arn)
    task.cpu = task_definition.cpu
    task.memory = task_definition.memory
    if task.launch_type == "FARGATE":
        task.capacity_provider_name = "FARGATE"
        task.platform_version = task.platform_version or "1.4.0"
        task.platform_family = "Linux"
    address = ctx.task_runtime.task_address(task, task_definition)
    network.configure_task_eni(task, getattr(task, "network_configuration", None), address)
    if task.attachments:
        subnet = next((d["value"] for d in task.attachments[0]["details"] if d["name"] == "subnetId"), None)
        if subnet:
            ec2 = network.ec2_backends[task._account_id][task.region_name]
            task.availability_zone = ec2.get_subnet(subnet).availability_zone
    _build_containers(task, task_definition, ctx)
    ctx.task_runtime.prepare(task, task_definition, ctx)


def _build_containers(task: MotoTask, task_definition: Any, ctx: SandboxContext) -> None:
    """One container per definition (moto makes one for the first only)."""
    containers = []
    overrides = {c.get("name"): c for c in (task.overrides or {}).get("containerOverrides", []) or []}
    for definition in task_definition.container_definitions:
        # moto's Container is "abstract" only for CloudFormation; moto builds it the same way.
        container: Any = Container(task_definition)  # type: ignore[abstract]
        container.name = definition.get("name")
        container.image = definition.get("image")
        # DescribeTasks gives a container's cpu and memory as strings, cpu "0" when unset (ECS API
        # reference, Container); moto 5.2.1 would send the task definition's integers.
        container.cpu = str(definition.get("cpu") or 0)
        container.memory = str(definition["memory"]) if definition.get("memory") is not None else None
        container.environment = definition.get("environment")
        container.command = (overrides.get(container.name) or {}).get("command") or definition.get("command")
        container.task_arn = task.task_arn
        container.container_arn = (
            f"arn:aws:ecs:{task.region_name}:{task._account_id}:container/{task.cluster_name}/{task.id}/{uuid.uuid4()}"
        )
        container.last_status = "PENDING"
        container.exitCode = None
        container.health_status = "UNKNOWN"
        container.sb_essential = bool(definition.get("essential", True))
        if task.attachments:
            ip = network.task_private_ip(task)
            container.network_interfaces = [{"attachmentId": task.attachments[0]["id"], "privateIpv4Address": ip}]
        containers.append(container)
    task.containers = containers


def request_stop(task: MotoTask, reason: str, stop_code: str, ctx: SandboxContext) -> None:
    """Ask a task to stop (the task runtime stops its containers); desiredStatus STOPPED now."""
    ctx.task_runtime.request_stop(task, reason, stop_code, ctx)


def advance_task(task: MotoTask, ctx: SandboxContext) -> str | None:
    """Move a task along its lifecycle (``TaskRuntime.advance``): "failed", "running" or None."""
    return ctx.task_runtime.advance(task, ctx)


def launch_task(
    backend: EC2ContainerServiceBackend, service: MotoService, deployment: dict[str, Any], ctx: SandboxContext
) -> MotoTask:
    """Start one task of a deployment, the way the ECS service scheduler does."""
    cluster = backend._get_cluster(service.cluster_name)
    task_definition = backend.describe_task_definition(deployment["taskDefinition"])
    network_configuration = None
    if task_definition.network_mode == "awsvpc":
        network_configuration = network.with_default_security_groups(
            service._account_id, service.region_name, deployment.get("networkConfiguration") or {}
        )
        network_configuration = _spread(network_configuration, service_tasks(backend, service))
    task: MotoTask = Task(
        cluster,
        task_definition,
        None,
        backend._calculate_task_resource_requirements(task_definition),
        backend=backend,
        group=f"service:{service.name}",
        launch_type=service.launch_type or "",
        started_by=deployment["id"],
        tags=list(service.tags) if service.propagate_tags == "SERVICE" else [],
        networking_configuration=network_configuration,
        platform_version=deployment.get("platformVersion"),
    )
    task.sb_service_uid = _sb(service)["uid"]
    task.sb_deployment = deployment["id"]
    backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
    prepare_task(task, backend, ctx)
    return task


def _spread(network_configuration: dict[str, Any], tasks: list[MotoTask]) -> dict[str, Any]:
    """The configuration with the subnet for the next task first (moto places a task in the
    first subnet): the one with the fewest live tasks of the service, as ECS spreads a service's
    Fargate tasks across its subnets' Availability Zones; ties go to the earlier subnet."""
    awsvpc = network_configuration.get("awsvpcConfiguration") or {}
    subnets = list(awsvpc.get("subnets") or [])
    if len(subnets) < 2:
        return network_configuration
    load = dict.fromkeys(subnets, 0)
    for task in tasks:
        if task.last_status == "STOPPED" or task.desired_status != "RUNNING" or not task.attachments:
            continue
        for detail in task.attachments[0].get("details", []):
            if detail.get("name") == "subnetId" and detail.get("value") in load:
                load[detail["value"]] += 1
    chosen = min(subnets, key=lambda subnet: (load[subnet], subnets.index(subnet)))
    ordered = [chosen, *(subnet for subnet in subnets if subnet != chosen)]
    return {**network_configuration, "awsvpcConfiguration": {**awsvpc, "subnets": ordered}}


# --------------------------------------------------------------------------- reconcile


def reconcile_service(backend: EC2ContainerServiceBackend, service: MotoService, ctx: SandboxContext) -> None:
    """One scheduler step for one service."""
    if service.deployment_controller.get("type", "ECS") != "ECS" or not service.deployments:
        return
    state = _sb(service)
    strategies.begin(service)
    tasks = service_tasks(backend, service)
    deployments = {d["id"]: d for d in service.deployments}
    breaker = deployment_configuration(service).get("deploymentCircuitBreaker") or {}
    for task in tasks:
        outcome = advance_task(task, ctx) or _stop_if_unhealthy(service, task, ctx)
        deployment = deployments.get(task.sb_deployment)
        if outcome is None or deployment is None:
            continue
        if outcome == "failed":
            deployment["failedTasks"] += 1
            deployment["updatedAt"] = utcnow()
        elif deployment["failedTasks"] and breaker.get("resetOnHealthyTask", True) is not False:
            # ECS resets the failure count once a task of the deployment is RUNNING and healthy
            # ("running" from the task runtime: HEALTHY when it has container health checks), so
            # a container that crashes some time after it started never trips the circuit breaker
            # ("How the Amazon ECS deployment circuit breaker detects failures", stage 1;
            # DeploymentCircuitBreaker.resetOnHealthyTask).
            deployment["failedTasks"] = 0
            deployment["updatedAt"] = utcnow()

    live = [t for t in tasks if t.desired_status == "RUNNING" and t.last_status in LIVE_STATES]
    if service.status != "ACTIVE":
        _stop_tasks(service, live, service.deployments[0]["id"], ctx)
        if service.status == "DRAINING" and all(t.last_status == "STOPPED" for t in tasks):
            service.status = "INACTIVE"
        refresh_counts(service, tasks)
        return

    primary = _primary(service)
    if primary is None:
        return
    if strategies.advance(backend, service, primary, tasks, live, ctx):  # BLUE_GREEN, CANARY, LINEAR
        refresh_counts(service, tasks)
        strategies.finish(service, tasks, ctx)
        return
    config = deployment_configuration(service)
    _check_circuit_breaker(service, primary, config, live, ctx)
    primary = _primary(service) or primary

    desired = service.desired_count
    primary["desiredCount"] = desired
    minimum, maximum = rolling_bounds(desired, config)
    present = [t for t in tasks if t.last_status != "STOPPED"]
    primary_live = [t for t in live if t.sb_deployment == primary["id"]]
    old_live = [t for t in live if t.sb_deployment != primary["id"]]

    # Scale in: stop the primary's extra tasks, those not running yet first.
    excess = len(primary_live) - desired
    if excess > 0:
        victims = sorted(primary_live, key=lambda t: (t.last_status == "RUNNING", t.sb_created), reverse=False)
        _stop_tasks(service, victims[:excess], primary["id"], ctx)
        primary_live = [t for t in primary_live if t not in victims[:excess]]

    # Start the primary's missing tasks within maximumPercent (stopping tasks still count).
    if primary["id"] not in state["halted"]:
        room = maximum - len(present)
        need = desired - len(primary_live)
        started = []
        for _ in range(max(0, min(room, need))):
            try:
                started.append(launch_task(backend, service, primary, ctx))
            except Exception as err:  # noqa: BLE001 - ECS reports placement failures as events
                message = f"(service {service.name}) was unable to place a task. Reason: {err}."
                if not service.events or service.events[0]["message"] != message:
                    add_event(service, message)
                primary["failedTasks"] += 1
                break
        if started:
            ids = " ".join(f"(task {_short(t)})" for t in started)
            add_event(service, f"(service {service.name}) has started {len(started)} tasks: {ids}.")
            tasks.extend(started)

    # Drain old deployments without going below minimumHealthyPercent.
    old_not_running = [t for t in old_live if t.last_status != "RUNNING"]
    old_running = [t for t in old_live if t.last_status == "RUNNING"]
    # Tasks with container health checks count as healthy once HEALTHY (sb_ready), as ECS waits
    # for them before it stops old tasks.
    healthy = sum(1 for t in live if t.last_status == "RUNNING" and t.sb_ready)
    can_stop = max(0, healthy - minimum)
    _stop_tasks(service, old_not_running + old_running[:can_stop], primary["id"], ctx)

    refresh_counts(service, tasks)
    _check_completion(service, primary, tasks, state)
    strategies.finish(service, tasks, ctx)


def _stop_if_unhealthy(service: MotoService, task: MotoTask, ctx: SandboxContext) -> str | None:
    """Stop a service's RUNNING task whose container health checks made it UNHEALTHY, unless the
    service's health check grace period since the task started is still running: "failed" then.

    ECS API reference, HealthCheck: "if the task reports as unhealthy then the task will be
    stopped and the service scheduler will replace it"; CreateService.healthCheckGracePeriodSeconds:
    "The period of time, in seconds, that the Amazon ECS service scheduler ignores unhealthy
    Elastic Load Balancing, VPC Lattice, and container health checks after a task has first
    started." A RunTask task carries on (it is not a service's).
    """
    if task.last_status != "RUNNING" or task.desired_status != "RUNNING" or task.health_status != "UNHEALTHY":
        return None
    grace = int(getattr(service, "health_check_grace_period_seconds", None) or 0)
    started = getattr(task, "sb_running_since", None)
    if grace and started is not None and ctx.now() - started < grace:
        return None
    request_stop(task, HEALTH_STOP_REASON, "ServiceSchedulerInitiated", ctx)
    task.sb_failed = True
    return "failed"


def _stop_tasks(service: MotoService, tasks: list[MotoTask], deployment_id: str, ctx: SandboxContext) -> None:
    if not tasks:
        return
    for task in tasks:
        request_stop(
            task, f"Scaling activity initiated by (deployment {deployment_id})", "ServiceSchedulerInitiated", ctx
        )
    ids = " ".join(f"(task {_short(t)})" for t in tasks)
    add_event(service, f"(service {service.name}) has stopped {len(tasks)} running tasks: {ids}.")


def _check_circuit_breaker(
    service: MotoService, primary: dict[str, Any], config: dict[str, Any], live: list[MotoTask], ctx: SandboxContext
) -> None:
    breaker = config.get("deploymentCircuitBreaker") or {}
    if not breaker.get("enable") or primary["rolloutState"] != "IN_PROGRESS":
        return
    if primary["failedTasks"] < circuit_breaker_threshold(service.desired_count, breaker):
        return
    state = _sb(service)
    primary["rolloutState"] = "FAILED"
    primary["rolloutStateReason"] = "ECS deployment circuit breaker: tasks failed to start."
    primary["updatedAt"] = utcnow()
    primary["sb_breaker_triggered"] = True  # ServiceDeploymentCircuitBreaker.status TRIGGERED (not serialised)
    add_event(
        service,
        f"(service {service.name}) (deployment {primary['id']}) deployment failed: tasks failed to start.",
    )
    last_completed = state["last_completed"]
    if breaker.get("rollback") and last_completed and primary["id"] not in state["rollbacks"]:
        previous_id, previous_task_definition = last_completed
        service.task_definition = previous_task_definition
        rollback = start_deployment(service)
        state["rollbacks"].add(rollback["id"])
        add_event(
            service,
            f"(service {service.name}) (deployment {rollback['id']}) rolling back to deployment {previous_id}.",
        )
    else:
        # A failed deployment without rollback stops launching; its unstarted tasks go away.
        state["halted"].add(primary["id"])
        mine = [t for t in live if t.sb_deployment == primary["id"] and t.last_status != "RUNNING"]
        _stop_tasks(service, mine, primary["id"], ctx)


def _check_completion(
    service: MotoService, primary: dict[str, Any], tasks: list[MotoTask], state: dict[str, Any]
) -> None:
    others_present = any(t.last_status != "STOPPED" and t.sb_deployment != primary["id"] for t in tasks)
    # ECS completes a deployment once its tasks run and pass their container health checks.
    ready = sum(1 for t in tasks if t.sb_deployment == primary["id"] and t.last_status == "RUNNING"
                and t.desired_status == "RUNNING" and t.sb_ready)
    done = (
        primary["runningCount"] == service.desired_count
        and ready == service.desired_count
        and primary["pendingCount"] == 0
        and not others_present
    )
    if done and primary["rolloutState"] == "IN_PROGRESS":
        primary["rolloutState"] = "COMPLETED"
        primary["rolloutStateReason"] = f"ECS deployment {primary['id']} completed."
        primary["updatedAt"] = utcnow()
        state["last_completed"] = (primary["id"], primary["taskDefinition"])
        add_event(service, f"(service {service.name}) (deployment {primary['id']}) deployment completed.")
    if done and primary["rolloutState"] == "COMPLETED" and len(service.deployments) > 1:
        # ECS removes the drained deployments once the primary has completed.
        service.deployments[:] = [primary]
    steady = done and len(service.deployments) == 1 and primary["rolloutState"] == "COMPLETED"
    if steady and not state["steady"]:
        add_event(service, f"(service {service.name}) has reached a steady state.")
    state["steady"] = steady


def reconcile_standalone(backend: EC2ContainerServiceBackend, ctx: SandboxContext) -> None:
    """Tasks no live service drives (RunTask, or a service replaced by a new one of the same
    name): advance their lifecycle; prune old STOPPED tasks."""
    service_uids = {_sb(s)["uid"] for s in backend.services.values()}
    for cluster_name, tasks in list(backend.tasks.items()):
        for task in list(tasks.values()):
            uid = getattr(task, "sb_service_uid", None)
            if getattr(task, "sb_created", None) is not None and uid not in service_uids:
                advance_task(task, ctx)
        stopped = [arn for arn, t in tasks.items() if t.last_status == "STOPPED"]
        if len(stopped) > MAX_STOPPED_TASKS_PER_CLUSTER:
            for arn in stopped[: len(stopped) - MAX_STOPPED_TASKS_PER_CLUSTER]:
                del backend.tasks[cluster_name][arn]


def update_cluster_counts(backend: EC2ContainerServiceBackend) -> None:
    """runningTasksCount/pendingTasksCount/activeServicesCount on clusters, from the tasks."""
    for cluster in backend.clusters.values():
        tasks = backend.tasks.get(cluster.name, {}).values()
        cluster.running_tasks_count = sum(1 for t in tasks if t.last_status == "RUNNING")
        cluster.pending_tasks_count = sum(1 for t in tasks if t.last_status in ("PROVISIONING", "PENDING"))
        cluster.active_services_count = sum(
            1 for s in backend.services.values() if s.cluster_name == cluster.name and s.status == "ACTIVE"
        )


def tick(ctx: SandboxContext) -> None:
    """One pass over every account and region moto has an ECS backend for."""
    ctx.task_runtime.sync(ctx)
    with ctx.lock:
        for _account, regions in list(ecs_backends.items()):
            for _region, backend in list(regions.items()):
                for service in list(backend.services.values()):
                    try:
                        reconcile_service(backend, service, ctx)
                    except Exception:  # noqa: BLE001 - one broken service must not stop the others
                        log.exception("sandbox scheduler: service %s", service.name)
                reconcile_standalone(backend, ctx)
                update_cluster_counts(backend)


class Scheduler:
    """A daemon thread calling ``tick`` every ``interval`` seconds until stopped."""

    def __init__(self, ctx: SandboxContext, interval: float = 0.1) -> None:
        self.ctx = ctx
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start ticking in the background."""
        self._thread = threading.Thread(target=self._run, name="ci-ecs-sandbox-scheduler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                tick(self.ctx)
            except Exception:  # noqa: BLE001 - keep the scheduler alive whatever moto raises
                log.exception("sandbox scheduler tick failed")

    def stop(self) -> None:
        """Stop ticking and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
