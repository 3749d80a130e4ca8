"""RegisterTaskDefinition rules ECS enforces and moto does not: the Fargate rules a config that
passes in the sandbox must not break on AWS.

Each message is ECS's own wording (ClientException, HTTP 400), as AWS returns it to SDK users:
  - "Fargate requires task definition to have execution role ARN to support ECR images." and
    "... to support log driver awslogs." (hashicorp/terraform-provider-aws#3051,
    virtual-kubelet/virtual-kubelet#193);
  - "When you are specifying container secrets, you must also specify a value for
    'executionRoleArn'." (fabfuel/ecs-deploy#87, hashicorp/terraform-provider-aws#6503);
  - "Fargate only supports network mode ‘awsvpc’." (aws/amazon-ecs-cli#1145; ECS's curly quotes);
  - "Fargate requires that 'cpu' be defined at the task level." (and 'memory';
    hashicorp/terraform-provider-aws#6879, aws/amazon-ecs-cli#982);
  - "No Fargate configuration exists for given values: 1024 CPU, 1024 memory. See the Amazon ECS
    documentation for the valid values." (aws-games/cloud-game-development-toolkit#737); the
    valid pairs are the table in the RegisterTaskDefinition API reference (``memory``);
  - "When networkMode=awsvpc, the host ports and container ports in port mappings must match."
    (aws/amazon-ecs-cli#1014, pulumi/pulumi-awsx#935).

``check_limits`` holds the limits and cross-references ECS refuses whatever the launch type, each
with its source next to it. Where no ECS wording is on record the message is the sandbox's own
(the error code, ClientException, is what ECS answers for an invalid task definition).
"""

from __future__ import annotations

import json
import re
from typing import Any

from .ecr import is_ecr_image, parse_image
from .registry import RegistryClient

# RegisterTaskDefinition API reference, ``memory``: the memory (MiB) each Fargate cpu value allows.
FARGATE_MEMORY: dict[int, range | tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: (1024, 2048, 3072, 4096),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: range(4096, 16384 + 1, 1024),
    4096: range(8192, 30720 + 1, 1024),
    8192: range(16384, 61440 + 1, 4096),
    16384: range(32768, 122880 + 1, 8192),
}
_VCPU = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*vcpu\s*$", re.IGNORECASE)
_GB = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*gb\s*$", re.IGNORECASE)


def cpu_units(value: Any) -> int | None:
    """ECS's conversion of a task ``cpu``: "256" → 256, "0.25 vCPU" → 256; None when invalid.

    >>> [cpu_units(v) for v in ("256", "1 vCPU", ".5 vcpu", "lots")]
    [256, 1024, 512, None]
    """
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    match = _VCPU.match(text)
    return round(float(match.group(1)) * 1024) if match else None


def memory_mib(value: Any) -> int | None:
    """ECS's conversion of a task ``memory``: "512" → 512, "0.5GB" / "1 GB" → MiB; None when invalid.

    >>> [memory_mib(v) for v in ("512", "0.5GB", "2 gb", "much")]
    [512, 512, 2048, None]
    """
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    match = _GB.match(text)
    return round(float(match.group(1)) * 1024) if match else None


def check(params: dict[str, Any], registry: RegistryClient | None) -> str | None:
    """ECS's ClientException message for a RegisterTaskDefinition request it refuses, else None.

    ``params`` are the request's members (camelCase, as sent).
    """
    containers = [c for c in params.get("containerDefinitions") or [] if isinstance(c, dict)]
    has_role = bool(params.get("executionRoleArn"))
    if not has_role and any(c.get("secrets") for c in containers):
        # ECS refuses container secrets without an execution role whatever the launch type.
        return "When you are specifying container secrets, you must also specify a value for 'executionRoleArn'."
    fargate = "FARGATE" in (params.get("requiresCompatibilities") or [])
    network_mode = params.get("networkMode")
    if fargate:
        if network_mode != "awsvpc":
            return "Fargate only supports network mode \u2018awsvpc\u2019."
        if not has_role:
            for container in containers:
                if is_ecr_image(parse_image(str(container.get("image") or "")), registry):
                    return "Fargate requires task definition to have execution role ARN to support ECR images."
            for container in containers:
                driver = (container.get("logConfiguration") or {}).get("logDriver")
                if driver == "awslogs":
                    return "Fargate requires task definition to have execution role ARN to support log driver awslogs."
        for key in ("cpu", "memory"):
            if params.get(key) in (None, ""):
                return f"Fargate requires that '{key}' be defined at the task level."
        cpu, memory = cpu_units(params["cpu"]), memory_mib(params["memory"])
        if cpu is None or memory is None or memory not in FARGATE_MEMORY.get(cpu, ()):
            return (
                f"No Fargate configuration exists for given values: {params['cpu']} CPU, {params['memory']} memory. "
                "See the Amazon ECS documentation for the valid values."
            )
    if network_mode == "awsvpc":
        for container in containers:
            for mapping in container.get("portMappings") or []:
                host = mapping.get("hostPort")
                if host not in (None, 0) and host != mapping.get("containerPort"):
                    return "When networkMode=awsvpc, the host ports and container ports in port mappings must match."
    return None


# Amazon ECS service quotas ("Containers per task definition: 10, not adjustable"); ECS answers
# "Too many containers." (aws/amazon-ecs-cli#184, #951).
MAX_CONTAINERS = 10
# Amazon ECS service quotas ("Task definition max size: 64 KiB"); ECS answers "Actual length:
# '66420'. Max allowed length is '65536' bytes." (awsdocs/amazon-ecs-developer-guide#149).
MAX_TASK_DEFINITION_BYTES = 65536
# ContainerDefinition.stopTimeout (ECS API reference): "For tasks using the Fargate launch type,
# the max stop timeout value is 120 seconds."
FARGATE_MAX_STOP_TIMEOUT = 120


def check_limits(params: dict[str, Any], request_bytes: int | None = None) -> str | None:
    """ECS's ClientException message for a RegisterTaskDefinition request over ECS's limits or
    with broken references between its containers, else None. ``params`` are the request's
    members (camelCase), ``request_bytes`` the size of the request body as sent."""
    size = request_bytes if request_bytes is not None else len(json.dumps(params, separators=(",", ":")))
    if size > MAX_TASK_DEFINITION_BYTES:
        return f"Actual length: '{size}'. Max allowed length is '{MAX_TASK_DEFINITION_BYTES}' bytes."
    containers = [c for c in params.get("containerDefinitions") or [] if isinstance(c, dict)]
    if len(containers) > MAX_CONTAINERS:
        return "Too many containers."
    if not containers:
        # "Container list cannot be empty." (awsdocs/aws-cloudformation-user-guide#454)
        return "Container list cannot be empty."
    names = [str(c.get("name") or "") for c in containers]
    for name in names:
        if names.count(name) > 1:
            # Containers are named by links, dependsOn and load balancers: ContainerDefinition.name
            # identifies one container of the task definition (ECS API reference).
            return f"Duplicate container name '{name}': container names must be unique within a task definition."
    if not any(c.get("essential", True) is not False for c in containers):
        # ContainerDefinition.essential (ECS API reference): "All tasks must have at least one
        # essential container."
        return "A task definition must have at least one essential container."
    for container in containers:
        for dependency in container.get("dependsOn") or []:
            target = (dependency or {}).get("containerName")
            if target not in names:
                # ContainerDependency.containerName (ECS API reference): "The name of a container."
                # of this task definition.
                return (f"Container '{container.get('name')}' depends on container '{target}', "
                        "which is not in the task definition.")
            if target == container.get("name"):
                return f"Container '{target}' cannot depend on itself."
    problem = _check_environment(containers) or _check_restart_policies(containers)
    if problem:
        return problem
    problem = _check_resources(params, containers)
    if problem:
        return problem
    if "FARGATE" in (params.get("requiresCompatibilities") or []):
        for container in containers:
            if container.get("privileged"):
                # ContainerDefinition.privileged (ECS API reference): "This parameter is not
                # supported for Windows containers or tasks run on Fargate."
                return (f"Privileged mode is not supported on Fargate (container '{container.get('name')}' "
                        "sets privileged).")
            stop = container.get("stopTimeout")
            if isinstance(stop, int) and stop > FARGATE_MAX_STOP_TIMEOUT:
                return (f"Invalid stopTimeout {stop} for container '{container.get('name')}': on Fargate the "
                        f"maximum stop timeout is {FARGATE_MAX_STOP_TIMEOUT} seconds.")
    return None


def _check_environment(containers: list[dict[str, Any]]) -> str | None:
    """Environment variable names no container can receive: empty, or holding '=' or NUL. A
    process environment is a list of NAME=value strings ended by NUL (POSIX, XBD chapter 8,
    "Environment Variables"), so such a name cannot reach the container; the Docker Engine API
    refuses the container ("invalid environment variable"), so ECS could never start the task."""
    for container in containers:
        for variable in container.get("environment") or []:
            name = str((variable or {}).get("name") or "")
            if not name or "=" in name or "\0" in name:
                return (f"Invalid environment variable name {name[:40]!r} in container '{container.get('name')}': "
                        "a name must be non-empty and contain neither '=' nor NUL.")
    return None


# ContainerRestartPolicy (ECS API reference): "You can specify a maximum of 50 container exit codes"; "a minimum
# restartAttemptPeriod of 60 seconds and a maximum restartAttemptPeriod of 1800 seconds".
MAX_IGNORED_EXIT_CODES = 50
RESTART_ATTEMPT_PERIOD = (60, 1800)


def _check_restart_policies(containers: list[dict[str, Any]]) -> str | None:
    """A container restartPolicy outside ECS's limits (ContainerRestartPolicy)."""
    for container in containers:
        policy = container.get("restartPolicy") or {}
        if len(policy.get("ignoredExitCodes") or []) > MAX_IGNORED_EXIT_CODES:
            return (f"Container '{container.get('name')}': restartPolicy.ignoredExitCodes can list at most "
                    f"{MAX_IGNORED_EXIT_CODES} exit codes.")
        period = policy.get("restartAttemptPeriod")
        low, high = RESTART_ATTEMPT_PERIOD
        if period is not None and not low <= int(period) <= high:
            return (f"Container '{container.get('name')}': restartPolicy.restartAttemptPeriod must be between "
                    f"{low} and {high} seconds.")
    return None


def _check_resources(params: dict[str, Any], containers: list[dict[str, Any]]) -> str | None:
    """Container memory and cpu within the task's. ContainerDefinition.memory (ECS API
    reference): "The total amount of memory reserved for all containers within a task must be lower
    than the task memory value, if one is specified."; ECS's wording for cpu: "The sum of all
    container 'cpu' values cannot be greater than the value of the task 'cpu'."
    (klothoplatform/klotho#892)."""
    task_memory = memory_mib(params["memory"]) if params.get("memory") not in (None, "") else None
    if task_memory is not None:
        for container in containers:
            memory = container.get("memory")
            if isinstance(memory, int) and memory > task_memory:
                return (f"Invalid 'memory' setting for container '{container.get('name')}': {memory} MiB is more "
                        f"than the task's memory, {task_memory} MiB.")
        reserved = sum(_reserved_memory(c) for c in containers)
        if reserved > task_memory:
            return (f"The sum of all container 'memory' reservations ({reserved} MiB) cannot be greater than the "
                    f"value of the task 'memory' ({task_memory} MiB).")
    task_cpu = cpu_units(params["cpu"]) if params.get("cpu") not in (None, "") else None
    if task_cpu is not None:
        total = sum(c.get("cpu") or 0 for c in containers if isinstance(c.get("cpu") or 0, int))
        if total > task_cpu:
            return "The sum of all container 'cpu' values cannot be greater than the value of the task 'cpu'."
    return None


def _reserved_memory(container: dict[str, Any]) -> int:
    value = container.get("memoryReservation") or container.get("memory") or 0
    return value if isinstance(value, int) else 0
