"""`ci-ecs iam-policy`: every service, family and role of the config, tag-on-create, and every action deploy calls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from ci_ecs.aws import AwsSettings, ClientFactory
from ci_ecs.cli import main
from ci_ecs.config import load_config
from ci_ecs.deploy import deploy
from ci_ecs.iam import iam_policy
from tests.core.helpers import BASE_CONFIG, config, write

ACCOUNT = "123456789012"
ECS = f"arn:aws:ecs:us-east-1:{ACCOUNT}"
ROLE = f"arn:aws:iam::{ACCOUNT}:role"


def _services_config(tmp_path: Path, security_group: str | None = None) -> Path:
    """A `services:` config: `web` (concise task, execution role, service tags) and `worker` (a native file
    with its own family, task role and tags)."""
    (tmp_path / "worker.json").write_text(json.dumps({
        "family": "worker-td", "taskRoleArn": f"{ROLE}/worker", "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
        "executionRoleArn": f"{ROLE}/exec",
        "containerDefinitions": [{"name": "worker", "image": "public.ecr.aws/docker/library/busybox:1.36",
                                  "essential": True}],
        "tags": [{"key": "team", "value": "jobs"}],
    }))
    web_task = {**BASE_CONFIG["task"], "family": "web", "execution_role_arn": f"{ROLE}/exec"}
    network: dict[str, Any] = {"security_groups": [security_group]} if security_group else {}
    data = {
        "region": "us-east-1", "cluster": "demo", "deploy": {"wait": False},
        "services": [
            {"task": web_task, "service": {"name": "web", "desired_count": 1, "launch_type": "FARGATE",
                                           "tags": {"team": "web"}, **network}},
            {"task": {"file": "worker.json"},
             "service": {"name": "worker", "desired_count": 1, "launch_type": "FARGATE", **network}},
        ],
    }
    return write(tmp_path / "ci-ecs.yml", data)


def _statements(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Statement"]}


def test_services_list_covers_every_service_role_and_tagged_resource(tmp_path: Path) -> None:
    """Before: `iam-policy` on a `services:` config failed with an internal AssertionError."""
    path = _services_config(tmp_path)
    result = CliRunner().invoke(main, ["iam-policy", "-c", str(path), "--account-id", ACCOUNT])
    assert result.exit_code == 0, result.output
    statements = _statements(json.loads(result.stdout))
    assert statements["EcsService"]["Resource"] == [f"{ECS}:service/demo/web", f"{ECS}:service/demo/worker"]
    assert statements["PassTaskRoles"]["Resource"] == [f"{ROLE}/exec", f"{ROLE}/worker"]
    # ECS authorises tags on CreateService / RegisterTaskDefinition as ecs:TagResource on the new resource.
    tagging = statements["EcsTagOnCreate"]
    assert tagging["Action"] == ["ecs:TagResource"]
    assert tagging["Resource"] == [f"{ECS}:service/demo/web", f"{ECS}:task-definition/worker-td:*"]
    assert tagging["Condition"] == {"StringEquals": {"ecs:CreateAction": ["CreateService", "RegisterTaskDefinition"]}}


def test_one_service_of_a_services_list(tmp_path: Path) -> None:
    path = _services_config(tmp_path)
    result = CliRunner().invoke(main, ["iam-policy", "-c", str(path), "--service", "worker",
                                       "--account-id", ACCOUNT])
    assert result.exit_code == 0, result.output
    statements = _statements(json.loads(result.stdout))
    assert statements["EcsService"]["Resource"] == f"{ECS}:service/demo/worker"
    assert statements["EcsTagOnCreate"]["Resource"] == f"{ECS}:task-definition/worker-td:*"
    assert statements["EcsTagOnCreate"]["Condition"]["StringEquals"]["ecs:CreateAction"] == ["RegisterTaskDefinition"]


def test_no_tags_no_tag_permission(tmp_path: Path) -> None:
    path = write(tmp_path / "ci-ecs.yml", config())
    result = CliRunner().invoke(main, ["iam-policy", "-c", str(path)])
    assert result.exit_code == 0, result.output
    actions = [a for s in json.loads(result.stdout)["Statement"] for a in s["Action"]]
    assert "ecs:TagResource" not in actions
    tagged = write(tmp_path / "tagged.yml", config(**{"service.tags": {"env": "prod"}}))
    statements = _statements(json.loads(CliRunner().invoke(main, ["iam-policy", "-c", str(tagged)]).stdout))
    assert statements["EcsTagOnCreate"]["Resource"] == "arn:aws:ecs:us-east-1:*:service/demo/hello"
    assert statements["EcsTagOnCreate"]["Condition"]["StringEquals"]["ecs:CreateAction"] == ["CreateService"]


def test_unreadable_task_file_is_a_usage_error(tmp_path: Path) -> None:
    path = _services_config(tmp_path)
    (tmp_path / "worker.json").unlink()
    result = CliRunner().invoke(main, ["iam-policy", "-c", str(path)])
    assert result.exit_code == 2
    assert "task.file" in result.stderr and "Traceback" not in result.output


def test_policy_allows_every_call_a_deploy_makes(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    """Deploy the `services:` config on moto, counting its API calls: each one is an action the policy grants."""
    path = _services_config(tmp_path, moto_aws["security_group"])
    loaded = load_config(path)
    factory = ClientFactory(AwsSettings(region="us-east-1"))
    deploy(loaded, factory=factory, base_dir=tmp_path)
    prefixes = {"api.ecr": "ecr"}  # botocore's endpoint prefix differs from the IAM service prefix here
    called = {f"{prefixes.get(service, service)}:{operation}" for service, operation in factory.counter.calls}
    assert {"ecs:CreateService", "ecs:RegisterTaskDefinition"} <= called
    granted = {a for s in iam_policy(loaded, base_dir=tmp_path)["Statement"] for a in s["Action"]}
    assert called - granted == set()


def test_infrastructure_roles_of_the_request_structures_are_passed(tmp_path: Path) -> None:
    """The roles ECS uses for VPC Lattice and managed EBS volumes (issue 26) are the caller's to pass."""
    data = config()
    data["service"]["vpc_lattice"] = [{"role_arn": f"{ROLE}/lattice", "port_name": "web",
                                       "target_group_arn": "arn:aws:vpc-lattice:us-east-1:123456789012:"
                                                           "targetgroup/tg-0123456789abcdef0"}]
    data["service"]["volume_configurations"] = [{"name": "data", "managed_ebs_volume": {"role_arn": f"{ROLE}/ebs"}}]
    policy = iam_policy(load_config(write(tmp_path / "ci-ecs.yml", data)), account_id=ACCOUNT, region="us-east-1",
                        base_dir=tmp_path)
    passed = _statements(policy)["PassEcsInfrastructureRoles"]
    assert passed["Action"] == ["iam:PassRole"]
    assert passed["Resource"] == [f"{ROLE}/ebs", f"{ROLE}/lattice"]
    assert passed["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs.amazonaws.com"}}


def test_a_strategy_naming_other_providers_may_describe_them(tmp_path: Path) -> None:
    """The pre-flight reads the type of a strategy's non-Fargate providers (Managed Instances ones, issue 26)."""
    fargate = config(**{"service.launch_type": None,
                        "service.capacity_provider_strategy": [{"capacity_provider": "FARGATE_SPOT"}]})
    policy = iam_policy(load_config(write(tmp_path / "a.yml", fargate)), account_id=ACCOUNT, region="us-east-1",
                        base_dir=tmp_path)
    assert "EcsCapacityProviders" not in _statements(policy)
    managed = config(**{"service.launch_type": None,
                        "service.capacity_provider_strategy": [{"capacity_provider": "shop-mi"}]})
    policy = iam_policy(load_config(write(tmp_path / "b.yml", managed)), account_id=ACCOUNT, region="us-east-1",
                        base_dir=tmp_path)
    assert _statements(policy)["EcsCapacityProviders"]["Action"] == ["ecs:DescribeCapacityProviders"]
