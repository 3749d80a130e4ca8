"""Without the docker-registry program: control plane only, pull check against moto's ECR."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from ci_ecs.sandbox import Sandbox

from .conftest import TASK_START_SECONDS, Aws, wait_for

MOTO_ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """This module's sandbox never starts the registry."""
    with Sandbox(task_start_seconds=TASK_START_SECONDS, start_registry=False, validate_responses=True) as sb:
        yield sb


def test_control_plane_only(aws: Aws) -> None:
    assert aws.sb.registry is None
    assert "control plane only" in aws.sb.registry_note
    repo = aws.ecr.create_repository(repositoryName="plain")["repository"]
    assert repo["repositoryUri"] == f"{MOTO_ECR}/plain"
    (auth,) = aws.ecr.get_authorization_token()["authorizationData"]
    assert auth["proxyEndpoint"] == f"https://{MOTO_ECR.split('.')[0]}.dkr.ecr.us-east-1.amazonaws.com"


def test_pull_check_uses_moto_ecr(aws: Aws) -> None:
    aws.ecr.create_repository(repositoryName="web")
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 2,
            "digest": "sha256:" + "a" * 64,
        },
        "layers": [],
    }
    aws.ecr.put_image(repositoryName="web", imageManifest=json.dumps(manifest), imageTag="1")
    cluster = aws.cluster()
    aws.service(cluster, "ok", aws.task_definition("ok", image=f"{MOTO_ECR}/web:1"), desired=1)
    aws.service(cluster, "ko", aws.task_definition("ko", image=f"{MOTO_ECR}/web:2"), desired=1)
    aws.wait_stable(cluster, "ok")

    def failed() -> list:
        return aws.tasks(cluster, "ko", desired_status="STOPPED")

    task = wait_for(failed, what="pull failure")[0]
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("CannotPullContainerError")
