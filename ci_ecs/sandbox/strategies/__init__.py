"""Deployment strategies, one module each, behind the scheduler's "advance this deployment" step.

``rolling`` mirrors the scheduler's rolling update into the service-deployment API;
``blue_green``, ``canary`` and ``linear`` differ only in how production traffic moves
(``production_steps``) and share the lifecycle-stage engine in ``staged``.
"""

from __future__ import annotations

from typing import Any

from .. import deployments
from ..context import SandboxContext
from . import blue_green, canary, linear, rolling, staged

TRAFFIC_PLANS = {
    "BLUE_GREEN": blue_green.production_steps,
    "CANARY": canary.production_steps,
    "LINEAR": linear.production_steps,
}


def begin(service: Any) -> None:
    """Record the service deployments of deployments started since the last step."""
    deployments.record_new_deployments(service)


def advance(
    backend: Any, service: Any, primary: dict[str, Any], tasks: list[Any], live: list[Any], ctx: SandboxContext
) -> bool:
    """Advance the primary deployment when its strategy is not ROLLING; True when the strategy
    drove the service this step (the scheduler's rolling update then does nothing)."""
    record = deployments.for_deployment(service, primary["id"])
    if record is None or record.final or record.strategy not in TRAFFIC_PLANS:
        return False
    steps = TRAFFIC_PLANS[record.strategy](record.configuration)
    staged.advance(backend, service, primary, record, steps, tasks, live, ctx)
    return True


def finish(service: Any, tasks: list[Any], ctx: SandboxContext) -> None:
    """After the step: rolling deployments' statuses from the scheduler's state; rollbacks of
    staged deployments that have finished."""
    for record in deployments.records(service):
        if record.final:
            continue
        if record.strategy in TRAFFIC_PLANS:
            staged.finish_rollback(service, record, tasks)
        else:
            rolling.sync(service, record, tasks, ctx)
