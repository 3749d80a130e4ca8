"""`docker push` of an ECR repositoryUri lands in the sandbox registry and ECR lists it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Aws, require_registry, require_tool

pytestmark = [pytest.mark.docker, pytest.mark.registry]


@pytest.fixture(scope="module")
def docker_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A private Docker engine (testing.md's recipe); the environment that points clients at it."""
    dockerd = require_tool("dockerd")
    require_tool("docker")
    root = tmp_path_factory.mktemp("dockerd")
    sock = root / "docker.sock"
    log = open(root / "dockerd.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            dockerd,
            "--iptables=false",
            "--bridge=none",
            "--storage-driver=vfs",
            "--data-root",
            str(root / "data"),
            "--exec-root",
            str(root / "exec"),
            "--pidfile",
            str(root / "docker.pid"),
            "-H",
            f"unix://{sock}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    env = {**os.environ, "DOCKER_HOST": f"unix://{sock}", "DOCKER_BUILDKIT": "0", "DOCKER_CONFIG": str(root / "client")}
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(["docker", "version"], env=env, capture_output=True).returncode != 0:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dockerd did not start: {(root / 'dockerd.log').read_text()[-2000:]}")
            time.sleep(0.3)
        yield env
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_docker_push_of_repository_uri_is_listed_by_ecr(aws: Aws, docker_env: dict[str, str], tmp_path: Path) -> None:
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
