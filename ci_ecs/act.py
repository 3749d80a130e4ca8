"""The one dry-run gate: describe -> pure diff -> act, with the "act" decided in one place.

Each write step (`ensure_cluster`, `ensure_repository`, `ensure_task_definition`, `ensure_service`, the image's
publish, ...) is a generator: it describes and diffs, and right before its first write (or before a read that
needs a write done first, such as the image of a repository it would create) it yields what it would do, as
`Planned`: the result a dry run reports and the "would ..." line to log. `act` runs a step: on a dry run
(`ci-ecs plan`, `deploy --dry-run`, `push --dry-run`) it stops at the first `Planned`, so nothing is written;
otherwise it runs the step to its end. A step that finds nothing to change returns without yielding.

>>> import logging
>>> def step():
...     yield Planned("would", logging.getLogger("demo"), "demo: would create")
...     return "created"
>>> act(step(), dry_run=True), act(step())
('would', 'created')
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Planned(Generic[T]):
    """What a step would do: the `result` a dry run reports, and the line it logs (`logger.info(message, *args)`;
    none without a logger)."""

    result: T
    logger: logging.Logger | None = None
    message: str = ""
    args: tuple[Any, ...] = ()


# A step: yields Planned where a dry run stops, returns its result.
Step = Generator[Planned[T], None, T]


def would(result: T, logger: logging.Logger, message: str, *args: Any) -> Planned[T]:
    """A `Planned` with its "would ..." line, formatted as logging formats it."""
    return Planned(result, logger, message, args)


def act(step: Step[T], *, dry_run: bool = False) -> T:
    """Run `step`: to its first `Planned` on a dry run (its result, its line logged, nothing written), else to its
    end (its writes sent)."""
    try:
        planned = next(step)
        if dry_run:
            if planned.logger is not None:
                planned.logger.info(planned.message, *planned.args)
            step.close()  # its `finally` blocks run (an engine connection closed)
            return planned.result
        while True:
            step.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
