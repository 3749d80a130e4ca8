"""The task-runtime seam: what runs a task's containers.

The scheduler decides *which* tasks exist (deployments, rolling updates, the circuit breaker);
a task runtime decides *how* a task lives: it starts the task's containers, reports their
state, health and exit codes, stops them, and keeps their logs. Two implementations:

- ``simulated`` (default): tasks are state only, timed by ``task_start_seconds``; public IPs
  come from 203.0.113.0/24 and are never connected to.
- ``docker``: tasks are real containers on a local Docker engine; each task's ports answer on
  a loopback address of its own, which is also its ENI's public IP.

Every method but ``open``/``close``/``sync`` runs with the runtime lock held and must not block
(no engine calls): slow work happens in ``sync`` (lock released) or in the runtime's threads.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..runtime import Runtime

RUNTIME_ENV = "CI_ECS_SANDBOX_RUNTIME"
RUNTIME_NAMES = ("simulated", "docker")


class RuntimeUnavailableError(RuntimeError):
    """The chosen task runtime cannot work here (e.g. no Docker engine); the message is one line."""


class TaskRuntime:
    """Base class of the task runtimes; the defaults do nothing."""

    name = ""

    def open(self) -> None:
        """Called once when the sandbox starts, before it serves requests."""

    def close(self) -> None:
        """Called once when the sandbox stops: stop and remove everything this runtime started."""

    def sync(self, rt: Runtime) -> None:
        """Called on every scheduler tick with the lock released: slow work (registry lookups)."""

    def task_address(self, task: Any, task_definition: Any) -> str | None:
        """The address where the task's ports will answer (the ENI's public IP when
        assignPublicIp is ENABLED), or None when nothing answers (the simulated runtime)."""
        return None

    def prepare(self, task: Any, task_definition: Any, rt: Runtime) -> None:
        """A task moto just created, with its containers built: get ready to start it."""
        raise NotImplementedError

    def advance(self, task: Any, rt: Runtime) -> str | None:
        """Move a task along its lifecycle.

        Returns "failed" when it just failed (it never started, an essential container exited,
        it failed its health checks), "running" when it just became ready (RUNNING, and HEALTHY
        when its essential containers have health checks), else None.
        """
        raise NotImplementedError

    def request_stop(self, task: Any, reason: str, stop_code: str, rt: Runtime) -> None:
        """Ask a task to stop: desiredStatus STOPPED now, lastStatus STOPPED once its containers are."""
        raise NotImplementedError

    def logs(self, task_arn: str, container_name: str) -> list[str]:
        """The lines a container of a task wrote so far (oldest first); [] when it wrote none."""
        return []


def runtime_name(name: str | None) -> str:
    """The runtime to use: ``name``, else CI_ECS_SANDBOX_RUNTIME, else "simulated".

    >>> runtime_name("docker")
    'docker'
    """
    chosen = (name or os.environ.get(RUNTIME_ENV) or "simulated").strip().lower()
    if chosen not in RUNTIME_NAMES:
        raise ValueError(f"unknown sandbox runtime {chosen!r}: choose one of {', '.join(RUNTIME_NAMES)}")
    return chosen


def create_runtime(name: str | None = None, docker_host: str | None = None) -> TaskRuntime:
    """A task runtime by name (see ``runtime_name``); ``docker_host`` overrides DOCKER_HOST."""
    chosen = runtime_name(name)
    if chosen == "docker":
        from .docker import DockerRuntime

        return DockerRuntime(base_url=docker_host)
    from .simulated import SimulatedRuntime

    return SimulatedRuntime()
