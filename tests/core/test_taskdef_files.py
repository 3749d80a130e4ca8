"""Task definitions as users write them, through deploy/plan against moto: describe output redeployed,
documented spellings, console exports with nulls, CodeDeploy templates, and ECS's rules as exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ci_ecs.aws import AwsSettings, CallCounter, ClientFactory
from ci_ecs.cli import main
from ci_ecs.config import load_config
from ci_ecs.deploy import deploy
from tests.core.helpers import config, write

ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
SSM_PARAMETER = "arn:aws:ssm:us-east-1:123456789012:parameter/db"

# A full task definition of the kind teams run: an app behind a log router, EFS, secrets, health check.
FULL: dict[str, Any] = {
    "family": "shop",
    "taskRoleArn": "arn:aws:iam::123456789012:role/shop",
    "executionRoleArn": ROLE,
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "1024",
    "memory": "2048",
    "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
    "ephemeralStorage": {"sizeInGiB": 30},
    "volumes": [{"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-12345678",
                                                           "transitEncryption": "ENABLED"}}],
    "containerDefinitions": [
        {"name": "app", "image": "public.ecr.aws/nginx/nginx:1.27", "essential": True,
         "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp", "name": "http",
                           "appProtocol": "http"}],
         "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
         "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/db"}],
         "healthCheck": {"command": ["CMD-SHELL", "curl -f http://localhost:8080/ || exit 1"],
                         "interval": 30, "timeout": 5, "retries": 3, "startPeriod": 10},
         "mountPoints": [{"sourceVolume": "data", "containerPath": "/data", "readOnly": False}],
         "ulimits": [{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}],
         "linuxParameters": {"initProcessEnabled": True},
         "dependsOn": [{"containerName": "log_router", "condition": "START"}],
         "logConfiguration": {"logDriver": "awsfirelens", "options": {"Name": "cloudwatch"}},
         "stopTimeout": 30},
        {"name": "log_router", "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
         "essential": True, "user": "0", "firelensConfiguration": {"type": "fluentbit"},
         "logConfiguration": {"logDriver": "awslogs", "options": {
             "awslogs-group": "/ecs/shop", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "firelens"}}},
    ],
}


def _deploy(path: Path, *, dry_run: bool = False, **overrides: Any) -> tuple[dict[str, Any], CallCounter]:
    factory = ClientFactory(AwsSettings(region="us-east-1"))
    result = deploy(load_config(path, overrides), factory=factory, base_dir=path.parent, dry_run=dry_run)
    return result.as_json(), factory.counter


def _file_config(tmp_path: Path, moto_aws: dict[str, Any], name: str = "taskdef.json", **task: Any) -> Path:
    data = config(**{"service.security_groups": [moto_aws["security_group"]], "service.name": "shop"})
    data["task"] = {"file": name, **task}
    return write(tmp_path / "ci-ecs.yml", data)


def _one_line_error(result: Any) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.stderr
    return lines[0]


# --- item 6 --------------------------------------------------------------------------------------------

def test_describe_output_redeploys_without_a_new_revision(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    ecs = moto_aws["ecs"]
    ecs.register_task_definition(**FULL, tags=[{"key": "team", "value": "shop"}])
    described = ecs.describe_task_definition(taskDefinition="shop", include=["TAGS"])
    described.pop("ResponseMetadata")
    # What `aws ecs describe-task-definition` prints and moto leaves out: ECS's own defaults and read-only fields.
    definition = described["taskDefinition"]
    definition.setdefault("enableFaultInjection", False)
    definition.setdefault("registeredBy", "arn:aws:iam::123456789012:user/ci")
    definition.setdefault("requiresAttributes", [{"name": "ecs.capability.execution-role-awslogs"}])
    definition.setdefault("compatibilities", ["EC2", "FARGATE"])
    definition.setdefault("placementConstraints", [])
    for container in definition["containerDefinitions"]:
        for key in ("environment", "mountPoints", "volumesFrom", "systemControls"):
            container.setdefault(key, [])
        container.setdefault("cpu", 0)
    (tmp_path / "taskdef.json").write_text(json.dumps(described, default=str, indent=2))
    path = _file_config(tmp_path, moto_aws)

    plan, plan_calls = _deploy(path, dry_run=True)
    assert [c for c in plan["changes"] if c["resource"] == "taskDefinition"] == []
    assert plan["taskDefinitionRegistered"] is False and plan["taskDefinitionArn"].endswith("task-definition/shop:1")
    assert plan_calls.mutating() == []

    result, calls = _deploy(path)
    assert result["taskDefinitionRegistered"] is False
    assert result["taskDefinitionArn"].endswith("task-definition/shop:1")
    assert ("ecs", "RegisterTaskDefinition") not in calls.calls
    assert len(ecs.list_task_definitions(familyPrefix="shop")["taskDefinitionArns"]) == 1


def test_a_real_change_in_describe_output_is_one_new_revision(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    ecs = moto_aws["ecs"]
    ecs.register_task_definition(**FULL)
    described = ecs.describe_task_definition(taskDefinition="shop")
    described["taskDefinition"]["containerDefinitions"][0]["environment"].append({"name": "C", "value": "3"})
    (tmp_path / "taskdef.json").write_text(json.dumps(described, default=str))
    plan, _ = _deploy(_file_config(tmp_path, moto_aws), dry_run=True)
    changes = [c["path"] for c in plan["changes"] if c["resource"] == "taskDefinition"]
    assert changes == ["containerDefinitions[app].environment[C]"]


# --- item 5 --------------------------------------------------------------------------------------------

def test_vcpu_and_gb_spellings_are_registered_in_ecs_units(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path / "ci-ecs.yml", config(**{"service.security_groups": [moto_aws["security_group"]],
                                                     "task.cpu": "0.25 vCPU", "task.memory": "0.5GB"}))
    first, _ = _deploy(path)
    registered = moto_aws["ecs"].describe_task_definition(taskDefinition="hello")["taskDefinition"]
    assert (registered["cpu"], registered["memory"]) == ("256", "512")  # before: "0.25 vCPU", "0.5GB"
    second, calls = _deploy(path)
    assert second["taskDefinitionRegistered"] is False and calls.mutating() == []


# --- item 16 -------------------------------------------------------------------------------------------

def test_console_export_with_nulls_deploys(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    exported = {"family": "shop", "taskRoleArn": None, "executionRoleArn": ROLE, "networkMode": "awsvpc",
                "cpu": "256", "memory": "512", "requiresCompatibilities": ["FARGATE"], "inferenceAccelerators": None,
                "proxyConfiguration": None, "pidMode": None, "ipcMode": None, "volumes": [],
                "containerDefinitions": [{"name": "app", "image": "public.ecr.aws/nginx/nginx:1.27",
                                          "healthCheck": None, "command": None, "entryPoint": None,
                                          "portMappings": [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}],
                                          "logConfiguration": None, "user": None, "workingDirectory": None}]}
    (tmp_path / "taskdef.json").write_text(json.dumps(exported))
    result = CliRunner().invoke(main, ["deploy", "-c", str(_file_config(tmp_path, moto_aws)), "--output", "json"])
    assert result.exit_code == 0, result.output  # before: exit 2, "Invalid type for parameter taskRoleArn, value: None"
    assert json.loads(result.stdout)["taskDefinitionRegistered"] is True
    again = CliRunner().invoke(main, ["plan", "-c", str(_file_config(tmp_path, moto_aws)), "--output", "json"])
    assert json.loads(again.stdout)["changed"] is False


# --- item 18 -------------------------------------------------------------------------------------------

def test_codedeploy_taskdef_gets_the_image(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    codedeploy = {"family": "shop", "executionRoleArn": ROLE, "networkMode": "awsvpc", "cpu": "256",
                  "memory": "512", "requiresCompatibilities": ["FARGATE"],
                  "containerDefinitions": [
                      {"name": "app", "image": "<IMAGE1_NAME>", "essential": True,
                       "portMappings": [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}]},
                      {"name": "xray", "image": "public.ecr.aws/xray/aws-xray-daemon:3.3.12", "essential": False}]}
    (tmp_path / "taskdef.json").write_text(json.dumps(codedeploy))
    path = _file_config(tmp_path, moto_aws)
    line = _one_line_error(CliRunner().invoke(main, ["plan", "-c", str(path)]))
    assert "container app has no image" in line  # before: <IMAGE1_NAME> went to ECS as the image
    result = CliRunner().invoke(main, ["deploy", "-c", str(path), "--image", "public.ecr.aws/nginx/nginx:1.28"])
    assert result.exit_code == 0, result.output
    images = [c["image"] for c in moto_aws["ecs"].describe_task_definition(taskDefinition="shop")[
        "taskDefinition"]["containerDefinitions"]]
    assert images == ["public.ecr.aws/nginx/nginx:1.28", "public.ecr.aws/xray/aws-xray-daemon:3.3.12"]


# --- item 17: a file's fields validated like the config's, at plan, never registered ---------------------

@pytest.mark.parametrize(("changes", "fragments"), [
    ({"networkMode": "{{networkmode}}"}, ["task.file", "networkMode", "{{networkmode}}"]),
    ({"family": "<TASK_NAME>"}, ["task.file", "<TASK_NAME>", "family"]),
    ({"cpu": "${CPU}"}, ["task.file", "${CPU}"]),
    ({"requiresCompatibilities": ["{{launch_type}}"]}, ["task.file", "requiresCompatibilities"]),
    ({"containerDefinitions": [{"name": "app", "image": "public.ecr.aws/nginx/nginx:1.27",
                                "portMappings": [{"containerPort": 80, "hostPort": 8080}]}]},
     ["task.file", "hostPort 8080 must equal containerPort 80"]),
], ids=["network-mode", "family", "cpu", "compatibilities", "awsvpc-host-port"])
def test_unrendered_or_invalid_file_is_exit_2_at_plan(moto_aws: dict[str, Any], tmp_path: Path,
                                                      changes: dict[str, Any], fragments: list[str]) -> None:
    definition = {"family": "shop", "executionRoleArn": ROLE, "networkMode": "awsvpc", "cpu": "256",
                  "memory": "512", "requiresCompatibilities": ["FARGATE"],
                  "containerDefinitions": [{"name": "app", "image": "public.ecr.aws/nginx/nginx:1.27"}], **changes}
    (tmp_path / "taskdef.json").write_text(json.dumps(definition))
    path = _file_config(tmp_path, moto_aws)
    for command in ("plan", "deploy"):
        line = _one_line_error(CliRunner().invoke(main, [command, "-c", str(path)]))
        for fragment in fragments:
            assert fragment in line, line
    assert moto_aws["ecs"].list_task_definitions()["taskDefinitionArns"] == []
    assert moto_aws["ecs"].list_clusters()["clusterArns"] == []


# --- items 7 and 8 through the CLI ----------------------------------------------------------------------

@pytest.mark.parametrize(("changes", "key", "fragment"), [
    ({"task.execution_role_arn": None, "repository": {"name": "hello"}, "image": {"tag": "1.0.0"},
      "task.containers": [{"name": "web", "port_mappings": [{"container_port": 80}]}]},
     "task.execution_role_arn", "private ECR image"),
    ({"task.execution_role_arn": None, "task.containers": [{"name": "web", "image": "nginx:1",
                                                             "logs": {"group": "/ecs/web"}}]},
     "task.execution_role_arn", "awslogs"),
    ({"task.execution_role_arn": None,
      "task.containers": [{"name": "web", "image": "nginx:1", "secrets": {"DB": SSM_PARAMETER}}]},
     "task.execution_role_arn", "secrets"),
    ({"service.launch_type": "EC2"}, "service.launch_type", "requiresCompatibilities"),
    ({"service.launch_type": None, "service.capacity_provider_strategy": [{"capacity_provider": "FARGATE_SPOT"}],
      "service.placement_strategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"}]},
     "service.placement_strategy", "FARGATE_SPOT"),
    ({"service.launch_type": "EC2", "task.requires_compatibilities": ["EC2"], "task.network_mode": "bridge"},
     "service.assign_public_ip", "awsvpc"),
    ({"task.containers": [{"name": "web", "image": "nginx:1", "port_mappings": [{"container_port": 80,
                                                                                 "host_port": 8080}]}]},
     "task.containers[0].port_mappings[0].host_port", "must equal containerPort 80"),
], ids=["private-ecr", "awslogs", "secrets", "fargate-on-ec2", "placement-fargate-spot", "public-ip-bridge",
        "awsvpc-host-port"])
def test_ecs_rules_are_exit_2_naming_the_key(moto_aws: dict[str, Any], tmp_path: Path, changes: dict[str, Any],
                                             key: str, fragment: str) -> None:
    data = config(**{"service.security_groups": [moto_aws["security_group"]]})
    for dotted, value in changes.items():
        target = data
        *parents, last = dotted.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    path = write(tmp_path / "ci-ecs.yml", data)
    line = _one_line_error(CliRunner().invoke(main, ["plan", "-c", str(path)]))
    assert f"{key}: " in line and fragment in line, line
    assert moto_aws["ecs"].list_clusters()["clusterArns"] == []
    assert moto_aws["ecr"].describe_repositories()["repositories"] == []
