"""The pre-flight's rules applied to each request a run sends, as it will send it: RegisterTaskDefinition (ECS's
rules, botocore's model, the documented limits), CreateService/UpdateService and CreateCluster; `config_problems`
checks what a config would send before any AWS call."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ecs.cluster import created_providers
from ci_ecs.ecs import create_cluster_params
from ci_ecs.errors import ConfigError
from ci_ecs.preflight import limits, rules
from ci_ecs.preflight.keys import Keys
from ci_ecs.preflight.model import check_params
from ci_ecs.preflight.problems import target_prefix, with_prefix
from ci_ecs.service import create_params, desired_service
from ci_ecs.taskdef import render

if TYPE_CHECKING:
    from ci_ecs.config import Config, ServiceConfig, TaskConfig

# What the requests are built with before the real values exist: a task definition ARN (the service request is
# checked before anything is registered) and a subnet (the default VPC's are looked up when creating only).
PLACEHOLDER_TASK_DEFINITION = "arn:aws:ecs:us-east-1:000000000000:task-definition/placeholder:1"
PLACEHOLDER_SUBNET = "subnet-00000000000000000"


def definition_problems(definition: dict[str, Any], task: TaskConfig, *, prefix: str = "",
                        service: ServiceConfig | None = None) -> list[ConfigError]:
    """Every problem with a RegisterTaskDefinition input as rendered: ECS's rules (with the service's, unless
    None), botocore's model and the documented limits."""
    problems = rules.target_problems(definition, service, task, prefix=prefix)
    problems.extend(limits.definition_problems(definition, Keys(task, prefix)))
    return problems


def service_request_problems(operation: str, request: dict[str, Any], task: TaskConfig, *, prefix: str = "",
                             definition: dict[str, Any] | None = None, tasks_quota: int | None = None,
                             known_state: bool = True) -> list[ConfigError]:
    """Every problem with a CreateService or UpdateService input (`operation`) as it would be sent."""
    keys = Keys(task, prefix)
    problems = check_params(operation, request, keys.service_path)
    problems.extend(limits.service_problems(request, keys, definition=definition, known_state=known_state,
                                            tasks_quota=tasks_quota or limits.DEFAULT_TASKS_PER_SERVICE))
    return problems


def cluster_problems(params: dict[str, Any]) -> list[ConfigError]:
    """Every problem botocore's model finds in a CreateCluster input."""
    return check_params("CreateCluster", params, lambda path: ("cluster", None))


def config_problems(config: Config, base_dir: Path, *, with_service: bool = True,
                    image: str | None = None) -> list[ConfigError]:
    """The pre-flight before any AWS call: each target's task definition rendered (with `image`, a
    placeholder when the real one is not known yet) and checked, and with `with_service` the CreateService
    input a new service would get (placeholder task definition and subnets) and CreateCluster's.

    A `task.definition` in ECS is checked once it has been read. The requests the deploy really sends
    (UpdateService for an existing service) are checked again after the describes (`Deployer`).
    """
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
                                launch_type=rules.inferred_launch_type(definition, target.service))
        problems.extend(service_request_problems("CreateService", request, target.task, prefix=prefix,
                                                 definition=definition, known_state=False,
                                                 tasks_quota=config.deploy.tasks_per_service_quota))
    return problems
