"""Pure, table-driven tests of render and normalise: documented spellings, nulls, placeholders, ECS's defaults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ci_ecs.config import TaskConfig
from ci_ecs.errors import ConfigError
from ci_ecs.imageref import is_image_placeholder, is_private_ecr
from ci_ecs.task_files import read_only_fields
from ci_ecs.taskdef import diff_task_definitions, normalise, render, validate_registration

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:" + "a" * 64


def _file(tmp_path: Path, definition: dict[str, Any] | str, name: str = "taskdef.json") -> TaskConfig:
    (tmp_path / name).write_text(definition if isinstance(definition, str) else json.dumps(definition))
    return TaskConfig(file=name)


# --- item 5: the README's spellings reach RegisterTaskDefinition in ECS's units ---------------------

@pytest.mark.parametrize(("cpu", "memory", "units"), [
    ("0.25 vCPU", "0.5GB", ("256", "512")),
    ("1 vcpu", "2 GB", ("1024", "2048")),
    ("256", "512", ("256", "512")),
    (512, 1024, ("512", "1024")),
])
def test_config_cpu_memory_are_sent_in_ecs_units(cpu: Any, memory: Any, units: tuple[str, str]) -> None:
    task = TaskConfig.model_validate({"family": "web", "cpu": cpu, "memory": memory,
                                      "containers": [{"name": "web", "image": "nginx:1"}]})
    rendered = render(task, None)
    assert (rendered["cpu"], rendered["memory"]) == units
    validate_registration(rendered)


def test_native_file_units_task_and_container_level(tmp_path: Path) -> None:
    task = _file(tmp_path, {"family": "web", "cpu": "0.5 vCPU", "memory": 1024, "containerDefinitions": [
        {"name": "web", "image": "nginx:1", "cpu": "128", "memory": "0.25GB", "memoryReservation": "128"}]})
    rendered = render(task, None, base_dir=tmp_path)
    assert (rendered["cpu"], rendered["memory"]) == ("512", "1024")
    container = rendered["containerDefinitions"][0]
    assert (container["cpu"], container["memory"], container["memoryReservation"]) == (128, 256, 128)
    validate_registration(rendered)  # botocore types cpu/memory as strings and container ones as integers


@pytest.mark.parametrize(("field", "value", "key"), [
    ("cpu", "${CPU}", "task.file"),
    ("memory", "{{memory}}", "task.file"),
])
def test_unrendered_units_in_a_file_are_config_errors(tmp_path: Path, field: str, value: str, key: str) -> None:
    definition = {"family": "web", "cpu": "256", "memory": "512",
                  "containerDefinitions": [{"name": "web", "image": "nginx:1"}]}
    definition[field] = value
    with pytest.raises(ConfigError) as caught:
        render(_file(tmp_path, definition), None, base_dir=tmp_path)
    assert caught.value.key == key and value in str(caught.value)


# --- item 16: JSON nulls are dropped, as aws-actions does ---------------------------------------------

def test_nulls_in_a_console_export_are_dropped(tmp_path: Path) -> None:
    exported = {"family": "web", "taskRoleArn": None, "executionRoleArn": None, "networkMode": "awsvpc",
                "cpu": "256", "memory": "512", "requiresCompatibilities": ["FARGATE"], "pidMode": None,
                "proxyConfiguration": None, "inferenceAccelerators": None,
                "containerDefinitions": [{"name": "web", "image": "nginx:1", "healthCheck": None,
                                          "portMappings": [{"containerPort": 80, "hostPort": None}],
                                          "environment": [{"name": "A", "value": "1"}, None],
                                          "logConfiguration": {"logDriver": "json-file", "options": None},
                                          "linuxParameters": {"capabilities": None, "initProcessEnabled": None}}],
                "volumes": None, "placementConstraints": None}
    rendered = render(_file(tmp_path, exported), None, base_dir=tmp_path)
    validate_registration(rendered)  # before: "Invalid type for parameter taskRoleArn, value: None"
    container = rendered["containerDefinitions"][0]
    assert "taskRoleArn" not in rendered and "healthCheck" not in container
    assert container["portMappings"] == [{"containerPort": 80}]
    assert container["environment"] == [{"name": "A", "value": "1"}]


# --- item 18: CodeDeploy's <IMAGE1_NAME> is a placeholder --------------------------------------------

@pytest.mark.parametrize(("image", "placeholder"), [
    ("<IMAGE1_NAME>", True), ("<IMAGE2_NAME>", True), ("<IMAGE_NAME>", True), ("${IMAGE}", True),
    ("{{image}}", True), ("{{ image }}", True), ("", True), (None, True), ("nginx:1", False),
    ("<TASK_NAME>", False),
])
def test_image_placeholders(image: Any, placeholder: bool) -> None:
    assert is_image_placeholder(image) is placeholder


def test_codedeploy_taskdef_gets_the_image_in_the_placeholder_container(tmp_path: Path) -> None:
    codedeploy = {"family": "web", "networkMode": "awsvpc", "cpu": "256", "memory": "512",
                  "requiresCompatibilities": ["FARGATE"], "executionRoleArn": "arn:aws:iam::1:role/x",
                  "containerDefinitions": [
                      {"name": "web", "image": "<IMAGE1_NAME>", "essential": True,
                       "portMappings": [{"containerPort": 80, "protocol": "tcp"}]},
                      {"name": "envoy", "image": "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.27"}]}
    task = _file(tmp_path, codedeploy)
    rendered = render(task, IMAGE, base_dir=tmp_path)
    assert [c["image"] for c in rendered["containerDefinitions"]] == [
        IMAGE, "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.27"]
    with pytest.raises(ConfigError, match="container web has no image"):
        render(task, None, base_dir=tmp_path)  # before: <IMAGE1_NAME> was sent to ECS as the image


def test_private_ecr() -> None:
    assert is_private_ecr(IMAGE)
    assert is_private_ecr("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app:1")
    assert not is_private_ecr("public.ecr.aws/nginx/nginx:1")
    assert not is_private_ecr("127.0.0.1:5000/app:1")


# --- item 6: what ECS fills in counts as unset --------------------------------------------------------

RENDERED = {"family": "web", "networkMode": "awsvpc", "cpu": "256", "memory": "512",
            "requiresCompatibilities": ["FARGATE"],
            "containerDefinitions": [{"name": "web", "image": "nginx:1", "portMappings": [{"containerPort": 80}],
                                      "healthCheck": {"command": ["CMD", "true"]},
                                      "mountPoints": [{"sourceVolume": "data", "containerPath": "/d"}]}],
            "volumes": [{"name": "data"}]}

# (id, what ECS's describe adds, expected change paths)
FILLED: list[tuple[str, dict[str, Any], dict[str, Any], list[str]]] = [
    ("task-level-defaults", {"enableFaultInjection": False, "placementConstraints": [], "tags": [{"key": "a",
     "value": "b"}], "compatibilities": ["EC2", "FARGATE"], "revision": 4, "status": "ACTIVE",
     "registeredAt": "2026-01-01T00:00:00+00:00", "registeredBy": "arn:aws:iam::1:user/x",
     "requiresAttributes": [{"name": "ecs.capability.task-eni"}], "taskDefinitionArn": "arn:x"}, {}, []),
    ("container-defaults", {}, {"essential": True, "cpu": 0, "environment": [], "secrets": [], "volumesFrom": [],
                                "systemControls": [], "ulimits": [], "dockerLabels": {}, "privileged": False,
                                "readonlyRootFilesystem": False, "interactive": False,
                                "versionConsistency": "enabled"}, []),
    ("health-check-defaults", {}, {"healthCheck": {"command": ["CMD", "true"], "interval": 30, "timeout": 5,
                                                   "retries": 3, "startPeriod": 0}}, []),
    ("port-defaults", {}, {"portMappings": [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}]}, []),
    ("mount-read-only-false", {}, {"mountPoints": [{"sourceVolume": "data", "containerPath": "/d",
                                                    "readOnly": False}]}, []),
    ("not-essential-is-a-change", {}, {"essential": False}, ["containerDefinitions[web].essential"]),
    ("health-interval-changed", {}, {"healthCheck": {"command": ["CMD", "true"], "interval": 10}},
     ["containerDefinitions[web].healthCheck.interval"]),
    ("read-only-true-is-a-change", {}, {"mountPoints": [{"sourceVolume": "data", "containerPath": "/d",
                                                         "readOnly": True}]},
     ["containerDefinitions[web].mountPoints[data].readOnly"]),
]


@pytest.mark.parametrize(("case", "task_extra", "container_extra", "paths"), FILLED, ids=[c[0] for c in FILLED])
def test_ecs_defaults_count_as_unset(case: str, task_extra: dict[str, Any], container_extra: dict[str, Any],
                                     paths: list[str]) -> None:
    described = json.loads(json.dumps(RENDERED))
    described.update(task_extra)
    described["containerDefinitions"][0].update(container_extra)
    assert sorted(c.path for c in diff_task_definitions({"taskDefinition": described}, RENDERED)) == paths
    assert sorted(c.path for c in diff_task_definitions(RENDERED, described)) == paths


def test_read_only_fields_come_from_botocore() -> None:
    assert {"taskDefinitionArn", "revision", "status", "registeredAt", "compatibilities",
            "requiresAttributes"} <= read_only_fields()
    assert "tags" not in read_only_fields() and "enableFaultInjection" not in read_only_fields()
    assert normalise(normalise(RENDERED)) == normalise(RENDERED)
