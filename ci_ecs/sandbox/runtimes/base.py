"""The task-runtime interface: what every task runtime implements.

Every method but ``open``/``close``/``sync`` runs with the sandbox's lock held and must not block
(no engine calls): slow work happens in ``sync`` (lock released) or in the runtime's threads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..context import SandboxContext


class RuntimeUnavailableError(RuntimeError):
    """The chosen task runtime cannot work here (e.g. no Docker engine); the message is one line."""


class TaskRuntime:
    """Base class of the task runtimes; the defaults do nothing."""

    name = ""

    def open(self) -> None:
        """Called once when the sandbox starts, before it serves requests."""

    def close(self) -> None:
        """Called once when the sandbox stops: stop and remove everything this runtime started."""

    def sync(self, ctx: SandboxContext) -> None:
        """Called on every scheduler tick with the lock released: slow work (registry lookups)."""

    def task_address(self, task: Any, task_definition: Any) -> str | None:
        """The address where the task's ports will answer (the ENI's public IP when
        assignPublicIp is ENABLED), or None when nothing answers (the simulated runtime)."""
        return None

    def address_of(self, task_arn: str) -> str | None:
        """The address ``task_address`` gave the task (where its ports answer), or None."""
        return None

    def prepare(self, task: Any, task_definition: Any, ctx: SandboxContext) -> None:
        """A task moto just created, with its containers built: get ready to start it."""
        raise NotImplementedError

    def advance(self, task: Any, ctx: SandboxContext) -> str | None:
        """Move a task along its lifecycle.

        Returns "failed" when it just failed (it never started, an essential container exited,
        it failed its health checks), "running" when it just became ready (RUNNING, and HEALTHY
        when its essential containers have health checks), else None.
        """
        raise NotImplementedError

    def request_stop(self, task: Any, reason: str, stop_code: str, ctx: SandboxContext) -> None:
        """Ask a task to stop: desiredStatus STOPPED now, lastStatus STOPPED once its containers are."""
        raise NotImplementedError

    def logs(self, task_arn: str, container_name: str) -> list[str]:
        """The lines a container of a task wrote so far (oldest first); [] when it wrote none."""
        return []
