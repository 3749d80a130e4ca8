"""Shared fixtures: AWS credentials that are obviously fake, and moto in-process for the core tests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Run:
    """A finished `ci-ecs` run."""

    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.stdout))


def require_tool(name: str, path: str | Path | None = None, *, hint: str = "") -> str:
    """The path of a tool (on PATH, or at `path`); skip when missing, except in CI (CI_ECS_REQUIRE_ALL)
    where that is a failure: CI installs every tool, so a skip there would hide a test that never ran."""
    found = str(path) if path and Path(path).exists() else (shutil.which(name) if path is None else None)
    if found:
        return found
    reason = f"{name} is not installed{f' ({hint})' if hint else ''}"
    if os.environ.get("CI_ECS_REQUIRE_ALL"):
        pytest.fail(f"{reason}; CI_ECS_REQUIRE_ALL is set, so this cannot be skipped")
    pytest.skip(reason)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Fake credentials and a region; no endpoint override, no profile files from the host."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "CI_ECS_")) or name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKEFAKE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake-secret-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


@pytest.fixture
def moto_aws(aws_env: None) -> Iterator[dict[str, Any]]:
    """moto in-process, with a security group in the default VPC (moto checks that they exist)."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
        subnets = [s["SubnetId"] for s in ec2.describe_subnets(
            Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]
        yield {"security_group": group, "subnets": subnets, "vpc": vpc,
               "ecs": boto3.client("ecs", region_name="us-east-1"),
               "ecr": boto3.client("ecr", region_name="us-east-1")}


@pytest.fixture(scope="session")
def docker_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A private Docker engine (testing.md's recipe, one per test session); the variables that point
    clients (SDK, CLI) at it."""
    dockerd = require_tool("dockerd")
    root = tmp_path_factory.mktemp("dockerd")
    sock = root / "d.sock"
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
            str(root / "d.pid"),
            "-H",
            f"unix://{sock}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    env = {"DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": str(root / "client")}
    try:
        import docker

        deadline = time.monotonic() + 40
        while True:
            try:
                docker.DockerClient(base_url=env["DOCKER_HOST"], timeout=5).ping()
                break
            except Exception:
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


@pytest.fixture(scope="session")
def docker_client(docker_env: dict[str, str]) -> Any:
    """A Docker SDK client for the private engine."""
    import docker

    return docker.DockerClient(base_url=docker_env["DOCKER_HOST"], timeout=300)
