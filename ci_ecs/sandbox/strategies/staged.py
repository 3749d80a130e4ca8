"""The lifecycle-stage engine blue/green, canary and linear deployments share.

Stages in ECS's order (ServiceDeployment.lifecycleStage): PRE_SCALE_UP, SCALE_UP (the full
green set starts while blue keeps serving), POST_SCALE_UP, TEST_TRAFFIC_SHIFT (the test rule to
green), POST_TEST_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT (the strategy's steps, each followed by
its bake), POST_PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME (bakeTimeInMinutes with both revisions
running), CLEAN_UP (blue stops). Lifecycle hooks run at the end of their stages: a PAUSE hook
waits for ContinueServiceDeployment (or its timeout); the sandbox cannot invoke Lambda, so an
AWS_LAMBDA hook succeeds at once. Deployment alarms in ALARM (moto's CloudWatch), the circuit
breaker, a hook's ROLLBACK or StopServiceDeployment roll back: traffic returns to blue, green
stops, ROLLBACK_SUCCESSFUL once it has.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from moto.ecs import ecs_backends

from .. import deployments, service_state, task_control
from ..context import SandboxContext
from ..deployments import ServiceDeployment
from ..lifecycle import utcnow
from . import traffic

STAGES = (
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
)
SCALE_UP = STAGES.index("SCALE_UP")
# ECS's default when a hook's timeoutConfiguration gives no action.
DEFAULT_TIMEOUT_ACTION = "ROLLBACK"


@dataclass(frozen=True)
class Staged:
    """A strategy of the lifecycle-stage engine: ``production_steps(deploymentConfiguration)``
    gives how production traffic moves ([(green's weight, minutes to wait after it)]); the rest
    (stages, hooks, alarms, rollback) is the same for blue/green, canary and linear."""

    production_steps: Callable[[dict[str, Any]], list[tuple[float, float]]]

    def advance(
        self,
        backend: Any,
        service: Any,
        primary: dict[str, Any],
        record: ServiceDeployment,
        tasks: list[Any],
        live: list[Any],
        ctx: SandboxContext,
    ) -> None:
        """One scheduler step: the lifecycle stages with this strategy's traffic steps."""
        advance(backend, service, primary, record, self.production_steps(record.configuration), tasks, live, ctx)

    def finish(self, service: Any, record: ServiceDeployment, tasks: list[Any], ctx: SandboxContext) -> None:
        """After the step: ROLLBACK_SUCCESSFUL once a rolled-back deployment's green tasks stopped."""
        finish_rollback(service, record, tasks)


def advance(
    backend: Any,
    service: Any,
    primary: dict[str, Any],
    record: ServiceDeployment,
    steps: list[tuple[float, float]],
    tasks: list[Any],
    live: list[Any],
    ctx: SandboxContext,
) -> None:
    """One scheduler step of a staged deployment whose production traffic moves in ``steps``
    ([(green's weight, minutes to wait after it)]); the counts are refreshed after it."""
    _advance(backend, service, primary, record, steps, tasks, live, ctx)
    service_state.refresh_counts(service, tasks)


def _advance(
    backend: Any,
    service: Any,
    primary: dict[str, Any],
    record: ServiceDeployment,
    steps: list[tuple[float, float]],
    tasks: list[Any],
    live: list[Any],
    ctx: SandboxContext,
) -> None:
    now = ctx.now()
    if record.status == "PENDING":
        record.set_status("IN_PROGRESS")
        record.stage_since = now
        record.traffic = traffic.plan(service, first_deployment=not record.sources)
    green = [t for t in live if t.sb_deployment == primary["id"]]
    _count(service, record, primary, tasks)
    if _failure(backend, service, primary, record, ctx):
        return
    if record.stage_index >= SCALE_UP:
        _scale_green(backend, service, primary, green, ctx)
    for _ in range(len(STAGES)):  # stages without work or hooks pass in the same step
        if record.final or record.status != "IN_PROGRESS":
            return
        if not _stage(backend, service, primary, record, steps, tasks, ctx):
            return
        record.stage_index += 1
        record.stage_since = ctx.now()
        record.stage_work_done = False
        if record.stage_index >= len(STAGES):
            _complete(service, primary, record)
            return


def _count(service: Any, record: ServiceDeployment, primary: dict[str, Any], tasks: list[Any]) -> None:
    def counts(deployment_id: str) -> dict[str, int]:
        mine = [t for t in tasks if t.sb_deployment == deployment_id and t.desired_status == "RUNNING"]
        return {
            "requested": int(service.desired_count),
            "running": sum(1 for t in mine if t.last_status == "RUNNING"),
            "pending": sum(1 for t in mine if t.last_status in ("PROVISIONING", "PENDING", "ACTIVATING")),
        }

    record.counts = counts(primary["id"])
    for revision, deployment_id in zip(record.sources, record.source_deployment_ids, strict=False):
        record.source_counts[revision.arn] = counts(deployment_id)


def _scale_green(backend: Any, service: Any, primary: dict[str, Any], green: list[Any], ctx: SandboxContext) -> None:
    """The full green set (desiredCount tasks) beside blue; failed tasks are replaced."""
    if primary["id"] in service_state.sb_state(service)["halted"]:
        return
    started = []
    for _ in range(max(0, service.desired_count - len(green))):
        try:
            started.append(task_control.launch_task(backend, service, primary, ctx))
        except Exception as err:  # noqa: BLE001 - ECS reports placement failures as events
            service_state.add_event(service, f"(service {service.name}) was unable to place a task. Reason: {err}.")
            primary["failedTasks"] += 1
            break
    if started:
        ids = " ".join(f"(task {t.id})" for t in started)
        service_state.add_event(service, f"(service {service.name}) has started {len(started)} tasks: {ids}.")


def _ready(tasks: list[Any], deployment_id: str) -> int:
    return sum(
        1 for t in tasks
        if t.sb_deployment == deployment_id and t.last_status == "RUNNING" and t.desired_status == "RUNNING"
        and t.sb_ready
    )


def _stage(
    backend: Any,
    service: Any,
    primary: dict[str, Any],
    record: ServiceDeployment,
    steps: list[tuple[float, float]],
    tasks: list[Any],
    ctx: SandboxContext,
) -> bool:
    """Do the current stage's work and hooks; True when the stage is finished."""
    stage = STAGES[record.stage_index]
    record.set_stage(stage)
    now = ctx.now()
    minute = ctx.minute_seconds
    if not record.stage_work_done:
        if stage == "SCALE_UP":
            if _ready(tasks, primary["id"]) < service.desired_count:
                return False
        elif stage == "TEST_TRAFFIC_SHIFT":
            record.test_weight = 100.0
            traffic.shift(service, record.traffic, record.production_weight, record.test_weight)
        elif stage == "PRODUCTION_TRAFFIC_SHIFT":
            if record.step_since is None:
                # PRE_PRODUCTION_TRAFFIC_SHIFT "occurs before production traffic shift" (ECS API reference,
                # DeploymentLifecycleHook.lifecycleStages); ServiceDeployment.lifecycleStage has no such value, so
                # the deployment reports PRODUCTION_TRAFFIC_SHIFT while those hooks run. Run once, before the first
                # step (ECS runs them before every step of a canary or linear shift: not modelled here).
                if not _hooks_done(service, primary, record, "PRE_PRODUCTION_TRAFFIC_SHIFT", ctx):
                    return False
                _apply_step(service, record, steps, now)
            weight, bake = steps[record.step]
            if now - record.step_since < bake * minute:  # type: ignore[operator]
                return False
            if record.step + 1 < len(steps):
                record.step += 1
                _apply_step(service, record, steps, now)
                return False
        elif stage == "BAKE_TIME":
            bake = float(record.configuration.get("bakeTimeInMinutes") or 0)
            if now - record.stage_since < bake * minute:
                return False
        elif stage == "CLEAN_UP":
            blue = [t for t in tasks if t.sb_deployment != primary["id"] and t.last_status != "STOPPED"]
            running_blue = [t for t in blue if t.desired_status == "RUNNING"]
            if running_blue:
                task_control.stop_tasks(service, running_blue, primary["id"], ctx)
            if blue:
                return False
        record.stage_work_done = True
    return _hooks_done(service, primary, record, stage, ctx)


def _apply_step(service: Any, record: ServiceDeployment, steps: list[tuple[float, float]], now: float) -> None:
    record.production_weight = steps[record.step][0]
    record.step_since = now
    record.updated_at = utcnow()
    traffic.shift(service, record.traffic, record.production_weight, record.test_weight)


def _hooks_done(
    service: Any, primary: dict[str, Any], record: ServiceDeployment, stage: str, ctx: SandboxContext
) -> bool:
    hooks = [
        (index, hook) for index, hook in enumerate(record.configuration.get("lifecycleHooks") or [])
        if stage in (hook.get("lifecycleStages") or [])
    ]
    done = True
    for index, hook in hooks:
        key = f"{index}:{stage}"
        detail = next((h for h in record.hooks if h.get("sb_key") == key), None)
        timeout = hook.get("timeoutConfiguration") or {}
        minutes = float(timeout.get("timeoutInMinutes") or deployments.DEFAULT_HOOK_TIMEOUT_MINUTES)
        if detail is None:
            target_type = hook.get("targetType") or "AWS_LAMBDA"
            detail = {
                "hookId": uuid.uuid4().hex,
                "targetType": target_type,
                "status": "AWAITING_ACTION" if target_type == "PAUSE" else "SUCCEEDED",
                "expiresAt": utcnow() + timedelta(seconds=minutes * 60),
                "timeoutAction": timeout.get("action") or DEFAULT_TIMEOUT_ACTION,
                "sb_key": key,
                "sb_expires": ctx.now() + minutes * ctx.minute_seconds,
            }
            if hook.get("hookTargetArn"):
                detail["targetArn"] = hook["hookTargetArn"]
            record.hooks.append(detail)
            record.updated_at = utcnow()
        if detail["status"] == "AWAITING_ACTION" and ctx.now() >= detail["sb_expires"]:
            detail["status"] = "TIMED_OUT"
            if detail["timeoutAction"] == "ROLLBACK":
                record.pending_action = "ROLLBACK"
        if detail["status"] in ("AWAITING_ACTION", "IN_PROGRESS"):
            done = False
    if record.pending_action == "ROLLBACK":
        return False  # the next step's failure check rolls back
    record.pending_action = None
    return done


def _alarms_in_alarm(service: Any, record: ServiceDeployment) -> list[str]:
    alarms = record.configuration.get("alarms") or {}
    if not alarms.get("enable"):
        return []
    from moto.cloudwatch.models import cloudwatch_backends  # noqa: PLC0415

    backend = cloudwatch_backends[service._account_id][service.region_name]
    return [
        name for name in alarms.get("alarmNames") or []
        if name in backend.alarms and backend.alarms[name].state_value == "ALARM"
    ]


def _failure(
    backend: Any, service: Any, primary: dict[str, Any], record: ServiceDeployment, ctx: SandboxContext
) -> bool:
    """Roll back (or stop) for the reasons ECS does; True when it did."""
    request, record.stop_request = record.stop_request, None
    if request == "ABORT":
        _stop(service, primary, record, "Service deployment stopped by StopServiceDeployment.", ctx)
        return True
    if request == "ROLLBACK":
        _roll_back(service, primary, record, "Service deployment rolled back by StopServiceDeployment.", ctx)
        return True
    if record.pending_action == "ROLLBACK":
        record.pending_action = None
        _roll_back(service, primary, record, "Service deployment rolled back by a lifecycle hook.", ctx)
        return True
    breaker = record.configuration.get("deploymentCircuitBreaker") or {}
    threshold = service_state.circuit_breaker_threshold(service.desired_count, breaker)
    if breaker.get("enable") and primary["failedTasks"] >= threshold:
        reason = "ECS deployment circuit breaker: tasks failed to start."
        if breaker.get("rollback"):
            _roll_back(service, primary, record, reason, ctx)
        else:
            _stop(service, primary, record, reason, ctx)
        return True
    if record.stage_index >= SCALE_UP:
        firing = _alarms_in_alarm(service, record)
        if firing:
            record.alarms = {**(record.alarms or {}), "status": "TRIGGERED", "triggeredAlarmNames": firing}
            reason = f"Service deployment failed: CloudWatch alarm(s) {', '.join(firing)} in ALARM."
            if (record.configuration.get("alarms") or {}).get("rollback"):
                _roll_back(service, primary, record, reason, ctx)
            else:
                _stop(service, primary, record, reason, ctx)
            return True
    return False


def _green_tasks(service: Any, primary: dict[str, Any], ctx: SandboxContext) -> None:
    backend = ecs_backends[service._account_id][service.region_name]
    green = [
        t for t in service_state.service_tasks(backend, service)
        if t.sb_deployment == primary["id"] and t.desired_status == "RUNNING"
    ]
    if green:
        task_control.stop_tasks(service, green, primary["id"], ctx)


def _stop(service: Any, primary: dict[str, Any], record: ServiceDeployment, reason: str, ctx: SandboxContext) -> None:
    primary["rolloutState"] = "FAILED"
    primary["rolloutStateReason"] = reason
    primary["updatedAt"] = utcnow()
    service_state.sb_state(service)["halted"].add(primary["id"])
    record.set_status("STOPPED", reason)


def _roll_back(
    service: Any, primary: dict[str, Any], record: ServiceDeployment, reason: str, ctx: SandboxContext
) -> None:
    """Traffic back to blue, green stopped, blue's deployment PRIMARY again."""
    blue = next((d for d in service.deployments if d["id"] != primary["id"]), None)
    record.rollback = {
        "reason": reason,
        "startedAt": utcnow(),
        "serviceRevisionArn": record.sources[0].arn if record.sources else record.target.arn,
    }
    primary["rolloutState"] = "FAILED"
    primary["rolloutStateReason"] = reason
    primary["updatedAt"] = utcnow()
    if blue is None:
        service_state.sb_state(service)["halted"].add(primary["id"])
        _green_tasks(service, primary, ctx)
        record.set_status("ROLLBACK_FAILED", reason)
        return
    record.production_weight = record.test_weight = 0.0
    traffic.shift(service, record.traffic, 0.0, 0.0)
    _green_tasks(service, primary, ctx)
    service.deployments[:] = [d for d in service.deployments if d["id"] != primary["id"]]
    blue["status"] = "PRIMARY"
    blue["updatedAt"] = utcnow()
    service.task_definition = blue["taskDefinition"]
    record.set_status("ROLLBACK_IN_PROGRESS", reason)
    service_state.add_event(
        service, f"(service {service.name}) (deployment {primary['id']}) deployment failed: rolling back."
    )


def finish_rollback(service: Any, record: ServiceDeployment, tasks: list[Any]) -> None:
    """ROLLBACK_SUCCESSFUL once the green tasks of a rolled-back deployment have stopped."""
    if record.status != "ROLLBACK_IN_PROGRESS":
        return
    if any(t.sb_deployment == record.deployment_id and t.last_status != "STOPPED" for t in tasks):
        return
    record.set_status("ROLLBACK_SUCCESSFUL", record.status_reason)


def _complete(service: Any, primary: dict[str, Any], record: ServiceDeployment) -> None:
    state = service_state.sb_state(service)
    primary["rolloutState"] = "COMPLETED"
    primary["rolloutStateReason"] = f"ECS deployment {primary['id']} completed."
    primary["updatedAt"] = utcnow()
    service.deployments[:] = [primary]
    state["last_completed"] = (primary["id"], primary["taskDefinition"])
    if record.alarms and record.alarms.get("status") == "MONITORING":
        record.alarms["status"] = "MONITORING_COMPLETE"
    record.set_status("SUCCESSFUL")
    service_state.add_event(service, f"(service {service.name}) (deployment {primary['id']}) deployment completed.")
