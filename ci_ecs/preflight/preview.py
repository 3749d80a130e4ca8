"""The pre-flight of `ci-ecs preview up`: the preview's id, names and host (no AWS call), then what it reads of the
shared listener (it exists and is HTTP(S), a free priority in the range, no target group of the preview's name that
is not the preview's) and of the cluster (no service of the preview's name that is not the preview's). Every problem
is reported at once (a PreflightError, exit 2) before anything is written; the deploy's own pre-flight follows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ci_ecs.config import Config
from ci_ecs.config.values import TASK_DEFINITION_REF
from ci_ecs.elb import ElbGateway
from ci_ecs.errors import ConfigError
from ci_ecs.preflight.problems import raise_problems
from ci_ecs.preview import listener as routing_steps
from ci_ecs.preview.naming import check_id, check_name_length, render_host
from ci_ecs.task_files import read_task_file

T = TypeVar("T")


class _Problems:
    """Collects each check's ConfigError instead of stopping at the first."""

    def __init__(self) -> None:
        self.found: list[ConfigError] = []

    def check(self, step: Callable[[], T]) -> T | None:
        try:
            return step()
        except ConfigError as exc:
            self.found.append(exc)
            return None

    def raise_found(self) -> None:
        raise_problems(self.found)


@dataclass(frozen=True)
class PreviewNames:
    """What a preview is called: its service, its task family (None: a pinned revision, deployed as is), its host
    (None without a shared listener)."""

    service: str
    family: str | None
    host: str | None


def family_of(config: Config, base_dir: Path) -> str | None:
    """The task family the config registers (None for one revision deployed as is: `task.definition` F:REV)."""
    task = config.task
    if task is None or task.pinned_revision():
        return None
    if task.family:
        return task.family
    if task.definition:  # a family in ECS (not pinned: no ":REVISION"), or its ARN
        match = TASK_DEFINITION_REF.match(task.definition)
        return match.group("family") if match else None
    if task.file:
        family = read_task_file(base_dir / task.file).get("family")
        if family:
            return str(family)
    raise ConfigError("the task definition has no family (set task.family)", key="task.family")


def preview_names(config: Config, preview_id: str, base_dir: Path) -> PreviewNames:
    """The preview's names, checked without AWS: the id, the names' lengths, the host as ELB takes it (every
    problem at once)."""
    problems = _Problems()
    if config.services:
        problems.found.append(ConfigError("a preview deploys one service: give task + service, not a services "
                                          "list", key="services"))
        problems.raise_found()
    problems.check(lambda: check_id(preview_id))
    problems.raise_found()  # the names below are made from the id
    service = problems.check(lambda: check_name_length(str(config.service.name), preview_id, "service"))
    family = problems.check(lambda: family_of(config, base_dir))
    preview_family = problems.check(lambda: check_name_length(family, preview_id, "task family")) if family else None
    template = config.preview.host if config.preview else None
    host = problems.check(lambda: render_host(template, preview_id)) if template else None
    problems.raise_found()
    assert service is not None
    return PreviewNames(service, preview_family, host)


def check_listener(elb: ElbGateway, config: Config, group_name: str, preview_id: str,
                   foreign_service: ConfigError | None = None
                   ) -> tuple[routing_steps.Listener, routing_steps.Routing]:
    """The shared listener read and checked: it exists (DescribeListeners) and is HTTP(S), the preview's target
    group (by name) is the preview's when it exists, and the priority range has room for a new rule.
    `foreign_service`: the cluster's refusal of a service of the preview's name, reported with these."""
    preview = config.preview
    assert preview is not None and preview.listener_arn
    problems = _Problems()
    if foreign_service is not None:
        problems.found.append(foreign_service)
    listener = problems.check(lambda: routing_steps.read_listener(elb, str(preview.listener_arn)))
    problems.raise_found()  # without the listener nothing else can be read
    assert listener is not None
    routing = problems.check(lambda: routing_steps.read_routing(elb, listener, group_name, preview_id)) \
        or routing_steps.Routing()
    problems.check(lambda: routing_steps.check_room(elb, listener, preview, routing))
    problems.raise_found()
    return listener, routing
