"""Tags of an `express:` config on an existing Express service (simulated runtime): UpdateExpressGatewayService
takes no tags, so ci-ecs sets the keys the config names with TagResource on the service's ARN and leaves every
other key alone; a re-run with the same tags writes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from ci_ecs.sandbox import Sandbox
from tests.conftest import Run, require_tool

EXECUTION_ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
INFRA_ROLE = "arn:aws:iam::123456789012:role/ecsInfrastructureRoleForExpressServices"
WRITES = ("Create", "Update", "Delete", "Register", "Deregister", "Tag", "Untag", "Put")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """The e2e sandbox with a short bake-time minute: an Express deployment is a canary with minutes of bake time."""
    with Sandbox(port=0, task_start_seconds=0.3, validate_responses=True, minute_seconds=1.0) as sb:
        yield sb
        violations = sb.take_violations()
        assert not violations, "sandbox responses that botocore's model refuses:\n" + "\n".join(violations[:20])


def _deploy(sandbox: Sandbox, tmp_path: Path, config: dict[str, Any]) -> Run:
    path = tmp_path / "ci-ecs.yml"
    path.write_text(yaml.safe_dump(config))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CI_ECS_"))}, **sandbox.env(),
           "HOME": str(tmp_path)}
    done = subprocess.run([require_tool("ci-ecs"), "deploy", "-c", str(path), "--output", "json"], env=env,
                          capture_output=True, text=True, timeout=180)
    sys.stderr.write(done.stderr)
    return Run(done.returncode, done.stdout, done.stderr)


def test_tag_changes_reach_an_existing_express_service(sandbox: Sandbox, tmp_path: Path) -> None:
    name = f"tags-{uuid.uuid4().hex[:6]}"
    config: dict[str, Any] = {
        "region": "us-east-1",
        "express": {"service_name": name, "primary_container": {"image": "public.ecr.aws/nginx/nginx:1.27"},
                    "execution_role_arn": EXECUTION_ROLE, "infrastructure_role_arn": INFRA_ROLE,
                    "tags": {"team": "web"}},
        "deploy": {"timeout": 120},
    }
    first = _deploy(sandbox, tmp_path, config)
    assert first.code == 0, first.stderr[-3000:]
    arn = first.json["serviceArn"]
    ecs = boto3.client("ecs", endpoint_url=sandbox.endpoint_url, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")

    def tags() -> dict[str, str]:
        return {t["key"]: t["value"] for t in ecs.list_tags_for_resource(resourceArn=arn)["tags"]}

    assert tags() == {"team": "web"}
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "cost-center", "value": "42"}])  # another tool's tag

    config["express"]["tags"] = {"team": "api", "owner": "platform"}
    sandbox.clear_request_log()
    changed = _deploy(sandbox, tmp_path, config)
    assert changed.code == 0, changed.stderr[-3000:]
    assert changed.json["serviceAction"] == "updated"
    assert {c["path"] for c in changed.json["changes"]} == {"tags.team", "tags.owner"}
    assert tags() == {"team": "api", "owner": "platform", "cost-center": "42"}
    operations = [c.operation for c in sandbox.request_log]
    # Tags alone start no deployment: no UpdateExpressGatewayService.
    assert "TagResource" in operations and "UpdateExpressGatewayService" not in operations, operations

    sandbox.clear_request_log()
    again = _deploy(sandbox, tmp_path, config)
    assert again.code == 0, again.stderr[-3000:]
    assert again.json["serviceAction"] == "unchanged" and again.json["changed"] is False
    writes = [c.operation for c in sandbox.request_log if c.operation.startswith(WRITES)]
    assert writes == [], writes
