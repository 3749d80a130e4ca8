"""ECS's rules for a rendered task definition together with its service config, checked before any AWS call.

Pure functions: each broken rule is a ConfigError (exit 2) naming the config key a user edits, so a
config ECS would refuse (RegisterTaskDefinition's ClientException, CreateService's
InvalidParameterException) or accept and then never place fails at `plan`, with nothing written.
The rules are ECS's documented ones; each cites where AWS says so.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ci_ecs.config import FARGATE_MEMORY, ServiceConfig, TaskConfig, cpu_units, memory_mib
from ci_ecs.errors import ConfigError
from ci_ecs.imageref import is_private_ecr
from ci_ecs.taskdef import register_shape

# RegisterTaskDefinition `family` and ContainerDefinition `name`: "Up to 255 letters (uppercase and
# lowercase), numbers, underscores, and hyphens are allowed." (ECS API reference)
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")

# taskRoleArn / executionRoleArn: an IAM role ARN, or (as ECS also accepts) a role name. An unrendered
# template ("arn:aws:iam::account_ID:role/x", "${EXECUTION_ROLE}") is neither.
_ROLE = re.compile(r"^(?:arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+|[\w+=,.@-]{1,64})$")

# The capacity providers that run tasks on Fargate (CapacityProviderStrategyItem, ECS API reference).
FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")


class _Keys:
    """Config keys for the parts of a rendered definition: the concise config's, or `task.file`."""

    def __init__(self, task: TaskConfig, prefix: str) -> None:
        self.task = task
        self.prefix = prefix
        self.source = task.file or None
        # A native definition: a file, or a revision read from ECS (`task.definition`, no file to name).
        self.native = "task.file" if task.file else ("task.definition" if task.definition else None)

    def service(self, name: str) -> str:
        return f"{self.prefix}service.{name}"

    def task_field(self, config_name: str) -> tuple[str, str | None]:
        """The key (and file) for a task-level field: the config's when it sets it, else the file."""
        if not self.native or getattr(self.task, config_name, None):
            return f"{self.prefix}task.{config_name}", None
        return f"{self.prefix}{self.native}", self.source

    def container(self, index: int, config_path: str) -> tuple[str, str | None]:
        if self.native:
            return f"{self.prefix}{self.native}", self.source
        return f"{self.prefix}task.containers[{index}].{config_path}", None


def _fail(message: str, key: str, source: str | None = None) -> ConfigError:
    return ConfigError(message, key=key, source=source)


def _show(value: Any) -> str:
    return json.dumps(value, default=str)[:60]


def _compatibilities(definition: dict[str, Any]) -> set[str]:
    value = definition.get("requiresCompatibilities") or []
    return {str(v) for v in value} if isinstance(value, list) else set()


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


def check_definition(definition: dict[str, Any], task: TaskConfig, *, prefix: str = "") -> None:
    """ECS's rules for a task definition alone (a native file's fields are held to the config's rules).

    `definition` is what `taskdef.render(task, ...)` returned. Raises ConfigError naming the key:
    family and container names (ECS's pattern), every enum-typed field against botocore's model
    (networkMode, requiresCompatibilities, protocol, logDriver, ...), task cpu/memory, and port
    mappings (awsvpc/host: hostPort unset or equal to containerPort). An unrendered template
    ("{{networkmode}}", "<TASK_NAME>", "${CPU}") fails here.
    """
    keys = _Keys(task, prefix)
    family = definition.get("family")
    if not isinstance(family, str) or not _NAME.match(family):
        key, source = keys.task_field("family")
        raise _fail(f"family {_show(family)} is not a valid family name (up to 255 letters, digits, _ and -)",
                    key, source)
    for name, parse in (("cpu", cpu_units), ("memory", memory_mib)):
        if name in definition:
            try:
                parse(str(definition[name]))
            except ValueError as exc:
                key, source = keys.task_field(name)
                raise _fail(str(exc), key, source) from None
    for field, config_name in (("executionRoleArn", "execution_role_arn"), ("taskRoleArn", "task_role_arn")):
        role = definition.get(field)
        if role is not None and not (isinstance(role, str) and _ROLE.match(role)):
            key, source = keys.task_field(config_name)
            raise _fail(f"{field} {_show(role)} is not an IAM role ARN (arn:aws:iam::<12 digits>:role/NAME) "
                        "or role name", key, source)
    _check_enums(definition, register_shape(), "", keys)
    network_mode = _network_mode(definition)
    if "FARGATE" in _compatibilities(definition):
        _check_fargate(definition, network_mode, keys)
    for index, container in enumerate(definition.get("containerDefinitions") or []):
        if not isinstance(container, dict):
            continue
        container_name = container.get("name")
        if not isinstance(container_name, str) or not _NAME.match(container_name):
            key, source = keys.container(index, "name")
            raise _fail(f"container name {_show(container_name)} is not valid (up to 255 letters, digits, _ and -)",
                        key, source)
        _check_ports(container, index, network_mode, keys)


def _check_fargate(definition: dict[str, Any], network_mode: str, keys: _Keys) -> None:
    # The config's own Fargate rules (config.TaskConfig), for a native file too. RegisterTaskDefinition
    # refuses these ("Fargate only supports network mode 'awsvpc'.", "Fargate requires that 'cpu' be
    # defined at the task level.", "No Fargate configuration exists for given values ...").
    if network_mode != "awsvpc":
        key, source = keys.task_field("network_mode")
        raise _fail(f"FARGATE requires network mode awsvpc (got {network_mode})", key, source)
    for name in ("cpu", "memory"):
        if name not in definition:
            key, source = keys.task_field(name)
            raise _fail(f"FARGATE requires task-level {name}", key, source)
    cpu, memory = cpu_units(str(definition["cpu"])), memory_mib(str(definition["memory"]))
    allowed = FARGATE_MEMORY.get(cpu)
    if allowed is None:
        key, source = keys.task_field("cpu")
        raise _fail(f"FARGATE does not accept cpu {cpu} (one of {', '.join(str(c) for c in FARGATE_MEMORY)})",
                    key, source)
    if memory not in allowed:
        key, source = keys.task_field("memory")
        raise _fail(f"FARGATE cpu {cpu} does not accept memory {memory} (from {allowed[0]} to {allowed[-1]} "
                    f"in steps of {allowed[1] - allowed[0]})", key, source)


def _check_enums(value: Any, shape: Any, path: str, keys: _Keys) -> None:
    """Every enum-typed string in `value` is one of the values botocore's model lists for it."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                _check_enums(value[name], member, f"{path}.{name}" if path else name, keys)
    elif kind == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            label = item.get("name") if isinstance(item, dict) and isinstance(item.get("name"), str) else index
            _check_enums(item, shape.member, f"{path}[{label}]", keys)
    elif kind == "string" and getattr(shape, "enum", None) and isinstance(value, str) and value not in shape.enum:
        top = path.split(".")[0].split("[")[0]
        config_names = {"networkMode": "network_mode", "requiresCompatibilities": "requires_compatibilities"}
        if top in config_names:
            key, source = keys.task_field(config_names[top])
        elif keys.native:
            key, source = f"{keys.prefix}{keys.native}", keys.source
        else:
            key, source = f"{keys.prefix}task", None
        raise _fail(f"{path} {_show(value)} is not one of {', '.join(shape.enum)}", key, source)


def _check_ports(container: dict[str, Any], index: int, network_mode: str, keys: _Keys) -> None:
    # PortMapping (ECS API reference): "If you use containers in a task with the awsvpc or host network
    # mode, specify the exposed ports using containerPort. The hostPort can be left blank or it must be
    # the same value as the containerPort." RegisterTaskDefinition: "When networkMode=awsvpc, the host
    # ports and container ports in port mappings must match."
    if network_mode not in ("awsvpc", "host"):
        return
    for number, mapping in enumerate(container.get("portMappings") or []):
        if not isinstance(mapping, dict):
            continue
        host, port = mapping.get("hostPort"), mapping.get("containerPort")
        if host is not None and port is not None and host != port:
            key, source = keys.container(index, f"port_mappings[{number}].host_port")
            where = "" if not keys.native else f"containerDefinitions[{container.get('name')}]" \
                                                  f".portMappings[{number}]: "
            raise _fail(f"{where}hostPort {host} must equal containerPort {port} (or be left out) "
                        f"in {network_mode} network mode", key, source)


def _uses_awslogs(container: dict[str, Any]) -> bool:
    log_config = container.get("logConfiguration")
    return isinstance(log_config, dict) and log_config.get("logDriver") == "awslogs"


def check_execution_role(definition: dict[str, Any], task: TaskConfig, *, prefix: str = "") -> None:
    """ECS's task-execution-role rules: ConfigError naming `task.execution_role_arn` when one is needed.

    ECS developer guide, "Amazon ECS task execution IAM role": the role is required when "your task is
    hosted on AWS Fargate ... and pulls a container image from an Amazon ECR private repository ...
    sends container logs to CloudWatch Logs using the awslogs log driver", and when (Fargate or EC2)
    "the task definition references sensitive data using Secrets Manager secrets or AWS Systems
    Manager Parameter Store parameters". RegisterTaskDefinition refuses these with a ClientException:
    "Fargate requires task definition to have execution role ARN to support log driver awslogs." /
    "... to support ECR images." / "When you are specifying container secrets, you must also specify
    a value for 'executionRoleArn'." (the last for any launch type).
    """
    if definition.get("executionRoleArn"):
        return
    key = f"{prefix}task.execution_role_arn"
    fargate = "FARGATE" in _compatibilities(definition)
    for container in definition.get("containerDefinitions") or []:
        if not isinstance(container, dict):
            continue
        name = container.get("name")
        if container.get("secrets"):
            raise _fail(f"container {name} uses secrets: ECS requires a task execution role to read them "
                        "(set task.execution_role_arn)", key)
        if fargate and _uses_awslogs(container):
            raise _fail(f"container {name} uses the awslogs log driver: Fargate requires a task execution "
                        "role to send logs (set task.execution_role_arn)", key)
        if fargate and isinstance(container.get("image"), str) and is_private_ecr(container["image"]):
            raise _fail(f"container {name} pulls a private ECR image: Fargate requires a task execution "
                        "role to pull it (set task.execution_role_arn)", key)


def check_service(definition: dict[str, Any], service: ServiceConfig, task: TaskConfig, *,
                  prefix: str = "") -> None:
    """ECS's rules for a service config with the task definition it runs; ConfigError naming the key."""
    keys = _Keys(task, prefix)
    compatibilities = _compatibilities(definition)
    launch_type = inferred_launch_type(definition, service)
    # CreateService/UpdateService: "Task definition does not support launch_type FARGATE."
    # (InvalidParameterException) when requiresCompatibilities leaves FARGATE out; a FARGATE-only
    # definition was validated for Fargate alone (requiresCompatibilities, ECS API reference).
    if service.launch_type and compatibilities:
        mismatch = (service.launch_type not in compatibilities if service.launch_type != "EC2"
                    else compatibilities == {"FARGATE"})
        if mismatch:
            raise _fail(f"launch type {service.launch_type} does not match the task definition's "
                        f"requiresCompatibilities ({', '.join(sorted(compatibilities))})",
                        keys.service("launch_type"))
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
                raise _fail(f"ECS does not support task placement on Fargate ({why})", keys.service(name))
    # CreateService networkConfiguration: "This parameter is required for task definitions that use
    # the awsvpc network mode ... and is not supported for other network modes."
    network_mode = _network_mode(definition)
    if network_mode != "awsvpc" and service.assign_public_ip is not None:
        raise _fail(f"assign_public_ip needs the awsvpc network mode (the task definition uses {network_mode})",
                    keys.service("assign_public_ip"))


def check_target(definition: dict[str, Any], service: ServiceConfig, task: TaskConfig, *,
                 prefix: str = "") -> None:
    """Every rule ECS applies to a target: `check_definition`, `check_execution_role`, `check_service`.

    Signature: check_target(definition, service, task, *, prefix="") -> None, where `definition` is
    `taskdef.render(task, image, ...)` (render with the image the deploy will use, or the placeholder
    ECR image when it is not known yet), `service`/`task` the entry's ServiceConfig/TaskConfig, and
    `prefix` what precedes `task.`/`service.` in a key ("services[2]." for a services list entry).
    Pure: raises ConfigError (exit 2) naming the config key, calls nothing.

    >>> check_target({"family": "web", "networkMode": "bridge", "containerDefinitions": []},
    ...              ServiceConfig(assign_public_ip=True), TaskConfig(family="web", containers=[{"name": "w"}]))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ci_ecs.errors.ConfigError: service.assign_public_ip: assign_public_ip needs the awsvpc network mode ...
    """
    check_definition(definition, task, prefix=prefix)
    check_execution_role(definition, task, prefix=prefix)
    check_service(definition, service, task, prefix=prefix)
