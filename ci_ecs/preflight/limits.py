"""AWS's documented limits that botocore's model does not carry, each cited where it is checked.

Pure functions over the requests as they will be sent (a RegisterTaskDefinition input, a CreateService /
UpdateService input); each returns every problem it finds, as ConfigErrors naming the config key.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ci_ecs.config import cpu_units, memory_mib
from ci_ecs.errors import ConfigError
from ci_ecs.preflight.keys import Keys

# ECS developer guide, "Amazon ECS service quotas": "Containers per task definition: 10 (not adjustable)".
MAX_CONTAINERS = 10
# ECS developer guide, "Amazon ECS service quotas": "Task definition size: 64 KiB (not adjustable)", the
# size of the RegisterTaskDefinition input.
MAX_DEFINITION_BYTES = 64 * 1024
# ECS developer guide, "Amazon ECS service quotas": "Tasks per service: 5,000" (adjustable; the desired
# count). A raised quota: `deploy.tasks_per_service_quota`.
DEFAULT_TASKS_PER_SERVICE = 5000
# CreateService placementStrategy: "You can specify a maximum of 5 strategy rules for each service";
# placementConstraints: "You can specify a maximum of 10 constraints for each task. This limit includes
# constraints in the task definition and those specified at runtime." (ECS API reference)
MAX_PLACEMENT_STRATEGIES = 5
MAX_PLACEMENT_CONSTRAINTS = 10
# ECS developer guide, "Amazon ECS service quotas": "Target groups per service: 5".
MAX_TARGET_GROUPS = 5
# AwsVpcConfiguration (ECS API reference): "There's a limit of 16 subnets that can be specified." /
# "There's a limit of 5 security groups that can be specified."
MAX_SUBNETS = 16
MAX_SECURITY_GROUPS = 5
# An Elastic Load Balancing v2 target group ARN (ELB API reference, TargetGroup.TargetGroupArn; IAM's
# "ARN format" for elasticloadbalancing: targetgroup/<name>/<id>); LoadBalancer.targetGroupArn (ECS API
# reference) is "The full Amazon Resource Name (ARN) of the Elastic Load Balancing target group".
TARGET_GROUP_ARN = re.compile(r"^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:"
                              r"targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]{1,16}$")
# ECS developer guide, "Amazon ECS task definition differences for Fargate": "The following task definition
# parameters are not valid in Fargate tasks: disableNetworking, dnsSearchDomains, dnsServers,
# dockerSecurityOptions, extraHosts, gpu, ipcMode, links, placementConstraints, privileged, maxSwap,
# swappiness" (container members here; the task-level ones below).
_FARGATE_CONTAINER_INVALID = ("disableNetworking", "dnsSearchDomains", "dnsServers", "dockerSecurityOptions",
                              "extraHosts", "links", "privileged")
_FARGATE_TASK_INVALID = ("ipcMode", "placementConstraints")
# Same page: linuxParameters "for capabilities the only capability you can add is CAP_SYS_PTRACE. The devices,
# sharedMemorySize, and tmpfs parameters are not supported"; maxSwap and swappiness (linuxParameters) neither.
_FARGATE_LINUX_INVALID = ("devices", "sharedMemorySize", "tmpfs", "maxSwap", "swappiness")
# ContainerDefinition.stopTimeout (ECS API reference): "For tasks that use the Fargate launch type, the max
# stop timeout value is 120 seconds".
FARGATE_MAX_STOP_TIMEOUT = 120


def _problem(message: str, where: tuple[str, str | None]) -> ConfigError:
    return ConfigError(message, key=where[0], source=where[1])


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _containers(definition: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    containers = definition.get("containerDefinitions")
    if not isinstance(containers, list):
        return []
    return [(index, c) for index, c in enumerate(containers) if isinstance(c, dict)]


def _label(container: dict[str, Any], index: int) -> str:
    name = container.get("name")
    return f"containerDefinitions[{name if isinstance(name, str) and name else index}]"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def definition_size(definition: dict[str, Any]) -> int:
    """The size in bytes of the task definition as JSON (compact: the least any client sends)."""
    return len(json.dumps(definition, separators=(",", ":"), default=str).encode("utf-8"))


def size_problems(definition: dict[str, Any], keys: Keys) -> list[ConfigError]:
    """The 64 KiB task definition limit (checked again right before registering, with the real image)."""
    size = definition_size(definition)
    if size > MAX_DEFINITION_BYTES:
        return [_problem(f"the task definition is {size} bytes as JSON, more than ECS's 64 KiB ({MAX_DEFINITION_BYTES} "
                         "bytes; service quota 'Task definition size')", keys.whole_task())]
    return []


def definition_problems(definition: dict[str, Any], keys: Keys) -> list[ConfigError]:
    """Every documented task definition limit the model lacks (see the constants above and the comments)."""
    problems = size_problems(definition, keys)
    containers = _containers(definition)
    if len(containers) > MAX_CONTAINERS:
        problems.append(_problem(f"{len(containers)} containers in one task definition, more than ECS's "
                                 f"{MAX_CONTAINERS} (service quota 'Containers per task definition')",
                                 keys.whole_task()))
    names = [c.get("name") for _, c in containers]
    # RegisterTaskDefinition refuses a repeated container name (ContainerDefinition.name: "... the name
    # of a container ... links, dependsOn and volumesFrom refer to it"; ClientException "Duplicate
    # container name").
    repeated = sorted({str(n) for n in names if isinstance(n, str) and names.count(n) > 1})
    if repeated:
        problems.append(_problem(f"container names must be unique in a task definition (repeated: "
                                 f"{', '.join(repeated)})", keys.whole_task()))
    # ContainerDefinition.essential: "If this parameter is omitted, a container is assumed to be essential.
    # All tasks must have at least one essential container."
    if containers and not any(c.get("essential", True) is not False for _, c in containers):
        problems.append(_problem("no essential container: ECS requires at least one (essential is true "
                                 "unless set to false)", keys.whole_task()))
    for index, container in containers:
        problems.extend(_container_problems(container, index, names, keys))
        problems.extend(_restart_policy_problems(container, index, keys))
    problems.extend(_resource_problems(definition, containers, keys))
    if "FARGATE" in (definition.get("requiresCompatibilities") or []):
        problems.extend(_fargate_problems(definition, containers, keys))
    if "MANAGED_INSTANCES" in (definition.get("requiresCompatibilities") or []):
        problems.extend(_managed_instances_problems(definition, containers, keys))
    return problems


# ECS developer guide, "Amazon ECS task networking for Amazon ECS Managed Instances": "You must specify a network
# mode in the task definition. You will not be able to run tasks on Amazon ECS Managed Instances using a task
# definition that doesn't specify a network mode", and the modes it supports are awsvpc and host.
MANAGED_INSTANCES_NETWORK_MODES = ("awsvpc", "host")
# ECS developer guide, "Amazon ECS task definition differences for Amazon ECS Managed Instances": "The following
# task definition parameters are not valid in Amazon ECS Managed Instances tasks: disableNetworking,
# dnsSearchDomains, dnsServers, dockerLabels, dockerSecurityOptions, dockerVolumeConfiguration, ephemeralStorage,
# extraHosts, fsxWindowsFileServerVolumeConfiguration, hostname, inferenceAccelerator, ipcMode, links, maxSwap,
# proxyConfiguration, sharedMemorySize, sourcepath volumes, swappiness, tmpfs" (container, task, Linux
# parameter and volume members below).
_MANAGED_CONTAINER_INVALID = ("disableNetworking", "dnsSearchDomains", "dnsServers", "dockerLabels",
                              "dockerSecurityOptions", "extraHosts", "hostname", "links")
_MANAGED_TASK_INVALID = ("ephemeralStorage", "inferenceAccelerators", "ipcMode", "proxyConfiguration")
_MANAGED_LINUX_INVALID = ("maxSwap", "sharedMemorySize", "swappiness", "tmpfs")
_MANAGED_VOLUME_INVALID = ("dockerVolumeConfiguration", "fsxWindowsFileServerVolumeConfiguration")


def _managed_instances_problems(definition: dict[str, Any], containers: list[tuple[int, dict[str, Any]]],
                                keys: Keys) -> list[ConfigError]:
    problems = []
    mode = definition.get("networkMode")
    if mode not in MANAGED_INSTANCES_NETWORK_MODES:
        got = f"got {mode}" if mode else "none is set"
        problems.append(_problem(f"Managed Instances need network mode awsvpc or host ({got})",
                                 keys.task_field("network_mode")))
    for member in _MANAGED_TASK_INVALID:
        if definition.get(member):
            problems.append(_problem(f"{member} is not valid in a Managed Instances task definition",
                                     keys.task_field("ephemeral_storage_gib") if member == "ephemeralStorage"
                                     else keys.whole_task()))
    for index, container in containers:
        label = _label(container, index)
        for member in _MANAGED_CONTAINER_INVALID:
            if container.get(member):
                config = "docker_labels" if member == "dockerLabels" else f"extra.{member}"
                problems.append(_problem(f"{label}.{member} is not valid on Managed Instances (requiresCompatibilities "
                                         "MANAGED_INSTANCES)", keys.container(index, config)))
        linux = container.get("linuxParameters")
        if isinstance(linux, dict):
            for member in _MANAGED_LINUX_INVALID:
                if linux.get(member) not in (None, [], {}):
                    problems.append(_problem(f"{label}.linuxParameters.{member} is not supported on Managed "
                                             "Instances", keys.container(index, "extra.linuxParameters")))
    for volume in definition.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        for member in _MANAGED_VOLUME_INVALID:
            if volume.get(member):
                problems.append(_problem(f"volumes[{volume.get('name')}].{member} is not supported on Managed "
                                         "Instances", keys.task_field("volumes")))
        if isinstance(volume.get("host"), dict) and volume["host"].get("sourcePath"):
            problems.append(_problem(f"volumes[{volume.get('name')}].host.sourcePath is not supported on Managed "
                                     "Instances", keys.task_field("volumes")))
    return problems


def _container_problems(container: dict[str, Any], index: int, names: list[Any], keys: Keys) -> list[ConfigError]:
    problems = []
    label = _label(container, index)
    # ContainerDefinition.environment / secrets: passed to the container as its environment ("maps to
    # --env ... docker run", ECS API reference). POSIX.1-2017, Base Definitions, 8.1 "Environment Variable
    # Definition": environment strings have the form name=value and "names shall not contain the character
    # '='"; they are C strings, so a NUL ends them. A name with either (or an empty one) reaches no process.
    for member, config_name in (("environment", "environment"), ("secrets", "secrets")):
        items = container.get(member)
        for item in items if isinstance(items, list) else []:
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str) and (not name or "=" in name or "\x00" in name):
                why = "is empty" if not name else ("contains '='" if "=" in name else "contains a NUL character")
                problems.append(_problem(f"{label}.{member}: the variable name {_show(name)} {why}: no container "
                                         "can receive it (an environment entry is NAME=VALUE)",
                                         keys.container(index, config_name)))
    # ContainerDependency.containerName names "a container" of the task definition; ECS refuses a
    # dependency on a container that is not in it (ClientException "... dependsOn ... not found").
    depends = container.get("dependsOn")
    for number, dependency in enumerate(depends if isinstance(depends, list) else []):
        target = dependency.get("containerName") if isinstance(dependency, dict) else None
        if not isinstance(target, str):
            continue
        if target == container.get("name"):
            problems.append(_problem(f"{label}.dependsOn[{number}]: a container cannot depend on itself",
                                     keys.container(index, "extra.dependsOn")))
        elif target not in names:
            problems.append(_problem(f"{label}.dependsOn[{number}]: no container named {_show(target)} in the "
                                     "task definition", keys.container(index, "extra.dependsOn")))
    # ContainerDefinition.memory: "If you specify both a container-level memory and memoryReservation
    # value, memory must be greater than memoryReservation."
    memory, reservation = _int(container.get("memory")), _int(container.get("memoryReservation"))
    if memory is not None and reservation is not None and reservation > memory:
        problems.append(_problem(f"{label}: memoryReservation {reservation} is more than memory {memory}",
                                 keys.container(index, "memory_reservation")))
    return problems


# ContainerRestartPolicy (ECS API reference): restartAttemptPeriod "You can set a minimum restartAttemptPeriod of
# 60 seconds and a maximum restartAttemptPeriod of 1800 seconds"; ignoredExitCodes "You can specify a maximum of 50
# container exit codes." (the model carries neither; the concise config's RestartPolicy has the same bounds, this
# holds a native file to them).
RESTART_ATTEMPT_PERIOD = (60, 1800)
MAX_IGNORED_EXIT_CODES = 50


def _restart_policy_problems(container: dict[str, Any], index: int, keys: Keys) -> list[ConfigError]:
    policy = container.get("restartPolicy")
    if not isinstance(policy, dict):
        return []
    problems = []
    label = _label(container, index)
    period = _int(policy.get("restartAttemptPeriod"))
    low, high = RESTART_ATTEMPT_PERIOD
    if period is not None and not low <= period <= high:
        problems.append(_problem(f"{label}.restartPolicy.restartAttemptPeriod {period} is outside {low}..{high} "
                                 "seconds", keys.container(index, "restart_policy.restart_attempt_period")))
    codes = policy.get("ignoredExitCodes")
    if isinstance(codes, list) and len(codes) > MAX_IGNORED_EXIT_CODES:
        problems.append(_problem(f"{label}.restartPolicy.ignoredExitCodes has {len(codes)} codes, more than ECS's "
                                 f"{MAX_IGNORED_EXIT_CODES}",
                                 keys.container(index, "restart_policy.ignored_exit_codes")))
    return problems


def _task_units(definition: dict[str, Any], name: str) -> int | None:
    value = definition.get(name)
    if value is None:
        return None
    try:
        return (cpu_units if name == "cpu" else memory_mib)(str(value))
    except ValueError:
        return None  # reported by the rules (not a number)


def _resource_problems(definition: dict[str, Any], containers: list[tuple[int, dict[str, Any]]], keys: Keys
                       ) -> list[ConfigError]:
    problems = []
    task_memory, task_cpu = _task_units(definition, "memory"), _task_units(definition, "cpu")
    # ContainerDefinition.memory: "The total amount of memory reserved for all containers within a task must
    # be lower than the task memory value, if one is specified." (a container's own limit too).
    if task_memory is not None:
        reserved = 0
        for index, container in containers:
            memory = _int(container.get("memory"))
            reservation = _int(container.get("memoryReservation"))
            for member, value in (("memory", memory), ("memoryReservation", reservation)):
                if value is not None and value > task_memory:
                    config = "memory" if member == "memory" else "memory_reservation"
                    problems.append(_problem(f"{_label(container, index)}.{member} {value} MiB is more than the "
                                             f"task's memory {task_memory} MiB", keys.container(index, config)))
            reserved += reservation if reservation is not None else (memory or 0)
        if reserved > task_memory and not problems:
            problems.append(_problem(f"the containers reserve {reserved} MiB in total, more than the task's memory "
                                     f"{task_memory} MiB", keys.task_field("memory")))
    # ContainerDefinition.cpu: "the total amount of CPU reserved for all containers within a task [must] be
    # lower than the task-level cpu value."
    if task_cpu is not None:
        total = sum(_int(c.get("cpu")) or 0 for _, c in containers)
        if total > task_cpu:
            problems.append(_problem(f"the containers reserve {total} cpu units in total, more than the task's cpu "
                                     f"{task_cpu}", keys.task_field("cpu")))
    return problems


def _fargate_problems(definition: dict[str, Any], containers: list[tuple[int, dict[str, Any]]], keys: Keys
                      ) -> list[ConfigError]:
    problems = []
    for member in _FARGATE_TASK_INVALID:
        if definition.get(member):
            problems.append(_problem(f"{member} is not valid in a Fargate task definition", keys.whole_task()))
    for index, container in containers:
        label = _label(container, index)
        for member in _FARGATE_CONTAINER_INVALID:
            if container.get(member):
                problems.append(_problem(f"{label}.{member} is not valid on Fargate (requiresCompatibilities "
                                         "FARGATE)", keys.container(index, f"extra.{member}")))
        if any(isinstance(r, dict) and r.get("type") == "GPU" for r in container.get("resourceRequirements") or []):
            problems.append(_problem(f"{label}.resourceRequirements: GPUs are not valid on Fargate",
                                     keys.container(index, "extra.resourceRequirements")))
        stop = _int(container.get("stopTimeout"))
        if stop is not None and stop > FARGATE_MAX_STOP_TIMEOUT:
            problems.append(_problem(f"{label}.stopTimeout {stop} is more than Fargate's {FARGATE_MAX_STOP_TIMEOUT} "
                                     "seconds", keys.container(index, "stop_timeout")))
        linux = container.get("linuxParameters")
        if isinstance(linux, dict):
            for member in _FARGATE_LINUX_INVALID:
                if linux.get(member) not in (None, [], {}):
                    problems.append(_problem(f"{label}.linuxParameters.{member} is not supported on Fargate",
                                             keys.container(index, "extra.linuxParameters")))
            added = (linux.get("capabilities") or {}).get("add") if isinstance(linux.get("capabilities"), dict) \
                else None
            extra = [c for c in added or [] if c != "CAP_SYS_PTRACE"]
            if extra:
                problems.append(_problem(f"{label}.linuxParameters.capabilities.add: Fargate adds only "
                                         f"CAP_SYS_PTRACE (not {', '.join(map(str, extra))})",
                                         keys.container(index, "extra.linuxParameters")))
    # Same page: "Fargate tasks only support bind mount host volumes, so the dockerVolumeConfiguration parameter
    # is not supported."
    for volume in definition.get("volumes") or []:
        if isinstance(volume, dict) and volume.get("dockerVolumeConfiguration"):
            problems.append(_problem(f"volumes[{volume.get('name')}].dockerVolumeConfiguration is not supported on "
                                     "Fargate", keys.task_field("volumes")))
    return problems


def service_problems(request: dict[str, Any], keys: Keys, *, tasks_quota: int = DEFAULT_TASKS_PER_SERVICE,
                     definition: dict[str, Any] | None = None, known_state: bool = True) -> list[ConfigError]:
    """Every documented limit on a CreateService / UpdateService input that the model lacks.

    `known_state` False: the request is the one a new service would get, built before the service was
    described; the rules that depend on what an existing service has (bakeTimeInMinutes) wait for the real one.
    """
    problems: list[ConfigError] = []
    count = _int(request.get("desiredCount"))
    if count is not None and 0 <= count <= 2**31 - 1 and count > tasks_quota:
        problems.append(_problem(f"desired count {count} is more than the service quota 'Tasks per service' "
                                 f"({tasks_quota}; if yours was raised, set deploy.tasks_per_service_quota)",
                                 keys.service_path("desiredCount")))
    problems.extend(_placement_problems(request, keys, definition))
    problems.extend(_load_balancer_problems(request, keys))
    vpc = (request.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    for member, limit in (("subnets", MAX_SUBNETS), ("securityGroups", MAX_SECURITY_GROUPS)):
        values = vpc.get(member)
        if isinstance(values, list) and len(values) > limit:
            problems.append(_problem(f"{len(values)} {member}, more than the {limit} ECS takes",
                                     keys.service_path(f"networkConfiguration.awsvpcConfiguration.{member}")))
    # CreateService tags (ECS API reference, tag restrictions): "Do not use aws:, AWS:, or any upper or
    # lowercase combination of such as a prefix for either keys or values as it is reserved for AWS use."
    for tag in request.get("tags") or []:
        if not isinstance(tag, dict):
            continue
        for member in ("key", "value"):
            text = tag.get(member)
            if isinstance(text, str) and text.lower().startswith("aws:"):
                problems.append(_problem(f"tag {member} {_show(text)}: the aws: prefix is reserved for AWS",
                                         keys.service_path("tags")))
    problems.extend(_monitoring_problems(request, keys))
    if definition is not None:
        problems.extend(_volume_configuration_problems(request, keys, definition))
    problems.extend(_early_success_problems(request, keys, known_state=known_state))
    if known_state:
        problems.extend(_strategy_problems(request, keys))
    return problems


def _volume_configuration_problems(request: dict[str, Any], keys: Keys, definition: dict[str, Any]
                                   ) -> list[ConfigError]:
    # ServiceVolumeConfiguration.name (ECS API reference): "This value must match the volume name from the Volume
    # object in the task definition", a volume configured at launch (ServiceVolumeConfiguration: "The
    # configuration for a volume specified in the task definition as a volume that is configured at launch time").
    configurations = request.get("volumeConfigurations")
    if not isinstance(configurations, list):
        return []
    at_launch = [v.get("name") for v in definition.get("volumes") or []
                 if isinstance(v, dict) and v.get("configuredAtLaunch") is True]
    problems = []
    for item in configurations:
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str) and name not in at_launch:
            shown = ", ".join(map(str, at_launch)) or "none"
            problems.append(_problem(f"the task definition has no volume {_show(name)} configured at launch "
                                     f"(configuredAtLaunch: true; it has {shown})",
                                     keys.service_path(f"volumeConfigurations[{name}].name")))
    return problems


# MetricConfiguration (ECS API reference): metricNames "The supported metric names are CPUUtilization and
# MemoryUtilization."; resolutionSeconds "The valid values are 20 and 60." (the model has only the range 20-60).
MONITORED_METRICS = ("CPUUtilization", "MemoryUtilization")
METRIC_RESOLUTIONS = (20, 60)


def _monitoring_problems(request: dict[str, Any], keys: Keys) -> list[ConfigError]:
    monitoring = request.get("monitoring")
    configurations = monitoring.get("metricConfigurations") if isinstance(monitoring, dict) else None
    problems = []
    for index, item in enumerate(configurations if isinstance(configurations, list) else []):
        if not isinstance(item, dict):
            continue
        for name in item.get("metricNames") or []:
            if name not in MONITORED_METRICS:
                problems.append(_problem(f"metric {_show(name)} is not one ECS configures (supported: "
                                         f"{', '.join(MONITORED_METRICS)})",
                                         keys.service_path(f"monitoring.metricConfigurations[{index}].metricNames")))
        resolution = item.get("resolutionSeconds")
        if _int(resolution) is not None and resolution not in METRIC_RESOLUTIONS:
            problems.append(_problem(f"resolution {resolution} seconds is not one ECS takes (20 or 60)",
                                     keys.service_path(f"monitoring.metricConfigurations[{index}].resolutionSeconds")))
    return problems


# DeploymentConfiguration.minimumHealthyPercent (ECS API reference): with the rolling update (ECS) deployment type
# "the default value for a replica service for minimumHealthyPercent is 100%".
DEFAULT_MINIMUM_HEALTHY_PERCENT = 100


def _early_success_problems(request: dict[str, Any], keys: Keys, *, known_state: bool) -> list[ConfigError]:
    deployment = request.get("deploymentConfiguration")
    if not isinstance(deployment, dict):
        return []
    early = deployment.get("earlySuccessCriteria")
    if not isinstance(early, dict) or early.get("enable") is not True:
        return []
    problems = []
    where = keys.service_path("deploymentConfiguration.earlySuccessCriteria")
    # DeploymentEarlySuccessCriteria (ECS API reference): "You can use early success criteria only with rolling
    # deployment strategy." DeploymentConfiguration.strategy: ROLLING is the default. Checked on the request as
    # sent: an update merges the service's own strategy into deploymentConfiguration.
    strategy = deployment.get("strategy") or "ROLLING"
    if strategy != "ROLLING":
        problems.append(_problem(f"early success criteria work with the ROLLING strategy only (the deployment "
                                 f"strategy is {strategy})", where))
    # healthyPercent: "This value must be greater than or equal to the minimumHealthyPercent value." A new service
    # without one gets ECS's default (above); an update carries the service's own (merged), and the request a
    # new service would get before the service was described (known_state False) is not held to a default.
    minimum = _int(deployment.get("minimumHealthyPercent"))
    if minimum is None and known_state and "serviceName" in request:
        minimum = DEFAULT_MINIMUM_HEALTHY_PERCENT
    healthy = _int(early.get("healthyPercent"))
    if minimum is not None and healthy is not None and healthy < minimum:
        problems.append(_problem(f"healthy_percent {healthy} is below the minimum healthy percent {minimum}: ECS "
                                 "requires healthyPercent >= minimumHealthyPercent (set minimum_healthy_percent)",
                                 keys.service_path("deploymentConfiguration.earlySuccessCriteria.healthyPercent")))
    return problems


def _placement_problems(request: dict[str, Any], keys: Keys, definition: dict[str, Any] | None
                        ) -> list[ConfigError]:
    problems = []
    strategies = request.get("placementStrategy")
    strategies = strategies if isinstance(strategies, list) else []
    if len(strategies) > MAX_PLACEMENT_STRATEGIES:
        problems.append(_problem(f"{len(strategies)} placement strategies, more than ECS's "
                                 f"{MAX_PLACEMENT_STRATEGIES}", keys.service_path("placementStrategy")))
    # PlacementStrategy.field (ECS API reference): "For the spread placement strategy, valid values are
    # instanceId (or host ...), or any platform or custom attribute ... For the binpack placement strategy,
    # valid values are cpu and memory. For the random placement strategy, this field is not used."
    for index, strategy in enumerate(strategies):
        if not isinstance(strategy, dict):
            continue
        kind, field = strategy.get("type"), strategy.get("field")
        where = keys.service_path(f"placementStrategy[{index}].field")
        if kind == "binpack" and field not in ("cpu", "memory"):
            problems.append(_problem(f"binpack takes field cpu or memory (got {_show(field)})", where))
        elif kind == "random" and field:
            problems.append(_problem(f"random takes no field (got {_show(field)})", where))
        elif kind == "spread" and not field:
            problems.append(_problem("spread needs a field (instanceId, host, or an attribute such as "
                                     "attribute:ecs.availability-zone)", where))
    constraints = request.get("placementConstraints")
    constraints = constraints if isinstance(constraints, list) else []
    in_definition = (definition or {}).get("placementConstraints") or []
    if len(constraints) + len(in_definition) > MAX_PLACEMENT_CONSTRAINTS:
        problems.append(_problem(f"{len(constraints) + len(in_definition)} placement constraints (service and task "
                                 f"definition together), more than ECS's {MAX_PLACEMENT_CONSTRAINTS}",
                                 keys.service_path("placementConstraints")))
    # PlacementConstraint.expression (ECS API reference): "You can't specify an expression if the constraint
    # type is distinctInstance"; a memberOf constraint is its expression ("Task placement constraints",
    # developer guide: "memberOf: Place tasks on container instances that satisfy an expression").
    for index, constraint in enumerate(constraints):
        if not isinstance(constraint, dict):
            continue
        kind, expression = constraint.get("type"), constraint.get("expression")
        where = keys.service_path(f"placementConstraints[{index}].expression")
        if kind == "memberOf" and not expression:
            problems.append(_problem("memberOf needs an expression (cluster query language)", where))
        elif kind == "distinctInstance" and expression:
            problems.append(_problem("distinctInstance takes no expression", where))
    return problems


def _load_balancer_problems(request: dict[str, Any], keys: Keys) -> list[ConfigError]:
    problems = []
    balancers = request.get("loadBalancers")
    balancers = balancers if isinstance(balancers, list) else []
    groups = [lb.get("targetGroupArn") for lb in balancers if isinstance(lb, dict) and lb.get("targetGroupArn")]
    if len(groups) > MAX_TARGET_GROUPS:
        problems.append(_problem(f"{len(groups)} target groups, more than the {MAX_TARGET_GROUPS} a service takes "
                                 "(service quota 'Target groups per service')", keys.service_path("loadBalancers")))
    for index, balancer in enumerate(balancers):
        if not isinstance(balancer, dict):
            continue
        arn = balancer.get("targetGroupArn")
        if isinstance(arn, str) and not TARGET_GROUP_ARN.match(arn):
            problems.append(_problem(f"{_show(arn)} is not an Elastic Load Balancing target group ARN "
                                     "(arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID)",
                                     keys.service_path(f"loadBalancers[{index}].targetGroupArn")))
        advanced = balancer.get("advancedConfiguration")
        alternate = advanced.get("alternateTargetGroupArn") if isinstance(advanced, dict) else None
        if isinstance(alternate, str) and not TARGET_GROUP_ARN.match(alternate):
            problems.append(_problem(f"alternate target group {_show(alternate)} is not an Elastic Load Balancing "
                                     "target group ARN", keys.service_path(f"loadBalancers[{index}]."
                                                                           "advancedConfiguration")))
    return problems


def _strategy_problems(request: dict[str, Any], keys: Keys) -> list[ConfigError]:
    deployment = request.get("deploymentConfiguration")
    if not isinstance(deployment, dict):
        return []
    # DeploymentConfiguration.bakeTimeInMinutes (ECS API reference): "You must provide this parameter when you
    # use the BLUE_GREEN deployment strategy." (CanaryConfiguration/LinearConfiguration document defaults for
    # their percentages, and LINEAR/CANARY none for bakeTimeInMinutes: those are not refused.) Checked on the
    # request as sent: an update merges the service's own bake time into deploymentConfiguration.
    if deployment.get("strategy") == "BLUE_GREEN" and deployment.get("bakeTimeInMinutes") is None:
        return [_problem("strategy BLUE_GREEN needs bake_time_minutes (ECS requires bakeTimeInMinutes with it)",
                         keys.service_path("deploymentConfiguration.bakeTimeInMinutes"))]
    return []
