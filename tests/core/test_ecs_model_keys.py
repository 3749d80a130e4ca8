"""Issue 26 items 2 and 4: the config keys for ECS's newer request members and Managed Instances, through the real
CLI against moto. Per key: it reaches the request exactly as ECS expects it (`plan --output json`), it is left
out of UpdateService on an existing service when unset, and each documented refusal is exit 2 naming the key
with nothing written."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ci_ecs.cli import main
from ci_ecs.ecs import EcsGateway
from tests.core.helpers import config, write

NGINX = "public.ecr.aws/nginx/nginx:1.27"
ROLE = "arn:aws:iam::123456789012:role/ecsInfrastructureRole"
TARGET_GROUP = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"

# (config key under service: / the first container, its value, the request member, what ECS gets)
SERVICE_KEYS: list[tuple[str, Any, str, Any]] = [
    ("early_success_criteria", {"healthy_percent": 50, "source_service_revision_cleanup": "DEFERRED"},
     "deploymentConfiguration.earlySuccessCriteria",
     {"enable": True, "healthyPercent": 50, "sourceServiceRevisionCleanup": "DEFERRED"}),
    ("circuit_breaker", {"enable": True, "rollback": False, "threshold_configuration": {"type": "COUNT", "value": 2},
                         "reset_on_healthy_task": True},
     "deploymentConfiguration.deploymentCircuitBreaker",
     {"enable": True, "rollback": False, "thresholdConfiguration": {"type": "COUNT", "value": 2},
      "resetOnHealthyTask": True}),
    ("availability_zone_rebalancing", "ENABLED", "availabilityZoneRebalancing", "ENABLED"),
    ("service_connect", {"enabled": True, "namespace": "shop",
                         "services": [{"port_name": "web", "discovery_name": "web",
                                       "client_aliases": [{"port": 80, "dns_name": "web.shop"}]}],
                         "log_configuration": {"log_driver": "awslogs",
                                               "options": {"awslogs-group": "/ecs/sc", "awslogs-region": "us-east-1"}}},
     "serviceConnectConfiguration",
     {"enabled": True, "namespace": "shop",
      "services": [{"portName": "web", "discoveryName": "web", "clientAliases": [{"port": 80, "dnsName": "web.shop"}]}],
      "logConfiguration": {"logDriver": "awslogs",
                           "options": {"awslogs-group": "/ecs/sc", "awslogs-region": "us-east-1"}}}),
    ("vpc_lattice", [{"role_arn": ROLE, "target_group_arn": "arn:aws:vpc-lattice:us-east-1:123456789012:"
                      "targetgroup/tg-0123456789abcdef0", "port_name": "web"}],
     "vpcLatticeConfigurations",
     [{"roleArn": ROLE, "targetGroupArn": "arn:aws:vpc-lattice:us-east-1:123456789012:targetgroup/"
       "tg-0123456789abcdef0", "portName": "web"}]),
    ("volume_configurations", [{"name": "data", "managed_ebs_volume": {
        "role_arn": ROLE, "size_in_gib": 20, "volume_type": "gp3", "filesystem_type": "ext4"}}],
     "volumeConfigurations",
     [{"name": "data", "managedEBSVolume": {"roleArn": ROLE, "sizeInGiB": 20, "volumeType": "gp3",
                                            "filesystemType": "ext4"}}]),
    ("gateway_connectors", [{"port_name": "web", "health_check": {"health_check_path": "/health"},
                             "deregistration_delay": {"timeout_seconds": 30}}],
     "gatewayConnectors",
     [{"portName": "web", "healthCheck": {"healthCheckPath": "/health"},
       "deregistrationDelay": {"timeoutSeconds": 30}}]),
    ("monitoring", {"metric_configurations": [{"metric_names": ["CPUUtilization", "MemoryUtilization"],
                                               "resolution_seconds": 20}]},
     "monitoring", {"metricConfigurations": [{"metricNames": ["CPUUtilization", "MemoryUtilization"],
                                              "resolutionSeconds": 20}]}),
]
CONTAINER_KEYS: list[tuple[str, Any, str, Any]] = [
    ("restart_policy", {"ignored_exit_codes": [0], "restart_attempt_period": 60}, "restartPolicy",
     {"enabled": True, "ignoredExitCodes": [0], "restartAttemptPeriod": 60}),
    ("version_consistency", "disabled", "versionConsistency", "disabled"),
]


def _get(data: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        data = data[part]
    return data


def _run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def _base() -> dict[str, Any]:
    data = config()
    data["service"]["security_groups"] = []
    data["service"]["minimum_healthy_percent"] = 50  # early success needs healthy_percent >= this (ECS)
    return data


def _nothing_created(moto_aws: dict[str, Any]) -> None:
    assert moto_aws["ecs"].list_clusters()["clusterArns"] == []
    assert moto_aws["ecs"].list_task_definition_families()["families"] == []


@pytest.mark.parametrize(("key", "value", "member", "expected"), SERVICE_KEYS, ids=[k[0] for k in SERVICE_KEYS])
def test_service_key_reaches_the_create_request(key: str, value: Any, member: str, expected: Any, tmp_path: Path,
                                                moto_aws: dict[str, Any]) -> None:
    data = _base()
    data["service"]["security_groups"] = [moto_aws["security_group"]]
    data["service"][key] = value
    if key == "volume_configurations":  # ECS: the name of a task definition volume configured at launch
        data["task"]["volumes"] = [{"name": "data", "configuredAtLaunch": True}]
    plan = _run("plan", "-c", str(write(tmp_path / "ci-ecs.yml", data)), "--output", "json")
    assert plan.exit_code == 0, plan.output
    request = json.loads(plan.stdout)["request"]["CreateService"]
    assert _get(request, member) == expected


@pytest.mark.parametrize(("key", "value", "member", "expected"), CONTAINER_KEYS, ids=[k[0] for k in CONTAINER_KEYS])
def test_container_key_reaches_the_task_definition(key: str, value: Any, member: str, expected: Any,
                                                   tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    data = _base()
    data["service"]["security_groups"] = [moto_aws["security_group"]]
    data["task"]["containers"][0][key] = value
    path = write(tmp_path / "ci-ecs.yml", data)
    result = _run("deploy", "-c", str(path), "--output", "json")
    assert result.exit_code == 0, result.output
    registered = moto_aws["ecs"].describe_task_definition(taskDefinition="hello")["taskDefinition"]
    assert registered["containerDefinitions"][0][member] == expected
    again = _run("deploy", "-c", str(path), "--output", "json")  # ECS's echo is the same: nothing to register
    assert again.exit_code == 0 and json.loads(again.stdout)["taskDefinitionRegistered"] is False, again.output


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every UpdateService input ci-ecs sends (the call itself goes through to moto)."""
    calls: list[dict[str, Any]] = []
    original = EcsGateway.update_service

    def record(self: EcsGateway, params: dict[str, Any]) -> dict[str, Any]:
        calls.append(json.loads(json.dumps(params)))
        return original(self, params)

    monkeypatch.setattr(EcsGateway, "update_service", record)
    return calls


def test_unset_keys_are_left_out_of_the_update(tmp_path: Path, moto_aws: dict[str, Any],
                                              sent: list[dict[str, Any]]) -> None:
    """A service made elsewhere with the new deployment settings: a deploy whose config leaves them out sends
    none of them (only the new task definition), and they stay as the service has them."""
    ecs = moto_aws["ecs"]
    data = _base()
    data["service"]["security_groups"] = [moto_aws["security_group"]]
    data["service"].pop("minimum_healthy_percent")
    path = write(tmp_path / "ci-ecs.yml", data)
    first = _run("deploy", "-c", str(path), "--output", "json")
    assert first.exit_code == 0, first.output
    deployment = {"minimumHealthyPercent": 50, "maximumPercent": 200,
                  "deploymentCircuitBreaker": {"enable": True, "rollback": True, "resetOnHealthyTask": True,
                                               "thresholdConfiguration": {"type": "COUNT", "value": 2}},
                  "earlySuccessCriteria": {"enable": True, "healthyPercent": 50,
                                           "sourceServiceRevisionCleanup": "BLOCKING"}}
    ecs.update_service(cluster="demo", service="hello", deploymentConfiguration=deployment)
    data["task"]["containers"][0]["environment"] = {"GREETING": "hi"}
    write(path, data)
    plan = _run("plan", "-c", str(path), "--output", "json")
    assert plan.exit_code == 0, plan.output
    assert sorted(json.loads(plan.stdout)["request"]["UpdateService"]) == ["cluster", "service", "taskDefinition"]
    result = _run("deploy", "-c", str(path), "--output", "json")
    assert result.exit_code == 0, result.output
    assert [sorted(call) for call in sent] == [["cluster", "service", "taskDefinition"]]
    after = ecs.describe_services(cluster="demo", services=["hello"])["services"][0]["deploymentConfiguration"]
    assert after["earlySuccessCriteria"] == deployment["earlySuccessCriteria"]
    assert after["deploymentCircuitBreaker"] == deployment["deploymentCircuitBreaker"]


def test_setting_one_member_keeps_the_others(tmp_path: Path, moto_aws: dict[str, Any],
                                             sent: list[dict[str, Any]]) -> None:
    """Setting early success criteria on an existing service merges into its deployment configuration (the
    circuit breaker threshold someone else set stays); a second run sends nothing."""
    ecs = moto_aws["ecs"]
    data = _base()
    data["service"]["security_groups"] = [moto_aws["security_group"]]
    path = write(tmp_path / "ci-ecs.yml", data)
    assert _run("deploy", "-c", str(path)).exit_code == 0
    # Set elsewhere (moto keeps a deployment configuration from UpdateService; its CreateService drops it).
    ecs.update_service(cluster="demo", service="hello", deploymentConfiguration={
        "minimumHealthyPercent": 50, "maximumPercent": 200,
        "deploymentCircuitBreaker": {"enable": True, "rollback": True,
                                     "thresholdConfiguration": {"type": "COUNT", "value": 3}}})
    data["service"]["early_success_criteria"] = {"healthy_percent": 75, "source_service_revision_cleanup": "BLOCKING"}
    write(path, data)
    result = _run("deploy", "-c", str(path), "--output", "json")
    assert result.exit_code == 0, result.output
    assert len(sent) == 1 and sorted(sent[0]) == ["cluster", "deploymentConfiguration", "service"]
    described = ecs.describe_services(cluster="demo", services=["hello"])["services"][0]["deploymentConfiguration"]
    assert described["deploymentCircuitBreaker"]["thresholdConfiguration"] == {"type": "COUNT", "value": 3}
    assert described["earlySuccessCriteria"] == {"enable": True, "healthyPercent": 75,
                                                 "sourceServiceRevisionCleanup": "BLOCKING"}
    again = _run("deploy", "-c", str(path), "--output", "json")
    assert again.exit_code == 0 and json.loads(again.stdout)["serviceAction"] == "unchanged", again.output
    assert len(sent) == 1


# (id, changes to the config: dotted keys, the key named, a fragment of the message)
REFUSALS: list[tuple[str, dict[str, Any], str, str]] = [
    ("early-success-without-percent", {"service.early_success_criteria": {"source_service_revision_cleanup":
                                                                          "DEFERRED"}},
     "service.early_success_criteria", "needs healthy_percent"),
    ("early-success-percent-above-100", {"service.early_success_criteria": {
        "healthy_percent": 101, "source_service_revision_cleanup": "DEFERRED"}},
     "service.early_success_criteria.healthy_percent", "less than or equal to 100"),
    ("early-success-cleanup-unknown", {"service.early_success_criteria": {
        "healthy_percent": 50, "source_service_revision_cleanup": "LATER"}},
     "service.early_success_criteria.source_service_revision_cleanup", "BLOCKING"),
    ("early-success-below-minimum-healthy", {"service.minimum_healthy_percent": 80, "service.early_success_criteria": {
        "healthy_percent": 50, "source_service_revision_cleanup": "DEFERRED"}},
     "service.early_success_criteria.healthy_percent", "below the minimum healthy percent 80"),
    ("early-success-below-ecs-default-minimum", {"service.minimum_healthy_percent": None,
                                                 "service.early_success_criteria": {
                                                     "healthy_percent": 50,
                                                     "source_service_revision_cleanup": "DEFERRED"}},
     "service.early_success_criteria.healthy_percent", "below the minimum healthy percent 100"),
    ("early-success-with-blue-green", {"service.strategy": "BLUE_GREEN", "service.bake_time_minutes": 5,
                                       "service.early_success_criteria": {
                                           "healthy_percent": 50, "source_service_revision_cleanup": "DEFERRED"}},
     "service.early_success_criteria", "ROLLING strategy only"),
    ("threshold-type-unknown", {"service.circuit_breaker": {"threshold_configuration": {"type": "SOME", "value": 2}}},
     "service.circuit_breaker.threshold_configuration.type", "COUNT"),
    ("threshold-without-value", {"service.circuit_breaker": {"threshold_configuration": {"type": "COUNT"}}},
     "service.circuit_breaker.threshold_configuration.value", "is required"),
    ("restart-period-below-60", {"task.containers.0.restart_policy": {"restart_attempt_period": 30}},
     "task.containers[0].restart_policy.restart_attempt_period", "greater than or equal to 60"),
    ("restart-period-above-1800", {"task.containers.0.restart_policy": {"restart_attempt_period": 1801}},
     "task.containers[0].restart_policy.restart_attempt_period", "less than or equal to 1800"),
    ("restart-51-exit-codes", {"task.containers.0.restart_policy": {"ignored_exit_codes": list(range(51))}},
     "task.containers[0].restart_policy.ignored_exit_codes", "at most 50"),
    ("version-consistency-unknown", {"task.containers.0.version_consistency": "yes"},
     "task.containers[0].version_consistency", "'enabled' or 'disabled'"),
    ("az-rebalancing-unknown", {"service.availability_zone_rebalancing": "ON"},
     "service.availability_zone_rebalancing", "'ENABLED' or 'DISABLED'"),
    ("service-connect-unknown-key", {"service.service_connect": {"enabled": True, "namspace": "shop"}},
     "service.service_connect", "did you mean 'namespace'"),
    ("service-connect-wrong-type", {"service.service_connect": {"enabled": "yes"}},
     "service.service_connect.enabled", "is not of type boolean"),
    ("vpc-lattice-without-role", {"service.vpc_lattice": [{"target_group_arn": "arn:aws:vpc-lattice:us-east-1:"
                                                           "123456789012:targetgroup/tg-1", "port_name": "web"}]},
     "service.vpc_lattice[0].role_arn", "is required"),
    ("ebs-volume-without-role", {"service.volume_configurations": [{"name": "data", "managed_ebs_volume": {
        "size_in_gib": 20}}]},
     "service.volume_configurations[data].managed_ebs_volume.role_arn", "is required"),
    ("ebs-volume-not-in-the-task-definition", {"service.volume_configurations": [
        {"name": "data", "managed_ebs_volume": {"role_arn": ROLE}}]},
     "service.volume_configurations[data].name", "no volume \"data\" configured at launch"),
    ("gateway-deregistration-above-3600", {"service.gateway_connectors": [{"port_name": "web", "deregistration_delay":
                                                                           {"timeout_seconds": 3601}}]},
     "service.gateway_connectors[0].deregistration_delay.timeout_seconds", "outside 0..3600"),
    ("monitoring-resolution-30", {"service.monitoring": {"metric_configurations": [
        {"metric_names": ["CPUUtilization"], "resolution_seconds": 30}]}},
     "service.monitoring.metric_configurations[0].resolution_seconds", "20 or 60"),
    ("monitoring-unknown-metric", {"service.monitoring": {"metric_configurations": [
        {"metric_names": ["DiskUtilization"], "resolution_seconds": 20}]}},
     "service.monitoring.metric_configurations[0].metric_names", "CPUUtilization, MemoryUtilization"),
    ("managed-instances-launch-type-on-fargate-task", {"service.launch_type": "MANAGED_INSTANCES"},
     "service.launch_type", "does not match the task definition's requiresCompatibilities (FARGATE)"),
    ("managed-instances-bridge", {"task.requires_compatibilities": ["MANAGED_INSTANCES"], "task.network_mode": "bridge",
                                  "service.launch_type": "MANAGED_INSTANCES", "service.assign_public_ip": None},
     "task.network_mode", "awsvpc or host (got bridge)"),
    ("managed-instances-without-network-mode", {"task.requires_compatibilities": ["MANAGED_INSTANCES"],
                                                "task.network_mode": None, "service.launch_type": "MANAGED_INSTANCES",
                                                "service.assign_public_ip": None},
     "task.network_mode", "none is set"),
    ("managed-instances-docker-labels", {"task.requires_compatibilities": ["MANAGED_INSTANCES"],
                                         "service.launch_type": "MANAGED_INSTANCES",
                                         "task.containers.0.docker_labels": {"team": "web"}},
     "task.containers[0].docker_labels", "dockerLabels is not valid on Managed Instances"),
]


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        data = data[int(part)] if isinstance(data, list) else data.setdefault(part, {})
    if value is None:
        data.pop(last, None)
    else:
        data[last] = value


@pytest.mark.parametrize(("case", "changes", "key", "fragment"), REFUSALS, ids=[c[0] for c in REFUSALS])
def test_documented_refusal_is_exit_2_naming_the_key(case: str, changes: dict[str, Any], key: str, fragment: str,
                                                     tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    data = copy.deepcopy(_base())
    for dotted, value in changes.items():
        _set(data, dotted, value)
    result = _run("deploy", "-c", str(write(tmp_path / "ci-ecs.yml", data)))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert any(f"{key}: " in line and fragment in line for line in lines), lines
    _nothing_created(moto_aws)


def test_native_file_restart_policy_is_held_to_the_same_range(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    definition = {"family": "shop", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256",
                  "memory": "512", "containerDefinitions": [
                      {"name": "app", "image": NGINX,
                       "restartPolicy": {"enabled": True, "restartAttemptPeriod": 5000}}]}
    (tmp_path / "taskdef.json").write_text(json.dumps(definition))
    data = _base()
    data["task"] = {"file": "taskdef.json"}
    result = _run("deploy", "-c", str(write(tmp_path / "ci-ecs.yml", data)))
    assert result.exit_code == 2, result.output
    assert "task.file: " in result.stderr and "restartAttemptPeriod 5000 is outside 60..1800" in result.stderr
    _nothing_created(moto_aws)


def test_managed_instances_service_is_planned(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    """`launch_type: MANAGED_INSTANCES` with a MANAGED_INSTANCES task definition in awsvpc mode passes the
    pre-flight, and the request carries the launch type."""
    data = _base()
    data["service"]["security_groups"] = [moto_aws["security_group"]]
    data["task"]["requires_compatibilities"] = ["MANAGED_INSTANCES"]
    data["service"]["launch_type"] = "MANAGED_INSTANCES"
    plan = _run("plan", "-c", str(write(tmp_path / "ci-ecs.yml", data)), "--output", "json")
    assert plan.exit_code == 0, plan.output
    request = json.loads(plan.stdout)["request"]
    assert request["CreateService"]["launchType"] == "MANAGED_INSTANCES"
