"""BLUE_GREEN: all production traffic moves to the green revision at once, then the bake time
("Amazon ECS blue/green deployments", ECS Developer Guide)."""

from __future__ import annotations

from typing import Any


def production_steps(configuration: dict[str, Any]) -> list[tuple[float, float]]:
    """[(green's production weight, minutes to wait after it)].

    >>> production_steps({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5})
    [(100.0, 0.0)]
    """
    return [(100.0, 0.0)]
