"""From a place in a request to the config key a user edits (and the file it is in).

A problem in RegisterTaskDefinition's `containerDefinitions[web].portMappings[0].hostPort` is
`task.containers[0].port_mappings[0].host_port` in a concise config, `task.file` (with the file's name) for a
native file, `task.definition` for a revision read from ECS; one in CreateService's `desiredCount` is
`service.desired_count`. With a `services:` list every key starts with `services[N].`.
"""

from __future__ import annotations

import re

from ci_ecs.config import TaskConfig
from ci_ecs.config.api import snake_case
from ci_ecs.config.service import API_STRUCTURES

# RegisterTaskDefinition members the concise config sets, by their config name.
_TASK_FIELDS = {"family": "family", "cpu": "cpu", "memory": "memory", "networkMode": "network_mode",
                "requiresCompatibilities": "requires_compatibilities", "executionRoleArn": "execution_role_arn",
                "taskRoleArn": "task_role_arn", "runtimePlatform": "runtime_platform",
                "ephemeralStorage": "ephemeral_storage_gib", "volumes": "volumes"}
# ContainerDefinition members the concise config sets (taskdef._container_from_config); the rest are `extra`.
CONTAINER_FIELDS = {"name": "name", "image": "image", "essential": "essential", "cpu": "cpu", "memory": "memory",
                    "memoryReservation": "memory_reservation", "portMappings": "port_mappings",
                    "environment": "environment", "secrets": "secrets", "command": "command",
                    "entryPoint": "entry_point", "workingDirectory": "working_dir", "user": "user",
                    "dockerLabels": "docker_labels", "readonlyRootFilesystem": "readonly_root_filesystem",
                    "stopTimeout": "stop_timeout", "healthCheck": "health_check", "logConfiguration": "logs",
                    "restartPolicy": "restart_policy", "versionConsistency": "version_consistency"}
_PORT_FIELDS = {"containerPort": "container_port", "hostPort": "host_port", "protocol": "protocol",
                "name": "name", "appProtocol": "app_protocol"}
# CreateService/UpdateService members, by their `service.` config name.
_SERVICE_FIELDS = {"desiredCount": "desired_count", "launchType": "launch_type",
                   "capacityProviderStrategy": "capacity_provider_strategy", "platformVersion": "platform_version",
                   "loadBalancers": "load_balancers", "healthCheckGracePeriodSeconds": "health_check_grace_period",
                   "placementStrategy": "placement_strategy", "placementConstraints": "placement_constraints",
                   "enableExecuteCommand": "enable_execute_command", "propagateTags": "propagate_tags",
                   "tags": "tags", "serviceName": "name", "service": "name",
                   "availabilityZoneRebalancing": "availability_zone_rebalancing"}
# Members the config writes as the request's structure in snake_case (config/api.py): a problem deep inside one
# is named by its snake_case path (`service.service_connect.services[0].port_name`).
_STRUCTURE_FIELDS = {member: name for name, member in API_STRUCTURES.items()}
_DEPLOYMENT_FIELDS = {"minimumHealthyPercent": "minimum_healthy_percent", "maximumPercent": "maximum_percent",
                      "deploymentCircuitBreaker": "circuit_breaker", "strategy": "strategy",
                      "bakeTimeInMinutes": "bake_time_minutes", "canaryConfiguration": "canary",
                      "linearConfiguration": "linear", "alarms": "alarms", "lifecycleHooks": "lifecycle_hooks",
                      "earlySuccessCriteria": "early_success_criteria"}
_NESTED = {"targetGroupArn": "target_group_arn", "loadBalancerName": "load_balancer_name",
           "containerName": "container_name", "containerPort": "container_port", "type": "type", "field": "field",
           "expression": "expression", "capacityProvider": "capacity_provider", "weight": "weight", "base": "base",
           "advancedConfiguration": "advanced"}
_VPC_FIELDS = {"subnets": "subnets", "securityGroups": "security_groups", "assignPublicIp": "assign_public_ip"}

_STEP = re.compile(r"([^.\[]+)((?:\[[^\]]*\])*)")


def _steps(path: str) -> list[tuple[str, list[str]]]:
    """"a[1].b[web][0].c" -> [("a", ["1"]), ("b", ["web", "0"]), ("c", [])]."""
    out: list[tuple[str, list[str]]] = []
    for part in path.split("."):
        match = _STEP.fullmatch(part)
        if not match:
            out.append((part, []))
            continue
        out.append((match.group(1), re.findall(r"\[([^\]]*)\]", match.group(2))))
    return out


class Keys:
    """Config keys for one target's task definition and service (`prefix`: "" or "services[N].")."""

    def __init__(self, task: TaskConfig, prefix: str = "") -> None:
        self.task = task
        self.prefix = prefix
        self.source = task.file or None
        # A native definition: a file, or a revision read from ECS (`task.definition`, no file to name).
        self.native = "task.file" if task.file else ("task.definition" if task.definition else None)

    def service(self, name: str) -> str:
        """`service.<name>` with the target's prefix."""
        return f"{self.prefix}service.{name}"

    def task_field(self, config_name: str) -> tuple[str, str | None]:
        """The key (and file) for a task-level field: the config's when it sets it, else the file."""
        if not self.native or getattr(self.task, config_name, None):
            return f"{self.prefix}task.{config_name}", None
        return f"{self.prefix}{self.native}", self.source

    def container(self, index: int, config_path: str) -> tuple[str, str | None]:
        """The key (and file) for a container's field; `index` is its place in containerDefinitions."""
        if self.native:
            return f"{self.prefix}{self.native}", self.source
        return f"{self.prefix}task.containers[{index}].{config_path}", None

    def whole_task(self) -> tuple[str, str | None]:
        """The key for the task definition as a whole."""
        if self.native:
            return f"{self.prefix}{self.native}", self.source
        return f"{self.prefix}task", None

    def _container_index(self, label: str) -> int | None:
        if label.isdigit():
            return int(label)
        names = [c.name for c in self.task.containers]
        return names.index(label) if label in names else None

    def definition_path(self, path: str) -> tuple[str, str | None]:
        """The key for a place in RegisterTaskDefinition's input (`containerDefinitions[web].cpu`).

        >>> from ci_ecs.config import TaskConfig
        >>> keys = Keys(TaskConfig(family="f", containers=[{"name": "web", "image": "nginx:1"}]))
        >>> keys.definition_path("containerDefinitions[web].portMappings[0].hostPort")
        ('task.containers[0].port_mappings[0].host_port', None)
        >>> keys.definition_path("containerDefinitions[web].ulimits[0].name")
        ('task.containers[0].extra.ulimits', None)
        """
        steps = _steps(path)
        if not steps:
            return self.whole_task()
        top, indices = steps[0]
        if top in _TASK_FIELDS:
            return self.task_field(_TASK_FIELDS[top])
        if top != "containerDefinitions" or self.native or not indices:
            return self.whole_task()
        index = self._container_index(indices[0])
        if index is None:
            return self.whole_task()
        if len(steps) < 2:
            return f"{self.prefix}task.containers[{index}]", None
        member, member_indices = steps[1]
        config_name = CONTAINER_FIELDS.get(member)
        if config_name is None:
            return self.container(index, f"extra.{member}")
        if member == "portMappings" and member_indices and len(steps) > 2 and steps[2][0] in _PORT_FIELDS:
            return self.container(index, f"port_mappings[{member_indices[0]}].{_PORT_FIELDS[steps[2][0]]}")
        return self.container(index, config_name)

    def service_path(self, path: str) -> tuple[str, str | None]:
        """The key for a place in CreateService's / UpdateService's input (`deploymentConfiguration.strategy`).

        >>> from ci_ecs.config import TaskConfig
        >>> keys = Keys(TaskConfig(family="f", containers=[{"name": "web", "image": "nginx:1"}]), "services[1].")
        >>> keys.service_path("placementStrategy[0].field"), keys.service_path("desiredCount")
        (('services[1].service.placement_strategy[0].field', None), ('services[1].service.desired_count', None))
        """
        steps = _steps(path)
        if not steps:
            return self.service("name").rsplit(".", 1)[0], None
        top, indices = steps[0]
        if top == "cluster":
            return "cluster", None
        if top == "taskDefinition":
            return self.whole_task()
        if top == "networkConfiguration":
            vpc = steps[2][0] if len(steps) > 2 else ""
            return self.service(_VPC_FIELDS.get(vpc, "subnets")), None
        if top == "deploymentConfiguration":
            member = steps[1][0] if len(steps) > 1 else ""
            name = _DEPLOYMENT_FIELDS.get(member)
            if name in ("early_success_criteria", "circuit_breaker") and len(steps) > 2:
                return self.service(f"{name}.{snake_case(steps[2][0])}"), None
            return (self.service(name) if name else f"{self.prefix}service"), None
        if top in _STRUCTURE_FIELDS:
            inner = "".join(f"[{i}]" for i in indices) + "".join(
                f".{snake_case(step)}" + "".join(f"[{i}]" for i in step_indices) for step, step_indices in steps[1:])
            return self.service(_STRUCTURE_FIELDS[top] + inner), None
        name = _SERVICE_FIELDS.get(top)
        if name is None:
            return f"{self.prefix}service", None
        if indices and name != "tags" and len(steps) > 1 and steps[1][0] in _NESTED:
            return self.service(f"{name}[{indices[0]}].{_NESTED[steps[1][0]]}"), None
        return self.service(name), None
