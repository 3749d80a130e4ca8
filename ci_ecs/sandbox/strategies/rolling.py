"""ROLLING: the ECS service scheduler's rolling update, and its report through the
service-deployment API.

``advance`` is one step of the rolling update: new tasks within maximumPercent, old ones drained
without going below minimumHealthyPercent, scale-in, the deployment circuit breaker and the
deployment's completion ("Deploy Amazon ECS services by replacing tasks", ECS Developer Guide).
It also keeps the desired count of a service whose deployment no other strategy drives any more
(a finished blue/green, canary or linear deployment, a circuit-breaker rollback).

``finish`` maps the ECS deployment onto its service deployment: IN_PROGRESS while the rollout
is, SUCCESSFUL once COMPLETED; a circuit-breaker failure with rollback is ROLLBACK_IN_PROGRESS
until the rollback deployment completes (ROLLBACK_SUCCESSFUL), without rollback STOPPED.
"""

from __future__ import annotations

import math
from typing import Any

from .. import deployments, service_state, task_control
from ..context import SandboxContext
from ..lifecycle import utcnow


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

def advance(
    backend: Any,
    service: Any,
    primary: dict[str, Any],
    record: deployments.ServiceDeployment | None,
    tasks: list[Any],
    live: list[Any],
    ctx: SandboxContext,
) -> None:
    """One scheduler step of the rolling update of ``primary``; ``tasks`` gains the tasks it
    starts, and the counts are refreshed before the completion check reads them."""
    state = service_state.sb_state(service)
    config = service_state.deployment_configuration(service)
    _circuit_breaker(service, primary, config, live, ctx)
    primary = service_state.primary_deployment(service) or primary  # the breaker's rollback, if it started one

    desired = service.desired_count
    primary["desiredCount"] = desired
    minimum, maximum = rolling_bounds(desired, config)
    present = [t for t in tasks if t.last_status != "STOPPED"]
    primary_live = _scale_in(service, primary, [t for t in live if t.sb_deployment == primary["id"]], desired, ctx)
    if primary["id"] not in state["halted"]:
        # Start the primary's missing tasks within maximumPercent (stopping tasks still count).
        count = min(maximum - len(present), desired - len(primary_live))
        tasks.extend(_launch(backend, service, primary, count, ctx))
    _drain(service, primary, live, minimum, ctx)

    service_state.refresh_counts(service, tasks)
    _completion(service, primary, tasks, state)


def _scale_in(service: Any, primary: dict[str, Any], primary_live: list[Any], desired: int,
              ctx: SandboxContext) -> list[Any]:
    """Stop the primary's tasks beyond the desired count, those not running yet first; the rest."""
    excess = len(primary_live) - desired
    if excess <= 0:
        return primary_live
    victims = sorted(primary_live, key=lambda t: (t.last_status == "RUNNING", t.sb_created), reverse=False)
    task_control.stop_tasks(service, victims[:excess], primary["id"], ctx)
    return [t for t in primary_live if t not in victims[:excess]]


def _launch(backend: Any, service: Any, primary: dict[str, Any], count: int, ctx: SandboxContext) -> list[Any]:
    """Start up to ``count`` tasks of the primary deployment; a placement failure ends the batch."""
    started = []
    for _ in range(max(0, count)):
        try:
            started.append(task_control.launch_task(backend, service, primary, ctx))
        except Exception as err:  # noqa: BLE001 - ECS reports placement failures as events
            message = f"(service {service.name}) was unable to place a task. Reason: {err}."
            if not service.events or service.events[0]["message"] != message:
                service_state.add_event(service, message)
            primary["failedTasks"] += 1
            break
    if started:
        ids = " ".join(f"(task {service_state.short_id(t)})" for t in started)
        service_state.add_event(service, f"(service {service.name}) has started {len(started)} tasks: {ids}.")
    return started


def _drain(service: Any, primary: dict[str, Any], live: list[Any], minimum: int, ctx: SandboxContext) -> None:
    """Stop older deployments' tasks without going below minimumHealthyPercent."""
    old_live = [t for t in live if t.sb_deployment != primary["id"]]
    old_not_running = [t for t in old_live if t.last_status != "RUNNING"]
    old_running = [t for t in old_live if t.last_status == "RUNNING"]
    # Tasks with container health checks count as healthy once HEALTHY (sb_ready), as ECS waits
    # for them before it stops old tasks.
    healthy = sum(1 for t in live if t.last_status == "RUNNING" and t.sb_ready)
    can_stop = max(0, healthy - minimum)
    task_control.stop_tasks(service, old_not_running + old_running[:can_stop], primary["id"], ctx)


def _circuit_breaker(
    service: Any, primary: dict[str, Any], config: dict[str, Any], live: list[Any], ctx: SandboxContext
) -> None:
    """FAILED once the primary's failed tasks reach the breaker's threshold; with rollback a new
    PRIMARY deployment of the last COMPLETED task definition, else the deployment stops launching
    (ECS API reference, DeploymentCircuitBreaker)."""
    breaker = config.get("deploymentCircuitBreaker") or {}
    if not breaker.get("enable") or primary["rolloutState"] != "IN_PROGRESS":
        return
    if primary["failedTasks"] < service_state.circuit_breaker_threshold(service.desired_count, breaker):
        return
    state = service_state.sb_state(service)
    primary["rolloutState"] = "FAILED"
    primary["rolloutStateReason"] = "ECS deployment circuit breaker: tasks failed to start."
    primary["updatedAt"] = utcnow()
    primary["sb_breaker_triggered"] = True  # ServiceDeploymentCircuitBreaker.status TRIGGERED (not serialised)
    service_state.add_event(
        service,
        f"(service {service.name}) (deployment {primary['id']}) deployment failed: tasks failed to start.",
    )
    last_completed = state["last_completed"]
    if breaker.get("rollback") and last_completed and primary["id"] not in state["rollbacks"]:
        previous_id, previous_task_definition = last_completed
        service.task_definition = previous_task_definition
        rollback = service_state.start_deployment(service)
        state["rollbacks"].add(rollback["id"])
        service_state.add_event(
            service,
            f"(service {service.name}) (deployment {rollback['id']}) rolling back to deployment {previous_id}.",
        )
    else:
        # A failed deployment without rollback stops launching; its unstarted tasks go away.
        state["halted"].add(primary["id"])
        mine = [t for t in live if t.sb_deployment == primary["id"] and t.last_status != "RUNNING"]
        task_control.stop_tasks(service, mine, primary["id"], ctx)


def early_success_target(desired: int, config: dict[str, Any]) -> int | None:
    """How many of the target revision's tasks must run healthy for the deployment to complete early,
    or None without ``earlySuccessCriteria`` (or with ``enable`` false).

    ECS Developer Guide, "Complete Amazon ECS rolling deployments early with early success criteria":
    healthyPercent is a percentage of the service's desiredCount, "rounded up" (50 % of 3 is 2).

    >>> early_success_target(4, {"earlySuccessCriteria": {"enable": True, "healthyPercent": 50}})
    2
    >>> early_success_target(3, {"earlySuccessCriteria": {"enable": True, "healthyPercent": 50}})
    2
    >>> early_success_target(4, {"earlySuccessCriteria": {"enable": False, "healthyPercent": 50}}) is None
    True
    """
    criteria = config.get("earlySuccessCriteria") or {}
    if not criteria.get("enable"):
        return None
    return math.ceil(desired * int(criteria.get("healthyPercent") or 0) / 100)


def _completion(service: Any, primary: dict[str, Any], tasks: list[Any], state: dict[str, Any]) -> None:
    """COMPLETED once the primary runs the desired count (HEALTHY where it has container health
    checks) and no older task is left, or earlier under earlySuccessCriteria; then, once the service
    is fully rolled out, the drained deployments go, and the steady state."""
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
    if primary["rolloutState"] == "IN_PROGRESS" and (done or _early_success(service, ready, others_present)):
        primary["rolloutState"] = "COMPLETED"
        primary["rolloutStateReason"] = f"ECS deployment {primary['id']} completed."
        primary["updatedAt"] = utcnow()
        state["last_completed"] = (primary["id"], primary["taskDefinition"])
        service_state.add_event(service, f"(service {service.name}) (deployment {primary['id']}) deployment completed.")
    if done and primary["rolloutState"] == "COMPLETED" and len(service.deployments) > 1:
        # ECS removes the drained deployments once the primary has completed.
        service.deployments[:] = [primary]
    steady = done and len(service.deployments) == 1 and primary["rolloutState"] == "COMPLETED"
    if steady and not state["steady"]:
        service_state.add_event(service, f"(service {service.name}) has reached a steady state.")
    state["steady"] = steady


def _early_success(service: Any, ready: int, others_present: bool) -> bool:
    """Whether earlySuccessCriteria ends the deployment now (ECS Developer Guide, "Complete Amazon ECS
    rolling deployments early with early success criteria"): healthyPercent of the desired count runs
    healthy on the target revision; with sourceServiceRevisionCleanup BLOCKING the source revision's tasks
    are also cleaned up first, with DEFERRED ECS "marks the deployment successful, and then removes the
    previous tasks in the background" (API reference, DeploymentEarlySuccessCriteria). The rest of the
    target revision's tasks start afterwards through regular scaling (the rolling update carries on), and
    the circuit breaker no longer applies (``_circuit_breaker`` acts on IN_PROGRESS deployments only)."""
    config = service_state.deployment_configuration(service)
    target = early_success_target(service.desired_count, config)
    if target is None or ready < target:
        return False
    cleanup = (config.get("earlySuccessCriteria") or {}).get("sourceServiceRevisionCleanup") or "BLOCKING"
    return cleanup == "DEFERRED" or not others_present


def finish(service: Any, record: deployments.ServiceDeployment, tasks: list[Any], ctx: SandboxContext) -> None:
    """After the step: bring one rolling service deployment's status and counts up to date."""
    state = service_state.sb_state(service)
    by_id = {d["id"]: d for d in service.deployments}
    deployment = by_id.get(record.deployment_id)
    if record.stop_request and deployment is not None and deployment["rolloutState"] == "IN_PROGRESS":
        _stop(service, record, deployment, state)
        return
    if deployment is not None:
        # ECS's failedTasks resets once a task runs (Deployment.failedTasks); the breaker's count is the same.
        record.breaker_failures = int(deployment.get("failedTasks") or 0)
        record.counts = {
            "requested": int(deployment["desiredCount"]),
            "running": int(deployment["runningCount"]),
            "pending": int(deployment["pendingCount"]),
        }
    if record.rollback_deployment_id:
        rollback = by_id.get(record.rollback_deployment_id)
        if rollback is None or rollback["status"] != "PRIMARY":
            record.set_status("ROLLBACK_FAILED", record.status_reason)
        elif rollback["rolloutState"] == "COMPLETED":
            record.set_status("ROLLBACK_SUCCESSFUL", record.status_reason)
        return
    if deployment is None:
        record.set_status("STOPPED", record.status_reason or "Service deployment stopped.")
        return
    rollout = deployment["rolloutState"]
    if rollout == "IN_PROGRESS":
        record.set_status("IN_PROGRESS")
    elif rollout == "COMPLETED":
        record.set_status("SUCCESSFUL")
    elif rollout == "FAILED":
        record.breaker_triggered = bool(deployment.get("sb_breaker_triggered"))
        rollback = next(
            (d for d in service.deployments if d["id"] in state["rollbacks"] and d["status"] == "PRIMARY"), None
        )
        reason = deployment.get("rolloutStateReason")
        if rollback is not None:
            _rolling_back(record, rollback["id"], reason, service)
        else:
            record.set_status("STOPPED", reason)


def _rolling_back(record: deployments.ServiceDeployment, rollback_id: str, reason: str | None, service: Any) -> None:
    record.rollback_deployment_id = rollback_id
    source = record.sources[0].arn if record.sources else record.target.arn
    record.rollback = {"reason": reason or "Service deployment rolled back.", "startedAt": utcnow(),
                       "serviceRevisionArn": source}
    record.set_status("ROLLBACK_IN_PROGRESS", reason)


def _stop(
    service: Any, record: deployments.ServiceDeployment, deployment: dict[str, Any], state: dict[str, Any]
) -> None:
    """StopServiceDeployment on a rolling deployment: ROLLBACK starts a deployment of the last
    completed revision; ABORT stops launching."""
    request, record.stop_request = record.stop_request, None
    deployment["rolloutState"] = "FAILED"
    deployment["rolloutStateReason"] = "Service deployment stopped by StopServiceDeployment."
    deployment["updatedAt"] = utcnow()
    last_completed = state["last_completed"]
    if request == "ROLLBACK" and last_completed:
        service.task_definition = last_completed[1]
        rollback = service_state.start_deployment(service)
        state["rollbacks"].add(rollback["id"])
        _rolling_back(record, rollback["id"], "Service deployment rolled back by StopServiceDeployment.", service)
    else:
        state["halted"].add(deployment["id"])
        record.set_status("STOPPED", "Service deployment stopped by StopServiceDeployment.")
