"""Fixtures for the sandbox tests: a running sandbox, clients pointed at it, and helpers.

moto's state is process-wide, so one sandbox runs at a time: the ``sandbox`` fixture is
module-scoped and each test uses its own cluster.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from ci_ecs.sandbox import Sandbox
from ci_ecs.sandbox.registry import RegistryClient
from tests.conftest import require_tool

TASK_START_SECONDS = 0.3
REGION = "us-east-1"
PUBLIC_IMAGE = "public.ecr.aws/nginx/nginx:1.27"
# Fargate needs an execution role to pull from ECR (ECS refuses the registration otherwise).
EXECUTION_ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"


@pytest.fixture(name="require_tool")
def require_tool_fixture() -> Callable[[str], str]:
    """The ``require_tool`` function, as a fixture."""
    return require_tool


def require_registry(sb: Sandbox) -> str:
    """The sandbox's registry address; skip (or fail in CI) when docker-registry is missing."""
    if sb.registry is None:
        require_tool("docker-registry")
        pytest.fail(f"docker-registry is installed but the sandbox has no registry: {sb.registry_note}")
    return sb.registry


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """A running sandbox (with the registry when docker-registry is installed) that checks every
    response against botocore's model."""
    with Sandbox(task_start_seconds=TASK_START_SECONDS, validate_responses=True) as sb:
        yield sb


@pytest.fixture(autouse=True)
def _reset_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sandbox" in request.fixturenames:
        sb: Sandbox = request.getfixturevalue("sandbox")
        violations = sb.take_violations()
        sb.set_faults(
            throttle_rate=0.0, error_5xx_operations=(), error_5xx_times=None, task_start_seconds=TASK_START_SECONDS
        )
        if violations:
            pytest.fail("sandbox responses that botocore's model refuses:\n" + "\n".join(violations[:20]))


class Aws:
    """boto3 clients for the sandbox, plus helpers to build a Fargate service quickly."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self._clients: dict[str, Any] = {}

    def client(self, name: str, config: Config | None = None) -> Any:
        """A boto3 client pointed at the sandbox (cached when no config is given)."""
        if config is None and name in self._clients:
            return self._clients[name]
        client = boto3.client(
            name,
            endpoint_url=self.sb.endpoint_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )
        if config is None:
            self._clients[name] = client
        return client

    @property
    def ecs(self) -> Any:
        return self.client("ecs")

    @property
    def ec2(self) -> Any:
        return self.client("ec2")

    @property
    def ecr(self) -> Any:
        return self.client("ecr")

    def subnet(self) -> str:
        """A subnet of moto's default VPC."""
        return str(self.ec2.describe_subnets()["Subnets"][0]["SubnetId"])

    def cluster(self) -> str:
        """A new cluster with a unique name."""
        name = f"c-{uuid.uuid4().hex[:8]}"
        self.ecs.create_cluster(clusterName=name)
        return name

    def task_definition(
        self, family: str, image: str = PUBLIC_IMAGE, labels: dict[str, str] | None = None, **extra: Any
    ) -> str:
        """Register a Fargate task definition with one container named "web" and the execution role
        ECS needs for ECR images; returns its ARN."""
        container: dict[str, Any] = {
            "name": "web",
            "image": image,
            "essential": True,
            "portMappings": [{"containerPort": 80}],
        }
        if labels:
            container["dockerLabels"] = labels
        answer = self.ecs.register_task_definition(
            family=family,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[container],
            **{"executionRoleArn": EXECUTION_ROLE, **extra},
        )
        return str(answer["taskDefinition"]["taskDefinitionArn"])

    def service(
        self,
        cluster: str,
        name: str,
        task_definition: str,
        desired: int = 3,
        public: bool = True,
        deployment_configuration: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create a Fargate service in moto's default subnet (no security groups, as ECS allows)."""
        kwargs: dict[str, Any] = {}
        if deployment_configuration is not None:
            kwargs["deploymentConfiguration"] = deployment_configuration
        answer = self.ecs.create_service(
            cluster=cluster,
            serviceName=name,
            taskDefinition=task_definition,
            desiredCount=desired,
            launchType="FARGATE",
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": [self.subnet()],
                    "assignPublicIp": "ENABLED" if public else "DISABLED",
                }
            },
            **kwargs,
        )
        return dict(answer["service"])

    def describe(self, cluster: str, name: str) -> dict[str, Any]:
        """DescribeServices for one service."""
        return dict(self.ecs.describe_services(cluster=cluster, services=[name])["services"][0])

    def tasks(self, cluster: str, name: str, desired_status: str = "RUNNING") -> list[dict[str, Any]]:
        """DescribeTasks of the service's tasks with the given desired status."""
        arns = self.ecs.list_tasks(cluster=cluster, serviceName=name, desiredStatus=desired_status)["taskArns"]
        if not arns:
            return []
        return list(self.ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"])

    def wait_stable(self, cluster: str, name: str, timeout: float = 20) -> dict[str, Any]:
        """boto3's services_stable waiter with a short delay; returns the service."""
        self.ecs.get_waiter("services_stable").wait(
            cluster=cluster, services=[name], WaiterConfig={"Delay": 0.2, "MaxAttempts": int(timeout / 0.2)}
        )
        return self.describe(cluster, name)


@pytest.fixture
def aws(sandbox: Sandbox) -> Aws:
    """Clients and helpers for the module's sandbox."""
    return Aws(sandbox)


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.1, what: str = "") -> Any:
    """Poll until ``predicate()`` is truthy; returns its value or fails the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


# ----------------------------------------------------------------- images for the registry


def _blob(data: bytes) -> tuple[str, bytes]:
    return "sha256:" + hashlib.sha256(data).hexdigest(), data


def _layer(content: bytes) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(content)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


DOCKER_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.container.image.v1+json",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
)
OCI_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.oci.image.layer.v1.tar+gzip",
)


def image_parts(content: bytes, oci: bool = False) -> dict[str, Any]:
    """A tiny single-layer image: config, layer and a Docker v2 (or OCI) manifest, as bytes."""
    manifest_type, config_type, layer_type = OCI_TYPES if oci else DOCKER_TYPES
    layer_digest, layer = _blob(_layer(content))
    diff_id = "sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()
    config_digest, config = _blob(
        json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Cmd": ["/hello"]},
                "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            }
        ).encode()
    )
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {
                "mediaType": config_type,
                "size": len(config),
                "digest": config_digest,
            },
            "layers": [
                {
                    "mediaType": layer_type,
                    "size": len(layer),
                    "digest": layer_digest,
                }
            ],
        }
    ).encode()
    return {
        "config": (config_digest, config),
        "layer": (layer_digest, layer),
        "manifest": manifest,
        "digest": "sha256:" + hashlib.sha256(manifest).hexdigest(),
        "size": len(config) + len(layer),
        "media_type": manifest_type,
    }


def push_image(registry: str, repository: str, tag: str, content: bytes = b"hello") -> str:
    """Upload a tiny image through the registry's HTTP API (what docker push does); returns its digest."""
    parts = image_parts(content)
    client = RegistryClient(registry)
    for digest, data in (parts["config"], parts["layer"]):
        client.upload_blob(repository, data, digest)
    pushed = client.put_manifest(
        repository, tag, parts["manifest"].decode(), "application/vnd.docker.distribution.manifest.v2+json"
    )
    assert pushed == parts["digest"]
    return str(pushed)
