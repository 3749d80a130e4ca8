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
from typing import Any

from moto.ecs import ecs_backends
from moto.ecs.models import EC2ContainerServiceBackend

from . import strategies
from .context import SandboxContext
from .lifecycle import utcnow
from .service_state import (
    LIVE_STATES,
    MotoService,
    MotoTask,
    add_event,
    circuit_breaker_threshold,
    deployment_configuration,
    new_deployment,
    primary_deployment,
    refresh_counts,
    sb_state,
    service_tasks,
    short_id,
    start_deployment,
)
from .task_control import advance_task, launch_task, request_stop, stop_tasks

log = logging.getLogger(__name__)

MAX_STOPPED_TASKS_PER_CLUSTER = 500
HEALTH_STOP_REASON = "Task failed container health checks"  # ECS's stoppedReason


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


# --------------------------------------------------------------------------- services


def initialise_service(service: MotoService) -> None:
    """Replace moto's static deployment with a live one after CreateService."""
    sb_state(service)
    service.created_at = utcnow()
    service.created_by = f"arn:aws:iam::{service._account_id}:root"
    service.deployment_configuration = deployment_configuration(service)
    service.pending_count = 0
    service.running_count = 0
    if service.task_definition and service.deployment_controller.get("type", "ECS") == "ECS":
        service.deployments = [new_deployment(service, service.task_definition)]
    refresh_counts(service, [])


# --------------------------------------------------------------------------- tasks


# --------------------------------------------------------------------------- reconcile


def reconcile_service(backend: EC2ContainerServiceBackend, service: MotoService, ctx: SandboxContext) -> None:
    """One scheduler step for one service."""
    if service.deployment_controller.get("type", "ECS") != "ECS" or not service.deployments:
        return
    state = sb_state(service)
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
        stop_tasks(service, live, service.deployments[0]["id"], ctx)
        if service.status == "DRAINING" and all(t.last_status == "STOPPED" for t in tasks):
            service.status = "INACTIVE"
        refresh_counts(service, tasks)
        return

    primary = primary_deployment(service)
    if primary is None:
        return
    if strategies.advance(backend, service, primary, tasks, live, ctx):  # BLUE_GREEN, CANARY, LINEAR
        refresh_counts(service, tasks)
        strategies.finish(service, tasks, ctx)
        return
    config = deployment_configuration(service)
    _check_circuit_breaker(service, primary, config, live, ctx)
    primary = primary_deployment(service) or primary

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
        stop_tasks(service, victims[:excess], primary["id"], ctx)
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
            ids = " ".join(f"(task {short_id(t)})" for t in started)
            add_event(service, f"(service {service.name}) has started {len(started)} tasks: {ids}.")
            tasks.extend(started)

    # Drain old deployments without going below minimumHealthyPercent.
    old_not_running = [t for t in old_live if t.last_status != "RUNNING"]
    old_running = [t for t in old_live if t.last_status == "RUNNING"]
    # Tasks with container health checks count as healthy once HEALTHY (sb_ready), as ECS waits
    # for them before it stops old tasks.
    healthy = sum(1 for t in live if t.last_status == "RUNNING" and t.sb_ready)
    can_stop = max(0, healthy - minimum)
    stop_tasks(service, old_not_running + old_running[:can_stop], primary["id"], ctx)

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


def _check_circuit_breaker(
    service: MotoService, primary: dict[str, Any], config: dict[str, Any], live: list[MotoTask], ctx: SandboxContext
) -> None:
    breaker = config.get("deploymentCircuitBreaker") or {}
    if not breaker.get("enable") or primary["rolloutState"] != "IN_PROGRESS":
        return
    if primary["failedTasks"] < circuit_breaker_threshold(service.desired_count, breaker):
        return
    state = sb_state(service)
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
        stop_tasks(service, mine, primary["id"], ctx)


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
    service_uids = {sb_state(s)["uid"] for s in backend.services.values()}
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
