"""Pure, table-driven tests of ECS's rules for a rendered task definition with its service (ci_ecs.preflight.rules)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ci_ecs.config import ServiceConfig, TaskConfig
from ci_ecs.errors import ConfigError
from ci_ecs.preflight.rules import check_target, inferred_launch_type
from ci_ecs.taskdef import render

ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
ECR_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1"
TASK: dict[str, Any] = {"family": "web", "cpu": "256", "memory": "512", "network_mode": "awsvpc",
                        "requires_compatibilities": ["FARGATE"],
                        "containers": [{"name": "web", "image": "public.ecr.aws/nginx/nginx:1.27",
                                        "port_mappings": [{"container_port": 80}]}]}


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for key in keys[:-1]:
        data = data[int(key)] if isinstance(data, list) else data.setdefault(key, {})
    if value is None:
        data.pop(keys[-1], None)
    else:
        data[keys[-1]] = value


# (id, task changes, service config, expected key or None when valid)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], str | None]] = [
    ("valid", {}, {"launch_type": "FARGATE"}, None),
    ("valid-launch-type-unset", {}, {}, None),
    # item 7: launch type against requiresCompatibilities
    ("fargate-only-on-ec2", {}, {"launch_type": "EC2"}, "service.launch_type"),
    ("ec2-only-on-fargate", {"requires_compatibilities": ["EC2"], "network_mode": "bridge"},
     {"launch_type": "FARGATE"}, "service.launch_type"),
    ("ec2-and-fargate-on-ec2", {"requires_compatibilities": ["EC2", "FARGATE"]}, {"launch_type": "EC2"}, None),
    # item 7: placement with Fargate capacity providers (or a launch type inferred as FARGATE)
    ("placement-fargate-spot", {}, {"capacity_provider_strategy": [{"capacity_provider": "FARGATE_SPOT"}],
                                    "placement_strategy": [{"type": "spread", "field": "instanceId"}]},
     "service.placement_strategy"),
    ("constraints-fargate-provider", {}, {"capacity_provider_strategy": [{"capacity_provider": "FARGATE"}],
                                          "placement_constraints": [{"type": "distinctInstance"}]},
     "service.placement_constraints"),
    ("placement-inferred-fargate", {}, {"placement_strategy": [{"type": "random"}]}, "service.placement_strategy"),
    ("placement-ec2-provider", {"requires_compatibilities": ["EC2"]},
     {"capacity_provider_strategy": [{"capacity_provider": "my-asg"}], "placement_strategy": [{"type": "random"}]},
     None),
    # item 7: awsvpc host ports
    ("awsvpc-host-port-differs", {"containers.0.port_mappings": [{"container_port": 80, "host_port": 8080}]}, {},
     "task.containers[0].port_mappings[0].host_port"),
    ("awsvpc-host-port-equal", {"containers.0.port_mappings": [{"container_port": 80, "host_port": 80}]}, {}, None),
    ("bridge-host-port-differs", {"requires_compatibilities": ["EC2"], "network_mode": "bridge",
                                  "containers.0.port_mappings": [{"container_port": 80, "host_port": 8080}]},
     {"launch_type": "EC2"}, None),
    # item 7: networkConfiguration only for awsvpc
    ("public-ip-bridge", {"requires_compatibilities": ["EC2"], "network_mode": "bridge"},
     {"assign_public_ip": True}, "service.assign_public_ip"),
    ("public-ip-host-false", {"requires_compatibilities": ["EC2"], "network_mode": "host"},
     {"assign_public_ip": False}, "service.assign_public_ip"),
    ("public-ip-default-bridge", {"requires_compatibilities": [], "network_mode": None, "cpu": None,
                                  "memory": None}, {"assign_public_ip": True}, "service.assign_public_ip"),
    # item 8: Fargate's execution-role rules
    ("fargate-secrets-no-role", {"containers.0.secrets": {"DB": "arn:aws:ssm:us-east-1:1:parameter/db"}}, {},
     "task.execution_role_arn"),
    ("ec2-secrets-no-role", {"requires_compatibilities": ["EC2"], "network_mode": "bridge",
                             "containers.0.secrets": {"DB": "arn:aws:ssm:us-east-1:1:parameter/db"}},
     {}, "task.execution_role_arn"),
    ("fargate-awslogs-no-role", {"containers.0.logs": {"group": "/ecs/web"}}, {}, "task.execution_role_arn"),
    ("ec2-awslogs-no-role", {"requires_compatibilities": ["EC2"], "network_mode": "bridge",
                             "containers.0.logs": {"group": "/ecs/web"}}, {}, None),
    ("fargate-private-ecr-no-role", {"containers.0.image": ECR_IMAGE}, {}, "task.execution_role_arn"),
    ("ec2-private-ecr-no-role", {"requires_compatibilities": ["EC2"], "network_mode": "bridge",
                                 "containers.0.image": ECR_IMAGE}, {}, None),
    ("fargate-everything-with-role", {"execution_role_arn": ROLE, "containers.0.image": ECR_IMAGE,
                                      "containers.0.logs": {"group": "/ecs/web"},
                                      "containers.0.secrets": {"DB": "arn:aws:ssm:us-east-1:1:parameter/db"}},
     {}, None),
]


@pytest.mark.parametrize(("case", "changes", "service", "key"), CASES, ids=[c[0] for c in CASES])
def test_check_target(case: str, changes: dict[str, Any], service: dict[str, Any], key: str | None) -> None:
    task_data = copy.deepcopy(TASK)
    for dotted, value in changes.items():
        _set(task_data, dotted, value)
    task = TaskConfig.model_validate(task_data)
    definition = render(task, None, region="us-east-1")
    if key is None:
        check_target(definition, ServiceConfig.model_validate(service), task)
        return
    with pytest.raises(ConfigError) as caught:
        check_target(definition, ServiceConfig.model_validate(service), task)
    assert caught.value.key == key, str(caught.value)
    assert "\n" not in str(caught.value)


def test_services_list_keys_carry_the_prefix() -> None:
    task = TaskConfig.model_validate(TASK)
    with pytest.raises(ConfigError) as caught:
        check_target(render(task, None), ServiceConfig(launch_type="EC2"), task, prefix="services[1].")
    assert caught.value.key == "services[1].service.launch_type"


@pytest.mark.parametrize(("compatibilities", "service", "expected"), [
    (["FARGATE"], {}, "FARGATE"),
    (["FARGATE"], {"launch_type": "EC2"}, "EC2"),
    (["FARGATE"], {"capacity_provider_strategy": [{"capacity_provider": "FARGATE_SPOT"}]}, None),
    (["EC2", "FARGATE"], {}, None),
    (["EC2"], {}, None),
    ([], {}, None),
])
def test_inferred_launch_type(compatibilities: list[str], service: dict[str, Any], expected: str | None) -> None:
    definition = {"family": "f", "requiresCompatibilities": compatibilities, "containerDefinitions": []}
    assert inferred_launch_type(definition, ServiceConfig.model_validate(service)) == expected


# --- item 17: a native file is held to the config's rules ---------------------------------------------

FILE: dict[str, Any] = {"family": "web", "networkMode": "awsvpc", "cpu": "256", "memory": "512",
                        "requiresCompatibilities": ["FARGATE"], "executionRoleArn": ROLE,
                        "containerDefinitions": [{"name": "web", "image": "nginx:1",
                                                  "portMappings": [{"containerPort": 80}]}]}

# (id, file changes, config task overlay, expected key, fragment of the message)
FILE_CASES: list[tuple[str, dict[str, Any], dict[str, Any], str, str]] = [
    ("network-mode-template", {"networkMode": "{{networkmode}}"}, {}, "task.file", "networkMode"),
    ("family-template", {"family": "<TASK_NAME>"}, {}, "task.file", "not a valid family name"),
    ("family-template-overlaid", {"family": "<TASK_NAME>"}, {"family": "web"}, "", ""),
    ("compatibility-template", {"requiresCompatibilities": ["${LAUNCH_TYPE}"]}, {}, "task.file",
     "requiresCompatibilities"),
    ("compatibility-lower-case", {"requiresCompatibilities": ["fargate"]}, {}, "task.file", "EC2, FARGATE"),
    ("protocol-enum", {"containerDefinitions": [{"name": "web", "image": "nginx:1",
                                                 "portMappings": [{"containerPort": 80, "protocol": "TCP"}]}]},
     {}, "task.file", "containerDefinitions[web].portMappings[0].protocol"),
    ("log-driver-enum", {"containerDefinitions": [{"name": "web", "image": "nginx:1", "logConfiguration": {
        "logDriver": "cloudwatch"}}]}, {}, "task.file", "logDriver"),
    ("awsvpc-host-port", {"containerDefinitions": [{"name": "web", "image": "nginx:1",
                                                    "portMappings": [{"containerPort": 80, "hostPort": 8080}]}]},
     {}, "task.file", "hostPort 8080 must equal containerPort 80"),
    ("fargate-bridge", {"networkMode": "bridge"}, {}, "task.file", "FARGATE requires network mode awsvpc"),
    ("fargate-bridge-from-config", {"networkMode": "awsvpc"}, {"network_mode": "bridge"}, "task.network_mode",
     "FARGATE requires network mode awsvpc"),
    ("fargate-no-cpu", {"cpu": None}, {}, "task.file", "task-level cpu"),
    ("fargate-bad-pair", {"memory": "4096"}, {}, "task.file", "does not accept memory 4096"),
    ("container-name", {"containerDefinitions": [{"name": "{{name}}", "image": "nginx:1"}]}, {}, "task.file",
     "container name"),
    ("execution-role-template", {"executionRoleArn": "arn:aws:iam::account_ID:role/ecsTaskExecutionRole"}, {},
     "task.file", "executionRoleArn"),
    ("task-role-template", {"taskRoleArn": "${TASK_ROLE_ARN}"}, {}, "task.file", "taskRoleArn"),
    ("role-name-is-fine", {"executionRoleArn": "ecsTaskExecutionRole"}, {}, "", ""),
    ("empty-enums-are-unset", {"ipcMode": "", "pidMode": "", "containerDefinitions": [
        {"name": "web", "image": "nginx:1", "portMappings": [{"containerPort": 80, "appProtocol": ""}]}]}, {}, "", ""),
    ("no-execution-role-awslogs", {"executionRoleArn": None, "containerDefinitions": [
        {"name": "web", "image": "nginx:1", "logConfiguration": {"logDriver": "awslogs", "options": {}}}]},
     {}, "task.execution_role_arn", "awslogs"),
]


@pytest.mark.parametrize(("case", "changes", "overlay", "key", "fragment"), FILE_CASES,
                         ids=[c[0] for c in FILE_CASES])
def test_native_file_rules(tmp_path: Path, case: str, changes: dict[str, Any], overlay: dict[str, Any], key: str,
                           fragment: str) -> None:
    data = {**copy.deepcopy(FILE), **changes}
    (tmp_path / "taskdef.json").write_text(json.dumps({k: v for k, v in data.items() if v is not None}))
    task = TaskConfig.model_validate({"file": "taskdef.json", **overlay})
    definition = render(task, None, base_dir=tmp_path)
    if not key:
        check_target(definition, ServiceConfig(), task)
        return
    with pytest.raises(ConfigError) as caught:
        check_target(definition, ServiceConfig(), task)
    assert caught.value.key == key, str(caught.value)
    assert fragment in str(caught.value)
    if key == "task.file":
        assert str(caught.value).startswith("taskdef.json: task.file: ")
