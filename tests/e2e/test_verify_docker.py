"""`ci-ecs deploy` with `verify` against the sandbox's docker runtime: real containers on a private Docker
engine, answering on their loopback public IPs. ci-ecs probes what ECS reports; the tests fetch the
same addresses themselves. Traffic goes only to 127.0.0.0/8.

- 2 tasks serving a page built from `environment` and a secret: verify passes, every public IP answers,
  tasks HEALTHY, the awslogs streams hold the container's output;
- a container that prints a marker and exits 7: exit 1, the marker (its log tail) and the exit code in
  ci-ecs's output, rolled back, the old tasks answer again;
- `verify.path` answering 404: exit 1, the URL and status in the message, rolled back.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from ci_ecs.sandbox import Sandbox
from tests.conftest import Run, require_tool

pytestmark = [pytest.mark.docker, pytest.mark.registry]

REGION = "us-east-1"
EXECUTION_ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
# The page: words from the environment (GREETING) and from a Secrets Manager secret (SECRET_WORD).
PAGE_SCRIPT = ('echo "<p>$GREETING $SECRET_WORD</p>" > index.html && echo "serving on 80" '
               "&& exec /bin/busybox httpd -f -p 80 -h .")


@pytest.fixture(scope="module")
def busybox_image(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """FROM scratch with a static busybox as /bin/busybox and /bin/sh (no image can be pulled here)."""
    busybox = require_tool("busybox", hint="Debian busybox-static")
    context = tmp_path_factory.mktemp("verify-busybox")
    shutil.copy(busybox, context / "busybox")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY busybox /bin/busybox\nCOPY busybox /bin/sh\n")
    tag = "ci-ecs-verify-test/busybox:1"
    docker_client.images.build(path=str(context), tag=tag, rm=True, network_mode="none")
    return tag


@pytest.fixture(scope="module")
def sandbox(docker_env: dict[str, str], busybox_image: str) -> Iterator[Sandbox]:
    with Sandbox(port=0, registry_port=0, task_start_seconds=0.3, validate_responses=True, runtime="docker",
                 docker_host=docker_env["DOCKER_HOST"]) as sb:
        yield sb
        violations = sb.take_violations()
        assert not violations, "sandbox responses that botocore's model refuses:\n" + "\n".join(violations[:20])


@pytest.fixture(scope="module")
def page_image(sandbox: Sandbox, docker_client: Any, busybox_image: str) -> str:
    """The busybox image in the sandbox's ECR: the engine pulls it from there, as Fargate would."""
    if sandbox.registry is None:
        require_tool("docker-registry")
        pytest.fail(f"the sandbox has no registry: {sandbox.registry_note}")
    uri = _client(sandbox, "ecr").create_repository(repositoryName="verify-page")["repository"]["repositoryUri"]
    docker_client.images.get(busybox_image).tag(uri, "1")
    docker_client.images.push(uri, "1")
    return f"{uri}:1"


def _client(sandbox: Sandbox, name: str) -> Any:
    return boto3.client(name, endpoint_url=sandbox.endpoint_url, region_name=REGION,
                        aws_access_key_id="test", aws_secret_access_key="test")


def _get(url: str) -> tuple[int, str]:
    host = urllib.parse.urlsplit(url).hostname or ""
    assert ipaddress.ip_address(host).is_loopback, url  # never anything but 127.0.0.0/8
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as answer:
        return int(answer.status), answer.read().decode()


class Deploys:
    """Configs for one cluster, deployed with the real `ci-ecs` command against the docker sandbox."""

    def __init__(self, sandbox: Sandbox, tmp_path: Path, image: str) -> None:
        self.sandbox = sandbox
        self.tmp_path = tmp_path
        self.image = image
        self.cluster = f"v-{uuid.uuid4().hex[:8]}"
        self.group = f"/ecs/{self.cluster}"
        # No proxy: the probes go straight to the loopback addresses.
        self.env = {**{k: v for k, v in os.environ.items()
                       if not k.startswith(("AWS_", "CI_ECS_")) and k.lower() not in ("http_proxy", "https_proxy")},
                    **sandbox.env(), "HOME": str(tmp_path), "NO_PROXY": "*"}
        self.ecs = _client(sandbox, "ecs")
        secret = _client(sandbox, "secretsmanager").create_secret(
            Name=f"{self.cluster}-word", SecretString=json.dumps({"word": "sesame"}))
        self.secret_arn = str(secret["ARN"])

    def config(self, *, command: str = PAGE_SCRIPT, greeting: str = "hello", verify: dict[str, Any] | None = None,
               health: bool = False) -> dict[str, Any]:
        container: dict[str, Any] = {
            "name": "web", "entry_point": ["/bin/sh", "-c"], "command": [command], "working_dir": "/www",
            "port_mappings": [{"container_port": 80}], "environment": {"GREETING": greeting},
            "secrets": {"SECRET_WORD": f"{self.secret_arn}:word::"}, "stop_timeout": 2,
            "logs": {"group": self.group, "stream_prefix": "page", "create_group": True},
        }
        if health:
            container["health_check"] = {"command": ["CMD-SHELL", "/bin/busybox wget -q -O /dev/null "
                                                     "http://127.0.0.1/ || exit 1"],
                                         "interval": 5, "timeout": 2, "retries": 2}
        return {
            "region": REGION,
            "cluster": self.cluster,
            "task": {"family": f"{self.cluster}-page", "cpu": "256", "memory": "512", "network_mode": "awsvpc",
                     "requires_compatibilities": ["FARGATE"], "execution_role_arn": EXECUTION_ROLE,
                     "containers": [container]},
            "service": {"name": "page", "desired_count": 2, "launch_type": "FARGATE", "assign_public_ip": True},
            "verify": {"within": 20, "timeout": 3, **(verify or {})},
            "deploy": {"timeout": 120, "stable_seconds": 1},
        }

    def run(self, config: dict[str, Any], *args: str) -> Run:
        path = self.tmp_path / "ci-ecs.yml"
        path.write_text(yaml.safe_dump(config))
        completed = subprocess.run([require_tool("ci-ecs"), "deploy", "-c", str(path), "--image", self.image,
                                    "--output", "json", *args],
                                   env=self.env, capture_output=True, text=True, timeout=240)
        sys.stderr.write(completed.stderr)
        return Run(completed.returncode, completed.stdout, completed.stderr)

    def service(self) -> dict[str, Any]:
        return dict(self.ecs.describe_services(cluster=self.cluster, services=["page"])["services"][0])

    def tasks(self) -> list[dict[str, Any]]:
        arns = self.ecs.list_tasks(cluster=self.cluster, serviceName="page")["taskArns"]
        return list(self.ecs.describe_tasks(cluster=self.cluster, tasks=arns)["tasks"]) if arns else []

    def public_ips(self) -> list[str]:
        """The running tasks' public IPs, read the ECS way: task ENI -> DescribeNetworkInterfaces."""
        enis = [d["value"] for t in self.tasks() if t["lastStatus"] == "RUNNING"
                for d in t["attachments"][0]["details"] if d["name"] == "networkInterfaceId"]
        found = _client(self.sandbox, "ec2").describe_network_interfaces(NetworkInterfaceIds=enis)
        return sorted(i["Association"]["PublicIp"] for i in found["NetworkInterfaces"])


@pytest.fixture
def deploys(sandbox: Sandbox, tmp_path: Path, page_image: str) -> Deploys:
    return Deploys(sandbox, tmp_path, page_image)


def _assert_loopback(ips: list[str]) -> None:
    for ip in ips:
        address = ipaddress.ip_address(ip)
        assert address.is_loopback and ip != "127.0.0.1", ips


def test_verify_passes_and_every_public_ip_serves_the_page(deploys: Deploys) -> None:
    run = deploys.run(deploys.config(verify={"body": "hello sesame"}, health=True))
    assert run.code == 0, run.stderr
    result = run.json
    assert result["rolloutState"] == "COMPLETED"
    ips = result["publicIps"]
    assert len(ips) == 2
    _assert_loopback(ips)
    verify = result["verify"]
    assert verify["ok"] is True
    assert sorted(c["url"] for c in verify["checks"]) == sorted(f"http://{ip}/" for ip in ips)
    for check in verify["checks"]:
        assert check["status"] == 200 and check["error"] is None and isinstance(check["ms"], int)
    for ip in ips:  # the test's own request, to the address ECS reports
        status, body = _get(f"http://{ip}:80/")
        assert (status, body.strip()) == (200, "<p>hello sesame</p>")
    tasks = deploys.tasks()
    assert len(tasks) == 2 and all(t["healthStatus"] == "HEALTHY" for t in tasks)
    logs = _client(deploys.sandbox, "logs")
    for task in tasks:
        stream = f"page/web/{task['taskArn'].rsplit('/', 1)[-1]}"
        events = logs.get_log_events(logGroupName=deploys.group, logStreamName=stream, startFromHead=True)
        assert "serving on 80" in [e["message"] for e in events["events"]]


def test_crashing_container_fails_with_its_log_tail_and_is_rolled_back(deploys: Deploys) -> None:
    first = deploys.run(deploys.config())
    assert first.code == 0, first.stderr
    old_ips = first.json["publicIps"]
    assert first.json["verify"]["ok"] is True
    marker = f"marker-{uuid.uuid4().hex[:8]}"
    run = deploys.run(deploys.config(command=f'echo "{marker} is about to exit"; exit 7'))
    assert run.code == 1, run.stderr
    assert "exit code 7" in run.stderr
    # The marker comes from the container's awslogs stream, printed under its stopped reason.
    lines = run.stderr.splitlines()
    stopped = next(i for i, line in enumerate(lines) if line.startswith("  stopped: ") and "exit code 7" in line)
    assert any(f"| {marker} is about to exit" in line for line in lines[stopped:])
    assert "rolled back to" in run.stderr
    result = run.json
    assert result["error"] and result["rolloutState"] == "FAILED"
    assert result["verify"] is None  # never probed: the deployment failed before
    service = deploys.service()
    assert service["taskDefinition"].endswith(":1") and service["deployments"][0]["rolloutState"] == "COMPLETED"
    ips = deploys.public_ips()  # the first revision's tasks, started again by the rollback
    assert len(ips) == 2 and len(old_ips) == 2
    _assert_loopback(ips)
    for ip in ips:
        assert _get(f"http://{ip}/") == (200, "<p>hello sesame</p>\n")


def test_a_crash_after_the_health_checks_passed_fails_and_rolls_back(deploys: Deploys) -> None:
    """The release serves its page and passes its container health check (HEALTHY about 5 s after start), then
    exits 15 s after it started. `deploy.stable_seconds` 12 counts from when ci-ecs first saw each task HEALTHY,
    so the crash falls in the window: exit 1, rolled back, the JSON says so. (Counted from startedAt, the window
    ended at 12 s, verify passed, exit 0.)"""
    first = deploys.run(deploys.config(health=True))
    assert first.code == 0, first.stderr
    crash_after = ('echo "<p>$GREETING $SECRET_WORD</p>" > index.html && echo "serving on 80" '
                   '&& /bin/busybox httpd -p 80 -h . && sleep 15 && echo "crashing now" && exit 3')
    config = deploys.config(command=crash_after, greeting="bonjour", health=True)
    config["deploy"]["stable_seconds"] = 12
    run = deploys.run(config)
    assert run.code == 1, run.stderr
    result = run.json
    assert "stopped after it completed" in result["error"], result["error"]
    assert "exit code 3" in run.stderr and "| crashing now" in run.stderr  # the stop and the container's own words
    assert result["rolledBackTo"] is not None and result["rolledBackTo"].endswith(":1")
    assert result["verify"] is None  # failed in the stable window, before the access check
    assert deploys.service()["taskDefinition"] == result["rolledBackTo"]


def test_verify_path_answering_404_fails_and_rolls_back(deploys: Deploys) -> None:
    first = deploys.run(deploys.config())
    assert first.code == 0, first.stderr
    run = deploys.run(deploys.config(greeting="bonjour", verify={"path": "/missing.html", "within": 3}))
    assert run.code == 1, run.stderr
    result = run.json
    verify = result["verify"]
    assert verify["ok"] is False and len(verify["checks"]) == 2
    for check in verify["checks"]:
        assert check["status"] == 404 and check["url"].endswith("/missing.html")
        _assert_loopback([urllib.parse.urlsplit(check["url"]).hostname or ""])
    assert "verify failed" in result["error"] and "status 404" in result["error"]
    assert verify["checks"][0]["url"] in result["error"]
    assert "rolled back to" in result["error"]
    assert deploys.service()["taskDefinition"].endswith(":1")
    assert result["rolloutState"] == "FAILED"
    ips = deploys.public_ips()  # the first revision's tasks serve its page again
    assert len(ips) == 2
    for ip in ips:
        assert _get(f"http://{ip}/") == (200, "<p>hello sesame</p>\n")


def test_demo_builds_deploys_verifies_and_prints_the_page(docker_env: dict[str, str], tmp_path: Path) -> None:
    """`ci-ecs demo` with an engine: examples/hello built offline, run as containers, verified, page printed."""
    require_tool("docker-registry")
    require_tool("busybox", hint="Debian busybox-static")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CI_ECS_"))},
           **docker_env, "HOME": str(tmp_path), "NO_PROXY": "*"}
    run = subprocess.run([require_tool("ci-ecs"), "demo", "--output", "json"], env=env, capture_output=True,
                         text=True, timeout=300, cwd=tmp_path)
    sys.stderr.write(run.stderr)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert "runtime docker" in run.stderr
    assert result["verify"]["ok"] is True and len(result["verify"]["checks"]) == 2
    assert result["imagePushed"] is True
    ip = result["publicIps"][0]
    _assert_loopback([ip])
    lines = run.stderr.splitlines()
    answered = lines.index(f"http://{ip}/ answered:")
    assert "  <h1>Hello from ci-ecs</h1>" in lines[answered + 1:answered + 4]
