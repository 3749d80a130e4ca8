"""Build, push, copy and deploy through the real `ci-ecs` command, a real dockerd and registries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import Project, Registry, busybox_context

pytestmark = [pytest.mark.docker, pytest.mark.registry]


def _running_images(project: Project) -> list[str]:
    arns = project.ecs.list_tasks(cluster=project.cluster, serviceName="web", desiredStatus="RUNNING")[
        "taskArns"
    ]
    if not arns:
        return []
    tasks = project.ecs.describe_tasks(cluster=project.cluster, tasks=arns)["tasks"]
    return [c["image"] for t in tasks for c in t["containers"]]


def test_build_push_deploy_rerun_and_immutable_conflict(
    project: Project, sandbox: Any, tmp_path: Path
) -> None:
    registry: Registry = sandbox.test_registry
    context = busybox_context(tmp_path / "context")
    config = project.config(
        {"name": "hello", "tag_mutability": "IMMUTABLE"},
        {
            "tag": "1.0.0",
            "build": {"context": str(context), "labels": {"team": "web"}, "build_args": {"UNUSED": "x"}},
        },
    )
    before = registry.blob_uploads()
    first = project.run(config)
    assert first.code == 0, first.stderr
    result = first.json
    digest = project.tag_digest("hello", "1.0.0")
    assert digest and result["imageDigest"] == digest and result["imagePushed"] is True
    assert result["imageUri"] == f"{sandbox.registry}/hello@{digest}"
    assert result["taskDefinitionRegistered"] is True
    assert _running_images(project) == [result["imageUri"]]
    assert registry.blob_uploads() > before
    assert "layer " in first.stderr  # one progress line per layer in CI logs

    # Same inputs again (with --debug, which must not leak either): nothing is sent, nothing registered.
    before = registry.blob_uploads()
    second = project.run(config, "--debug")
    assert second.code == 0, second.stderr
    assert second.json["imagePushed"] is False
    assert second.json["imageDigest"] == digest
    assert second.json["taskDefinitionRegistered"] is False
    assert second.json["serviceAction"] == "unchanged"
    assert registry.blob_uploads() == before

    # A different image under the same immutable tag: exit 1, both named, the registry untouched.
    busybox_context(context, extra="a change")
    third = project.run(config)
    assert third.code == 1, third.stderr
    assert digest in third.stderr and "IMMUTABLE" in third.stderr and "image ID sha256:" in third.stderr
    assert "Traceback" not in third.stderr
    assert registry.blob_uploads() == before
    assert project.tag_digest("hello", "1.0.0") == digest
    assert [
        i["imageDigest"] for i in project.ecr.describe_images(repositoryName="hello")["imageDetails"]
    ] == [digest]
    project.assert_no_secret_leaked()


def test_local_image_pinned_by_tag_moves_a_mutable_tag(
    project: Project, sandbox: Any, docker_client: Any, tmp_path: Path
) -> None:
    registry: Registry = sandbox.test_registry
    image, _ = docker_client.images.build(
        path=str(busybox_context(tmp_path / "a", extra="v1")), tag="app:dev", rm=True
    )
    config = project.config(
        {"name": "local-app", "tag_mutability": "MUTABLE"}, {"local": "app:dev", "pin": "tag"}
    )
    first = project.run(config)
    assert first.code == 0, first.stderr
    assert first.json["imageUri"] == f"{sandbox.registry}/local-app:dev"  # the local image's tag by default
    assert first.json["imagePushed"] is True
    v1 = project.tag_digest("local-app", "dev")
    assert first.json["imageDigest"] == v1

    docker_client.images.build(path=str(busybox_context(tmp_path / "b", extra="v2")), tag="app:dev", rm=True)
    second = project.run(config)
    assert second.code == 0, second.stderr
    v2 = project.tag_digest("local-app", "dev")
    assert second.json["imagePushed"] is True and v2 != v1 and second.json["imageDigest"] == v2

    before = registry.blob_uploads()
    third = project.run(config)
    assert third.code == 0, third.stderr
    assert third.json["imagePushed"] is False and registry.blob_uploads() == before
    assert image.id  # the first build really produced an image
    project.assert_no_secret_leaked()


def test_source_copy_preserves_the_digest_without_an_engine(
    project: Project, sandbox: Any, docker_env: dict[str, str], docker_client: Any, tmp_path: Path
) -> None:
    from tests.conftest import require_tool

    require_tool("skopeo")
    source = Registry(tmp_path / "source")
    try:
        docker_client.images.build(
            path=str(busybox_context(tmp_path / "src", extra="source")),
            tag=f"{source.address}/upstream/app:2.1",
            rm=True,
        )
        pushed = docker_client.images.push(
            f"{source.address}/upstream/app", tag="2.1", stream=True, decode=True
        )
        source_digest = [e["aux"]["Digest"] for e in pushed if "aux" in e][0]
        config = project.config({"name": "mirror"}, {"source": f"{source.address}/upstream/app:2.1"})
        # No engine: image.source must not need one.
        no_engine = {"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
        first = project.run(config, env=no_engine)
        assert first.code == 0, first.stderr
        assert first.json["imageDigest"] == source_digest == project.tag_digest("mirror", "2.1")
        assert first.json["imageUri"] == f"{sandbox.registry}/mirror@{source_digest}"
        assert first.json["imagePushed"] is True
        assert "--dest-authfile /dev/fd/" in project.recorder.children()  # skopeo ran, reading the memfd

        before = sandbox.test_registry.blob_uploads()
        second = project.run(config, env=no_engine)
        assert second.code == 0, second.stderr
        assert second.json["imagePushed"] is False
        assert sandbox.test_registry.blob_uploads() == before
        project.assert_no_secret_leaked()
    finally:
        source.stop()


def test_no_engine_is_a_clear_error(project: Project, tmp_path: Path) -> None:
    config = project.config({"name": "no-engine"}, {"tag": "1", "build": {"context": str(tmp_path)}})
    run = project.run(config, env={"DOCKER_HOST": f"unix://{tmp_path}/missing.sock"})
    assert run.code == 1
    assert "no Docker engine reachable (set DOCKER_HOST or use image.source)" in run.stderr
    assert "Traceback" not in run.stderr


def test_build_without_a_tag_is_a_config_error(project: Project, tmp_path: Path) -> None:
    config = project.config(
        {"name": "untagged"}, {"build": {"context": str(busybox_context(tmp_path / "c"))}}
    )
    run = project.run(config)
    assert run.code == 2
    assert "image.tag is required with image.build" in run.stderr


def test_push_image_makes_no_ecs_call_and_plan_writes_nothing(
    project: Project, sandbox: Any, docker_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ci_ecs.aws import AwsSettings, ClientFactory
    from ci_ecs.config import Config
    from ci_ecs.image import push_image

    docker_client.images.build(
        path=str(busybox_context(tmp_path / "c", extra="push")), tag="pushed:7", rm=True
    )
    config = project.config({"name": "push-only"}, {"local": "pushed:7"})
    before = sandbox.test_registry.blob_uploads()
    plan = project.run(config, command="plan")
    assert plan.code == 0, plan.stderr
    assert sandbox.test_registry.blob_uploads() == before
    assert "push-only" not in [
        r["repositoryName"] for r in project.ecr.describe_repositories()["repositories"]
    ]

    for name, value in {**sandbox.env(), **project.env}.items():
        if name.startswith(("AWS_", "DOCKER_")):
            monkeypatch.setenv(name, value)
    sandbox.clear_request_log()
    result = push_image(
        Config.model_validate(config), ClientFactory(AwsSettings(endpoint_url=sandbox.endpoint_url))
    )
    assert result.pushed and result.digest == project.tag_digest("push-only", "7")
    assert {call.service for call in sandbox.request_log} == {"ecr"}


def test_push_command_needs_only_repository_and_image(
    project: Project, sandbox: Any, docker_client: Any, tmp_path: Path
) -> None:
    """`ci-ecs push`: no cluster, service or task in the file; only ECR is called; a rerun sends nothing."""
    docker_client.images.build(path=str(busybox_context(tmp_path / "c", extra="cli-push")), tag="cli:3", rm=True)
    config = {"region": "us-east-1", "repository": {"name": "cli-push"}, "image": {"local": "cli:3"}}
    sandbox.clear_request_log()
    first = project.run(config, command="push")
    assert first.code == 0, first.stderr
    assert first.json["imagePushed"] is True
    assert first.json["imageDigest"] == project.tag_digest("cli-push", "3")
    assert {call.service for call in sandbox.request_log} == {"ecr"}
    before = sandbox.test_registry.blob_uploads()
    again = project.run(config, command="push")
    assert again.code == 0 and again.json["imagePushed"] is False
    assert sandbox.test_registry.blob_uploads() == before
    missing = project.run({"repository": {"name": "cli-push"}}, command="push")
    assert missing.code == 2 and "nothing to push" in missing.stderr
    project.assert_no_secret_leaked()
