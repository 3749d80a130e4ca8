"""The pre-flight of a deploy that needs its config only, or the services as described: everything checked
before the first write (ci_ecs.preflight.checks applies the rules to each request; this module to what the
deploy will send).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ci_ecs.aws import ClientFactory
from ci_ecs.config import Config, ServiceEntry
from ci_ecs.ecs import EcsGateway
from ci_ecs.errors import ConfigError
from ci_ecs.preflight.checks import (
    PLACEHOLDER_TASK_DEFINITION,
    config_problems,
    definition_problems,
    service_request_problems,
)
from ci_ecs.preflight.problems import raise_problems, target_prefix, with_prefix
from ci_ecs.preflight.references import PlannedService, check_references
from ci_ecs.preflight.rules import inferred_launch_type
from ci_ecs.service import create_params, desired_service, update_plan, with_revision
from ci_ecs.task_files import base_definition
from ci_ecs.taskdef import render
from ci_ecs.verify import check_port

# Stands in for an ECR image not known yet, so a config can be rendered and checked before any AWS call.
_PLACEHOLDER_IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/placeholder:validate"
# A public repository's stand-in (ECR Public: pulled without credentials, so no execution role is implied).
_PUBLIC_PLACEHOLDER_IMAGE = "public.ecr.aws/placeholder/placeholder:validate"


def placeholder_image(config: Config) -> str:
    """The stand-in for the image of `config` before it is known (ECR, or ECR Public with repository.public)."""
    return _PUBLIC_PLACEHOLDER_IMAGE if config.repository and config.repository.public else _PLACEHOLDER_IMAGE


def check_rendered(config: Config, target: ServiceEntry, definition: dict[str, Any], *, with_service: bool) -> None:
    """The pre-flight of one rendered task definition (with its service's rules unless `ci-ecs register`)."""
    raise_problems(definition_problems(definition, target.task, prefix=target_prefix(config, target),
                                       service=target.service if with_service else None))


def check_config(config: Config, base_dir: Path, *, with_service: bool = True) -> None:
    """Everything that can be checked without AWS (ci_ecs.preflight.checks.config_problems, and `verify`'s port).

    A `task.definition` in ECS is checked once it has been read (it needs AWS). Raises a PreflightError
    (exit 2) carrying every problem, before any AWS call.
    """
    placeholder = config.image_uri or (placeholder_image(config) if config.repository else None)
    problems = config_problems(config, base_dir, with_service=with_service, image=placeholder)
    if with_service and not problems:
        for target in config.targets():
            if target.task.definition:
                continue
            definition = render(target.task, placeholder, base_dir=base_dir, region=config.region)
            try:
                check_port(config, target, definition, placeholder)
            except ConfigError as exc:
                problems.append(exc)
    raise_problems(problems)


def refuse_other_controllers(ecs: EcsGateway, cluster: str, targets: list[ServiceEntry], *,
                             described: dict[str, dict[str, Any]] | None = None) -> None:
    """ConfigError (exit 2) for a service whose deployments ECS does not run itself: checked before anything
    is pushed or registered.

    DeploymentController (ECS API reference): with CODE_DEPLOY, "the service's deployments are managed by
    AWS CodeDeploy" (UpdateService may then change only desiredCount, deploymentConfiguration, health check
    grace period ...; a new task definition goes through a CodeDeploy deployment); with EXTERNAL, through
    task sets (CreateTaskSet). ci-ecs follows ECS's own deployments only. `described`: the services as just
    described (by name), so they are not described again.
    """
    for target in targets:
        name = str(target.service.name)
        current = described.get(name) if described is not None else ecs.describe_service(cluster, name)
        if current is None or current.get("status") == "INACTIVE":
            continue
        controller = str((current.get("deploymentController") or {}).get("type") or "ECS")
        if controller == "CODE_DEPLOY":
            raise ConfigError(f"service {name} in cluster {cluster} uses the CODE_DEPLOY deployment controller: "
                              "ci-ecs does not drive CodeDeploy deployments (yet); nothing was pushed or registered")
        if controller == "EXTERNAL":
            raise ConfigError(f"service {name} in cluster {cluster} uses the EXTERNAL deployment controller "
                              "(task sets): ci-ecs deploys ECS-controlled services only; nothing was pushed or "
                              "registered")


def planned_definition(config: Config, base_dir: Path, target: ServiceEntry, image: str | None,
                       base: dict[str, Any] | None) -> dict[str, Any]:
    """The target's RegisterTaskDefinition input as the deploy will render it, with `image`.

    `base`: its `task.definition` as read from ECS (None for a config-made task definition).
    """
    task = target.task
    if base is not None and task.pinned_revision():
        return base_definition(base)
    if base is not None:  # as Deployer._read_definitions renders it
        placeholder = config.image_uri or placeholder_image(config)
        return render(task, placeholder, base_dir=base_dir, region=config.region, base=base,
                      images={name: placeholder for name in task.images})
    return render(task, image, base_dir=base_dir, region=config.region)


def check_requests(config: Config, base_dir: Path, factory: ClientFactory, cluster: str,
                   targets: list[ServiceEntry], *, services: dict[str, dict[str, Any] | None] | None,
                   definitions: dict[int, dict[str, Any]], default_subnets: Callable[[], list[str]],
                   cluster_providers: list[str] | None) -> None:
    """The pre-flight of what this deploy will send, after the describes and before its first write.

    Each task definition as rendered (a placeholder image: the real one is not known yet) and the
    CreateService or UpdateService input exactly as `ensure_service` would send it (a placeholder task
    definition ARN). Raises a PreflightError (exit 2) carrying every problem; nothing is written.
    """
    placeholder = config.image_uri or (placeholder_image(config) if config.repository else None)
    problems: list[ConfigError] = []
    planned: list[PlannedService] = []
    for target in targets:
        prefix = target_prefix(config, target)
        name = str(target.service.name)
        try:
            definition = planned_definition(config, base_dir, target, placeholder,
                                            definitions.get(id(target.task)) if target.task.definition else None)
        except ConfigError as exc:
            problems.append(with_prefix(exc, prefix))
            continue
        if not target.task.pinned_revision():
            problems.extend(definition_problems(definition, target.task, prefix=prefix, service=target.service))
        current = (services or {}).get(name)
        if current is not None and current.get("status") == "DRAINING":
            continue  # ensure_service refuses it (ServiceStateError) before sending anything
        spec = desired_service(target.service, task_definition=PLACEHOLDER_TASK_DEFINITION)
        mode = str(definition["networkMode"]) if definition.get("networkMode") else None
        creating = current is None or current.get("status") == "INACTIVE"
        try:
            if creating or current is None:
                operation = "CreateService"
                request = create_params(spec, cluster=cluster, name=name, network_mode=mode,
                                        default_subnets=default_subnets,
                                        launch_type=inferred_launch_type(definition, target.service))
            else:
                operation = "UpdateService"
                current = with_revision(EcsGateway(factory.client("ecs")), spec, current) or current
                _, request = update_plan(spec, current, network_mode=mode, service_name=name)
                request.update({"cluster": cluster, "service": name})
                if config.deploy.force_new_deployment:
                    request["forceNewDeployment"] = True
        except ConfigError as exc:  # e.g. no subnets to create the service in
            problems.append(with_prefix(exc, prefix))
            continue
        problems.extend(service_request_problems(operation, request, target.task, prefix=prefix,
                                                 definition=definition,
                                                 tasks_quota=config.deploy.tasks_per_service_quota))
        planned.append(PlannedService(key_prefix=prefix, definition=definition, request=request,
                                      creating=creating, current=None if creating else current))
    # The references ECS resolves (subnets, security groups, target groups, capacity providers), with reads.
    problems.extend(check_references(factory, cluster=cluster, cluster_providers=cluster_providers,
                                     services=planned))
    raise_problems(problems)
