"""Where a deploy's time went: its phases, measured as they happen (issue 27).

A deploy runs its steps one after another (config and pre-flight, image, register, service update, the rollout
stage by stage, the stable window, addresses, verify, rollback), so its phases are sequential: beginning one ends
the one before at the same instant, and together they cover the deploy's wall time without overlap. Times are
seconds from the deploy's start (the monotonic clock, so a clock step cannot reorder them), as the result's
`durationSeconds` is; a `services:` list deploy gives each service its own phases after the shared ones.

The recorder of the running deploy is found through a context variable (`current`), so the steps that mark a
phase (ci_ecs.image's build and push, the follow loop's rollout stages) take no extra parameter and mark nothing
when no deploy records (a library caller, `ci-ecs push`). A thread a deploy starts sets its own (`use`).

Rollout stages are what ECS reports, never the wording of an event: a blue/green, canary or linear service
deployment's `lifecycleStage` (ServiceDeployment.lifecycleStage, ECS API reference); for a rolling deployment the
task counts (`rolling_stage`). A stage starts at the poll that first saw it (the first one at the service update's
answer), so a boundary is exact to one poll interval.
"""

from __future__ import annotations

import contextvars
import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

# The rolling stages, from task counts ECS reports (Deployment.runningCount/pendingCount of our deployment and the
# older ones; ServiceRevisionSummary counts of a service deployment's target and source revisions).
STARTING = "tasks-starting"  # our new tasks are not all RUNNING yet
RUNNING = "tasks-running"  # ours all RUNNING; old tasks still RUNNING (health checks, the rolling pace)
DRAINING = "old-tasks-draining"  # ours all RUNNING; old tasks no longer RUNNING but not yet gone (deregistering)
ROLLOUT = "rollout"


def rolling_stage(running: int, pending: int, desired: int, old_running: int, old_listed: bool) -> str:
    """The stage of a rolling deployment from the counts ECS reports.

    `old_running`: tasks of older deployments (or source revisions) in RUNNING; `old_listed`: an older deployment
    is still listed (ECS removes it once its last task stopped). A task that is deregistering from its target group
    is DEACTIVATING, not RUNNING (Task.lastStatus, "Task lifecycle" in the ECS developer guide), so an old
    deployment still listed with none RUNNING is draining.

    >>> rolling_stage(1, 1, 2, 2, True), rolling_stage(2, 0, 2, 2, True), rolling_stage(2, 0, 2, 0, True)
    ('tasks-starting', 'tasks-running', 'old-tasks-draining')
    """
    if running < desired or pending > 0:
        return STARTING
    if old_running > 0:
        return RUNNING
    return DRAINING if old_listed else RUNNING


def rolling_waits(stage: str, running: int, pending: int, desired: int, old_running: int) -> str:
    """What a rolling stage waits on, in words (the counts as ECS reported them when the stage was first seen).

    >>> rolling_waits(STARTING, 1, 1, 2, 2)
    'new tasks to reach RUNNING (1/2 RUNNING, 1 pending)'
    """
    if stage == STARTING:
        return f"new tasks to reach RUNNING ({running}/{desired} RUNNING, {pending} pending)"
    if stage == RUNNING and old_running:
        return (f"old tasks to be stopped ({old_running} still RUNNING: health checks of the new ones, "
                "minimumHealthyPercent)")
    if stage == RUNNING:
        return "ECS to mark the deployment done (its tasks RUNNING: health checks, load balancer registration)"
    return "old tasks to stop (draining)"


@dataclass
class Phase:
    """One phase: [start, end) in seconds from the deploy's start; `detail` goes into the JSON as is."""

    name: str
    start: float
    end: float | None = None
    waited_on: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self, now: float) -> dict[str, Any]:
        """The phase's JSON object: name, start, end, seconds (3 decimals), then waitedOn and the details."""
        end = self.end if self.end is not None else now
        out: dict[str, Any] = {"name": self.name, "start": round(self.start, 3), "end": round(end, 3),
                               "seconds": round(end - self.start, 3)}
        if self.waited_on:
            out["waitedOn"] = self.waited_on
        out.update(self.detail)
        return out


class Phases:
    """The phases of one deploy (or of one service of it), in order; thread-safe."""

    def __init__(self, origin: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.origin = clock() if origin is None else origin
        self.phases: list[Phase] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since the deploy's start."""
        return self.clock() - self.origin

    @property
    def open(self) -> Phase | None:
        """The phase under way, if any."""
        last = self.phases[-1] if self.phases else None
        return last if last is not None and last.end is None else None

    def begin(self, name: str, waited_on: str | None = None, **detail: Any) -> None:
        """End the phase under way now and start `name`; with none under way, `name` starts where the last one
        ended (a service's thread starting after the shared part: no gap)."""
        with self._lock:
            now = self.now()
            start = now
            if self.open is not None:
                self.open.end = now
            elif self.phases and self.phases[-1].end is not None:
                start = self.phases[-1].end
            self.phases.append(Phase(name, start, waited_on=waited_on, detail={k: v for k, v in detail.items()
                                                                                if v is not None}))

    def note(self, waited_on: str | None = None, **detail: Any) -> None:
        """Say more about the phase under way: what it waited on, details (e.g. bytes sent)."""
        with self._lock:
            phase = self.open
            if phase is None:
                return
            if waited_on:
                phase.waited_on = waited_on
            phase.detail.update({k: v for k, v in detail.items() if v is not None})

    def stage(self, stage: str, waited_on: str | None = None, **detail: Any) -> None:
        """A rollout poll saw `stage`: the open rollout phase takes it when it has none yet (the time from the
        update to the first poll), a different stage begins a new rollout phase. Outside a rollout (a rollback
        follows its own deployment) nothing changes."""
        with self._lock:
            phase = self.open
            if phase is None or phase.name != ROLLOUT:
                return
            if stage.startswith("ROLLBACK_"):  # ECS rolls our deployment back (ServiceDeployment.status)
                phase.end = self.now()
                self.phases.append(Phase("rollback", phase.end, waited_on=f"ECS rolling the deployment back ({stage})"))
                return
            if phase.detail.get("stage") in (None, stage):
                phase.detail["stage"] = stage
                phase.waited_on = waited_on or phase.waited_on
                phase.detail.update({k: v for k, v in detail.items() if v is not None})
                return
        self.begin(ROLLOUT, waited_on, stage=stage, **detail)

    def end(self) -> None:
        """End the phase under way now (the deploy or its shared part is over)."""
        with self._lock:
            if self.open is not None:
                self.open.end = self.now()

    def find(self, name: str, **detail: Any) -> list[Phase]:
        """The phases called `name` whose details include `detail`."""
        with self._lock:
            return [p for p in self.phases if p.name == name and all(p.detail.get(k) == v for k, v in detail.items())]

    def fork(self, queued: str | None = None) -> Phases:
        """A recorder for one service of a `services:` deploy: the same start, the phases so far (ended now);
        `queued`: the service waits for a slot (deploy.parallelism) in a phase of that name's words."""
        self.end()
        other = Phases(self.origin, self.clock)
        with self._lock:
            other.phases = [Phase(p.name, p.start, p.end, p.waited_on, dict(p.detail)) for p in self.phases]
        if queued:
            other.begin("queued", queued)
        return other

    def fork_each(self, keys: list[Any], slots: int) -> dict[Any, Phases]:
        """A recorder (`fork`) for each service of a `services:` deploy, by `keys`; with more services than
        `slots` (deploy.parallelism), each starts in a `queued` phase."""
        queued = f"a free one of {slots} slots (deploy.parallelism)" if len(keys) > slots else None
        return {key: self.fork(queued) for key in keys}

    def as_json(self) -> list[dict[str, Any]]:
        """Every phase's JSON object, the one under way ending now."""
        with self._lock:
            now = self.now()
            return [p.as_json(now) for p in self.phases]


_CURRENT: contextvars.ContextVar[Phases | None] = contextvars.ContextVar("ci_ecs_phases", default=None)


def current() -> Phases | None:
    """The recorder of the deploy running in this thread, or None."""
    return _CURRENT.get()


@contextmanager
def use(phases: Phases | None) -> Iterator[Phases | None]:
    """Record this thread's phases into `phases` until the block ends."""
    token = _CURRENT.set(phases)
    try:
        yield phases
    finally:
        _CURRENT.reset(token)


def recorded(first: str) -> Callable[[F], F]:
    """Decorate a deploy's entry point: its call records into a new recorder, starting with phase `first`."""
    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with use(Phases()) as phases:
                assert phases is not None
                phases.begin(first)
                return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate


def begin(name: str, waited_on: str | None = None, **detail: Any) -> None:
    """`Phases.begin` on the current recorder (nothing without one)."""
    phases = current()
    if phases is not None:
        phases.begin(name, waited_on, **detail)


def note(waited_on: str | None = None, **detail: Any) -> None:
    """`Phases.note` on the current recorder (nothing without one)."""
    phases = current()
    if phases is not None:
        phases.note(waited_on, **detail)


def stage(name: str, waited_on: str | None = None, **detail: Any) -> None:
    """`Phases.stage` on the current recorder (nothing without one)."""
    phases = current()
    if phases is not None:
        phases.stage(name, waited_on, **detail)
