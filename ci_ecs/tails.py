"""Why our tasks stopped, from their own output: the first and last lines of each essential container's awslogs
stream.

Shown under the stopped reasons of a failed deployment (and for the tasks a failed `verify` probed).
The lines are read by `ci_ecs.logs.tail` (CloudWatch Logs GetLogEvents: startFromHead=false with a limit for the
last lines, startFromHead=true for the first ones of a longer stream);
reading them never fails a deploy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ci_ecs.errors import CiEcsError
from ci_ecs.logs import GAP, stream_of, tail

log = logging.getLogger(__name__)

MAX_TASKS = 3  # as many tasks as the stopped reasons show (wait.STOPPED_TASKS_SHOWN)
# A longer stream's first lines are shown too: a start-up error stays in view (a failed verify's own requests,
# or a crash loop's later output, would push it out of the last lines).
FIRST_LINES = 5


@dataclass
class LogTail:
    """The last lines of one container of one task, and where they were read."""

    task_id: str
    container: str
    group: str
    stream: str
    lines: list[str] = field(default_factory=list)

    def heading(self) -> str:
        """"web: last 3 line(s) of /ecs/hello web/web/abc" ("first 5 and last 20 line(s)" with a GAP)."""
        if not self.lines:
            return f"{self.container}: no log lines in {self.group} {self.stream}"
        if GAP in self.lines:
            gap = self.lines.index(GAP)
            return (f"{self.container}: first {gap} and last {len(self.lines) - gap - 1} line(s) of {self.group} "
                    f"{self.stream}")
        return f"{self.container}: last {len(self.lines)} line(s) of {self.group} {self.stream}"


def essential_tails(tasks: list[dict[str, Any]], definition_of: Callable[[str], dict[str, Any]],
                    logs_client: Any, lines: int) -> list[LogTail]:
    """The log tails of the essential containers of `tasks` (at most MAX_TASKS), in the tasks' order.

    `definition_of(arn)` describes a task definition (cached by the caller); `logs_client` is a CloudWatch
    Logs client or a callable `region -> client` (containers may log to another region).
    """
    if lines <= 0:
        return []
    tails: list[LogTail] = []
    for task in tasks[:MAX_TASKS]:
        arn = str(task.get("taskArn", ""))
        try:
            definition = definition_of(str(task.get("taskDefinitionArn") or ""))
        except CiEcsError as exc:
            log.warning("log lines of task %s not read: %s", arn.rsplit("/", 1)[-1], exc.message)
            continue
        essential = [c for c in definition.get("containerDefinitions", []) if c.get("essential", True) is not False]
        found = tail(logs_client, {"containerDefinitions": essential}, task, lines, first=min(FIRST_LINES, lines))
        for container in essential:
            where = stream_of(container, arn)
            if where is None or str(container.get("name")) not in found:
                continue
            tails.append(LogTail(arn.rsplit("/", 1)[-1], str(container["name"]), where[0], where[1],
                                 found[str(container["name"])]))
    return tails


def failure_tails(tasks: list[dict[str, Any]], known: dict[str, dict[str, Any]],
                  describe: Callable[[str], dict[str, Any]], logs_client: Any, lines: int) -> list[LogTail]:
    """`essential_tails` for a deploy's failure: the task definitions it registered (`known`, by ARN) need no call,
    others are described once (`describe`); an error reading them is a warning, never the deploy's failure."""
    if not tasks or lines <= 0:
        return []
    definitions: dict[str, dict[str, Any]] = dict(known)

    def definition_of(arn: str) -> dict[str, Any]:
        if arn not in definitions:
            definitions[arn] = describe(arn)
        return definitions[arn]

    try:
        return essential_tails(tasks, definition_of, logs_client, lines)
    except CiEcsError as exc:  # e.g. no credentials for another region: the reasons are printed anyway
        log.warning("log lines not read: %s", exc.message)
        return []
