"""A sandbox for end-to-end deploys through the real `ci-ecs` command."""

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

TASK_START_SECONDS = 0.4


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """One sandbox per module (moto's state is process-wide); each test uses its own cluster.
    Every response is checked against botocore's model: a mismatch fails the module."""
    with Sandbox(port=0, registry_port=0, task_start_seconds=TASK_START_SECONDS, validate_responses=True) as sb:
        yield sb
        violations = sb.take_violations()
        assert not violations, "sandbox responses that botocore's model refuses:\n" + "\n".join(violations[:20])


class Deployer:
    """Writes configs for one cluster and runs the real `ci-ecs` command against the sandbox."""

    def __init__(self, sandbox: Sandbox, tmp_path: Path) -> None:
        self.sandbox = sandbox
        self.tmp_path = tmp_path
        self.cluster = f"c-{uuid.uuid4().hex[:8]}"
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CI_ECS_"))},
                    **sandbox.env(), "HOME": str(tmp_path)}
        self.ecs = boto3.client("ecs", endpoint_url=sandbox.endpoint_url, region_name="us-east-1",
                                aws_access_key_id="test", aws_secret_access_key="test")

    def config(self, **service: Any) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "task": {"family": f"{self.cluster}-web", "cpu": "256", "memory": "512", "network_mode": "awsvpc",
                     "requires_compatibilities": ["FARGATE"],
                     "execution_role_arn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
                     "containers": [{"name": "web", "port_mappings": [{"container_port": 8080}],
                                     "environment": {"GREETING": "hello"}}]},
            "service": {"name": "web", "desired_count": 2, "launch_type": "FARGATE", "assign_public_ip": True,
                        **service},
            "deploy": {"timeout": 60},
        }

    def run(self, config: dict[str, Any], *args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> Run:
        path = self.tmp_path / "ci-ecs.yml"
        path.write_text(yaml.safe_dump(config))
        ci_ecs = require_tool("ci-ecs")
        completed = subprocess.run([ci_ecs, "deploy", "-c", str(path), "--output", "json", *args],
                                   env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=timeout)
        sys.stderr.write(completed.stderr)
        return Run(completed.returncode, completed.stdout, completed.stderr)

    def service(self) -> dict[str, Any]:
        return dict(self.ecs.describe_services(cluster=self.cluster, services=["web"])["services"][0])


@pytest.fixture
def deployer(sandbox: Sandbox, tmp_path: Path) -> Deployer:
    return Deployer(sandbox, tmp_path)
