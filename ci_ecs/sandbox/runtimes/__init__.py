"""The task-runtime seam: what runs a task's containers.

The scheduler decides *which* tasks exist (deployments, rolling updates, the circuit breaker);
a task runtime decides *how* a task lives: it starts the task's containers, reports their
state, health and exit codes, stops them, and keeps their logs. Two implementations:

- ``simulated`` (default): tasks are state only, timed by ``task_start_seconds``; public IPs
  come from 203.0.113.0/24 and are never connected to.
- ``docker``: tasks are real containers on a local Docker engine; each task's ports answer on
  a loopback address of its own, which is also its ENI's public IP.

The interface is ``base.TaskRuntime``. ``create_runtime`` imports the docker runtime only when it
is chosen: it loads the Docker SDK, which the simulated runtime does not need.
"""

from __future__ import annotations

import os

from .base import RuntimeUnavailableError, TaskRuntime
from .simulated import SimulatedRuntime

__all__ = ["RUNTIME_ENV", "RUNTIME_NAMES", "RuntimeUnavailableError", "TaskRuntime", "create_runtime", "runtime_name"]

RUNTIME_ENV = "CI_ECS_SANDBOX_RUNTIME"
RUNTIME_NAMES = ("simulated", "docker")


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
        from .docker import DockerRuntime  # noqa: PLC0415 - the Docker SDK is loaded only for this runtime

        return DockerRuntime(base_url=docker_host)
    return SimulatedRuntime()
