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

# Fixtures that start or use the private Docker engine (one per test session: per pytest-xdist worker). The modules
# that use it form two pytest-xdist groups, each run on one worker, in order: tests/e2e's ("docker-e2e") and the rest
# ("docker"), ~6-7 min each on a 2-core machine (one group was ~13 min, the suite's longest pole). Each worker's
# engine has address pools of its own (docker_env), so two engines never hand out the same bridge subnet, and each
# sees only its own group's containers and images.
DOCKER_FIXTURES = frozenset({"docker_env", "docker_client"})
# Under pytest-xdist, groups start in this order (longest first, so the last group to finish starts early): the
# Docker groups, the CI wrappers (one act/gitlab-ci-local/groovy run takes 20-130 s), then the rest; collection order
# within each.
GROUP_ORDER = ("docker", "tests/wrappers/", "tests/jenkins/", "tests/e2e/", "tests/sandbox/")


def _docker_group(module: str) -> str:
    return "docker-e2e" if module.startswith("tests/e2e/") else "docker"


def pytest_configure(config: pytest.Config) -> None:
    """`-n N` alone means `--dist load`, which ignores xdist groups: use loadgroup (the same for ungrouped tests), so
    the Docker modules keep to their two groups (two engines at most); and hand the groups out in GROUP_ORDER, not by
    size."""
    if getattr(config.option, "dist", None) == "load":
        config.option.dist = "loadgroup"
    if getattr(config.option, "dist", None) == "loadgroup":
        config.option.loadscopereorder = False


def _group_rank(group: str) -> int:
    return next((rank for rank, prefix in enumerate(GROUP_ORDER) if group.startswith(prefix)), len(GROUP_ORDER))


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """pytest-xdist groups (`make unit` runs `--dist loadgroup`): one group per test module, so module-scoped
    fixtures (a sandbox, one act or gitlab-ci-local run shared by the module's tests) start once per run, and two
    groups, "docker-e2e" (tests/e2e) and "docker" (the rest), for the modules with a test that uses the Docker engine
    (DOCKER_FIXTURES or the `docker` mark). On an xdist worker, the items are sorted by GROUP_ORDER (every worker
    sorts alike)."""
    docker_modules = {
        item.nodeid.split("::", 1)[0]
        for item in items
        if DOCKER_FIXTURES & set(getattr(item, "fixturenames", ())) or item.get_closest_marker("docker")
    }
    groups: dict[str, str] = {}
    for item in items:
        marker = item.get_closest_marker("xdist_group")
        if marker is None:
            module = item.nodeid.split("::", 1)[0]
            group = _docker_group(module) if module in docker_modules else module
            item.add_marker(pytest.mark.xdist_group(group))
        else:
            group = str(marker.args[0] if marker.args else marker.kwargs.get("name", ""))
        groups[item.nodeid] = group
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: _group_rank(groups[item.nodeid]))
        xdist_suffixes = bool(getattr(config.option, "loadgroup", False))
        for item in items:
            _add_group_suffix(item, groups[item.nodeid], xdist_suffixes)


def _add_group_suffix(item: pytest.Item, group: str, xdist_suffixes: bool) -> None:
    """What xdist's loadgroup does to a node id (`ID@GROUP`, which its scheduler splits on), where xdist does not:
    pytest-xdist 3.8 sets `item._nodeid`, which pytest 9 no longer reads (the id is a NodeId in `item._id`), so
    every test would be its own group; and a worker started with `-n` alone does not know that pytest_configure
    made it loadgroup. The other schedulers (load, loadscope, loadfile) ignore what follows the test name."""
    if hasattr(item, "_id"):  # pytest >= 9
        from _pytest.nodeid import NodeId

        item._id = NodeId.parse(f"{item.nodeid}@{group}")
    elif not xdist_suffixes:  # pytest 8, where xdist's own suffix works when it knows it is loadgroup
        item._nodeid = f"{item.nodeid}@{group}"


@dataclass
class Run:
    """A finished `ci-ecs` run."""

    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.stdout))


def with_ctrl_c(argv: list[str]) -> list[str]:
    """`argv` run with SIGINT at its default disposition, as from a terminal. A process started in the background
    by a non-interactive shell (`make test &`, a CI step's background job) inherits SIGINT ignored, and Python
    keeps an ignored SIGINT ignored: a test that sends Ctrl-C would wait for nothing. exec keeps SIG_DFL (unlike
    preexec_fn, this is safe in a process with threads)."""
    import sys

    reset = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])"
    return [sys.executable, "-c", reset, *argv]


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
    clients (SDK, CLI) at it. Its bridge networks come from 10.(200+N).0.0/16, N the pytest-xdist worker's number:
    engines of two workers would otherwise both take the first free default pool when they create networks at
    the same moment."""
    dockerd = require_tool("dockerd")
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    root = tmp_path_factory.mktemp("dockerd")
    sock = root / "d.sock"
    log = open(root / "dockerd.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            dockerd,
            "--iptables=false",
            "--bridge=none",
            "--storage-driver=vfs",
            f"--default-address-pool=base=10.{200 + worker % 50}.0.0/16,size=24",
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
