"""Failure handling that no real part can produce, and the IAM policy a config needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner

from ci_ecs.cli import main
from ci_ecs.ecs import EcsGateway
from ci_ecs.errors import AwsError
from tests.core.helpers import config, write

DEFINITION = {"family": "web", "containerDefinitions": [{"name": "web", "image": "nginx:1"}]}
CONCURRENT = "Too many concurrent attempts to create a new revision of the specified family."


def _stubbed_ecs() -> tuple[Any, Stubber]:
    # Stubber: neither moto nor the sandbox refuses concurrent registrations the way ECS does.
    client = boto3.client("ecs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    return client, Stubber(client)


def test_concurrent_revision_error_is_retried() -> None:
    client, stubber = _stubbed_ecs()
    stubber.add_client_error("register_task_definition", "ClientException", CONCURRENT)
    stubber.add_client_error("register_task_definition", "ClientException", CONCURRENT)
    stubber.add_response("register_task_definition", {"taskDefinition": {
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/web:4", "revision": 4}}, DEFINITION)
    sleeps: list[float] = []
    with stubber:
        registered = EcsGateway(client, sleep=sleeps.append).register_task_definition(DEFINITION)
    assert registered["revision"] == 4
    assert len(sleeps) == 2 and all(0 <= s <= 10 for s in sleeps)
    stubber.assert_no_pending_responses()


def test_other_client_errors_are_not_retried() -> None:
    client, stubber = _stubbed_ecs()
    stubber.add_client_error("register_task_definition", "ClientException", "Container.image should not be null")
    sleeps: list[float] = []
    with stubber, pytest.raises(AwsError, match="register task definition web: ClientException"):
        EcsGateway(client, sleep=sleeps.append).register_task_definition(DEFINITION)
    assert sleeps == []


def test_create_service_carries_a_client_token() -> None:
    """A retried CreateService cannot create a second service: the token makes it idempotent."""
    client, stubber = _stubbed_ecs()
    seen: list[dict[str, Any]] = []
    client.meta.events.register("provide-client-params.ecs.CreateService",
                                lambda params, **_: seen.append(dict(params)))
    stubber.add_response("create_service", {"service": {"serviceName": "web"}})
    with stubber:
        EcsGateway(client).create_service({"cluster": "c", "serviceName": "web", "taskDefinition": "web:1"})
    assert len(seen[0]["clientToken"]) >= 32


def test_iam_policy_is_scoped_to_the_config(tmp_path: Path) -> None:
    data = config(**{"repository": {"name": "hello"}, "image": {"tag": "1"}})
    data["task"]["execution_role_arn"] = "arn:aws:iam::123456789012:role/exec"
    data["task"]["task_role_arn"] = "arn:aws:iam::123456789012:role/app"
    path = write(tmp_path / "ci-ecs.yml", data)
    result = CliRunner().invoke(main, ["iam-policy", "-c", str(path), "--account-id", "123456789012"])
    assert result.exit_code == 0, result.output
    statements = {s["Sid"]: s for s in json.loads(result.stdout)["Statement"]}
    assert statements["EcrRepository"]["Resource"] == "arn:aws:ecr:us-east-1:123456789012:repository/hello"
    assert statements["EcsService"]["Resource"] == "arn:aws:ecs:us-east-1:123456789012:service/demo/hello"
    assert "ecs:UpdateService" in statements["EcsService"]["Action"]
    passrole = statements["PassTaskRoles"]
    assert passrole["Action"] == ["iam:PassRole"]
    assert passrole["Resource"] == ["arn:aws:iam::123456789012:role/app", "arn:aws:iam::123456789012:role/exec"]
    assert passrole["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    everything = [s for s in statements.values() if s["Resource"] == "*"]
    assert all(not a.startswith(("ecs:Create", "ecs:Update", "ecr:Put", "iam:")) for s in everything
               for a in s["Action"])
    bad = CliRunner().invoke(main, ["iam-policy", "-c", str(tmp_path / "missing.yml")])
    assert bad.exit_code == 2
