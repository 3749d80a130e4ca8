"""BLUE_GREEN: all production traffic moves to the green revision at once, then the bake time
("Amazon ECS blue/green deployments", ECS Developer Guide)."""

from __future__ import annotations

from typing import Any

from ..context import SandboxContext
from ..deployments import ServiceDeployment
from . import staged


def production_steps(configuration: dict[str, Any]) -> list[tuple[float, float]]:
    """[(green's production weight, minutes to wait after it)].

    >>> production_steps({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5})
    [(100.0, 0.0)]
    """
    return [(100.0, 0.0)]


def advance(
    backend: Any,
    service: Any,
    primary: dict[str, Any],
    record: ServiceDeployment,
    tasks: list[Any],
    live: list[Any],
    ctx: SandboxContext,
) -> None:
    """One scheduler step: the lifecycle stages (``staged``) with this strategy's traffic steps."""
    staged.advance(backend, service, primary, record, production_steps(record.configuration), tasks, live, ctx)


def finish(service: Any, record: ServiceDeployment, tasks: list[Any], ctx: SandboxContext) -> None:
    """After the step: ROLLBACK_SUCCESSFUL once a rolled-back deployment's green tasks stopped."""
    staged.finish_rollback(service, record, tasks)
