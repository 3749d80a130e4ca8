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
"""

from __future__ import annotations

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
