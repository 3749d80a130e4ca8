"""ECS Express Mode on the sandbox's docker runtime: the endpoint an Express service reports answers
with its container's page through the forwarding load balancer, and an image change rolls out
(canary) until every request gets the new page. Requests go only to 127.0.0.0/8."""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import sys
import time
import urllib.error
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
INFRA_ROLE = "arn:aws:iam::123456789012:role/ecsInfrastructureRoleForExpressServices"
MINUTE_SECONDS = 3.0  # one AWS second is 0.05 s: health checks, the canary's bake times, deregistration delays


def build_page_image(docker_client: Any, context: Path, page: str, tag: str) -> str:
    """A FROM-scratch busybox httpd image answering `page` on port 80."""
    busybox = require_tool("busybox", hint="Debian busybox-static")
    context.mkdir(parents=True, exist_ok=True)
    shutil.copy(busybox, context / "busybox")
    (context / "index.html").write_text(page + "\n")
    (context / "Dockerfile").write_text(
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY index.html /www/index.html\n"
        'CMD ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"]\n')
    docker_client.images.build(path=str(context), tag=tag, rm=True, network_mode="none")
    return tag


def get(url: str) -> tuple[int, str]:
    """One GET, only to a loopback address; (status, body), 0 when nothing answers."""
    address = urllib.parse.urlsplit(url).hostname or ""
    assert ipaddress.ip_address(address).is_loopback, url
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as err:
        return int(err.code), err.read().decode()
    except OSError:
        return 0, ""


def wait_pages(url: str, page: str, timeout: float, samples: int = 10) -> None:
    """Until `samples` requests in a row answer `page`."""
    deadline = time.monotonic() + timeout
    seen: list[tuple[int, str]] = []
    while time.monotonic() < deadline:
        seen = [get(url) for _ in range(samples)]
        if all(status == 200 and body.strip() == page for status, body in seen):
            return
        time.sleep(0.5)
    pytest.fail(f"{url} did not serve only {page!r} within {timeout} s; last answers: {seen}")


@pytest.fixture(scope="module")
def sandbox(docker_env: dict[str, str]) -> Iterator[Sandbox]:
    with Sandbox(port=0, registry_port=0, task_start_seconds=0.3, validate_responses=True, runtime="docker",
                 docker_host=docker_env["DOCKER_HOST"], minute_seconds=MINUTE_SECONDS) as sb:
        yield sb
        violations = sb.take_violations()
        assert not violations, "sandbox responses that botocore's model refuses:\n" + "\n".join(violations[:20])


@pytest.fixture(scope="module")
def pages(sandbox: Sandbox, docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two images in the sandbox's ECR: {page: image URI}."""
    if sandbox.registry is None:
        require_tool("docker-registry")
        pytest.fail(f"the sandbox has no registry: {sandbox.registry_note}")
    uri = client(sandbox, "ecr").create_repository(repositoryName="express-pages")["repository"]["repositoryUri"]
    out = {}
    for page in ("alpha", "beta"):
        local = build_page_image(docker_client, tmp_path_factory.mktemp(page), page, f"ci-ecs-express/{page}:1")
        docker_client.images.get(local).tag(uri, page)
        docker_client.images.push(uri, page)
        out[page] = f"{uri}:{page}"
    return out


def client(sandbox: Sandbox, name: str) -> Any:
    return boto3.client(name, endpoint_url=sandbox.endpoint_url, region_name=REGION,
                        aws_access_key_id="test", aws_secret_access_key="test")


def test_express_endpoint_answers_and_an_image_change_rolls_out(sandbox: Sandbox, pages: dict[str, str]) -> None:
    ecs = client(sandbox, "ecs")
    service = ecs.create_express_gateway_service(
        serviceName=f"exp-{uuid.uuid4().hex[:6]}", executionRoleArn=EXECUTION_ROLE, infrastructureRoleArn=INFRA_ROLE,
        primaryContainer={"image": pages["alpha"]}, scalingTarget={"minTaskCount": 2, "maxTaskCount": 4},
    )["service"]
    endpoint = service["activeConfigurations"][0]["ingressPaths"][0]["endpoint"]
    url = f"http://{endpoint}/"
    wait_pages(url, "alpha", timeout=90)

    ecs.update_express_gateway_service(serviceArn=service["serviceArn"], primaryContainer={"image": pages["beta"]})
    wait_pages(url, "beta", timeout=120)
    deployment = ecs.describe_service_deployments(serviceDeploymentArns=[
        ecs.describe_express_gateway_service(serviceArn=service["serviceArn"])["service"]["currentDeployment"]
    ])["serviceDeployments"][0]
    assert deployment["deploymentConfiguration"]["strategy"] == "CANARY"


WRITES = ("Create", "Update", "Register", "Deregister", "Delete", "Put", "Tag", "Untag", "Modify", "Stop", "Run",
          "Start", "Submit", "Set")


def _deploy(sandbox: Sandbox, tmp_path: Path, config: dict[str, Any], *args: str) -> Run:
    path = tmp_path / "ci-ecs.yml"
    path.write_text(yaml.safe_dump(config))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CI_ECS_"))}, **sandbox.env(),
           "HOME": str(tmp_path)}
    done = subprocess.run([require_tool("ci-ecs"), "deploy", "-c", str(path), "--output", "json", *args], env=env,
                          capture_output=True, text=True, timeout=300)
    sys.stderr.write(done.stderr)
    return Run(done.returncode, done.stdout, done.stderr)


def test_ci_ecs_deploys_express_url_answers_rerun_writes_nothing_image_change_serves_new_page(
        sandbox: Sandbox, pages: dict[str, str], tmp_path: Path) -> None:
    """Issue 25's done-when for Express: the URL answers, a re-run writes nothing, an image change rolls out."""
    config: dict[str, Any] = {
        "express": {"service_name": f"cli-{uuid.uuid4().hex[:6]}", "primary_container": {"image": pages["alpha"]},
                    "scaling_target": {"min_task_count": 2, "max_task_count": 4},
                    "execution_role_arn": EXECUTION_ROLE, "infrastructure_role_arn": INFRA_ROLE},
        # The sandbox's Express listener is HTTP (no certificates); on AWS it is HTTPS, verify's default scheme.
        "verify": {"scheme": "http", "body": "alpha", "within": 60},
        "deploy": {"timeout": 240},
    }
    first = _deploy(sandbox, tmp_path, config)
    assert first.code == 0, first.stderr[-3000:]
    result = first.json
    assert result["serviceAction"] == "created" and result["rolloutState"] == "COMPLETED"
    assert result["verify"]["ok"] is True
    url = result["serviceUrl"]
    assert url.startswith("http://") and get(url) == (200, "alpha\n")

    sandbox.clear_request_log()
    again = _deploy(sandbox, tmp_path, config)
    assert again.code == 0, again.stderr[-3000:]
    assert again.json["serviceAction"] == "unchanged" and again.json["changed"] is False
    writes = [c for c in sandbox.request_log if c.operation.startswith(WRITES)]
    assert writes == [], writes
    assert any(c.operation == "DescribeExpressGatewayService" for c in sandbox.request_log)

    config["express"]["primary_container"]["image"] = pages["beta"]
    config["verify"]["body"] = "beta"
    changed = _deploy(sandbox, tmp_path, config)
    assert changed.code == 0, changed.stderr[-3000:]
    assert changed.json["serviceAction"] == "updated"
    assert changed.json["serviceDeploymentStatus"] == "SUCCESSFUL"
    assert changed.json["serviceUrl"] == url
    wait_pages(url, "beta", timeout=30, samples=20)
