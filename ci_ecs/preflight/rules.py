"""ECS's rules for a rendered task definition together with its service config, checked before any AWS call.

Pure functions: each broken rule is a ConfigError (exit 2) naming the config key a user edits, so a
config ECS would refuse (RegisterTaskDefinition's ClientException, CreateService's
InvalidParameterException) or accept and then never place fails at `plan`, with nothing written.
The rules are ECS's documented ones; each cites where AWS says so. The `*_problems` functions return
every problem; the `check_*` ones raise them together (a PreflightError, a ConfigError).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ci_ecs.config import ServiceConfig, TaskConfig, cpu_units, fargate_size_problem, memory_mib
from ci_ecs.errors import ConfigError
from ci_ecs.imageref import is_private_ecr
from ci_ecs.preflight.keys import Keys
from ci_ecs.preflight.model import check_params, input_shape
from ci_ecs.preflight.problems import raise_problems

# RegisterTaskDefinition `family` and ContainerDefinition `name`: "Up to 255 letters (uppercase and
# lowercase), numbers, underscores, and hyphens are allowed." (ECS API reference)
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")

# taskRoleArn / executionRoleArn: an IAM role ARN, or (as ECS also accepts) a role name. An unrendered
# template ("arn:aws:iam::account_ID:role/x", "${EXECUTION_ROLE}") is neither.
_ROLE = re.compile(r"^(?:arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+|[\w+=,.@-]{1,64})$")

# The capacity providers that run tasks on Fargate (CapacityProviderStrategyItem, ECS API reference).
FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")


def _fail(message: str, key: str, source: str | None = None) -> ConfigError:
    return ConfigError(message, key=key, source=source)


def _show(value: Any) -> str:
    return json.dumps(value, default=str)[:60]


def _compatibilities(definition: dict[str, Any]) -> set[str]:
    value = definition.get("requiresCompatibilities") or []
    return {str(v) for v in value} if isinstance(value, list) else set()


def _valid_enums(definition: dict[str, Any]) -> tuple[bool, bool]:
    """Whether networkMode and requiresCompatibilities hold values botocore's model knows (when they do not,
    the model's problem is the one to report; rules built on them would only repeat it)."""
    members = input_shape("RegisterTaskDefinition").members
    mode = definition.get("networkMode")
    mode_ok = mode is None or mode in members["networkMode"].enum
    compatibilities = definition.get("requiresCompatibilities") or []
    known = members["requiresCompatibilities"].member.enum
    compatibilities_ok = isinstance(compatibilities, list) and all(c in known for c in compatibilities)
    return mode_ok, compatibilities_ok


def _network_mode(definition: dict[str, Any]) -> str:
    # RegisterTaskDefinition: "If no network mode is specified, the default is bridge." (Linux)
    return str(definition.get("networkMode") or "bridge")


def inferred_launch_type(definition: dict[str, Any], service: ServiceConfig) -> str | None:
    """The launch type to create the service with: `service.launch_type`, else FARGATE for a FARGATE-only
    task definition; None when a capacity provider strategy is set or nothing can be inferred.

    Without a launch type CreateService uses the cluster's default capacity provider strategy (or EC2),
    where a FARGATE-only task definition cannot run. Use it when creating a service only: an existing
    service keeps what it has.

    >>> inferred_launch_type({"requiresCompatibilities": ["FARGATE"]}, ServiceConfig())
    'FARGATE'
    >>> inferred_launch_type({"requiresCompatibilities": ["EC2", "FARGATE"]}, ServiceConfig()) is None
    True
    """
    if service.launch_type:
        return service.launch_type
    if service.capacity_provider_strategy:
        return None
    if _compatibilities(definition) == {"FARGATE"}:
        return "FARGATE"
    return None


def definition_problems(definition: dict[str, Any], task: TaskConfig, *, prefix: str = "") -> list[ConfigError]:
    """ECS's rules for a task definition alone (a native file's fields are held to the config's rules).

    `definition` is what `taskdef.render(task, ...)` returned. Every problem, each naming the key: family
    and container names (ECS's pattern), the whole input against botocore's model (types, enums such as
    networkMode, requiresCompatibilities, protocol, logDriver; ranges; unknown members), task cpu/memory,
    Fargate's network mode and cpu/memory pairs, and port mappings (awsvpc/host: hostPort unset or equal to
    containerPort). An unrendered template ("{{networkmode}}", "<TASK_NAME>", "${CPU}") fails here.
    """
    keys = Keys(task, prefix)
    problems: list[ConfigError] = []
    family = definition.get("family")
    if not isinstance(family, str) or not _NAME.match(family):
        key, source = keys.task_field("family")
        problems.append(_fail(f"family {_show(family)} is not a valid family name (up to 255 letters, digits, "
                              "_ and -)", key, source))
    units_ok = True
    for name, parse in (("cpu", cpu_units), ("memory", memory_mib)):
        if name in definition:
            try:
                parse(str(definition[name]))
            except ValueError as exc:
                units_ok = False
                key, source = keys.task_field(name)
                problems.append(_fail(str(exc), key, source))
    for field, config_name in (("executionRoleArn", "execution_role_arn"), ("taskRoleArn", "task_role_arn")):
        role = definition.get(field)
        if role is not None and not (isinstance(role, str) and _ROLE.match(role)):
            key, source = keys.task_field(config_name)
            problems.append(_fail(f"{field} {_show(role)} is not an IAM role ARN (arn:aws:iam::<12 digits>:role/NAME) "
                                  "or role name", key, source))
    # botocore's model: types, enums, ranges, unknown members, for the whole request (model.py).
    modelled = check_params("RegisterTaskDefinition", definition, keys.definition_path)
    problems.extend(modelled)
    network_mode = _network_mode(definition)
    mode_ok, _ = _valid_enums(definition)
    if "FARGATE" in _compatibilities(definition) and mode_ok:
        problems.extend(_fargate_problems(definition, network_mode, keys, units_ok=units_ok))
    for index, container in enumerate(definition.get("containerDefinitions") or []):
        if not isinstance(container, dict):
            continue
        container_name = container.get("name")
        if not isinstance(container_name, str) or not _NAME.match(container_name):
            key, source = keys.container(index, "name")
            problems.append(_fail(f"container name {_show(container_name)} is not valid (up to 255 letters, digits, "
                                  "_ and -)", key, source))
        if mode_ok:
            problems.extend(_port_problems(container, index, network_mode, keys))
    return problems


def check_definition(definition: dict[str, Any], task: TaskConfig, *, prefix: str = "") -> None:
    """`definition_problems`, raised together (a PreflightError, exit 2) when there are any."""
    raise_problems(definition_problems(definition, task, prefix=prefix))


def _fargate_problems(definition: dict[str, Any], network_mode: str, keys: Keys, *, units_ok: bool
                      ) -> list[ConfigError]:
    # The config's own Fargate rules (config.TaskConfig; the cpu/memory table: config.values), for a native
    # file too. RegisterTaskDefinition refuses these ("Fargate only supports network mode 'awsvpc'.",
    # "Fargate requires that 'cpu' be defined at the task level.", "No Fargate configuration exists for
    # given values ...").
    problems = []
    if network_mode != "awsvpc":
        key, source = keys.task_field("network_mode")
        problems.append(_fail(f"FARGATE requires network mode awsvpc (got {network_mode})", key, source))
    missing = False
    for name in ("cpu", "memory"):
        if name not in definition:
            missing = True
            key, source = keys.task_field(name)
            problems.append(_fail(f"FARGATE requires task-level {name}", key, source))
    if missing or not units_ok:
        return problems
    problem = fargate_size_problem(cpu_units(str(definition["cpu"])), memory_mib(str(definition["memory"])))
    if problem:
        key, source = keys.task_field(problem[0])
        problems.append(_fail(problem[1], key, source))
    return problems


def _port_problems(container: dict[str, Any], index: int, network_mode: str, keys: Keys) -> list[ConfigError]:
    # PortMapping (ECS API reference): "If you use containers in a task with the awsvpc or host network
    # mode, specify the exposed ports using containerPort. The hostPort can be left blank or it must be
    # the same value as the containerPort." RegisterTaskDefinition: "When networkMode=awsvpc, the host
    # ports and container ports in port mappings must match."
    if network_mode not in ("awsvpc", "host"):
        return []
    problems = []
    mappings = container.get("portMappings")
    for number, mapping in enumerate(mappings if isinstance(mappings, list) else []):
        if not isinstance(mapping, dict):
            continue
        host, port = mapping.get("hostPort"), mapping.get("containerPort")
        if host is not None and port is not None and host != port:
            key, source = keys.container(index, f"port_mappings[{number}].host_port")
            where = "" if not keys.native else f"containerDefinitions[{container.get('name')}]" \
                                                  f".portMappings[{number}]: "
            problems.append(_fail(f"{where}hostPort {host} must equal containerPort {port} (or be left out) "
                                  f"in {network_mode} network mode", key, source))
    return problems


def _uses_awslogs(container: dict[str, Any]) -> bool:
    log_config = container.get("logConfiguration")
    return isinstance(log_config, dict) and log_config.get("logDriver") == "awslogs"


def execution_role_problems(definition: dict[str, Any], task: TaskConfig, *, prefix: str = "") -> list[ConfigError]:
    """ECS's task-execution-role rules: a problem naming `task.execution_role_arn` when one is needed.

    ECS developer guide, "Amazon ECS task execution IAM role": the role is required when "your task is
    hosted on AWS Fargate ... and pulls a container image from an Amazon ECR private repository ...
    sends container logs to CloudWatch Logs using the awslogs log driver", and when (Fargate or EC2)
    "the task definition references sensitive data using Secrets Manager secrets or AWS Systems
    Manager Parameter Store parameters". RegisterTaskDefinition refuses these with a ClientException:
    "Fargate requires task definition to have execution role ARN to support log driver awslogs." /
    "... to support ECR images." / "When you are specifying container secrets, you must also specify
    a value for 'executionRoleArn'." (the last for any launch type). One problem, for the first need.
    """
    if definition.get("executionRoleArn"):
        return []
    key = f"{prefix}task.execution_role_arn"
    fargate = "FARGATE" in _compatibilities(definition)
    for container in definition.get("containerDefinitions") or []:
        if not isinstance(container, dict):
            continue
        name = container.get("name")
        if container.get("secrets"):
            return [_fail(f"container {name} uses secrets: ECS requires a task execution role to read them "
                          "(set task.execution_role_arn)", key)]
        if fargate and _uses_awslogs(container):
            return [_fail(f"container {name} uses the awslogs log driver: Fargate requires a task execution "
                          "role to send logs (set task.execution_role_arn)", key)]
        if fargate and isinstance(container.get("image"), str) and is_private_ecr(container["image"]):
            return [_fail(f"container {name} pulls a private ECR image: Fargate requires a task execution "
                          "role to pull it (set task.execution_role_arn)", key)]
    return []


def check_execution_role(definition: dict[str, Any], task: TaskConfig, *, prefix: str = "") -> None:
    """`execution_role_problems`, raised (a PreflightError, exit 2) when there is one."""
    raise_problems(execution_role_problems(definition, task, prefix=prefix))


def service_problems(definition: dict[str, Any], service: ServiceConfig, task: TaskConfig, *,
                     prefix: str = "") -> list[ConfigError]:
    """ECS's rules for a service config with the task definition it runs; every problem, naming its key."""
    keys = Keys(task, prefix)
    problems = []
    mode_ok, compatibilities_ok = _valid_enums(definition)
    compatibilities = _compatibilities(definition) if compatibilities_ok else set()
    launch_type = inferred_launch_type(definition, service)
    # CreateService/UpdateService: "Task definition does not support launch_type FARGATE."
    # (InvalidParameterException) when requiresCompatibilities leaves FARGATE out; a FARGATE-only
    # definition was validated for Fargate alone (requiresCompatibilities, ECS API reference).
    if service.launch_type and compatibilities:
        mismatch = (service.launch_type not in compatibilities if service.launch_type != "EC2"
                    else compatibilities == {"FARGATE"})
        if mismatch:
            problems.append(_fail(f"launch type {service.launch_type} does not match the task definition's "
                                  f"requiresCompatibilities ({', '.join(sorted(compatibilities))})",
                                  keys.service("launch_type")))
    # PlacementStrategy / PlacementConstraint (ECS API reference): "If you're using the Fargate launch
    # type, task placement strategies [constraints] aren't supported"; the same holds for the FARGATE
    # and FARGATE_SPOT capacity providers (CreateService: "Placement strategies are not supported with
    # FARGATE capacity providers", as reported in issue 10).
    providers = {c.capacity_provider for c in service.capacity_provider_strategy}
    on_fargate = launch_type == "FARGATE" or bool(providers & set(FARGATE_PROVIDERS))
    if on_fargate:
        for name in ("placement_strategy", "placement_constraints"):
            if getattr(service, name):
                why = (f"capacity provider {', '.join(sorted(providers & set(FARGATE_PROVIDERS)))}"
                       if providers else "launch type FARGATE")
                problems.append(_fail(f"ECS does not support task placement on Fargate ({why})", keys.service(name)))
    # CreateService networkConfiguration: "This parameter is required for task definitions that use
    # the awsvpc network mode ... and is not supported for other network modes."
    network_mode = _network_mode(definition)
    if mode_ok and network_mode != "awsvpc" and service.assign_public_ip is not None:
        problems.append(_fail(f"assign_public_ip needs the awsvpc network mode (the task definition uses "
                              f"{network_mode})", keys.service("assign_public_ip")))
    return problems


def check_service(definition: dict[str, Any], service: ServiceConfig, task: TaskConfig, *,
                  prefix: str = "") -> None:
    """`service_problems`, raised together (a PreflightError, exit 2) when there are any."""
    raise_problems(service_problems(definition, service, task, prefix=prefix))


def target_problems(definition: dict[str, Any], service: ServiceConfig | None, task: TaskConfig, *,
                    prefix: str = "") -> list[ConfigError]:
    """Every rule here for one target: its task definition, execution role and (unless None) service."""
    problems = definition_problems(definition, task, prefix=prefix)
    problems.extend(execution_role_problems(definition, task, prefix=prefix))
    if service is not None:
        problems.extend(service_problems(definition, service, task, prefix=prefix))
    return problems


def check_target(definition: dict[str, Any], service: ServiceConfig, task: TaskConfig, *,
                 prefix: str = "") -> None:
    """Every rule ECS applies to a target: `check_definition`, `check_execution_role`, `check_service`.

    Signature: check_target(definition, service, task, *, prefix="") -> None, where `definition` is
    `taskdef.render(task, image, ...)` (render with the image the deploy will use, or the placeholder
    ECR image when it is not known yet), `service`/`task` the entry's ServiceConfig/TaskConfig, and
    `prefix` what precedes `task.`/`service.` in a key ("services[2]." for a services list entry).
    Pure: raises a PreflightError (a ConfigError, exit 2) carrying every problem, calls nothing.

    >>> check_target({"family": "web", "networkMode": "bridge", "containerDefinitions": []},
    ...              ServiceConfig(assign_public_ip=True), TaskConfig(family="web", containers=[{"name": "w"}]))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ci_ecs.preflight.problems.PreflightError: service.assign_public_ip: assign_public_ip needs the awsvpc ...
    """
    raise_problems(target_problems(definition, service, task, prefix=prefix))
