"""Issue 22: what ECS would refuse is refused by `ci-ecs deploy` before its first write (exit 2, the key named,
nothing created), every problem at once; configs written by others still deploy. Real CLI against moto."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from ci_ecs.cli import main
from ci_ecs.config import load_config
from ci_ecs.deploy import _placeholder
from ci_ecs.preflight.limits import MAX_DEFINITION_BYTES, definition_size
from ci_ecs.taskdef import render
from tests.core.helpers import config, write

ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
TARGET_GROUP = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"


def _with_repository(data: dict[str, Any]) -> dict[str, Any]:
    """The config deploys from its own ECR repository: a deploy that got past the pre-flight would create it."""
    data = copy.deepcopy(data)
    data["repository"] = {"name": "hello"}
    data["image"] = {"tag": "1.0.0"}
    data["task"]["containers"][0].pop("image")
    return data


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        data = data[int(part)] if isinstance(data, list) else data.setdefault(part, {})
    if value is None:
        data.pop(last, None)
    else:
        data[last] = value


def _native(tmp_path: Path, containers: list[dict[str, Any]], **task: Any) -> dict[str, Any]:
    """A config whose task is a native file (taskdef.json) with these containers."""
    definition = {"family": "shop", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256",
                  "memory": "512", "executionRoleArn": ROLE, "containerDefinitions": containers, **task}
    (tmp_path / "taskdef.json").write_text(json.dumps(definition))
    data = config()
    data["task"] = {"file": "taskdef.json"}
    return data


def _nothing_created(moto_aws: dict[str, Any]) -> None:
    """Read calls: no repository, cluster, task definition or service exists."""
    assert moto_aws["ecr"].describe_repositories()["repositories"] == []
    assert moto_aws["ecs"].list_clusters()["clusterArns"] == []
    assert moto_aws["ecs"].list_task_definitions()["taskDefinitionArns"] == []
    assert moto_aws["ecs"].list_task_definition_families()["families"] == []


NGINX = "public.ecr.aws/nginx/nginx:1.27"
EC2_TASK = {"task.requires_compatibilities": ["EC2"], "task.network_mode": "bridge", "task.cpu": None,
            "task.memory": None, "task.containers.0.memory": 256, "service.launch_type": "EC2",
            "service.assign_public_ip": None}

# (id, changes to the config, the key the error names, a fragment of its message)
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("env-name-with-equals", {"task.containers.0.environment": {"A=B": "x"}},
     "task.containers[0].environment", "contains '='"),
    ("env-name-with-nul", {"task.containers.0.environment": {"A\x00B": "x"}},
     "task.containers[0].environment", "NUL"),
    ("eleven-containers", {"task.containers": [{"name": f"c{i}", "image": NGINX} for i in range(11)]},
     "task", "11 containers"),
    ("task-definition-over-64-kib", {"task.containers.0.environment": {f"VAR_{i}": "x" * 8 for i in range(10_000)}},
     "task", "64 KiB"),
    ("privileged-on-fargate", {"task.containers.0.extra": {"privileged": True}},
     "task.containers[0].extra.privileged", "not valid on Fargate"),
    ("linux-devices-on-fargate", {"task.containers.0.extra": {"linuxParameters": {"devices": [
        {"hostPath": "/dev/fuse"}]}}}, "task.containers[0].extra.linuxParameters", "not supported on Fargate"),
    ("sixty-tags", {"service.tags": {f"k{i}": "v" for i in range(60)}}, "service.tags", "more than the 50"),
    ("tag-value-300-characters", {"service.tags": {"team": "x" * 300}}, "service.tags", "more than the 256"),
    ("tag-aws-prefix", {"service.tags": {"aws:team": "x"}}, "service.tags", "reserved"),
    ("target-group-not-an-arn", {"service.load_balancers": [{"target_group_arn": "not-an-arn",
                                                             "container_name": "web", "container_port": 80}]},
     "service.load_balancers[0].target_group_arn", "not an Elastic Load Balancing target group ARN"),
    ("desired-count-2-to-the-31", {"service.desired_count": 2**31}, "service.desired_count", "32-bit"),
    ("desired-count-above-quota", {"service.desired_count": 5001}, "service.desired_count", "Tasks per service"),
    ("binpack-field", {**EC2_TASK, "service.placement_strategy": [{"type": "binpack", "field": "disk"}]},
     "service.placement_strategy[0].field", "binpack takes field cpu or memory"),
    ("random-with-field", {**EC2_TASK, "service.placement_strategy": [{"type": "random", "field": "cpu"}]},
     "service.placement_strategy[0].field", "random takes no field"),
    ("member-of-without-expression", {**EC2_TASK, "service.placement_constraints": [{"type": "memberOf"}]},
     "service.placement_constraints[0].expression", "memberOf needs an expression"),
    ("distinct-instance-with-expression", {**EC2_TASK, "service.placement_constraints": [
        {"type": "distinctInstance", "expression": "attribute:ecs.instance-type == t3.micro"}]},
     "service.placement_constraints[0].expression", "takes no expression"),
    ("extra-image", {"task.containers.0.extra": {"image": "busybox:1"}}, "task.containers[0].extra.image",
     "remove it from extra"),
    ("extra-environment-beside-environment", {"task.containers.0.extra": {"environment": []}},
     "task.containers[0].extra.environment", "set by ci-ecs itself"),
    ("blue-green-without-bake-time", {"service.strategy": "BLUE_GREEN", "service.load_balancers": [{
        "target_group_arn": TARGET_GROUP, "container_name": "web", "container_port": 80, "advanced": {
            "alternate_target_group_arn": TARGET_GROUP.replace("/web/", "/web2/"),
            "production_listener_rule": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/"
                                        "lb/0123456789abcdef/0123456789abcdef/0123456789abcdef",
            "role_arn": "arn:aws:iam::123456789012:role/ecs-lb"}}]},
     "service.bake_time_minutes", "BLUE_GREEN needs bake_time_minutes"),
]


@pytest.mark.parametrize(("case", "changes", "key", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_refused_before_any_write(case: str, changes: dict[str, Any], key: str, fragment: str, tmp_path: Path,
                                  moto_aws: dict[str, Any]) -> None:
    data = config()
    for dotted, value in changes.items():
        _set(data, dotted, value)
    data = _with_repository(data) if "image" not in str(changes.get("task.containers", "")) else data
    path = write(tmp_path / "ci-ecs.yml", data)
    result = CliRunner().invoke(main, ["deploy", "-c", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert any(f"{key}: " in line and fragment in line for line in lines), lines
    _nothing_created(moto_aws)


# A native file's containers (id, containerDefinitions, the fragment of the message)
NATIVE_CASES: list[tuple[str, list[dict[str, Any]], str]] = [
    ("two-containers-of-one-name", [{"name": "app", "image": NGINX}, {"name": "app", "image": NGINX}],
     "repeated: app"),
    ("no-essential-container", [{"name": "app", "image": NGINX, "essential": False}], "no essential container"),
    ("depends-on-a-missing-container", [{"name": "app", "image": NGINX,
                                         "dependsOn": [{"containerName": "db", "condition": "START"}]}],
     'no container named "db"'),
    ("depends-on-itself", [{"name": "app", "image": NGINX, "dependsOn": [{"containerName": "app",
                                                                           "condition": "START"}]}],
     "cannot depend on itself"),
    ("container-memory-above-the-task", [{"name": "app", "image": NGINX, "memory": 1024}],
     "memory 1024 MiB is more than the task's memory 512 MiB"),
    ("stop-timeout-above-120-on-fargate", [{"name": "app", "image": NGINX, "stopTimeout": 300}],
     "more than Fargate's 120"),
    ("unknown-member", [{"name": "app", "image": NGINX, "essentail": True}], "did you mean 'essential'"),
]


@pytest.mark.parametrize(("case", "containers", "fragment"), NATIVE_CASES, ids=[c[0] for c in NATIVE_CASES])
def test_native_file_refused_before_any_write(case: str, containers: list[dict[str, Any]], fragment: str,
                                              tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    path = write(tmp_path / "ci-ecs.yml", _native(tmp_path, containers))
    result = CliRunner().invoke(main, ["deploy", "-c", str(path)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert any(line.startswith("error: taskdef.json: task.file: ") and fragment in line for line in lines), lines
    _nothing_created(moto_aws)


def test_desired_count_from_the_flag_is_checked_too(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    path = write(tmp_path / "ci-ecs.yml", _with_repository(config()))
    result = CliRunner().invoke(main, ["deploy", "-c", str(path), "--desired-count", "2147483648"])
    assert result.exit_code == 2 and "service.desired_count" in result.stderr, result.output
    _nothing_created(moto_aws)


def test_extra_image_is_refused_with_image_flag(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    """`extra: {image}` never silently wins over `--image`: the result names the image the task runs."""
    data = config(**{"task.containers": [{"name": "web", "extra": {"image": "busybox:1"}}]})
    path = write(tmp_path / "ci-ecs.yml", data)
    result = CliRunner().invoke(main, ["deploy", "-c", str(path), "--image", NGINX])
    assert result.exit_code == 2 and "task.containers[0].extra.image" in result.stderr, result.output
    _nothing_created(moto_aws)


def test_plan_lists_every_problem(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    data = config(**{"service.tags": {f"k{i}": "v" for i in range(60)}, "service.desired_count": 2**31,
                     "service.load_balancers": [{"target_group_arn": "not-an-arn", "container_name": "web",
                                                 "container_port": 80}]})
    _set(data, "task.containers.0.environment", {"A=B": "1"})
    path = write(tmp_path / "ci-ecs.yml", data)
    text = CliRunner().invoke(main, ["plan", "-c", str(path)])
    assert text.exit_code == 2, text.output
    lines = [line for line in text.stderr.splitlines() if line.strip()]
    for key in ("service.tags", "service.desired_count", "service.load_balancers[0].target_group_arn",
                "task.containers[0].environment"):
        assert sum(f"{key}: " in line for line in lines) == 1, (key, lines)
    assert all(line.startswith("error: ") for line in lines)
    answer = CliRunner().invoke(main, ["plan", "-c", str(path), "--output", "json"])
    assert answer.exit_code == 2
    result = json.loads(answer.stdout)
    keys = {problem["key"] for problem in result["problems"]}
    assert {"service.tags", "service.desired_count", "service.load_balancers[0].target_group_arn",
            "task.containers[0].environment"} <= keys
    assert all(problem["message"].startswith(problem["key"]) for problem in result["problems"])
    _nothing_created(moto_aws)


def test_services_list_keys_name_the_entry(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    base = config()
    good = {"task": copy.deepcopy(base["task"]), "service": {**base["service"], "name": "one"}}
    bad = {"task": {**copy.deepcopy(base["task"]), "family": "two"},
           "service": {**base["service"], "name": "two", "desired_count": 2**31}}
    data = {"region": "us-east-1", "cluster": "demo", "services": [good, bad], "deploy": {"wait": False}}
    path = write(tmp_path / "ci-ecs.yml", data)
    result = CliRunner().invoke(main, ["deploy", "-c", str(path)])
    assert result.exit_code == 2 and "services[1].service.desired_count: " in result.stderr, result.output
    _nothing_created(moto_aws)


# --- configs nobody designed the pre-flight around, which must still deploy ---------------------------------

# A team's native task definition: an app behind a FireLens log router and an init container it waits for,
# EFS, secrets, health check, ulimits; the app's memory within the task's, the sidecars not essential.
OTHER_TEAM: dict[str, Any] = {
    "family": "orders",
    "taskRoleArn": "arn:aws:iam::123456789012:role/orders",
    "executionRoleArn": ROLE,
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "1024",
    "memory": "2048",
    "volumes": [{"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-12345678",
                                                           "transitEncryption": "ENABLED"}}],
    "containerDefinitions": [
        {"name": "migrate", "image": NGINX, "essential": False, "command": ["sh", "-c", "true"], "memory": 256},
        {"name": "app", "image": NGINX, "essential": True, "cpu": 512, "memoryReservation": 1024, "memory": 1536,
         "portMappings": [{"containerPort": 8080, "protocol": "tcp", "name": "http", "appProtocol": "http"}],
         "environment": [{"name": "SPRING_PROFILES_ACTIVE", "value": "prod"}, {"name": "lower_case_ok", "value": ""}],
         "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/db"}],
         "healthCheck": {"command": ["CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"],
                         "interval": 30, "timeout": 5, "retries": 3, "startPeriod": 60},
         "mountPoints": [{"sourceVolume": "data", "containerPath": "/data"}],
         "ulimits": [{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}],
         "linuxParameters": {"initProcessEnabled": True, "capabilities": {"add": ["CAP_SYS_PTRACE"]}},
         "dependsOn": [{"containerName": "migrate", "condition": "SUCCESS"},
                       {"containerName": "log_router", "condition": "START"}],
         "logConfiguration": {"logDriver": "awsfirelens", "options": {"Name": "cloudwatch"}},
         "stopTimeout": 120},
        {"name": "log_router", "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
         "essential": False, "user": "0", "firelensConfiguration": {"type": "fluentbit"}, "memoryReservation": 64,
         "logConfiguration": {"logDriver": "awslogs", "options": {
             "awslogs-group": "/ecs/orders", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "firelens"}}},
    ],
}


def test_another_teams_native_file_deploys(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    (tmp_path / "orders.json").write_text(json.dumps(OTHER_TEAM, indent=2))
    data = config(**{"service.name": "orders", "service.security_groups": [moto_aws["security_group"]],
                     "service.tags": {"team": "orders", "cost-center": "1234"}})
    data["task"] = {"file": "orders.json"}
    path = write(tmp_path / "ci-ecs.yml", data)
    result = CliRunner().invoke(main, ["deploy", "-c", str(path), "--output", "json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["serviceAction"] == "created" and answer["taskDefinitionRegistered"] is True
    service = moto_aws["ecs"].describe_services(cluster="demo", services=["orders"])["services"][0]
    assert service["taskDefinition"].endswith("task-definition/orders:1")


def test_ec2_placement_and_yaml_config_deploys(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    """An EC2 service with every placement kind used as documented, tags at the limit, a count at the quota."""
    data = config()
    for dotted, value in EC2_TASK.items():
        _set(data, dotted, value)
    _set(data, "service.placement_strategy", [{"type": "spread", "field": "attribute:ecs.availability-zone"},
                                              {"type": "binpack", "field": "memory"}, {"type": "random"}])
    _set(data, "service.placement_constraints", [{"type": "distinctInstance"}, {
        "type": "memberOf", "expression": "attribute:ecs.instance-type =~ t3.*"}])
    _set(data, "service.tags", {f"k{i}": "v" * 256 for i in range(50)})
    _set(data, "service.desired_count", 0)
    path = write(tmp_path / "ci-ecs.yml", yaml.safe_dump(data))
    result = CliRunner().invoke(main, ["deploy", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert moto_aws["ecs"].describe_services(cluster="demo", services=["hello"])["services"][0]["status"] == "ACTIVE"


def test_size_is_checked_again_with_the_real_image(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    """Under 64 KiB with the placeholder image, over it with the digest reference the repository's tag
    resolves to: refused right before RegisterTaskDefinition, nothing registered."""
    ecr = moto_aws["ecr"]
    uri = ecr.create_repository(repositoryName="hello")["repository"]["repositoryUri"]
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2,
                                      "digest": "sha256:" + "0" * 64}, "layers": []})
    ecr.put_image(repositoryName="hello", imageManifest=manifest, imageTag="1.0.0")
    data = _with_repository(config())
    path = write(tmp_path / "ci-ecs.yml", data)
    placeholder = _placeholder(load_config(path))
    real = f"{uri}@sha256:{'f' * 64}"
    assert len(real) > len(placeholder) + 20
    # Pad one variable so the definition is 10 bytes under the limit with the placeholder.
    task = load_config(path).task
    assert task is not None
    size = definition_size(render(task, placeholder, base_dir=tmp_path, region="us-east-1"))
    data["task"]["containers"][0]["environment"]["PAD"] = "x" * (MAX_DEFINITION_BYTES - size - 10 - len('"PAD"') - 30)
    path = write(tmp_path / "ci-ecs.yml", data)
    task = load_config(path).task
    assert task is not None
    padded = definition_size(render(task, placeholder, base_dir=tmp_path, region="us-east-1"))
    assert MAX_DEFINITION_BYTES - 64 < padded <= MAX_DEFINITION_BYTES, padded
    assert definition_size(render(task, real, base_dir=tmp_path, region="us-east-1")) > MAX_DEFINITION_BYTES

    result = CliRunner().invoke(main, ["deploy", "-c", str(path)])
    assert result.exit_code == 2, result.output
    assert "task: the task definition is" in result.stderr and "64 KiB" in result.stderr, result.stderr
    assert moto_aws["ecs"].list_task_definitions()["taskDefinitionArns"] == []
