"""The ``awslogs`` log driver for the docker runtime: container output into the sandbox's
CloudWatch Logs (moto's backend), so GetLogEvents (``aws logs get-log-events``) reads it.

As ECS names them (ECS developer guide, "Using the awslogs log driver"): the group is
``awslogs-group``; the stream is ``PREFIX/CONTAINER-NAME/TASK-ID`` with ``awslogs-stream-prefix``
(required on Fargate), else the container's id. With ``awslogs-create-group: "true"`` a missing
group is created; without it, ECS cannot create the stream and the task stops with
``ResourceInitializationError: failed to validate logger args: ... The specified log group does
not exist.``
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from moto.logs import logs_backends

if TYPE_CHECKING:
    from .context import SandboxContext

log = logging.getLogger(__name__)

MISSING_GROUP = (
    "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: "
    "failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist. "
    ": exit status 1"
)


@dataclass(frozen=True)
class LogTarget:
    """Where one container's output goes."""

    account_id: str
    region: str
    group: str
    prefix: str
    create_group: bool

    def stream(self, container_name: str, task_id: str, container_id: str) -> str:
        """ECS's stream name: PREFIX/CONTAINER/TASK_ID, or the container id without a prefix."""
        return f"{self.prefix}/{container_name}/{task_id}" if self.prefix else container_id


def target_for(definition: dict[str, Any], account_id: str, region: str) -> LogTarget | None:
    """The awslogs target of a container definition, or None for another (or no) log driver."""
    config = definition.get("logConfiguration") or {}
    if config.get("logDriver") != "awslogs":
        return None
    options = config.get("options") or {}
    return LogTarget(
        account_id=account_id,
        region=str(options.get("awslogs-region") or region),
        group=str(options.get("awslogs-group") or ""),
        prefix=str(options.get("awslogs-stream-prefix") or ""),
        create_group=str(options.get("awslogs-create-group", "")).lower() == "true",
    )


def check_group(target: LogTarget, ctx: SandboxContext) -> str | None:
    """Create the group when asked to; ECS's stopped reason when it is missing, else None."""
    with ctx.lock:
        backend = logs_backends[target.account_id][target.region]
        if target.group in backend.groups:
            return None
        if not target.create_group:
            return MISSING_GROUP
        backend.create_log_group(target.group, {})
        return None


def create_stream(target: LogTarget, stream: str, ctx: SandboxContext) -> None:
    """Create the stream (ECS creates it as the container starts); a group deleted since is ignored."""
    with ctx.lock:
        backend = logs_backends[target.account_id][target.region]
        group = backend.groups.get(target.group)
        if group is not None and stream not in group.streams:
            backend.create_log_stream(target.group, stream)


def put_lines(target: LogTarget, stream: str, events: list[dict[str, Any]], ctx: SandboxContext) -> None:
    """Append events ({timestamp ms, message}) to the stream, in order."""
    if not events:
        return
    with ctx.lock:
        backend = logs_backends[target.account_id][target.region]
        group = backend.groups.get(target.group)
        if group is None:
            return  # deleted while the container ran: the awslogs driver drops the lines too
        if stream not in group.streams:
            backend.create_log_stream(target.group, stream)
        backend.put_log_events(target.group, stream, events)


def parse_line(line: bytes) -> tuple[int, str]:
    """(milliseconds, message) of a ``docker logs --timestamps`` line.

    >>> parse_line(b"2024-05-01T10:00:00.123456789Z hello")
    (1714557600123, 'hello')
    """
    text = line.decode("utf-8", errors="replace").rstrip("\r")
    stamp, _, message = text.partition(" ")
    try:
        whole, _, fraction = stamp.rstrip("Z").partition(".")
        moment = datetime.fromisoformat(whole + "+00:00")
        millis = int(moment.timestamp()) * 1000 + int((fraction + "000")[:3])
    except ValueError:
        return int(time.time() * 1000), text
    return millis, message


class LogFollower:
    """Follows one container's output (``docker logs --follow``) into a list and, with an
    awslogs target, into CloudWatch Logs. Ends when the container stops."""

    def __init__(
        self,
        chunks: Iterable[bytes],
        target: LogTarget | None,
        stream: str,
        ctx: SandboxContext,
        max_lines: int = 10_000,
    ) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=max_lines)
        self._chunks = chunks
        self._target = target
        self._stream = stream
        self._ctx = ctx
        self._thread = threading.Thread(target=self._run, name=f"ci-ecs-sandbox-logs-{stream}", daemon=True)

    def start(self) -> None:
        """Start following in the background."""
        self._thread.start()

    def join(self, timeout: float) -> None:
        """Wait for the container's last lines (the stream ends when the container stops)."""
        self._thread.join(timeout)

    def _run(self) -> None:
        pending = b""
        batch: list[dict[str, Any]] = []
        try:
            for chunk in self._chunks:
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for line in complete:
                    millis, message = parse_line(line)
                    self.lines.append(message)
                    batch.append({"timestamp": millis, "message": message})
                # Each chunk is one write of the container: readable at once, as with awslogs.
                self._flush(batch)
                batch = []
            if pending:
                millis, message = parse_line(pending)
                self.lines.append(message)
                batch.append({"timestamp": millis, "message": message})
        except Exception:  # noqa: BLE001 - the engine closed the stream (container removed)
            log.debug("log stream %s ended", self._stream, exc_info=True)
        self._flush(batch)

    def _flush(self, batch: list[dict[str, Any]]) -> None:
        if self._target is None or not batch:
            return
        try:
            put_lines(self._target, self._stream, sorted(batch, key=lambda e: e["timestamp"]), self._ctx)
        except Exception:  # noqa: BLE001 - lost log lines must not stop the task
            log.warning("sandbox: could not write logs to %s/%s", self._target.group, self._stream, exc_info=True)
