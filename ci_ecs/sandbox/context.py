"""The running sandbox's context, shared by its parts: the lock, the clock, the timing settings,
the registry client and the task runtime.

``SandboxContext`` is not a runtime: it is what every part
of one running sandbox needs to act (the scheduler, the moto patches, the strategies and the
task runtimes themselves). The state it guards lives on moto's models, not here. The server
builds it and passes the task runtime in (``runtimes.create_runtime``).

moto keeps its backends in process-wide dictionaries, and the patches in ``patches.py`` are
process-wide too, so only one sandbox can run in a process at a time; ``ACTIVE`` points at it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .timing import clock_scale

if TYPE_CHECKING:
    from .registry import RegistryClient
    from .runtimes.base import TaskRuntime

DEFAULT_TASK_START_SECONDS = 1.0


@dataclass
class SandboxContext:
    """Everything the moto patches and the scheduler need to know about the running sandbox.

    ``task_runtime`` is the task runtime (``runtimes``): simulated, or real containers; the
    server chooses it (``Sandbox(runtime=...)``) and passes it in.

    ``lock`` serialises every change to moto's backends: the middleware holds it while moto
    serves an ECS/ECR/EC2 request and the scheduler holds it for each tick (moto's models are
    not thread-safe, and the server is threaded).
    """

    region: str
    task_runtime: TaskRuntime
    task_start_seconds: float = DEFAULT_TASK_START_SECONDS
    registry: RegistryClient | None = None
    minute_seconds: float = 60.0  # how long a bake-time minute lasts (--minute-seconds)
    # Real seconds from a stop (after any draining) to STOPPED (timing.py's profile); None: half the task's start.
    task_stop_seconds: float | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def clock_scale(self) -> float:
        """Real seconds per AWS second: ``minute_seconds / 60`` (timing.clock_scale), for every time-based part of
        the sandbox (task timings of the ECS-like profile, target-group health checks and deregistration delays)."""
        return clock_scale(self.minute_seconds)

    def now(self) -> float:
        """Monotonic seconds used for task timers (never wall-clock, which can jump)."""
        return time.monotonic()

    def holds_lock(self) -> bool:
        """True when the calling thread holds ``lock``."""
        return bool(getattr(self.lock, "_is_owned")())  # noqa: B009 - RLock's own ownership test

    @contextmanager
    def outside_lock(self) -> Iterator[None]:
        """Release ``lock`` (however deeply this thread holds it) for a slow call, such as an
        HTTP request to the registry, so that other requests and the scheduler are not held up.

        Uses RLock's ``_release_save``/``_acquire_restore``, what ``threading.Condition.wait``
        uses to do the same. Callers must re-read moto's models afterwards.
        """
        lock: Any = self.lock
        if not lock._is_owned():
            yield
            return
        state = lock._release_save()
        try:
            yield
        finally:
            lock._acquire_restore(state)


ACTIVE: SandboxContext | None = None


def active() -> SandboxContext | None:
    """The running sandbox's context, or None when no sandbox runs in this process."""
    return ACTIVE
