"""The last lines a task's containers wrote to CloudWatch Logs (the awslogs log driver).

The awslogs driver names each container's stream `PREFIX/CONTAINER/TASK_ID` when the container sets
`awslogs-stream-prefix` (ECS Developer Guide, "Using the awslogs log driver"; Fargate requires the
prefix). Without a prefix the stream is named after the Docker container id, which ECS does not report,
so such a container's lines cannot be found and are skipped.
"""

from __future__ import annotations

import logging
from typing import Any

from ci_ecs.aws_failures import aws_errors, error_code
from ci_ecs.errors import CiEcsError

log = logging.getLogger(__name__)


def stream_of(container: dict[str, Any], task_arn: str) -> tuple[str, str, str | None] | None:
    """(group, stream, region) of a container definition's awslogs stream for `task_arn`, or None.

    >>> stream_of({"name": "web", "logConfiguration": {"logDriver": "awslogs", "options": {
    ...     "awslogs-group": "/ecs/hello", "awslogs-stream-prefix": "ecs"}}}, "arn:aws:ecs:r:1:task/c/abc")
    ('/ecs/hello', 'ecs/web/abc', None)
    """
    config = container.get("logConfiguration") or {}
    options = config.get("options") or {}
    if config.get("logDriver") != "awslogs" or not options.get("awslogs-group"):
        return None
    prefix = options.get("awslogs-stream-prefix")
    if not prefix:
        return None
    task_id = task_arn.rsplit("/", 1)[-1]
    return str(options["awslogs-group"]), f"{prefix}/{container['name']}/{task_id}", options.get("awslogs-region")


# Between a stream's first and last lines when lines were left out.
GAP = "…"


def _key(event: dict[str, Any]) -> tuple[Any, Any, Any]:
    # GetLogEvents' events carry no id: the same event read twice has the same timestamps and message.
    return event.get("timestamp"), event.get("ingestionTime"), event.get("message")


def _with_head(client: Any, group: str, stream: str, events: list[dict[str, Any]], lines: int, first: int
               ) -> list[dict[str, Any] | None]:
    """`events` (the newest `lines`), preceded by the stream's first `first` events when the stream is longer
    (None stands for the lines left out between them)."""
    if first <= 0 or len(events) < lines:  # the newest `lines` are the whole stream
        return list(events)
    # One event more than shown: when it is the newest lines' first, nothing lies between them.
    head = client.get_log_events(logGroupName=group, logStreamName=stream, limit=first + 1,
                                 startFromHead=True).get("events", [])
    keys = [_key(e) for e in head]
    if events and _key(events[0]) in keys:  # the two reads meet or overlap: the stream is shown whole
        return [*head[:keys.index(_key(events[0]))], *events]
    return [*head[:first], None, *events]


def tail(logs_client: Any, task_definition: dict[str, Any], task: dict[str, Any], lines: int = 20,
         first: int = 0) -> dict[str, list[str]]:
    """The last `lines` log lines of each of the task's containers that log with awslogs, by container name.

    With `first`, a longer stream's first `first` lines come before them, then a GAP line: a start-up error
    stays in view however much the container logged after it (a failed verify's own requests, say).

    `logs_client` is a CloudWatch Logs client, or a callable `region -> client` for containers that log
    to another region (`awslogs-region`). A stream that does not exist (the container never started) gives
    no lines; other errors are logged as warnings, never raised: the logs explain an outcome, they are
    not the outcome.
    """
    out: dict[str, list[str]] = {}
    for container in task_definition.get("containerDefinitions", []):
        where = stream_of(container, str(task.get("taskArn", "")))
        if where is None:
            continue
        group, stream, region = where
        client = logs_client(region) if callable(logs_client) and not hasattr(logs_client, "get_log_events") \
            else logs_client
        try:
            with aws_errors(f"get log events of {group} {stream}"):
                try:
                    # startFromHead=False with a limit gives the newest `limit` events (GetLogEvents).
                    response = client.get_log_events(logGroupName=group, logStreamName=stream, limit=lines,
                                                     startFromHead=False)
                    events = _with_head(client, group, stream, list(response.get("events", [])), lines, first)
                except Exception as exc:
                    if error_code(exc) == "ResourceNotFoundException":
                        continue
                    raise
        except CiEcsError as exc:
            log.warning("logs of container %s not read: %s", container.get("name"), exc.message)
            continue
        out[str(container["name"])] = [GAP if e is None else str(e.get("message", "")).rstrip("\n") for e in events]
    return out
