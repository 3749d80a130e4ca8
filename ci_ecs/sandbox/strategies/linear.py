"""LINEAR: production traffic moves in equal steps of stepPercent with stepBakeTimeInMinutes
between them, not after the last (ECS API reference, LinearConfiguration: defaults 10.0 percent
and 6 minutes; "This bake time is not applied after reaching 100 percent traffic")."""

from __future__ import annotations

from typing import Any

DEFAULT_STEP_PERCENT = 10.0
DEFAULT_STEP_BAKE_MINUTES = 6


def production_steps(configuration: dict[str, Any]) -> list[tuple[float, float]]:
    """[(green's production weight, minutes to wait after it)].

    >>> production_steps({"linearConfiguration": {"stepPercent": 40, "stepBakeTimeInMinutes": 2}})
    [(40.0, 2.0), (80.0, 2.0), (100.0, 0.0)]
    """
    linear = configuration.get("linearConfiguration") or {}
    step = float(linear.get("stepPercent", DEFAULT_STEP_PERCENT))
    bake = float(linear.get("stepBakeTimeInMinutes", DEFAULT_STEP_BAKE_MINUTES))
    steps: list[tuple[float, float]] = []
    weight = step
    while weight < 100.0 - 1e-9:
        steps.append((round(weight, 1), bake))
        weight += step
    steps.append((100.0, 0.0))
    return steps
