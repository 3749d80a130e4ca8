"""ECS Express Mode on the sandbox's docker runtime: the endpoint an Express service reports answers
with its container's page through the forwarding load balancer, and an image change rolls out
(canary) until every request gets the new page. Requests go only to 127.0.0.0/8."""

from __future__ import annotations

import ipaddress
import shutil
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

from ci_ecs.sandbox import Sandbox
from tests.conftest import require_tool

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
