"""The ECS coverage table: how ci-ecs lets a user set every member of the ECS requests it sends.

`python -m ci_ecs.coverage` writes docs/ecs-coverage.md from the installed botocore's ECS model and COVERAGE (the
one place the classification lives); `python -m ci_ecs.coverage --check` exits 1 when the file differs. Not
imported by `deploy`: only the docs and their tests read it.

Scopes: the members of CreateService, UpdateService, RegisterTaskDefinition, ContainerDefinition and
DeploymentConfiguration, and one level down the members of the structures they hold. A member is a config key
(its snake_case path), a flag, native task-definition file only (a container's `extra` too), or not supported
(with the reason). The members of a structure ci-ecs passes through as written (PASSED_THROUGH: a native
structure, or one of the snake_case request structures of config/api.py) are classified with it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NamedTuple

KEY, FLAG, NATIVE, UNSUPPORTED = "config key", "flag", "native file only", "not supported"
DOC = Path(__file__).resolve().parents[1] / "docs" / "ecs-coverage.md"
REGENERATE = "python -m ci_ecs.coverage"


class Entry(NamedTuple):
    kind: str
    where: str  # the config key path (KEY), the flag (FLAG), or the reason / note
    note: str = ""


def _k(where: str, note: str = "") -> Entry:
    return Entry(KEY, where, note)


def _n(note: str = "") -> Entry:
    return Entry(NATIVE, "", note)


def _u(reason: str) -> Entry:
    return Entry(UNSUPPORTED, "", reason)


_SERVICE_COMMON: dict[str, Entry] = {
    "cluster": _k("cluster", "--cluster"),
    "taskDefinition": _k("task", "the revision ci-ecs registers (or task.definition)"),
    "availabilityZoneRebalancing": _k("service.availability_zone_rebalancing"),
    "loadBalancers": _k("service.load_balancers"),
    "serviceRegistries": _u("Cloud Map service discovery registries are not modelled yet (Service Connect is)"),
    "desiredCount": _k("service.desired_count", "--desired-count"),
    "capacityProviderStrategy": _k("service.capacity_provider_strategy"),
    "platformVersion": _k("service.platform_version"),
    "deploymentConfiguration": _k("service", "its members below"),
    "placementConstraints": _k("service.placement_constraints"),
    "placementStrategy": _k("service.placement_strategy"),
    "networkConfiguration": _k("service", "subnets, security_groups, assign_public_ip"),
    "healthCheckGracePeriodSeconds": _k("service.health_check_grace_period"),
    "deploymentController": _u("ci-ecs runs ECS-controlled deployments only (CODE_DEPLOY and EXTERNAL are refused)"),
    "enableECSManagedTags": _u("not modelled; tags are set with service.tags and propagate_tags"),
    "propagateTags": _k("service.propagate_tags"),
    "enableExecuteCommand": _k("service.enable_execute_command"),
    "serviceConnectConfiguration": _k("service.service_connect", "snake_case members"),
    "volumeConfigurations": _k("service.volume_configurations", "snake_case members"),
    "vpcLatticeConfigurations": _k("service.vpc_lattice", "snake_case members"),
    "gatewayConnectors": _k("service.gateway_connectors", "snake_case members"),
    "monitoring": _k("service.monitoring", "snake_case members"),
}

COVERAGE: dict[str, dict[str, Entry]] = {
    "CreateService": {
        **_SERVICE_COMMON,
        "serviceName": _k("service.name", "--service"),
        "clientToken": _u("ci-ecs makes a create idempotent by describing first, not with a token"),
        "launchType": _k("service.launch_type"),
        "role": _u("the service-linked role is used; classic per-service IAM roles are legacy"),
        "schedulingStrategy": _u("REPLICA services only (DAEMON services have no desired count to deploy)"),
        "tags": _k("service.tags"),
    },
    "UpdateService": {
        **_SERVICE_COMMON,
        "service": _k("service.name", "--service"),
        "forceNewDeployment": Entry(FLAG, "--force-new-deployment", "deploy.force_new_deployment"),
    },
    "RegisterTaskDefinition": {
        "family": _k("task.family"),
        "taskRoleArn": _k("task.task_role_arn"),
        "executionRoleArn": _k("task.execution_role_arn"),
        "networkMode": _k("task.network_mode"),
        "containerDefinitions": _k("task.containers", "members below"),
        "volumes": _k("task.volumes", "native Volume objects"),
        "placementConstraints": _n(),
        "requiresCompatibilities": _k("task.requires_compatibilities"),
        "cpu": _k("task.cpu"),
        "memory": _k("task.memory"),
        "tags": _n(),
        "pidMode": _n(),
        "ipcMode": _n(),
        "proxyConfiguration": _n("App Mesh proxy"),
        "inferenceAccelerators": _n("Elastic Inference (retired by AWS)"),
        "ephemeralStorage": _k("task.ephemeral_storage_gib"),
        "runtimePlatform": _k("task.runtime_platform"),
        "enableFaultInjection": _n(),
        "trustedExecutionConfiguration": _n(),
    },
    "ContainerDefinition": {
        "name": _k("task.containers[].name"),
        "image": _k("task.containers[].image", "default: the deployed image; --image"),
        "repositoryCredentials": _n("or task.containers[].extra"),
        "cpu": _k("task.containers[].cpu"),
        "memory": _k("task.containers[].memory"),
        "memoryReservation": _k("task.containers[].memory_reservation"),
        "links": _n("or task.containers[].extra"),
        "portMappings": _k("task.containers[].port_mappings"),
        "essential": _k("task.containers[].essential"),
        "restartPolicy": _k("task.containers[].restart_policy"),
        "entryPoint": _k("task.containers[].entry_point"),
        "command": _k("task.containers[].command"),
        "environment": _k("task.containers[].environment"),
        "environmentFiles": _n("or task.containers[].extra"),
        "mountPoints": _n("or task.containers[].extra"),
        "volumesFrom": _n("or task.containers[].extra"),
        "linuxParameters": _n("or task.containers[].extra"),
        "secrets": _k("task.containers[].secrets"),
        "dependsOn": _n("or task.containers[].extra"),
        "startTimeout": _n("or task.containers[].extra"),
        "stopTimeout": _k("task.containers[].stop_timeout"),
        "versionConsistency": _k("task.containers[].version_consistency"),
        "hostname": _n("or task.containers[].extra"),
        "user": _k("task.containers[].user"),
        "workingDirectory": _k("task.containers[].working_dir"),
        "disableNetworking": _n("or task.containers[].extra"),
        "privileged": _n("or task.containers[].extra"),
        "readonlyRootFilesystem": _k("task.containers[].readonly_root_filesystem"),
        "dnsServers": _n("or task.containers[].extra"),
        "dnsSearchDomains": _n("or task.containers[].extra"),
        "extraHosts": _n("or task.containers[].extra"),
        "dockerSecurityOptions": _n("or task.containers[].extra"),
        "interactive": _n("or task.containers[].extra"),
        "pseudoTerminal": _n("or task.containers[].extra"),
        "dockerLabels": _k("task.containers[].docker_labels"),
        "ulimits": _n("or task.containers[].extra"),
        "logConfiguration": _k("task.containers[].logs", "awslogs; other drivers: extra"),
        "healthCheck": _k("task.containers[].health_check"),
        "systemControls": _n("or task.containers[].extra"),
        "resourceRequirements": _n("or task.containers[].extra"),
        "firelensConfiguration": _n("or task.containers[].extra"),
        "credentialSpecs": _n("or task.containers[].extra"),
    },
    "DeploymentConfiguration": {
        "deploymentCircuitBreaker": _k("service.circuit_breaker"),
        "maximumPercent": _k("service.maximum_percent"),
        "minimumHealthyPercent": _k("service.minimum_healthy_percent"),
        "alarms": _k("service.alarms"),
        "strategy": _k("service.strategy"),
        "bakeTimeInMinutes": _k("service.bake_time_minutes"),
        "lifecycleHooks": _k("service.lifecycle_hooks"),
        "linearConfiguration": _k("service.linear"),
        "canaryConfiguration": _k("service.canary"),
        "earlySuccessCriteria": _k("service.early_success_criteria"),
    },
    # One level down: the structures the scopes above hold.
    "LoadBalancer": {
        "targetGroupArn": _k("service.load_balancers[].target_group_arn"),
        "loadBalancerName": _k("service.load_balancers[].load_balancer_name"),
        "containerName": _k("service.load_balancers[].container_name"),
        "containerPort": _k("service.load_balancers[].container_port"),
        "advancedConfiguration": _k("service.load_balancers[].advanced"),
    },
    "CapacityProviderStrategyItem": {
        "capacityProvider": _k("service.capacity_provider_strategy[].capacity_provider"),
        "weight": _k("service.capacity_provider_strategy[].weight"),
        "base": _k("service.capacity_provider_strategy[].base"),
    },
    "PlacementConstraint": {"type": _k("service.placement_constraints[].type"),
                            "expression": _k("service.placement_constraints[].expression")},
    "PlacementStrategy": {"type": _k("service.placement_strategy[].type"),
                          "field": _k("service.placement_strategy[].field")},
    "NetworkConfiguration": {"awsvpcConfiguration": _k("service", "subnets, security_groups, assign_public_ip")},
    "Tag": {"key": _k("service.tags", "the map's keys"), "value": _k("service.tags", "the map's values")},
    "PortMapping": {
        "containerPort": _k("task.containers[].port_mappings[].container_port"),
        "hostPort": _k("task.containers[].port_mappings[].host_port"),
        "protocol": _k("task.containers[].port_mappings[].protocol"),
        "name": _k("task.containers[].port_mappings[].name"),
        "appProtocol": _k("task.containers[].port_mappings[].app_protocol"),
        "containerPortRange": _n("or task.containers[].extra"),
    },
    "ContainerRestartPolicy": {
        "enabled": _k("task.containers[].restart_policy.enabled"),
        "ignoredExitCodes": _k("task.containers[].restart_policy.ignored_exit_codes"),
        "restartAttemptPeriod": _k("task.containers[].restart_policy.restart_attempt_period"),
    },
    "KeyValuePair": {"name": _k("task.containers[].environment", "the map's keys"),
                     "value": _k("task.containers[].environment", "the map's values")},
    "Secret": {"name": _k("task.containers[].secrets", "the map's keys"),
               "valueFrom": _k("task.containers[].secrets", "the map's values")},
    "HealthCheck": {
        "command": _k("task.containers[].health_check.command"),
        "interval": _k("task.containers[].health_check.interval"),
        "timeout": _k("task.containers[].health_check.timeout"),
        "retries": _k("task.containers[].health_check.retries"),
        "startPeriod": _k("task.containers[].health_check.start_period"),
    },
    "LogConfiguration": {
        "logDriver": _k("task.containers[].logs", "awslogs"),
        "options": _k("task.containers[].logs", "group, stream_prefix, region, create_group"),
        "secretOptions": _n("or task.containers[].extra"),
    },
    "RuntimePlatform": {"cpuArchitecture": _k("task.runtime_platform.cpu_architecture"),
                        "operatingSystemFamily": _k("task.runtime_platform.operating_system_family")},
    "EphemeralStorage": {"sizeInGiB": _k("task.ephemeral_storage_gib")},
    "DeploymentCircuitBreaker": {
        "enable": _k("service.circuit_breaker.enable"),
        "rollback": _k("service.circuit_breaker.rollback"),
        "resetOnHealthyTask": _k("service.circuit_breaker.reset_on_healthy_task"),
        "thresholdConfiguration": _k("service.circuit_breaker.threshold_configuration"),
    },
    "DeploymentAlarms": {"alarmNames": _k("service.alarms.names"), "rollback": _k("service.alarms.rollback"),
                         "enable": _k("service.alarms.enable")},
    "DeploymentLifecycleHook": {
        "targetType": _k("service.lifecycle_hooks[].target_arn", "AWS_LAMBDA with a target_arn, else PAUSE"),
        "hookTargetArn": _k("service.lifecycle_hooks[].target_arn"),
        "roleArn": _k("service.lifecycle_hooks[].role_arn"),
        "lifecycleStages": _k("service.lifecycle_hooks[].stages"),
        "hookDetails": _k("service.lifecycle_hooks[].details"),
        "timeoutConfiguration": _k("service.lifecycle_hooks[].timeout_minutes", "and timeout_action"),
    },
    "LinearConfiguration": {"stepPercent": _k("service.linear.step_percent"),
                            "stepBakeTimeInMinutes": _k("service.linear.step_bake_time_minutes")},
    "CanaryConfiguration": {"canaryPercent": _k("service.canary.percent"),
                            "canaryBakeTimeInMinutes": _k("service.canary.bake_time_minutes")},
    "DeploymentEarlySuccessCriteria": {
        "enable": _k("service.early_success_criteria.enable"),
        "healthyPercent": _k("service.early_success_criteria.healthy_percent"),
        "sourceServiceRevisionCleanup": _k("service.early_success_criteria.source_service_revision_cleanup"),
    },
}

# Structures whose members are passed through as written, with how: a new member ECS adds to one of them is
# accepted without a change to ci-ecs.
PASSED_THROUGH: dict[str, Entry] = {
    "ServiceConnectConfiguration": _k("service.service_connect"),
    "ServiceVolumeConfiguration": _k("service.volume_configurations[]"),
    "VpcLatticeConfiguration": _k("service.vpc_lattice[]"),
    "GatewayConnector": _k("service.gateway_connectors[]"),
    "MonitoringConfiguration": _k("service.monitoring"),
    "Volume": _k("task.volumes[]", "native Volume members (camelCase)"),
}
_NATIVE_STRUCTURES = ("ServiceRegistry", "DeploymentController", "TaskDefinitionPlacementConstraint",
                      "ProxyConfiguration", "InferenceAccelerator", "TrustedExecutionConfiguration",
                      "RepositoryCredentials", "EnvironmentFile", "MountPoint", "VolumeFrom", "LinuxParameters",
                      "ContainerDependency", "HostEntry", "Ulimit", "SystemControl", "ResourceRequirement",
                      "FirelensConfiguration")
PASSED_THROUGH.update({name: _n("as its parent member") for name in _NATIVE_STRUCTURES})

OPERATIONS = ("CreateService", "UpdateService", "RegisterTaskDefinition")
SCOPES = (*OPERATIONS, "ContainerDefinition", "DeploymentConfiguration")


def _model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("ecs")


def scope_shapes() -> dict[str, Any]:
    """Each scope's shape, then the structures one level down (by shape name), in the model's order."""
    model = _model()
    shapes = {scope: (model.operation_model(scope).input_shape if scope in OPERATIONS else model.shape_for(scope))
              for scope in SCOPES}
    nested: dict[str, Any] = {}
    for shape in list(shapes.values()):
        for member in shape.members.values():
            inner = member.member if member.type_name == "list" else member
            if inner.type_name == "structure" and inner.name not in SCOPES and inner.name not in nested:
                nested[inner.name] = inner
    return {**shapes, **nested}


def classify(scope: str, member: str) -> Entry | None:
    """How `member` of `scope` (a scope or a nested structure's shape name) is set; None when unclassified."""
    entry = COVERAGE.get(scope, {}).get(member)
    if entry is not None:
        return entry
    passed = PASSED_THROUGH.get(scope)
    if passed is None:
        return None
    if passed.kind == KEY and passed.where.startswith("service."):
        from ci_ecs.config.api import snake_case

        return _k(f"{passed.where}.{snake_case(member)}")
    return passed


def unclassified() -> list[str]:
    """`Scope.member` for every member of the installed model the table does not classify."""
    return [f"{scope}.{member}" for scope, shape in scope_shapes().items() for member in shape.members
            if classify(scope, member) is None]


def render() -> str:
    """docs/ecs-coverage.md's text."""
    import botocore

    lines = ["# ECS coverage: every request member and how to set it", "",
             f"Generated by `{REGENERATE}` from botocore {botocore.__version__}'s ECS model and the table in "
             "`ci_ecs/coverage.py`; a test fails when the installed botocore has a member the table does not "
             "classify, or when this file is not what the command writes.", "",
             f"Kinds: **{KEY}** (its path in `ci-ecs.yml`; `[]` is each item of a list), **{FLAG}**, "
             f"**{NATIVE}** (a `task.file` task definition, which passes every member through; a container's "
             f"`extra` takes container members too), **{UNSUPPORTED}** (with the reason).", ""]
    for scope, shape in scope_shapes().items():
        lines += [f"## {scope}", "", "| member | kind | how | note |", "|---|---|---|---|"]
        for member in shape.members:
            entry = classify(scope, member) or Entry("UNCLASSIFIED", "", "")
            how = f"`{entry.where}`" if entry.where else ""
            lines.append(f"| `{member}` | {entry.kind} | {how} | {entry.note} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Write docs/ecs-coverage.md, or with --check exit 1 when it differs from what would be written."""
    parser = argparse.ArgumentParser(prog="python -m ci_ecs.coverage", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    missing = unclassified()
    if missing:
        print(f"unclassified ECS members (add them to ci_ecs/coverage.py): {', '.join(missing)}", file=sys.stderr)
        return 1
    text = render()
    if args.check:
        if not DOC.exists() or DOC.read_text() != text:
            print(f"{DOC} is not up to date: run {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
