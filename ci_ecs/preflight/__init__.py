"""The pre-flight: everything a deploy will send is checked before its first write, and every problem reported.

Issue 22. One place for the rules `plan`, `deploy`, `register` and `run-task` apply to the requests they are
about to send (RegisterTaskDefinition, CreateService/UpdateService, CreateCluster): botocore's model at run
time (model.py), AWS's documented limits the model lacks (limits.py), ECS's own rules for a task definition
with its service (rules.py) and the references ECS resolves, found with read calls (references.py). Problems
are collected, not raised at the first: a PreflightError (exit 2) carries them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ecs.errors import ConfigError

if TYPE_CHECKING:
    from ci_ecs.config import Config, ServiceConfig, ServiceEntry, TaskConfig


class PreflightError(ConfigError):
    """Every problem the pre-flight found (each a ConfigError with key/source/message); exit 2, nothing written.

    Its message is the one problem's, or "N problems: first; second; ..." (the CLI prints one line each).
    """

    def __init__(self, problems: Iterable[ConfigError]) -> None:
        self.problems: list[ConfigError] = _unique(problems)
        if not self.problems:
            raise ValueError("a PreflightError needs at least one problem")
        first = self.problems[0]
        message = first.message if len(self.problems) == 1 else (
            f"{len(self.problems)} problems: " + "; ".join(p.message for p in self.problems))
        # ConfigError's own constructor would prefix the key again: the problems' messages already carry theirs.
        super(ConfigError, self).__init__(message, key=first.key, line=first.line, source=first.fields.get("source"))
        self.key = first.key
        self.line = first.line

    def as_json(self) -> list[dict[str, object]]:
        """The problems as `--output json` lists them (`problems`)."""
        return [{"key": p.key, "source": p.fields.get("source"), "line": p.line, "message": p.message}
                for p in self.problems]


def _unique(problems: Iterable[ConfigError]) -> list[ConfigError]:
    seen: set[str] = set()
    out = []
    for problem in problems:
        nested = problem.problems if isinstance(problem, PreflightError) else [problem]
        for item in nested:
            if item.message not in seen:
                seen.add(item.message)
                out.append(item)
    return out


def raise_problems(problems: Iterable[ConfigError]) -> None:
    """Raise a PreflightError carrying `problems`, when there are any."""
    found = _unique(problems)
    if found:
        raise PreflightError(found)


# The functions below import the submodules when called: those import `raise_problems` from this module.

# What the requests are built with before the real values exist: a task definition ARN (the service request is
# checked before anything is registered) and a subnet (the default VPC's are looked up when creating only).
PLACEHOLDER_TASK_DEFINITION = "arn:aws:ecs:us-east-1:000000000000:task-definition/placeholder:1"
PLACEHOLDER_SUBNET = "subnet-00000000000000000"


def with_prefix(problem: ConfigError, prefix: str) -> ConfigError:
    """`problem` with its key under `prefix` ("services[N].") when it names a `task.`/`service.` key."""
    key = problem.key
    if not prefix or not key or not key.startswith(("task", "service.")):
        return problem
    source = problem.fields.get("source")
    where = f"{source}: " if source and not problem.line else (f"{source}:{problem.line}: " if source else "")
    message = problem.message.removeprefix(where).removeprefix(f"{key}: ")
    return ConfigError(message, key=prefix + key, line=problem.line, source=source)


def target_prefix(config: Config, target: ServiceEntry) -> str:
    """What precedes `task.`/`service.` in the target's config keys: "" or "services[N].\""""
    index = next((i for i, entry in enumerate(config.services) if entry is target), None)
    return "" if index is None else f"services[{index}]."


def definition_problems(definition: dict[str, Any], task: TaskConfig, *, prefix: str = "",
                        service: ServiceConfig | None = None) -> list[ConfigError]:
    """Every problem with a RegisterTaskDefinition input as rendered: ECS's rules (with the service's, unless
    None), botocore's model and the documented limits."""
    from ci_ecs.preflight import limits, rules
    from ci_ecs.preflight.keys import Keys

    problems = rules.target_problems(definition, service, task, prefix=prefix)
    problems.extend(limits.definition_problems(definition, Keys(task, prefix)))
    return problems


def service_request_problems(operation: str, request: dict[str, Any], task: TaskConfig, *, prefix: str = "",
                             definition: dict[str, Any] | None = None, tasks_quota: int | None = None,
                             known_state: bool = True) -> list[ConfigError]:
    """Every problem with a CreateService or UpdateService input (`operation`) as it would be sent."""
    from ci_ecs.preflight import limits
    from ci_ecs.preflight.keys import Keys
    from ci_ecs.preflight.model import check_params

    keys = Keys(task, prefix)
    problems = check_params(operation, request, keys.service_path)
    problems.extend(limits.service_problems(request, keys, definition=definition, known_state=known_state,
                                            tasks_quota=tasks_quota or limits.DEFAULT_TASKS_PER_SERVICE))
    return problems


def cluster_problems(params: dict[str, Any]) -> list[ConfigError]:
    """Every problem botocore's model finds in a CreateCluster input."""
    from ci_ecs.preflight.model import check_params

    return check_params("CreateCluster", params, lambda path: ("cluster", None))


def config_problems(config: Config, base_dir: Path, *, with_service: bool = True,
                    image: str | None = None) -> list[ConfigError]:
    """The pre-flight before any AWS call: each target's task definition rendered (with `image`, a
    placeholder when the real one is not known yet) and checked, and with `with_service` the CreateService
    input a new service would get (placeholder task definition and subnets) and CreateCluster's.

    A `task.definition` in ECS is checked once it has been read. The requests the deploy really sends
    (UpdateService for an existing service) are checked again after the describes (`Deployer`).
    """
    from ci_ecs.cluster import created_providers
    from ci_ecs.ecs import create_cluster_params
    from ci_ecs.preflight.rules import inferred_launch_type
    from ci_ecs.service import create_params, desired_service
    from ci_ecs.taskdef import render

    problems: list[ConfigError] = []
    if with_service:  # CreateCluster as the cluster step would send it (ci_ecs.cluster.ensure_cluster)
        problems.extend(cluster_problems(create_cluster_params(
            config.cluster or "default", capacity_providers=created_providers(config.cluster_capacity_providers))))
    for target in config.targets():
        if target.task.definition:
            continue
        prefix = target_prefix(config, target)
        try:
            definition = render(target.task, image, base_dir=base_dir, region=config.region)
        except ConfigError as exc:
            problems.append(with_prefix(exc, prefix))
            continue
        problems.extend(definition_problems(definition, target.task, prefix=prefix,
                                            service=target.service if with_service else None))
        if not with_service:
            continue
        spec = desired_service(target.service, task_definition=PLACEHOLDER_TASK_DEFINITION)
        mode = definition.get("networkMode")
        request = create_params(spec, cluster=config.cluster or "default", name=str(target.service.name),
                                network_mode=str(mode) if mode else None,
                                default_subnets=lambda: [PLACEHOLDER_SUBNET],
                                launch_type=inferred_launch_type(definition, target.service))
        problems.extend(service_request_problems("CreateService", request, target.task, prefix=prefix,
                                                 definition=definition, known_state=False,
                                                 tasks_quota=config.deploy.tasks_per_service_quota))
    return problems
