"""The lifecycle commands' pure parts (table-driven, no AWS), their bad inputs (exit 2, nothing written),
deregister against moto, and the IAM policy for them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ci_ecs.cli import main
from ci_ecs.config import RunTaskSettings, ServiceConfig, load_config
from ci_ecs.deregister import deregister_old, plan_deregistration
from ci_ecs.errors import ConfigError
from ci_ecs.iam import iam_policy
from ci_ecs.rollback import previous_revision
from ci_ecs.run_task import failures, image_container, overrides, placement, split_command

from .helpers import config, write

FARGATE = {"networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"]}
SERVICE = {"launchType": "FARGATE", "platformVersion": "LATEST", "networkConfiguration": {"awsvpcConfiguration": {
    "subnets": ["subnet-svc"], "securityGroups": ["sg-svc"], "assignPublicIp": "DISABLED"}}}


def _none() -> list[str]:
    return []


@pytest.mark.parametrize(("current", "service", "run_task", "expected"), [
    # The service's own settings, as ECS describes it.
    (SERVICE, ServiceConfig(), RunTaskSettings(),
     {"launchType": "FARGATE", "platformVersion": "LATEST", "networkConfiguration": {"awsvpcConfiguration": {
         "subnets": ["subnet-svc"], "securityGroups": ["sg-svc"], "assignPublicIp": "DISABLED"}}}),
    # run_task: keys win, key by key; the rest stays the service's.
    (SERVICE, ServiceConfig(), RunTaskSettings(subnets=["subnet-b", "subnet-a"], assign_public_ip=True),
     {"launchType": "FARGATE", "platformVersion": "LATEST", "networkConfiguration": {"awsvpcConfiguration": {
         "subnets": ["subnet-a", "subnet-b"], "securityGroups": ["sg-svc"], "assignPublicIp": "ENABLED"}}}),
    # A capacity provider strategy replaces the launch type (RunTask takes one or the other).
    (SERVICE, ServiceConfig(), RunTaskSettings.model_validate(
        {"capacity_provider_strategy": [{"capacity_provider": "FARGATE_SPOT"}]}),
     {"capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}],
      "platformVersion": "LATEST", "networkConfiguration": {"awsvpcConfiguration": {
          "subnets": ["subnet-svc"], "securityGroups": ["sg-svc"], "assignPublicIp": "DISABLED"}}}),
    # No service yet (a migration before the first deploy): the config's service keys, default subnets.
    (None, ServiceConfig(security_groups=["sg-cfg"]), RunTaskSettings(),
     {"launchType": "FARGATE", "networkConfiguration": {"awsvpcConfiguration": {
         "securityGroups": ["sg-cfg"], "subnets": ["subnet-default"]}}}),
])
def test_placement_layers(current: dict[str, Any] | None, service: ServiceConfig, run_task: RunTaskSettings,
                          expected: dict[str, Any]) -> None:
    assert placement(FARGATE, current, service, run_task, lambda: ["subnet-default"]) == expected


def test_placement_bridge_task_on_ec2_has_no_network_configuration() -> None:
    got = placement({"requiresCompatibilities": ["EC2"]}, {"launchType": "EC2", "platformVersion": "x"},
                    ServiceConfig(), RunTaskSettings(), _none)
    assert got == {"launchType": "EC2"}


def test_placement_without_any_subnet_is_exit_2() -> None:
    with pytest.raises(ConfigError, match="run_task.subnets"):
        placement(FARGATE, None, ServiceConfig(), RunTaskSettings(), _none)


@pytest.mark.parametrize(("command", "expected"), [
    ("python manage.py migrate", ["python", "manage.py", "migrate"]),
    ("sh -c 'echo a; exit 3'", ["sh", "-c", "echo a; exit 3"]),
    ('echo "$HOME" \\$x', ["echo", "$HOME", "$x"]),
])
def test_split_command(command: str, expected: list[str]) -> None:
    assert split_command(command) == expected


def test_split_command_refuses_open_quote() -> None:
    with pytest.raises(ConfigError, match="--command"):
        split_command("echo 'open")


def test_overrides_go_to_one_container() -> None:
    assert overrides("app", None, {}) == {}
    assert overrides("app", ["migrate"], {"A": "1"}) == {"containerOverrides": [
        {"name": "app", "command": ["migrate"], "environment": [{"name": "A", "value": "1"}]}]}


def test_image_container_default() -> None:
    definition = {"containerDefinitions": [{"name": "proxy", "image": "nginx"}, {"name": "app", "image": "repo@d"}]}
    assert image_container(definition, [], "repo@d", []) == "app"
    assert image_container(definition, ["proxy"], "repo@d", []) == "proxy"
    assert image_container(definition, [], None, ["app"]) == "app"
    assert image_container(definition, [], None, []) == "proxy"


@pytest.mark.parametrize(("task", "expected"), [
    ({"containers": [{"name": "app", "exitCode": 0}, {"name": "side", "exitCode": 137}]}, []),
    ({"containers": [{"name": "app", "exitCode": 3}]}, ["container app exited with code 3"]),
    ({"stoppedReason": "CannotPullContainerError: not found", "containers": [{"name": "app"}]},
     ["container app did not run to an exit code: CannotPullContainerError: not found"]),
])
def test_failures_count_essential_containers_only(task: dict[str, Any], expected: list[str]) -> None:
    definition = {"containerDefinitions": [{"name": "app"}, {"name": "side", "essential": False}]}
    assert failures(task, definition) == expected


def _arn(n: int) -> str:
    return f"arn:aws:ecs:us-east-1:123456789012:task-definition/web:{n}"


@pytest.mark.parametrize(("current", "active", "expected"), [
    (3, [3, 2, 1], 2),
    (2, [3, 2, 1], 2),  # already back from the newest: a re-run stays (idempotent)
    (3, [3, 1], 1),  # a deregistered revision is skipped
    (5, [3, 2], 3),  # the service runs a deregistered newest revision
    (1, [1], None),
    (1, [], None),
])
def test_previous_revision(current: int, active: list[int], expected: int | None) -> None:
    found = previous_revision(_arn(current), [_arn(n) for n in active])
    assert found == (_arn(expected) if expected else None)


def test_plan_deregistration_keeps_in_use() -> None:
    kept, used, doomed = plan_deregistration([_arn(n) for n in (1, 5, 3, 4, 2)], {_arn(1), _arn(4)}, 2)
    assert (kept, used, doomed) == ([_arn(5), _arn(4)], [_arn(1)], [_arn(3), _arn(2)])


@pytest.mark.parametrize("args", [
    ["run-task", "--command", "echo 'open"],
    ["run-task", "--container-name", "nope"],
    ["run-task", "--count", "11"],
    ["deregister", "--keep", "0"],
    ["rollback", "--region", "nowhere"],
])
def test_bad_input_is_exit_2_before_any_call(args: list[str], aws_env: None, tmp_path: Path) -> None:
    path = write(tmp_path / "ci-ecs.yml", config())
    # No endpoint and fake keys: any AWS call would fail with another code.
    result = CliRunner().invoke(main, [args[0], "-c", str(path), *args[1:]])
    assert result.exit_code == 2, result.output


def test_run_task_section_is_validated(aws_env: None, tmp_path: Path) -> None:
    path = write(tmp_path / "ci-ecs.yml", config(**{"run_task.launch_type": "FARGATE",
                                                      "run_task.capacity_provider_strategy":
                                                          [{"capacity_provider": "X"}]}))
    with pytest.raises(ConfigError, match="run_task"):
        load_config(path)
    with pytest.raises(ConfigError, match="did you mean|run_task.subnet"):
        load_config(write(tmp_path / "typo.yml", config(**{"run_task.subnet": ["s"]})))


def test_deregister_keeps_what_a_service_uses_and_is_idempotent(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    ecs = moto_aws["ecs"]
    ecs.create_cluster(clusterName="demo")
    arns = [ecs.register_task_definition(family="hello", containerDefinitions=[
        {"name": "web", "image": f"nginx:{n}", "memory": 64}])["taskDefinition"]["taskDefinitionArn"]
        for n in range(4)]
    ecs.register_task_definition(family="hello-worker", containerDefinitions=[{"name": "w", "image": "x",
                                                                              "memory": 64}])
    ecs.create_service(cluster="demo", serviceName="hello", taskDefinition=arns[0], desiredCount=0)
    cfg = load_config(write(tmp_path / "ci-ecs.yml", config()))

    preview = deregister_old(cfg, keep=2, dry_run=True)
    assert preview["deregistered"] == [arns[1]] and preview["inUse"] == [arns[0]]
    assert len(ecs.list_task_definitions(familyPrefix="hello", status="ACTIVE")["taskDefinitionArns"]) == 4

    done = deregister_old(cfg, keep=2)
    assert done["deregistered"] == [arns[1]] and done["kept"] == [arns[3], arns[2]]
    active = ecs.list_task_definitions(familyPrefix="hello", status="ACTIVE")["taskDefinitionArns"]
    assert arns[1] not in active and arns[0] in active
    # Another family with the same prefix is not touched (ECS's familyPrefix matches it; moto's does not).
    assert ecs.list_task_definitions(familyPrefix="hello-worker", status="ACTIVE")["taskDefinitionArns"]
    assert deregister_old(cfg, keep=2)["deregistered"] == []


def test_iam_policy_covers_the_lifecycle_commands(tmp_path: Path) -> None:
    policy = iam_policy(load_config(write(tmp_path / "ci-ecs.yml", config())), account_id="123456789012",
                        region="us-east-1")
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    calls = {"ecs:RunTask", "ecs:StopTask", "ecs:DescribeTasks", "ecs:ListTasks", "ecs:DescribeTaskDefinition",
             "ecs:ListTaskDefinitions", "ecs:DeregisterTaskDefinition", "ecs:ListServices", "ecs:DescribeServices",
             "ecs:UpdateService", "ecs:RegisterTaskDefinition", "ecs:CreateCluster", "ec2:DescribeNetworkInterfaces"}
    assert calls <= actions
    run = next(s for s in policy["Statement"] if s["Sid"] == "EcsRunTask")
    assert run["Resource"] == "arn:aws:ecs:us-east-1:123456789012:task-definition/hello:*"
    assert run["Condition"] == {"ArnEquals": {"ecs:cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/demo"}}
