"""Table-driven tests of the pure functions: render, normalise, diff (task definitions and services)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ci_ecs.config import ServiceConfig, TaskConfig
from ci_ecs.diff import diff_values
from ci_ecs.follow.loop import failure_threshold, poll_interval
from ci_ecs.imageref import parse_image_ref
from ci_ecs.service import desired_service, update_plan
from ci_ecs.taskdef import diff_task_definitions, normalise, render

# A realistic DescribeTaskDefinition answer, with fields ci-ecs does not model (ulimits, linuxParameters,
# firelensConfiguration, dependsOn, volumes with efs, proxyConfiguration...).
DESCRIBED: dict[str, Any] = {
    "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/shop:12",
    "family": "shop", "revision": 12, "status": "ACTIVE",
    "taskRoleArn": "arn:aws:iam::123456789012:role/shop",
    "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
    "networkMode": "awsvpc", "cpu": "1024", "memory": "2048",
    "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.logging-driver.awslogs"}],
    "compatibilities": ["EC2", "FARGATE"], "requiresCompatibilities": ["FARGATE"],
    "registeredAt": "2026-01-01T00:00:00Z", "registeredBy": "arn:aws:iam::123456789012:user/ci",
    "placementConstraints": [],
    "volumes": [{"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "rootDirectory": "/"}}],
    "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
    "containerDefinitions": [
        {"name": "app", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop@sha256:" + "1" * 64,
         "cpu": 0, "essential": True, "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
         "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
         "mountPoints": [{"sourceVolume": "data", "containerPath": "/data", "readOnly": False}],
         "volumesFrom": [], "ulimits": [{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}],
         "linuxParameters": {"initProcessEnabled": True},
         "dependsOn": [{"containerName": "log_router", "condition": "START"}],
         "logConfiguration": {"logDriver": "awsfirelens", "options": {"Name": "cloudwatch"}},
         "systemControls": []},
        {"name": "log_router", "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
         "cpu": 0, "essential": True, "portMappings": [], "environment": [], "mountPoints": [], "volumesFrom": [],
         "firelensConfiguration": {"type": "fluentbit"}, "user": "0", "systemControls": []},
    ],
}


def test_round_trip_keeps_unmodelled_fields(tmp_path: Path) -> None:
    """describe output as a native file -> render -> equal to what was described (no new revision)."""
    (tmp_path / "taskdef.json").write_text(json.dumps({"taskDefinition": DESCRIBED}))
    task = TaskConfig(file="taskdef.json", image_containers=["app"])
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop@sha256:" + "1" * 64
    rendered = render(task, image, base_dir=tmp_path)
    assert "revision" not in rendered and "requiresAttributes" not in rendered
    assert rendered["containerDefinitions"][0]["ulimits"] == DESCRIBED["containerDefinitions"][0]["ulimits"]
    assert rendered["containerDefinitions"][1]["firelensConfiguration"] == {"type": "fluentbit"}
    assert rendered["volumes"] == DESCRIBED["volumes"]
    assert diff_task_definitions(DESCRIBED, rendered) == []


def test_native_file_image_substituted_only_in_named_container(tmp_path: Path) -> None:
    (tmp_path / "taskdef.json").write_text(json.dumps(DESCRIBED))
    rendered = render(TaskConfig(file="taskdef.json", image_containers=["app"]), "example.org/shop:2",
                      base_dir=tmp_path)
    assert rendered["containerDefinitions"][0]["image"] == "example.org/shop:2"
    assert rendered["containerDefinitions"][1]["image"].endswith("aws-for-fluent-bit:stable")
    changes = [str(c) for c in diff_task_definitions(DESCRIBED, rendered)]
    assert len(changes) == 1 and changes[0].startswith("~ containerDefinitions[app].image")


def test_native_file_default_container_is_the_one_with_the_same_repository(tmp_path: Path) -> None:
    (tmp_path / "taskdef.json").write_text(json.dumps(DESCRIBED))
    rendered = render(TaskConfig(file="taskdef.json"), "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop:3",
                      base_dir=tmp_path)
    assert rendered["containerDefinitions"][0]["image"].endswith("/shop:3")
    assert "fluent-bit" in rendered["containerDefinitions"][1]["image"]


CONCISE = {"family": "web", "cpu": "0.25 vCPU", "memory": "0.5GB", "network_mode": "awsvpc",
           "requires_compatibilities": ["FARGATE"],
           "containers": [{"name": "web", "port_mappings": [{"container_port": 80}],
                           "environment": {"Z": "1", "A": 2}, "secrets": {"DB": "arn:aws:ssm:us-east-1:1:parameter/db"},
                           "logs": {"group": "/ecs/web"}, "extra": {"ulimits": [{"name": "nofile", "softLimit": 1,
                                                                                  "hardLimit": 1}]}}]}

# (id, described-as-AWS-returns-it, expected change paths vs CONCISE rendered with image nginx:1)
NORMALISE_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("aws-fills-defaults-no-change", {
        "family": "web", "cpu": "256", "memory": "512", "networkMode": "awsvpc", "revision": 3,
        "requiresCompatibilities": ["FARGATE"], "compatibilities": ["EC2", "FARGATE"], "status": "ACTIVE",
        "containerDefinitions": [{
            "name": "web", "image": "nginx:1", "cpu": 0, "essential": True,
            "portMappings": [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}],
            "environment": [{"name": "A", "value": "2"}, {"name": "Z", "value": "1"}],
            "secrets": [{"name": "DB", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/db"}],
            "mountPoints": [], "volumesFrom": [], "systemControls": [],
            "ulimits": [{"name": "nofile", "softLimit": 1, "hardLimit": 1}],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/web", "awslogs-stream-prefix": "ecs", "awslogs-region": "us-east-1"}}}],
        "volumes": [], "placementConstraints": []}, []),
    ("env-value-changed", {
        "family": "web", "cpu": "256", "memory": "512", "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "containerDefinitions": [{
            "name": "web", "image": "nginx:1", "portMappings": [{"containerPort": 80}],
            "environment": [{"name": "A", "value": "3"}, {"name": "Z", "value": "1"}],
            "secrets": [{"name": "DB", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/db"}],
            "ulimits": [{"name": "nofile", "softLimit": 1, "hardLimit": 1}],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/web", "awslogs-stream-prefix": "ecs", "awslogs-region": "us-east-1"}}}]},
     ["containerDefinitions[web].environment[A].value"]),
    ("memory-and-image-changed", {
        "family": "web", "cpu": "256", "memory": "1024", "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "containerDefinitions": [{
            "name": "web", "image": "nginx:0", "portMappings": [{"containerPort": 80}],
            "environment": [{"name": "Z", "value": "1"}, {"name": "A", "value": "2"}],
            "secrets": [{"name": "DB", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/db"}],
            "ulimits": [{"name": "nofile", "softLimit": 1, "hardLimit": 1}],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/web", "awslogs-stream-prefix": "ecs", "awslogs-region": "us-east-1"}}}]},
     ["containerDefinitions[web].image", "memory"]),
    ("secret-removed-and-container-added", {
        "family": "web", "cpu": "256", "memory": "512", "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "containerDefinitions": [
            {"name": "web", "image": "nginx:1", "portMappings": [{"containerPort": 80}],
             "environment": [{"name": "Z", "value": "1"}, {"name": "A", "value": "2"}],
             "ulimits": [{"name": "nofile", "softLimit": 1, "hardLimit": 1}],
             "logConfiguration": {"logDriver": "awslogs", "options": {
                 "awslogs-group": "/ecs/web", "awslogs-stream-prefix": "ecs", "awslogs-region": "us-east-1"}}},
            {"name": "sidecar", "image": "busybox"}]},
     ["containerDefinitions[sidecar]", "containerDefinitions[web].secrets"]),
]


@pytest.mark.parametrize(("case", "described", "paths"), NORMALISE_CASES, ids=[c[0] for c in NORMALISE_CASES])
def test_normalise_and_diff(case: str, described: dict[str, Any], paths: list[str]) -> None:
    rendered = render(TaskConfig.model_validate(CONCISE), "nginx:1", region="us-east-1")
    changes = diff_task_definitions(described, rendered)
    assert sorted(c.path for c in changes) == sorted(paths), [str(c) for c in changes]


def test_normalise_is_idempotent() -> None:
    once = normalise(DESCRIBED)
    assert normalise(once) == once
    assert once["containerDefinitions"][0]["environment"][0]["name"] == "A"


def test_no_current_revision_is_a_change() -> None:
    rendered = render(TaskConfig.model_validate(CONCISE), "nginx:1")
    assert [c.path for c in diff_task_definitions(None, rendered)] == ["taskDefinition"]


CURRENT_SERVICE: dict[str, Any] = {
    "serviceName": "web", "status": "ACTIVE", "taskDefinition": "arn:aws:ecs:us-east-1:1:task-definition/web:3",
    "desiredCount": 2, "launchType": "FARGATE", "platformVersion": "LATEST",
    "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-b", "subnet-a"],
                                                     "securityGroups": ["sg-1"], "assignPublicIp": "ENABLED"}},
    "deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 100,
                                "deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    "loadBalancers": [], "placementStrategy": [], "placementConstraints": [],
}

SERVICE_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("same", {}, []),
    ("desired-count", {"desired_count": 3}, ["desiredCount"]),
    ("subnet-order-is-not-a-change", {"subnets": ["subnet-b", "subnet-a"]}, []),
    ("public-ip-off", {"assign_public_ip": False}, ["networkConfiguration.awsvpcConfiguration.assignPublicIp"]),
    ("min-healthy", {"minimum_healthy_percent": 50}, ["deploymentConfiguration.minimumHealthyPercent"]),
    ("breaker-off", {"circuit_breaker": {"enable": False, "rollback": False}},
     ["deploymentConfiguration.deploymentCircuitBreaker.enable",
      "deploymentConfiguration.deploymentCircuitBreaker.rollback"]),
    ("load-balancer-added", {"load_balancers": [{"target_group_arn": "arn:tg", "container_name": "web",
                                                 "container_port": 80}]}, ["loadBalancers[web]"]),
    ("unset-count-is-left-alone", {"desired_count": None}, []),
]


@pytest.mark.parametrize(("case", "changes", "paths"), SERVICE_CASES, ids=[c[0] for c in SERVICE_CASES])
def test_service_diff(case: str, changes: dict[str, Any], paths: list[str]) -> None:
    base: dict[str, Any] = {"name": "web", "desired_count": 2, "launch_type": "FARGATE",
                            "subnets": ["subnet-a", "subnet-b"], "security_groups": ["sg-1"],
                            "assign_public_ip": True, "circuit_breaker": {"enable": True, "rollback": True}}
    config = ServiceConfig.model_validate({**base, **changes})
    spec = desired_service(config, task_definition=CURRENT_SERVICE["taskDefinition"])
    changes, _ = update_plan(spec, CURRENT_SERVICE, network_mode="awsvpc")
    assert sorted(c.path for c in changes) == sorted(paths)


@pytest.mark.parametrize(("old", "new", "expected"), [
    ({"a": [1, 2]}, {"a": [1, 2]}, []),
    ({"a": [1, 2]}, {"a": [2, 1]}, ["~ a[0]: 1 -> 2", "~ a[1]: 2 -> 1"]),
    ({"a": [{"name": "x", "v": 1}, {"name": "y", "v": 2}]}, {"a": [{"name": "y", "v": 2}, {"name": "x", "v": 1}]}, []),
    ({}, {"b": 1}, ["+ b: 1"]),
    ({"b": 1}, {}, ["- b: 1"]),
])
def test_diff_values(old: Any, new: Any, expected: list[str]) -> None:
    assert [str(c) for c in diff_values(old, new)] == expected


@pytest.mark.parametrize(("reference", "domain", "path", "tag", "digest"), [
    ("nginx", None, "nginx", None, None),
    ("library/nginx:1.27", None, "library/nginx", "1.27", None),
    ("127.0.0.1:5000/hello:1", "127.0.0.1:5000", "hello", "1", None),
    ("localhost/x@sha256:" + "a" * 64, "localhost", "x", None, "sha256:" + "a" * 64),
    ("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v1", "123456789012.dkr.ecr.us-east-1.amazonaws.com",
     "team/app", "v1", None),
])
def test_parse_image_ref(reference: str, domain: str | None, path: str, tag: str | None, digest: str | None) -> None:
    ref = parse_image_ref(reference)
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (domain, path, tag, digest)
    assert str(ref) == reference


@pytest.mark.parametrize("reference", ["", "UPPER", "a:b:c", "x@sha256:short", " nginx", "nginx:", "-a/b"])
def test_parse_image_ref_rejects(reference: str) -> None:
    with pytest.raises(ValueError, match="malformed"):
        parse_image_ref(reference)


def test_failure_threshold_and_polling() -> None:
    assert [failure_threshold(n) for n in (0, 1, 6, 7, 10, 399, 400, 1000)] == [3, 3, 3, 4, 5, 200, 200, 200]
    assert poll_interval(0, 15) == 1.0
    assert poll_interval(50, 15) == 5.0
    assert poll_interval(1000, 15) == 15
