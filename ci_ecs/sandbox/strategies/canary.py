"""CANARY: canaryPercent of production traffic to green, canaryBakeTimeInMinutes, then the rest
(ECS API reference, CanaryConfiguration: defaults 5.0 percent and 10 minutes)."""

from __future__ import annotations

from typing import Any

DEFAULT_PERCENT = 5.0
DEFAULT_BAKE_MINUTES = 10


def production_steps(configuration: dict[str, Any]) -> list[tuple[float, float]]:
    """[(green's production weight, minutes to wait after it)].

    >>> production_steps({"canaryConfiguration": {"canaryPercent": 20, "canaryBakeTimeInMinutes": 3}})
    [(20.0, 3.0), (100.0, 0.0)]
    """
    canary = configuration.get("canaryConfiguration") or {}
    percent = float(canary.get("canaryPercent", DEFAULT_PERCENT))
    bake = float(canary.get("canaryBakeTimeInMinutes", DEFAULT_BAKE_MINUTES))
    if percent >= 100.0:
        return [(100.0, 0.0)]
    return [(percent, bake), (100.0, 0.0)]
