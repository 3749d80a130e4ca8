"""Issue 10 rule 1: what the config leaves out is never changed on an existing service.

Services here are made the way Terraform or the console makes them (boto3 straight to moto, in a
VPC of their own), then deployed with ci-ecs the aws-actions way (flags and a task-definition file).
What UpdateService receives is recorded at the gateway (the real call still goes to moto).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ci_ecs.cli import main
from ci_ecs.ecs import EcsGateway

TASK_FILE: dict[str, Any] = {
    "family": "shop",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "256",
    "memory": "512",
    "containerDefinitions": [{"name": "app", "image": "public.ecr.aws/nginx/nginx:1.27", "essential": True,
                              "portMappings": [{"containerPort": 80, "protocol": "tcp"}]}],
}


@pytest.fixture
def own_vpc_service(moto_aws: dict[str, Any]) -> dict[str, Any]:
    """A service made elsewhere: its own VPC, two subnets, a custom group, public IP on, breaker on."""
    import boto3

    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = sorted(ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"us-east-1{az}")
                     ["Subnet"]["SubnetId"] for i, az in ((1, "a"), (2, "b")))
    group = ec2.create_security_group(GroupName="shop", Description="shop", VpcId=vpc)["GroupId"]
    other = ec2.create_security_group(GroupName="shop-2", Description="shop 2", VpcId=vpc)["GroupId"]
    ecs = moto_aws["ecs"]
    ecs.create_cluster(clusterName="prod")
    arn = ecs.register_task_definition(**TASK_FILE)["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster="prod", serviceName="shop", taskDefinition=arn, desiredCount=3, launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [group],
                                                      "assignPublicIp": "ENABLED"}},
        deploymentConfiguration={"maximumPercent": 150, "minimumHealthyPercent": 50,
                                 "deploymentCircuitBreaker": {"enable": True, "rollback": True}},
        healthCheckGracePeriodSeconds=0, enableExecuteCommand=True)
    return {"subnets": subnets, "group": group, "other_group": other, "vpc": vpc, "ecs": ecs}


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


def _service(ecs: Any) -> dict[str, Any]:
    return dict(ecs.describe_services(cluster="prod", services=["shop"])["services"][0])


@pytest.fixture(autouse=True)
def _no_config_file_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Flags alone describe these deploys: run where no ci-ecs.yml is."""
    monkeypatch.chdir(tmp_path)


def _run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_aws_actions_style_deploy_keeps_network_count_and_settings(
        own_vpc_service: dict[str, Any], sent: list[dict[str, Any]], tmp_path: Path) -> None:
    task_file = tmp_path / "td.json"
    task_file.write_text(json.dumps(TASK_FILE))
    before = _service(own_vpc_service["ecs"])
    args = ["--cluster", "prod", "--service", "shop", "--task-definition", str(task_file),
            "--container-name", "app", "--image", "public.ecr.aws/nginx/nginx:1.28", "--no-wait"]

    plan = _run("plan", *args, "--output", "json")
    assert plan.exit_code == 0, plan.output
    planned = json.loads(plan.stdout)["request"]["UpdateService"]
    text = _run("plan", *args)
    assert "UpdateService would send: taskDefinition" in text.stdout.splitlines()

    result = _run("deploy", *args, "--output", "json")
    assert result.exit_code == 0, result.output
    assert len(sent) == 1
    # Only the task definition moved: no network, count or deployment settings were sent.
    assert sorted(sent[0]) == ["cluster", "service", "taskDefinition"]
    assert sorted(planned) == sorted(sent[0]) and planned["taskDefinition"] == "shop:(new)"
    after = _service(own_vpc_service["ecs"])
    assert after["taskDefinition"].endswith("task-definition/shop:2")
    for key in ("networkConfiguration", "desiredCount", "deploymentConfiguration", "launchType",
                "enableExecuteCommand", "healthCheckGracePeriodSeconds"):
        assert after.get(key) == before.get(key), key
    assert after["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == own_vpc_service["subnets"]

    again = _run("deploy", *args, "--output", "json")
    assert again.exit_code == 0 and json.loads(again.stdout)["serviceAction"] == "unchanged"
    assert len(sent) == 1


def test_setting_one_network_key_keeps_the_others(
        own_vpc_service: dict[str, Any], sent: list[dict[str, Any]], tmp_path: Path) -> None:
    config = {"cluster": "prod", "region": "us-east-1",
              "task": {"file": "td.json"}, "deploy": {"wait": False},
              "service": {"name": "shop", "security_groups": [own_vpc_service["other_group"]]}}
    (tmp_path / "td.json").write_text(json.dumps(TASK_FILE))
    path = tmp_path / "ci-ecs.yml"
    path.write_text(json.dumps(config))

    result = _run("deploy", "-c", str(path), "--output", "json")
    assert result.exit_code == 0, result.output
    vpc = _service(own_vpc_service["ecs"])["networkConfiguration"]["awsvpcConfiguration"]
    assert vpc == {"subnets": own_vpc_service["subnets"], "securityGroups": [own_vpc_service["other_group"]],
                   "assignPublicIp": "ENABLED"}
    assert [sorted(call) for call in sent] == [["cluster", "networkConfiguration", "service"]]


def test_new_service_gets_creation_defaults(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    """The defaults do apply when creating: default VPC subnets, FARGATE from the task definition, one task.

    (A security group is set only because moto cannot create an awsvpc service without one; ECS can.)
    """
    (tmp_path / "td.json").write_text(json.dumps(TASK_FILE))
    (tmp_path / "ci-ecs.yml").write_text(json.dumps({"service": {"security_groups": [moto_aws["security_group"]]}}))
    result = _run("deploy", "--cluster", "prod", "--service", "fresh", "--task-definition", str(tmp_path / "td.json"),
                  "--no-wait", "--output", "json")
    assert result.exit_code == 0, result.output
    service = moto_aws["ecs"].describe_services(cluster="prod", services=["fresh"])["services"][0]
    assert service["launchType"] == "FARGATE"
    assert service["desiredCount"] == 1
    assert sorted(service["networkConfiguration"]["awsvpcConfiguration"]["subnets"]) == sorted(moto_aws["subnets"])
