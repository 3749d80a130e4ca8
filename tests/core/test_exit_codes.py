"""Every exit code through the CLI (click's CliRunner), against moto in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from ci_ecs.aws import ClientFactory
from ci_ecs.cli import main
from tests.core.helpers import config, write


def _config_file(tmp_path: Path, moto_aws: dict[str, Any], **changes: Any) -> Path:
    return write(tmp_path / "ci-ecs.yml", config(**{"service.security_groups": [moto_aws["security_group"]],
                                                    **changes}))


def test_exit_0_json_result(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    path = _config_file(tmp_path, moto_aws)
    result = CliRunner().invoke(main, ["deploy", "-c", str(path), "--output", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in ("cluster", "service", "serviceArn", "serviceAction", "taskDefinitionArn", "taskDefinitionRegistered",
                "imageUri", "imageDigest", "imagePushed", "deploymentId", "rolloutState", "publicIps", "privateIps",
                "loadBalancerDns", "durationSeconds", "apiCalls"):
        assert key in data
    assert data["serviceAction"] == "created" and data["deploymentId"]
    assert "ci-ecs: service hello created" in result.stderr


def test_exit_0_plan_reports_changes_without_writing(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    path = _config_file(tmp_path, moto_aws)
    result = CliRunner().invoke(main, ["plan", "-c", str(path), "--output", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["changed"] is True
    assert moto_aws["ecs"].list_clusters()["clusterArns"] == []
    CliRunner().invoke(main, ["deploy", "-c", str(path)])
    text = CliRunner().invoke(main, ["plan", "-c", str(path)], env={"CI_ECS_DESIRED_COUNT": "4"})
    assert text.exit_code == 0
    assert "~ desiredCount: 2 -> 4" in text.stdout
    unchanged = CliRunner().invoke(main, ["plan", "-c", str(path), "--output", "json"])
    assert json.loads(unchanged.stdout)["changed"] is False


def test_exit_1_image_tag_missing_in_ecr(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    data = config(**{"service.security_groups": [moto_aws["security_group"]], "repository": {"name": "hello"},
                     "image": {"tag": "9.9.9"}})
    del data["task"]["containers"][0]["image"]
    path = write(tmp_path / "ci-ecs.yml", data)
    result = CliRunner().invoke(main, ["deploy", "-c", str(path)])
    assert result.exit_code == 1
    assert "hello:9.9.9 not found in ECR repository hello" in result.stderr
    assert moto_aws["ecs"].list_task_definitions()["taskDefinitionArns"] == []


def test_exit_2_flag_and_env_precedence(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    """flag > env > file: the env's bad value loses to a good flag; alone it is exit 2."""
    path = _config_file(tmp_path, moto_aws)
    bad_env = {"CI_ECS_CLUSTER": "not valid!"}
    assert CliRunner().invoke(main, ["deploy", "-c", str(path)], env=bad_env).exit_code == 2
    ok = CliRunner().invoke(main, ["deploy", "-c", str(path), "--cluster", "other", "--output", "json"], env=bad_env)
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["cluster"] == "other"
    from_env = CliRunner().invoke(main, ["deploy", "-c", str(path), "--output", "json"],
                                  env={"CI_ECS_SERVICE": "from-env"})
    assert json.loads(from_env.stdout)["service"] == "from-env"


def _stubbed_factory(monkeypatch: pytest.MonkeyPatch, operation: str, code: str, message: str) -> None:
    # moto does not enforce IAM, so AccessDenied / PassRole errors cannot come from a real part. Every call of
    # the client is answered with the error, the way botocore's Stubber answers (a before-call response), but
    # in any order: deploy issues its first describes (`operation` among them) concurrently.
    from botocore.awsrequest import AWSResponse

    client = boto3.client("ecs", region_name="us-east-1")
    error = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}

    def deny(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse("", 400, {}, None), error

    client.meta.events.register(f"before-call.ecs.{client.meta.method_to_api_mapping[operation]}", deny)
    client.meta.events.register("before-call.ecs.DescribeTaskDefinition", deny)
    monkeypatch.setattr(ClientFactory, "client", lambda self, service: client)


def test_exit_3_access_denied(tmp_path: Path, moto_aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    path = _config_file(tmp_path, moto_aws)
    _stubbed_factory(monkeypatch, "describe_services", "AccessDeniedException",
                     "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecs:DescribeServices")
    result = CliRunner().invoke(main, ["deploy", "-c", str(path)])
    assert result.exit_code == 3
    assert "describe services of demo: AccessDeniedException" in result.stderr
    assert "Traceback" not in result.output


def test_exit_3_pass_role(tmp_path: Path, moto_aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    path = _config_file(tmp_path, moto_aws)
    _stubbed_factory(monkeypatch, "describe_services", "ClientException",
                     "User is not authorized to perform: iam:PassRole on resource: arn:aws:iam::1:role/exec")
    result = CliRunner().invoke(main, ["deploy", "-c", str(path)])
    assert result.exit_code == 3 and "iam:PassRole" in result.stderr


def test_exit_3_no_credentials(tmp_path: Path, moto_aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    path = _config_file(tmp_path, moto_aws)
    result = CliRunner().invoke(main, ["deploy", "-c", str(path)])
    assert result.exit_code == 3, result.output
    assert "NoCredentials" in result.stderr


def test_exit_4_timeout_on_plain_moto(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    """Plain moto never starts tasks, so waiting for the deployment runs into the timeout.

    5 s, not less: the steps before the wait (reads, pre-flight, register, create) must end inside the budget on a
    loaded CI machine, or the deadline cuts one of their calls and the message names that call instead."""
    path = _config_file(tmp_path, moto_aws)
    result = CliRunner().invoke(main, ["deploy", "-c", str(path), "--wait", "--timeout", "5", "--output", "json"])
    assert result.exit_code == 4, result.output
    assert "not finished after 5 s" in result.stderr
    assert json.loads(result.stdout)["rolloutState"] == "IN_PROGRESS"


def test_internal_error_is_one_line_without_traceback(tmp_path: Path, moto_aws: dict[str, Any],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = _config_file(tmp_path, moto_aws)

    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("ci_ecs.deploy.ensure_cluster", explode)
    result = CliRunner().invoke(main, ["deploy", "-c", str(path)])
    assert result.exit_code == 1 and "internal error: RuntimeError: boom" in result.stderr
    assert "Traceback" not in result.stderr
    debug = CliRunner().invoke(main, ["deploy", "-c", str(path), "--debug"])
    assert "Traceback" in debug.stderr


def test_assume_role_and_user_agent(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    """--assume-role-arn goes through STS first; every client carries the ci-ecs user agent."""
    from ci_ecs.aws import AwsSettings

    factory = ClientFactory(AwsSettings(region="us-east-1", assume_role_arn="arn:aws:iam::123456789012:role/deploy"))
    ecs = factory.client("ecs")
    assert "ci-ecs/" in ecs.meta.config.user_agent_extra
    assert ecs.meta.config.retries["mode"] == "standard"
    frozen = factory.session().get_credentials().get_frozen_credentials()
    assert frozen.access_key != "AKIAFAKEFAKEFAKEFAKE"  # moto's STS handed out new credentials
    assert factory.counter.calls[("sts", "AssumeRole")] == 1
    path = _config_file(tmp_path, moto_aws)
    result = CliRunner().invoke(main, ["deploy", "-c", str(path), "--output", "json", "--assume-role-arn",
                                       "arn:aws:iam::123456789012:role/deploy"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["apiCalls"]["sts"] == 1


def test_task_definition_flag_replaces_the_task(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    """--task-definition (the aws-actions input) deploys a native file, the image into --container-name."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "taskdef.json").write_text(json.dumps({
        "family": "native", "networkMode": "awsvpc", "cpu": "256", "memory": "512",
        "requiresCompatibilities": ["FARGATE"],
        "containerDefinitions": [{"name": "app", "image": "placeholder", "essential": True,
                                  "linuxParameters": {"initProcessEnabled": True}},
                                 {"name": "sidecar", "image": "busybox:1"}]}))
    path = _config_file(tmp_path, moto_aws)
    result = CliRunner().invoke(main, ["deploy", "-c", str(path), "--output", "json", "--task-definition",
                                       str(tmp_path / "sub" / "taskdef.json"), "--container-name", "app",
                                       "--image", "nginx:1.27"])
    assert result.exit_code == 0, result.output
    assert "task-definition/native:1" in json.loads(result.stdout)["taskDefinitionArn"]
    containers = moto_aws["ecs"].describe_task_definition(taskDefinition="native")["taskDefinition"][
        "containerDefinitions"]
    assert [c["image"] for c in containers] == ["nginx:1.27", "busybox:1"]
    assert containers[0]["linuxParameters"] == {"initProcessEnabled": True}
