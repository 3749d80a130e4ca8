"""Deployment strategies, one module each, behind the scheduler's "advance this deployment" step.

Every strategy has the same two functions (``Strategy``): ``advance(backend, service, primary,
record, tasks, live, ctx)``, one scheduler step of the primary deployment (the counts refreshed
after it), and ``finish(service, record, tasks, ctx)``, which brings a service deployment that is
not final up to date after the step. ``STRATEGIES`` is the one table of ECS's strategy names
(DeploymentConfiguration.strategy, ECS API reference) and what implements them.

``rolling`` is the service scheduler's rolling update; ``blue_green``, ``canary`` and ``linear``
differ only in how production traffic moves (their ``production_steps``) and share the
lifecycle-stage engine in ``staged`` (``staged.Staged``).
"""

from __future__ import annotations

from typing import Any, Protocol

from .. import deployments
from ..context import SandboxContext
from ..deployments import ServiceDeployment
from . import blue_green, canary, linear, rolling, staged


class Strategy(Protocol):
    """What the scheduler calls on a deployment's strategy."""

    # record: the deployment's ServiceDeployment (None only for rolling, which also runs without one).
    def advance(self, backend: Any, service: Any, primary: dict[str, Any], record: Any,
                tasks: list[Any], live: list[Any], ctx: SandboxContext) -> None: ...

    def finish(self, service: Any, record: ServiceDeployment, tasks: list[Any], ctx: SandboxContext) -> None: ...


STRATEGIES: dict[str, Strategy] = {
    "ROLLING": rolling,
    "BLUE_GREEN": staged.Staged(blue_green.production_steps),
    "LINEAR": staged.Staged(linear.production_steps),
    "CANARY": staged.Staged(canary.production_steps),
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
    strategy: Strategy = rolling if record is None or record.final else STRATEGIES.get(record.strategy, rolling)
    strategy.advance(backend, service, primary, record, tasks, live, ctx)


def finish(service: Any, tasks: list[Any], ctx: SandboxContext) -> None:
    """After the step: each service deployment that is not final, by its strategy (rolling: its
    status from the scheduler's deployment; staged: the end of a rollback)."""
    for record in deployments.records(service):
        if not record.final:
            STRATEGIES.get(record.strategy, rolling).finish(service, record, tasks, ctx)
