"""`docker push` of an ECR repositoryUri lands in the sandbox registry and ECR lists it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import Aws, require_registry, require_tool

pytestmark = [pytest.mark.docker, pytest.mark.registry]


def test_docker_push_of_repository_uri_is_listed_by_ecr(aws: Aws, docker_env: dict[str, str], tmp_path: Path) -> None:
    require_tool("docker")
    docker_env = {**os.environ, **docker_env, "DOCKER_BUILDKIT": "0"}
    require_registry(aws.sb)
    busybox = shutil.which("busybox") or require_tool("busybox")
    context = tmp_path / "context"
    context.mkdir()
    shutil.copy(busybox, context / "busybox")
    (context / "Dockerfile").write_text('FROM scratch\nCOPY busybox /busybox\nCMD ["/busybox", "true"]\n')
    uri = aws.ecr.create_repository(repositoryName="pushed")["repository"]["repositoryUri"]
    subprocess.run(
        ["docker", "build", "-q", "-t", f"{uri}:1.0", str(context)],
        env=docker_env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    pushed = subprocess.run(
        ["docker", "push", f"{uri}:1.0"], env=docker_env, check=True, capture_output=True, text=True, timeout=120
    ).stdout
    digest = pushed.strip().splitlines()[-1].split("digest: ")[1].split()[0]
    (image,) = aws.ecr.describe_images(repositoryName="pushed")["imageDetails"]
    assert image["imageDigest"] == digest
    assert image["imageTags"] == ["1.0"]
    assert image["imageSizeInBytes"] > 100_000  # the busybox layer
