"""``python -m ci_ecs.sandbox`` in the foreground: what it prints, faults from the environment,
and that SIGTERM stops everything it started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import require_tool, with_ctrl_c


def _read_until(process: subprocess.Popen[str], prefix: str, timeout: float = 30) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith(prefix):
            return lines
    pytest.fail(f"no line starting with {prefix!r}; got {lines}")


def _port_open(address: str) -> bool:
    host, _, port = address.rpartition(":")
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, int(port))) == 0


def _start(**env: str) -> tuple[subprocess.Popen[str], list[str]]:
    """`python -m ci_ecs.sandbox --port 0` with extra environment; its lines up to "sandbox ready"."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ci_ecs.sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    try:
        return process, _read_until(process, "sandbox ready")
    except BaseException:
        process.kill()
        process.wait()
        raise


def _stop(process: subprocess.Popen[str]) -> str:
    """SIGTERM, then what the sandbox printed; it must exit 0."""
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=20)
    assert process.returncode == 0
    return out


def test_module_entrypoint_serves_and_stops_on_sigterm() -> None:
    process, lines = _start(CI_ECS_SANDBOX_THROTTLE_RATE="1", CI_ECS_SANDBOX_TASK_START_SECONDS="0.2")
    try:
        endpoint = next(line for line in lines if line.startswith("AWS_ENDPOINT_URL="))
        url = endpoint.split("=", 1)[1]
        assert url.startswith("http://127.0.0.1:")
        ready = lines[-1]
        assert "throttle rate 1" in ready and "task start 0.2s" in ready
        ecs = boto3.client(
            "ecs",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="a",
            aws_secret_access_key="b",
            config=Config(retries={"total_max_attempts": 1}),
        )
        with pytest.raises(ClientError) as caught:
            ecs.list_clusters()
        assert caught.value.response["Error"]["Code"] == "ThrottlingException"
        assert "sandbox stopped" in _stop(process)
        assert not _port_open(url.removeprefix("http://"))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_module_entrypoint_stops_its_registry_on_sigterm() -> None:
    require_tool("docker-registry")  # without it the sandbox serves no ECR registry: nothing to check here
    process, lines = _start()
    try:
        registry_line = next((line for line in lines if line.startswith("ECR registry:")), None)
        assert registry_line is not None, f"docker-registry is installed but the sandbox has no registry: {lines}"
        registry = registry_line.split()[2]
        assert _port_open(registry)
        assert "sandbox stopped" in _stop(process)
        assert not _port_open(registry), "the registry must stop with the sandbox"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()



def test_ctrl_c_right_after_ready_stops_the_cli_sandbox_cleanly() -> None:
    """A script that sends Ctrl-C as soon as it reads the ready line gets a normal stop (exit 0, no "Aborted!"):
    the ready line is printed inside the foreground loop's KeyboardInterrupt handling. (A Ctrl-C while the
    sandbox is still starting exits 130 with one line; its timing cannot be made deterministic here.)"""
    ci_ecs = require_tool("ci-ecs")
    process = subprocess.Popen(with_ctrl_c([ci_ecs, "sandbox", "--port", "0"]), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        _read_until(process, "sandbox ready")
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Aborted" not in out and "Traceback" not in out, out
    assert process.returncode == 0, out
    assert "sandbox stopped" in out


def test_module_entrypoint_takes_the_ecs_timing_profile_from_the_environment() -> None:
    # CI_ECS_SANDBOX_TIMING=ecs with a 6 s minute: the profile's 40 s task start lasts 4 s, as the ready line says.
    process, lines = _start(CI_ECS_SANDBOX_TIMING="ecs", CI_ECS_SANDBOX_MINUTE_SECONDS="6")
    try:
        ready = lines[-1]
        assert "task start 4s" in ready and "timing ecs, an AWS second lasts 0.1s" in ready, ready
        assert "sandbox stopped" in _stop(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
