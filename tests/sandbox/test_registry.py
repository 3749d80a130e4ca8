"""The ECR data plane: a real docker-registry behind ECR's control plane, and the pull check."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ci_ecs.sandbox import context
from ci_ecs.sandbox import registry as registry_module
from ci_ecs.sandbox.registry import RegistryClient, RegistryPortError, RegistryProcess

from .conftest import Aws, image_parts, push_image, require_registry, require_tool, wait_for

pytestmark = pytest.mark.registry


def test_repository_uri_and_token_point_at_the_registry(aws: Aws) -> None:
    registry = require_registry(aws.sb)
    repo = aws.ecr.create_repository(repositoryName="uri")["repository"]
    assert repo["repositoryUri"] == f"{registry}/uri"
    (auth,) = aws.ecr.get_authorization_token()["authorizationData"]
    assert auth["proxyEndpoint"] == f"http://{registry}"
    user, _, password = base64.b64decode(auth["authorizationToken"]).decode().partition(":")
    assert user == "AWS" and password
    assert auth["expiresAt"] > datetime.now(timezone.utc)


def test_pushed_image_is_listed_with_its_digest(aws: Aws) -> None:
    registry = require_registry(aws.sb)
    aws.ecr.create_repository(repositoryName="hello")
    digest = push_image(registry, "hello", "1.0.0")
    push_image(registry, "hello", "latest")  # same content: a second tag on the same digest
    (image,) = aws.ecr.describe_images(repositoryName="hello")["imageDetails"]
    assert image["imageDigest"] == digest
    assert sorted(image["imageTags"]) == ["1.0.0", "latest"]
    assert image["imageSizeInBytes"] == image_parts(b"hello")["size"]
    assert image["imagePushedAt"] <= datetime.now(timezone.utc)
    assert aws.ecr.describe_images(repositoryName="hello", imageIds=[{"imageTag": "1.0.0"}])["imageDetails"]
    ids = aws.ecr.list_images(repositoryName="hello")["imageIds"]
    assert {i["imageDigest"] for i in ids} == {digest}
    got = aws.ecr.batch_get_image(repositoryName="hello", imageIds=[{"imageTag": "1.0.0"}])["images"][0]
    assert got["imageId"]["imageDigest"] == digest
    assert hashlib.sha256(got["imageManifest"].encode()).hexdigest() == digest.split(":")[1]
    with pytest.raises(ClientError) as caught:
        aws.ecr.describe_images(repositoryName="hello", imageIds=[{"imageTag": "nope"}])
    assert caught.value.response["Error"]["Code"] == "ImageNotFoundException"


def test_put_image_retags_in_the_registry_and_immutable_wording(aws: Aws) -> None:
    registry = require_registry(aws.sb)
    aws.ecr.create_repository(repositoryName="immutable", imageTagMutability="IMMUTABLE")
    first = push_image(registry, "immutable", "1.0", content=b"one")
    push_image(registry, "immutable", "2.0", content=b"two")
    manifest = aws.ecr.batch_get_image(repositoryName="immutable", imageIds=[{"imageTag": "1.0"}])["images"][0]
    put = aws.ecr.put_image(repositoryName="immutable", imageManifest=manifest["imageManifest"], imageTag="stable")
    assert put["image"]["imageId"] == {"imageDigest": first, "imageTag": "stable"}
    tags = aws.ecr.describe_images(repositoryName="immutable", imageIds=[{"imageDigest": first}])["imageDetails"][0]
    assert sorted(tags["imageTags"]) == ["1.0", "stable"]
    other = aws.ecr.batch_get_image(repositoryName="immutable", imageIds=[{"imageTag": "2.0"}])["images"][0]
    with pytest.raises(ClientError) as caught:
        aws.ecr.put_image(repositoryName="immutable", imageManifest=other["imageManifest"], imageTag="stable")
    assert caught.value.response["Error"]["Code"] == "ImageTagAlreadyExistsException"
    with pytest.raises(ClientError) as same:
        aws.ecr.put_image(repositoryName="immutable", imageManifest=manifest["imageManifest"], imageTag="stable")
    assert same.value.response["Error"]["Code"] == "ImageAlreadyExistsException"


def test_put_image_without_layers_is_refused(aws: Aws) -> None:
    require_registry(aws.sb)
    aws.ecr.create_repository(repositoryName="nolayers")
    manifest = image_parts(b"never uploaded")["manifest"].decode()
    with pytest.raises(ClientError) as caught:
        aws.ecr.put_image(repositoryName="nolayers", imageManifest=manifest, imageTag="x")
    assert caught.value.response["Error"]["Code"] == "LayersNotFoundException"
    assert aws.ecr.describe_images(repositoryName="nolayers")["imageDetails"] == []


def test_batch_delete_image_deletes_from_the_registry(aws: Aws) -> None:
    registry = require_registry(aws.sb)
    aws.ecr.create_repository(repositoryName="deleteme")
    digest = push_image(registry, "deleteme", "1")
    answer = aws.ecr.batch_delete_image(repositoryName="deleteme", imageIds=[{"imageDigest": digest}])
    assert answer["imageIds"][0]["imageDigest"] == digest
    assert aws.ecr.describe_images(repositoryName="deleteme")["imageDetails"] == []


def test_skopeo_copy_lands_in_ecr(aws: Aws, tmp_path: Path) -> None:
    registry = require_registry(aws.sb)
    skopeo = require_tool("skopeo")
    parts = image_parts(b"skopeo", oci=True)
    layout = tmp_path / "layout"
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    for digest, data in (parts["config"], parts["layer"]):
        (blobs / digest.split(":")[1]).write_bytes(data)
    (blobs / parts["digest"].split(":")[1]).write_bytes(parts["manifest"])
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    (layout / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": parts["media_type"],
                        "digest": parts["digest"],
                        "size": len(parts["manifest"]),
                        "annotations": {"org.opencontainers.image.ref.name": "v1"},
                    }
                ],
            }
        )
    )
    aws.ecr.create_repository(repositoryName="copied")
    subprocess.run(
        [
            skopeo,
            "--insecure-policy",
            "copy",
            "--dest-tls-verify=false",
            "--preserve-digests",
            f"oci:{layout}:v1",
            f"docker://{registry}/copied:v1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    (image,) = aws.ecr.describe_images(repositoryName="copied")["imageDetails"]
    assert image["imageTags"] == ["v1"]
    assert image["imageDigest"] == parts["digest"]
    assert image["imageManifestMediaType"] == parts["media_type"]


def test_missing_image_fails_tasks_trips_breaker_and_rolls_back(aws: Aws) -> None:
    registry = require_registry(aws.sb)
    aws.ecr.create_repository(repositoryName="app")
    push_image(registry, "app", "good")
    cluster = aws.cluster()
    good = aws.task_definition("app", image=f"{registry}/app:good")
    aws.service(
        cluster,
        "app",
        good,
        desired=2,
        deployment_configuration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )
    aws.wait_stable(cluster, "app")
    missing = f"{registry}/app:missing"
    bad = aws.task_definition("app", image=missing)
    failing_id = aws.ecs.update_service(cluster=cluster, service="app", taskDefinition=bad)["service"]["deployments"][
        0
    ]["id"]

    def failed_task() -> list:
        return [t for t in aws.tasks(cluster, "app", desired_status="STOPPED") if t["taskDefinitionArn"] == bad]

    task = wait_for(failed_task, what="a task that could not pull")[0]
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("CannotPullContainerError: pull image manifest has been retried")
    assert task["stoppedReason"].endswith(f"{missing}: not found")
    assert "startedAt" not in task

    def failed_deployment() -> dict | None:
        service = aws.describe(cluster, "app")
        return next(
            (d for d in service["deployments"] if d["id"] == failing_id and d["rolloutState"] == "FAILED"), None
        )

    deployment = wait_for(failed_deployment, what="FAILED", interval=0.05)
    assert deployment["failedTasks"] >= 3
    service = aws.wait_stable(cluster, "app")
    assert service["taskDefinition"] == good
    assert service["deployments"][0]["rolloutState"] == "COMPLETED"
    assert {t["taskDefinitionArn"] for t in aws.tasks(cluster, "app")} == {good}
    # The good tasks kept running throughout (minimumHealthyPercent 100).
    assert service["runningCount"] == 2


def test_moto_ecr_host_names_count_as_the_sandbox_ecr(aws: Aws) -> None:
    registry = require_registry(aws.sb)
    aws.ecr.create_repository(repositoryName="aliased")
    push_image(registry, "aliased", "1")
    cluster = aws.cluster()
    host = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    aws.service(cluster, "ok", aws.task_definition("aliased-ok", image=f"{host}/aliased:1"), desired=1)
    aws.service(cluster, "ko", aws.task_definition("aliased-ko", image=f"{host}/aliased:2"), desired=1)
    aws.wait_stable(cluster, "ok")
    wait_for(lambda: aws.describe(cluster, "ko")["deployments"][0]["failedTasks"] >= 1, what="pull failure")


def test_registry_calls_are_made_outside_the_runtime_lock(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = require_registry(aws.sb)
    rt = context.active()
    assert rt is not None and rt.registry is not None
    held: list[tuple[str, bool]] = []
    client = rt.registry
    for name in ("tags", "manifest", "has", "put_manifest", "delete_manifest"):
        original = getattr(client, name)

        def spy(*args: Any, _name: str = name, _original: Any = original) -> Any:
            held.append((_name, rt.holds_lock()))
            return _original(*args)

        monkeypatch.setattr(client, name, spy)
    aws.ecr.create_repository(repositoryName="unlocked")
    push_image(registry, "unlocked", "1")
    aws.ecr.describe_images(repositoryName="unlocked")
    manifest = aws.ecr.batch_get_image(repositoryName="unlocked", imageIds=[{"imageTag": "1"}])["images"][0]
    aws.ecr.put_image(repositoryName="unlocked", imageManifest=manifest["imageManifest"], imageTag="2")
    aws.ecr.batch_delete_image(repositoryName="unlocked", imageIds=[{"imageTag": "2"}])
    cluster = aws.cluster()
    aws.service(cluster, "web", aws.task_definition("unlocked", image=f"{registry}/unlocked:1"), desired=1)
    aws.wait_stable(cluster, "web")
    assert {name for name, _ in held} >= {"tags", "manifest", "has", "put_manifest"}
    assert [name for name, locked in held if locked] == []


# --------------------------------------------------------------------------- the registry's lifetime and port


def _descendants(pid: int) -> list[int]:
    """Process ids of `pid`'s children, their children, ... (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = task / "children"
        if children.exists():
            for child in map(int, children.read_text().split()):
                found += [child, *_descendants(child)]
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a parent that does not reap it counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def foreign_registry(tmp_path: Path) -> Iterator[str]:
    """A docker-registry on 127.0.0.1 that no sandbox of this test started (as a killed sandbox's would be left),
    holding an image; its address."""
    program = require_tool("docker-registry")
    port = registry_module._free_port("127.0.0.1")
    config = tmp_path / "foreign.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path / 'storage'}\n"
                      f"http:\n  addr: 127.0.0.1:{port}\n")
    process = subprocess.Popen([program, "serve", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        address = f"127.0.0.1:{port}"
        wait_for(lambda: RegistryClient(address).ping(), timeout=15, what="the foreign registry")
        push_image(address, "left-behind", "1")
        yield address
    finally:
        process.terminate()
        process.wait(10)


def test_taken_registry_port_refuses_to_start_naming_it(foreign_registry: str) -> None:
    """`ci-ecs sandbox --registry-port P` with P taken: exit 2, one line naming the port, never "ready"."""
    port = foreign_registry.rsplit(":", 1)[1]
    result = subprocess.run(
        [shutil.which("ci-ecs") or "ci-ecs", "sandbox", "--port", "0", "--registry-port", port],
        capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("CI_ECS_SANDBOX_")},
    )
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot start the ECR registry on 127.0.0.1:{port}: the port is in use"), line
    assert "sandbox ready" not in result.stdout


def test_registry_that_is_not_ours_is_never_ready(foreign_registry: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The port taken between the check and the registry's bind: the registry that answers there is another one
    (no identity header of this start), so start() waits for its own, which cannot bind: RegistryPortError."""
    port = int(foreign_registry.rsplit(":", 1)[1])
    monkeypatch.setattr(registry_module, "_check_port_free", lambda host, port: None)
    process = RegistryProcess(require_tool("docker-registry"), port=port)
    started = time.monotonic()
    with pytest.raises(RegistryPortError, match=f"127.0.0.1:{port}: the port is in use"):
        process.start(timeout=15)
    assert time.monotonic() - started < 10  # told when its registry exits, not at the timeout
    assert process.workdir is None  # stopped, storage removed


def test_registry_ends_with_a_killed_sandbox(tmp_path: Path) -> None:
    """SIGKILL the sandbox: its registry (and the guard between them) are gone within seconds."""
    require_tool("docker-registry")
    process = subprocess.Popen(
        [sys.executable, "-m", "ci_ecs.sandbox", "--port", "0"], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("CI_ECS_SANDBOX_")},
    )
    try:
        address = None
        assert process.stdout is not None
        for line in process.stdout:
            if match := re.match(r"ECR registry: (\S+)", line):
                address = match.group(1)
            if line.startswith("sandbox ready"):
                break
        assert address is not None, "the sandbox printed no registry address"
        children = _descendants(process.pid)
        programs = [Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] for pid in children]
        assert any(program.endswith(b"docker-registry") for program in programs), programs
        assert RegistryClient(address).ping()
    except BaseException:
        process.kill()
        process.wait()
        raise
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    try:
        wait_for(lambda: not any(_alive(pid) for pid in children), timeout=8, what="the registry to end")
        assert not RegistryClient(address).ping()
    finally:
        for pid in children:  # not left running when the assertion fails
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_stop_ends_registry_and_guard() -> None:
    process = RegistryProcess(require_tool("docker-registry"))
    client = process.start()
    assert process.process is not None
    children = _descendants(process.process.pid)
    assert client.ping() and children
    process.stop()
    assert process.process.returncode is not None
    assert not any(_alive(pid) for pid in children)
    assert not client.ping()
