"""Express services on the simulated runtime, through the real `ci-ecs` command: tag changes on an existing
service, and two `preview down` of one Express preview at once."""

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


def _env(sandbox: Sandbox, tmp_path: Path, endpoint: str | None = None) -> dict[str, str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CI_ECS_"))}, **sandbox.env(),
           "HOME": str(tmp_path)}
    return {**env, "AWS_ENDPOINT_URL": endpoint} if endpoint else env


def _ci_ecs(sandbox: Sandbox, tmp_path: Path, config: dict[str, Any], *args: str) -> Run:
    (tmp_path / "ci-ecs.yml").write_text(yaml.safe_dump(config))
    done = subprocess.run([require_tool("ci-ecs"), *args, "-c", "ci-ecs.yml", "--output", "json"], cwd=tmp_path,
                          env=_env(sandbox, tmp_path), capture_output=True, text=True, timeout=180)
    sys.stderr.write(done.stderr)
    return Run(done.returncode, done.stdout, done.stderr)


def _deploy(sandbox: Sandbox, tmp_path: Path, config: dict[str, Any]) -> Run:
    return _ci_ecs(sandbox, tmp_path, config, "deploy")


def _express(name: str, **extra: Any) -> dict[str, Any]:
    return {"service_name": name, "primary_container": {"image": "public.ecr.aws/nginx/nginx:1.27"},
            "execution_role_arn": EXECUTION_ROLE, "infrastructure_role_arn": INFRA_ROLE, **extra}


def test_tag_changes_reach_an_existing_express_service(sandbox: Sandbox, tmp_path: Path) -> None:
    name = f"tags-{uuid.uuid4().hex[:6]}"
    config: dict[str, Any] = {
        "region": "us-east-1",
        "express": _express(name, tags={"team": "web"}),
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


def test_two_downs_of_an_express_preview_at_once_both_succeed(sandbox: Sandbox, tmp_path: Path) -> None:
    """A closed pull request's job and a gc remove one Express preview at once: the slower one's
    DeleteExpressGatewayService reaches a service the other already deleted, and ECS answers
    ServiceNotActiveException (ECS API reference, DeleteExpressGatewayService, Errors). `down` is idempotent: it
    goes on as if it had deleted the service itself. The proxy holds the slower one's delete until the other
    down is done."""
    from tests.e2e.proxy import FaultProxy

    config = {"region": "us-east-1", "express": _express(f"dn-{uuid.uuid4().hex[:6]}"), "deploy": {"timeout": 120}}
    up = _ci_ecs(sandbox, tmp_path, config, "preview", "up", "--id", "7")
    assert up.code == 0, up.stderr[-3000:]
    with FaultProxy(sandbox.endpoint_url) as proxy:
        proxy.add("DeleteExpressGatewayService", "delay", seconds=6, calls={1})
        slow = subprocess.Popen([require_tool("ci-ecs"), "preview", "down", "--id", "7", "-c", "ci-ecs.yml"],
                                cwd=tmp_path, env=_env(sandbox, tmp_path, proxy.url), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        while not any(call.operation.endswith("DeleteExpressGatewayService") for call in list(proxy.calls)):
            assert slow.poll() is None, slow.communicate()
        fast = _ci_ecs(sandbox, tmp_path, config, "preview", "down", "--id", "7")
        _, err = slow.communicate(timeout=120)
    assert fast.code == 0, fast.stderr[-3000:]
    assert [r["type"] for r in fast.json["removed"]].count("expressService") == 1, fast.json
    assert slow.returncode == 0, err[-3000:]
    again = _ci_ecs(sandbox, tmp_path, config, "preview", "down", "--id", "7")
    assert again.code == 0 and again.json["removed"] == [], again.stdout
