"""Tools that know nothing about the sandbox, pointed at it with AWS_ENDPOINT_URL only."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .conftest import Aws, require_tool


def _env(aws: Aws, tmp_path: Path) -> dict[str, str]:
    # Only the endpoint, dummy credentials and a region: no config files from the machine.
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        **aws.sb.env(),
    }


def test_aws_cli_waits_for_services_stable(aws: Aws, tmp_path: Path) -> None:
    cli = require_tool("aws")
    cluster = aws.cluster()
    aws.service(cluster, "web", aws.task_definition("awscli"), desired=3)
    result = subprocess.run(
        [cli, "ecs", "wait", "services-stable", "--cluster", cluster, "--services", "web"],
        env=_env(aws, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert aws.describe(cluster, "web")["runningCount"] == 3


def test_fabfuel_ecs_deploy_completes(aws: Aws, tmp_path: Path) -> None:
    ecs_deploy = require_tool("ecs")
    cluster = aws.cluster()
    first = aws.task_definition("fabfuel")
    aws.service(cluster, "web", first, desired=2)
    aws.wait_stable(cluster, "web")
    image = "public.ecr.aws/nginx/nginx:1.28"
    result = subprocess.run(
        [ecs_deploy, "deploy", cluster, "web", "--image", "web", image, "--timeout", "60"],
        env=_env(aws, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    service = aws.describe(cluster, "web")
    assert service["taskDefinition"] != first
    (deployment,) = service["deployments"]
    assert deployment["rolloutState"] == "COMPLETED"
    td = aws.ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    assert td["containerDefinitions"][0]["image"] == image
    assert {t["taskDefinitionArn"] for t in aws.tasks(cluster, "web")} == {service["taskDefinition"]}
