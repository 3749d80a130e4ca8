"""The last lines a task's containers wrote to CloudWatch Logs (the awslogs log driver).

The awslogs driver names each container's stream `PREFIX/CONTAINER/TASK_ID` when the container sets
`awslogs-stream-prefix` (ECS Developer Guide, "Using the awslogs log driver"; Fargate requires the
prefix). Without a prefix the stream is named after the Docker container id, which ECS does not report,
so such a container's lines cannot be found and are skipped.
"""

from __future__ import annotations

import logging
from typing import Any

from ci_ecs.aws import aws_errors, error_code
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


def tail(logs_client: Any, task_definition: dict[str, Any], task: dict[str, Any], lines: int = 20
         ) -> dict[str, list[str]]:
    """The last `lines` log lines of each of the task's containers that log with awslogs, by container name.

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
                except Exception as exc:
                    if error_code(exc) == "ResourceNotFoundException":
                        continue
                    raise
        except CiEcsError as exc:
            log.warning("logs of container %s not read: %s", container.get("name"), exc.message)
            continue
        out[str(container["name"])] = [str(e.get("message", "")).rstrip("\n") for e in response.get("events", [])]
    return out
