"""The ECS service scheduler moto lacks: a tick over every service (its tasks' lifecycles, its
primary deployment advanced by its strategy, unhealthy tasks replaced), tasks no service drives,
and clusters' counts.

State lives on moto's own models (``Service.deployments``/``events``, ``Task`` objects in
``backend.tasks``) so every moto response shows it; the sandbox's bookkeeping sits in
attributes prefixed ``sb_`` that moto's serializer ignores (``service_state``). Starting and
stopping tasks is ``task_control``; how a deployment rolls out is ``strategies/`` (ROLLING's
rolling update and circuit breaker in ``strategies/rolling.py``). Every function here runs with
the sandbox lock held (the scheduler tick, or a patched request handler).

Wording follows what ECS writes, e.g. "(service web) has started 2 tasks: (task 1a2b) (task
3c4d).", "(service web) has reached a steady state." and rolloutStateReason "ECS deployment
ecs-svc/123 completed.".
"""

from __future__ import annotations

import logging
import threading

from moto.ecs import ecs_backends
from moto.ecs.models import EC2ContainerServiceBackend

from . import strategies
from .context import SandboxContext
from .lifecycle import utcnow
from .service_state import (
    LIVE_STATES,
    MotoService,
    MotoTask,
    deployment_configuration,
    new_deployment,
    primary_deployment,
    refresh_counts,
    sb_state,
    service_tasks,
)
from .task_control import advance_task, request_stop, stop_tasks

log = logging.getLogger(__name__)

MAX_STOPPED_TASKS_PER_CLUSTER = 500
HEALTH_STOP_REASON = "Task failed container health checks"  # ECS's stoppedReason


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
    """One scheduler step for one service: its tasks' lifecycles, then its primary deployment by
    its strategy (``strategies``), then its service deployments' statuses."""
    if service.deployment_controller.get("type", "ECS") != "ECS" or not service.deployments:
        return
    strategies.begin(service)
    tasks = service_tasks(backend, service)
    _advance_tasks(service, tasks, ctx)
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
    strategies.advance(backend, service, primary, tasks, live, ctx)
    strategies.finish(service, tasks, ctx)


def _advance_tasks(service: MotoService, tasks: list[MotoTask], ctx: SandboxContext) -> None:
    """Move each task along its lifecycle and keep its deployment's failedTasks."""
    by_id = {d["id"]: d for d in service.deployments}
    breaker = deployment_configuration(service).get("deploymentCircuitBreaker") or {}
    for task in tasks:
        outcome = advance_task(task, ctx) or _stop_if_unhealthy(service, task, ctx)
        deployment = by_id.get(task.sb_deployment)
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
