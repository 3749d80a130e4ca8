"""Deployment strategies, one module each, behind the scheduler's "advance this deployment" step.

Every strategy module has the same two functions: ``advance(backend, service, primary, record,
tasks, live, ctx)``, one scheduler step of the primary deployment (the counts refreshed after
it), and ``finish(service, record, tasks, ctx)``, which brings a service deployment that is not
final up to date after the step. ``STRATEGIES`` is the one table of ECS's strategy names
(DeploymentConfiguration.strategy, ECS API reference) and the modules that implement them.

``rolling`` is the service scheduler's rolling update; ``blue_green``, ``canary`` and ``linear``
differ only in how production traffic moves (``production_steps``) and share the lifecycle-stage
engine in ``staged``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from .. import deployments
from ..context import SandboxContext
from . import blue_green, canary, linear, rolling

STRATEGIES: dict[str, ModuleType] = {
    "ROLLING": rolling,
    "BLUE_GREEN": blue_green,
    "LINEAR": linear,
    "CANARY": canary,
}


def begin(service: Any) -> None:
    """Record the service deployments of deployments started since the last step."""
    deployments.record_new_deployments(service)


def advance(
    backend: Any, service: Any, primary: dict[str, Any], tasks: list[Any], live: list[Any], ctx: SandboxContext
) -> None:
    """One step of the primary deployment by its strategy while its service deployment is in
    progress. Otherwise (no service deployment, as for a circuit-breaker rollback, or a final
    one) the rolling update keeps the service at its desired count, as ECS's service scheduler
    does once a deployment has ended."""
    record = deployments.for_deployment(service, primary["id"])
    strategy = rolling if record is None or record.final else STRATEGIES.get(record.strategy, rolling)
    strategy.advance(backend, service, primary, record, tasks, live, ctx)


def finish(service: Any, tasks: list[Any], ctx: SandboxContext) -> None:
    """After the step: each service deployment that is not final, by its strategy (rolling: its
    status from the scheduler's deployment; staged: the end of a rollback)."""
    for record in deployments.records(service):
        if not record.final:
            STRATEGIES.get(record.strategy, rolling).finish(service, record, tasks, ctx)
