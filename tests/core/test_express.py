"""`express:` configs without a deploy: validation (exit 2 naming the keys, nothing written), the pure request
and diff functions, plan against moto-free reads (the sandbox), and iam-policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from ci_ecs.cli import main
from ci_ecs.config.express import ExpressConfig
from ci_ecs.errors import ConfigError
from ci_ecs.express import create_request, update_request

EXECUTION_ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
INFRA_ROLE = "arn:aws:iam::123456789012:role/ecsInfrastructureRoleForExpressServices"
IMAGE = "public.ecr.aws/nginx/nginx:1.27"


def _express(**extra: Any) -> dict[str, Any]:
    return {"service_name": "hello", "primary_container": {"image": IMAGE, "environment": {"GREETING": "hi"}},
            "execution_role_arn": EXECUTION_ROLE, "infrastructure_role_arn": INFRA_ROLE, **extra}


def _write(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "ci-ecs.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _error_line(result: Any) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    return lines[-1]


@pytest.mark.parametrize(("extra", "fragments"), [
    ({"task": {"family": "x", "containers": [{"name": "web", "image": IMAGE}]}}, ["express", "remove task"]),
    ({"service": {"name": "hello", "desired_count": 2}}, ["express", "remove service"]),
    ({"express": _express(infrastructure_role_arn="ecsInfra")}, ["express.infrastructure_role_arn", "IAM role ARN"]),
    ({"express": _express(health_check_path="health")}, ["express.health_check_path", "starting with /"]),
    ({"express": _express(scaling_target={"min_task_count": 5, "max_task_count": 1})},
     ["express.scaling_target", "min_task_count"]),
    ({"express": _express(primary_container={"image": IMAGE, "container_port": 70000})},
     ["express.primary_container.container_port"]),
    ({"express": _express(sevice_name="x")}, ["express.sevice_name"]),
    # botocore's model (TagKey: at most 128 characters), checked before any AWS call
    ({"express": _express(tags={"k" * 200: "v"})}, ["express.tags", "128"]),
])
def test_bad_express_config_is_exit_2_naming_the_key(extra: dict[str, Any], fragments: list[str], tmp_path: Path,
                                                      moto_aws: dict[str, Any]) -> None:
    path = _write(tmp_path, {"region": "us-east-1", "express": _express(), **extra})
    line = _error_line(CliRunner().invoke(main, ["deploy", "-c", str(path)]))
    for fragment in fragments:
        assert fragment in line, line
    assert moto_aws["ecs"].list_clusters()["clusterArns"] == []  # nothing written


def test_create_request_sends_only_what_the_config_gives() -> None:
    express = ExpressConfig.model_validate(_express(cpu=512, memory="1024", tags={"team": "web"}))
    request = create_request(express, "default", "registry.example/app:2")
    assert request == {
        "serviceName": "hello", "cluster": "default", "infrastructureRoleArn": INFRA_ROLE,
        "executionRoleArn": EXECUTION_ROLE, "cpu": "512", "memory": "1024",
        "primaryContainer": {"image": "registry.example/app:2", "environment": [{"name": "GREETING", "value": "hi"}]},
        "tags": [{"key": "team", "value": "web"}],
    }


def _described(**configuration: Any) -> dict[str, Any]:
    current = {"executionRoleArn": EXECUTION_ROLE, "cpu": "1024", "memory": "2048", "healthCheckPath": "/",
               "primaryContainer": {"image": IMAGE, "containerPort": 80,
                                    "environment": [{"name": "GREETING", "value": "hi"}],
                                    "awsLogsConfiguration": {"logGroup": "/aws/ecs/default/hello",
                                                             "logStreamPrefix": "ecs"}},
               "scalingTarget": {"minTaskCount": 1, "maxTaskCount": 20}, **configuration}
    return {"serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/default/hello",
            "infrastructureRoleArn": INFRA_ROLE, "activeConfigurations": [current]}


def test_update_request_is_empty_when_nothing_differs() -> None:
    express = ExpressConfig.model_validate(_express())
    assert update_request(express, _described(), IMAGE) == ({}, [])


def test_update_request_merges_over_what_ecs_has() -> None:
    express = ExpressConfig.model_validate(_express(scaling_target={"max_task_count": 4}))
    request, changes = update_request(express, _described(), "public.ecr.aws/nginx/nginx:1.28")
    assert set(request) == {"serviceArn", "primaryContainer", "scalingTarget"}
    # What the config leaves out of a structure (the port, the log settings, the minimum) stays as ECS has it.
    assert request["primaryContainer"]["containerPort"] == 80
    assert request["primaryContainer"]["awsLogsConfiguration"]["logGroup"] == "/aws/ecs/default/hello"
    assert request["scalingTarget"] == {"minTaskCount": 1, "maxTaskCount": 4}
    assert {c.path for c in changes} == {"primaryContainer", "scalingTarget"}


def test_a_different_infrastructure_role_is_refused() -> None:
    express = ExpressConfig.model_validate(_express(infrastructure_role_arn=INFRA_ROLE + "2"))
    with pytest.raises(ConfigError) as err:
        update_request(express, _described(), IMAGE)
    assert err.value.exit_code == 2 and "express.infrastructure_role_arn" in str(err.value)


def test_iam_policy_covers_the_express_calls_and_passes_the_roles(tmp_path: Path) -> None:
    path = _write(tmp_path, {"region": "us-east-1", "express": _express(task_role_arn=EXECUTION_ROLE + "Task")})
    result = CliRunner().invoke(main, ["iam-policy", "-c", str(path), "--account-id", "123456789012"])
    assert result.exit_code == 0, result.output
    policy = json.loads(result.output)
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert {"ecs:CreateExpressGatewayService", "ecs:UpdateExpressGatewayService",
            "ecs:DescribeExpressGatewayService", "ecs:DescribeServiceDeployments", "iam:PassRole"} <= actions
    passes = {s["Sid"]: s for s in policy["Statement"] if s["Action"] == ["iam:PassRole"]}
    assert passes["PassExpressInfrastructureRole"]["Resource"] == INFRA_ROLE
    assert passes["PassExpressInfrastructureRole"]["Condition"]["StringEquals"]["iam:PassedToService"] == \
        "ecs.amazonaws.com"
    assert set(passes["PassExpressRoles"]["Resource"]) == {EXECUTION_ROLE, EXECUTION_ROLE + "Task"}
    assert "EcsExpressServiceTags" not in {s["Sid"] for s in policy["Statement"]}  # the config has no tags


def test_iam_policy_lets_the_config_tags_be_read_and_set(tmp_path: Path) -> None:
    path = _write(tmp_path, {"region": "us-east-1", "express": _express(tags={"team": "web"})})
    result = CliRunner().invoke(main, ["iam-policy", "-c", str(path), "--account-id", "123456789012"])
    assert result.exit_code == 0, result.output
    (tags,) = [s for s in json.loads(result.output)["Statement"] if s["Sid"] == "EcsExpressServiceTags"]
    assert tags["Action"] == ["ecs:ListTagsForResource", "ecs:TagResource"]
    assert tags["Resource"] == "arn:aws:ecs:us-east-1:123456789012:service/default/" + \
        _express()["service_name"]


def test_model_refusal_comes_before_the_image_step(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    """Pre-flight before any write: the repository the image step would create is not created."""
    express = _express(tags={"k" * 200: "v"})
    del express["primary_container"]["image"]
    path = _write(tmp_path, {"region": "us-east-1", "repository": {"name": "hello"}, "image": {"tag": "1.0"},
                             "express": express})
    line = _error_line(CliRunner().invoke(main, ["deploy", "-c", str(path)]))
    assert "express.tags" in line and "128" in line, line
    assert moto_aws["ecr"].describe_repositories()["repositories"] == []
