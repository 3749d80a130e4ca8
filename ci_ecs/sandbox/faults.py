"""Fault injection settings for the sandbox: throttling, 5xx answers and slow task starts.

Faults are decided in the WSGI middleware *before* a request reaches moto, so an injected
fault never has a side effect: the client sees the error and nothing changed in the sandbox.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

ENV_THROTTLE_RATE = "CI_ECS_SANDBOX_THROTTLE_RATE"
ENV_FAIL_OPERATIONS = "CI_ECS_SANDBOX_FAIL_OPERATIONS"
ENV_FAIL_TIMES = "CI_ECS_SANDBOX_FAIL_TIMES"
ENV_TASK_START_SECONDS = "CI_ECS_SANDBOX_TASK_START_SECONDS"
ENV_DENY_OPERATIONS = "CI_ECS_SANDBOX_DENY_OPERATIONS"


def parse_operations(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Normalise a list of operation names given as "Op,svc:Op" or an iterable.

    >>> parse_operations("RegisterTaskDefinition, ecs:UpdateService")
    ('RegisterTaskDefinition', 'ecs:UpdateService')
    """
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(item.strip() for item in items if item and item.strip())


@dataclass(frozen=True)
class Faults:
    """What the sandbox should get wrong on purpose.

    throttle_rate: fraction (0..1) of AWS calls answered with a throttling error. The choice is
        deterministic (an accumulator, not a random draw) so tests are stable: 0.5 throttles
        every second call.
    error_5xx_operations: operations answered with HTTP 503 ServiceUnavailable, named
        "RegisterTaskDefinition" (any service) or "ecs:RegisterTaskDefinition".
    error_5xx_times: when set, only the first N matching calls (per operation) fail, so a
        client that retries succeeds; None fails them all.
    task_start_seconds: overrides how long a task takes from PROVISIONING to RUNNING.
    denied_operations: operations answered with AccessDeniedException (HTTP 400), as IAM answers a
        caller whose policy lacks the action; named like error_5xx_operations.
    """

    throttle_rate: float = 0.0
    error_5xx_operations: tuple[str, ...] = ()
    error_5xx_times: int | None = None
    task_start_seconds: float | None = None
    denied_operations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.throttle_rate <= 1.0:
            raise ValueError(f"throttle_rate must be between 0 and 1, got {self.throttle_rate}")
        if self.task_start_seconds is not None and self.task_start_seconds < 0:
            raise ValueError("task_start_seconds must not be negative")
        object.__setattr__(self, "error_5xx_operations", parse_operations(self.error_5xx_operations))
        object.__setattr__(self, "denied_operations", parse_operations(self.denied_operations))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Faults:
        """Read faults from CI_ECS_SANDBOX_* variables (unset ones keep their defaults).

        >>> Faults.from_env({"CI_ECS_SANDBOX_THROTTLE_RATE": "0.25"}).throttle_rate
        0.25
        """
        env = os.environ if environ is None else environ
        times = env.get(ENV_FAIL_TIMES, "").strip()
        start = env.get(ENV_TASK_START_SECONDS, "").strip()
        return cls(
            throttle_rate=float(env.get(ENV_THROTTLE_RATE, "").strip() or 0.0),
            error_5xx_operations=parse_operations(env.get(ENV_FAIL_OPERATIONS)),
            error_5xx_times=int(times) if times else None,
            task_start_seconds=float(start) if start else None,
            denied_operations=parse_operations(env.get(ENV_DENY_OPERATIONS)),
        )

    def with_changes(self, **changes: object) -> Faults:
        """A copy with some fields replaced (frozen dataclass helper)."""
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass
class FaultInjector:
    """Thread-safe decision maker used by the middleware for every AWS call."""

    faults: Faults = field(default_factory=Faults)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _throttle_credit: float = 0.0
    _failures: dict[str, int] = field(default_factory=dict)

    def configure(self, faults: Faults) -> None:
        """Replace the settings and forget the counters of the previous ones."""
        with self._lock:
            self.faults = faults
            self._throttle_credit = 0.0
            self._failures = {}

    def decide(self, service: str, operation: str) -> str | None:
        """Return "denied", "throttle", "5xx" or None for a call about to be served."""
        with self._lock:
            faults = self.faults
            if self._matches(faults.denied_operations, service, operation):
                return "denied"
            if self._matches_5xx(faults, service, operation):
                key = f"{service}:{operation}".lower()
                done = self._failures.get(key, 0)
                if faults.error_5xx_times is None or done < faults.error_5xx_times:
                    self._failures[key] = done + 1
                    return "5xx"
            if faults.throttle_rate > 0:
                # An accumulator spreads the throttled calls evenly and reproducibly.
                self._throttle_credit += faults.throttle_rate
                if self._throttle_credit >= 1.0 - 1e-9:
                    self._throttle_credit -= 1.0
                    return "throttle"
            return None

    @classmethod
    def _matches_5xx(cls, faults: Faults, service: str, operation: str) -> bool:
        return cls._matches(faults.error_5xx_operations, service, operation)

    @staticmethod
    def _matches(names: tuple[str, ...], service: str, operation: str) -> bool:
        for name in names:
            svc, _, op = name.rpartition(":")
            if op.lower() == operation.lower() and (not svc or svc.lower() == service.lower()):
                return True
        return False
