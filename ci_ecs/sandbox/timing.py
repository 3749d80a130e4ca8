"""The sandbox's timing profiles (``--timing``): how long a task takes to start and to stop, on the sandbox's clock.

- ``fast`` (default): a task goes PROVISIONING → RUNNING in ``task_start_seconds`` (1 s) and stops in half that, so
  tests and the fast bench profile run in seconds.
- ``ecs``: durations like a Fargate task's on ECS, in AWS seconds, multiplied by the sandbox's clock scale
  (``minute_seconds / 60``: ``--minute-seconds 6`` makes an AWS second 0.1 s, as it already does for bake times,
  target-group health checks, deregistration delays, restart-policy periods and, with ``--rate-limits aws``, the
  token buckets' refill). What each duration rests on:

  * Task start, PROVISIONING → PENDING → RUNNING: **40 s**. AWS documents the steps (Amazon ECS best practices
    guide, "Speeding up task launch": capacity, ENI provisioning and attachment, image pull, container start; the
    developer guide's "Optimize Amazon ECS task launch time": awsvpc's ENI "adds an overhead of several seconds")
    but no figure for Fargate; AWS re:Post's answer to "how to speed up provisioning of ecs fargate task" gives
    "30-45 seconds or longer". 40 s is inside that range, towards its upper end because the bench's image is a
    public one pulled whole on every Fargate task (developer guide, "Fargate pull behavior": no image cache). The
    split keeps the fast profile's: PENDING at a quarter of it.
  * Task stop, stop requested (after any draining) → STOPPED: **5 s**. A container that exits on SIGTERM stops at
    once; what is left is deprovisioning (the ENI's detachment), for which the developer guide gives "several
    seconds" on the way in. Containers that ignore SIGTERM (ECS waits stopTimeout, default 30 s, then SIGKILL)
    are not modelled: the simulated runtime's containers all exit on SIGTERM.
  * Draining behind a load balancer: the target group's ``deregistration_delay.timeout_seconds`` (ELB default
    300 s), already modelled by ``elb/`` on the same clock, in every profile.

  ``--task-start-seconds`` (or ``CI_ECS_SANDBOX_TASK_START_SECONDS``) still wins when given: real seconds, not
  scaled. The docker runtime's tasks start as fast as their containers do in either profile.

The tools' own poll intervals are not on this clock: a scaled run shortens every ECS duration but not the time a
tool sleeps between its polls, so it favours a tool that polls often less than real ECS would.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

PROFILE_NAMES = ("fast", "ecs")
TIMING_ENV = "CI_ECS_SANDBOX_TIMING"


@dataclass(frozen=True)
class TimingProfile:
    """Task durations in AWS seconds (``scaled`` applies the clock); ``None``: the fast profile's rule."""

    name: str
    task_start_seconds: float | None  # None: the sandbox's task_start_seconds (fast: 1 s, real seconds)
    task_stop_seconds: float | None  # None: half the task's start time

    def start_seconds(self, scale: float, explicit: float | None = None) -> float | None:
        """Real seconds a task takes to start under this profile at clock ``scale``; ``explicit`` (a
        --task-start-seconds given) wins; None: keep the sandbox's own setting."""
        if explicit is not None:
            return explicit
        return None if self.task_start_seconds is None else self.task_start_seconds * scale

    def stop_seconds(self, scale: float) -> float | None:
        """Real seconds from a stop's start (its draining over) to STOPPED; None: half the task's start time."""
        return None if self.task_stop_seconds is None else self.task_stop_seconds * scale


FAST = TimingProfile("fast", None, None)
# The cited figures above: Fargate task start 40 s (re:Post's "30-45 seconds or longer"), stop 5 s (ENI detachment,
# "several seconds").
ECS = TimingProfile("ecs", 40.0, 5.0)
PROFILES: dict[str, TimingProfile] = {"fast": FAST, "ecs": ECS}


def timing_of(name: str | None) -> TimingProfile:
    """The profile called ``name`` (None or empty: fast); ValueError for another name."""
    key = (name or "fast").strip().lower() or "fast"
    if key not in PROFILES:
        raise ValueError(f"timing must be one of {', '.join(PROFILE_NAMES)}, got {name!r}")
    return PROFILES[key]


def timing_from_env(environ: Mapping[str, str] = os.environ) -> str:
    """The profile CI_ECS_SANDBOX_TIMING names ("fast" when unset)."""
    return (environ.get(TIMING_ENV) or "fast").strip().lower() or "fast"


def clock_scale(minute_seconds: float) -> float:
    """Real seconds per AWS second on the sandbox's clock: ``minute_seconds / 60`` (1 by default).

    >>> clock_scale(60.0), clock_scale(6.0)
    (1.0, 0.1)
    """
    return max(0.0, minute_seconds / 60.0)
