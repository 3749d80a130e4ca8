"""`repository.public`: Amazon ECR Public through the real `ci-ecs` command, a real dockerd and the sandbox's
registry (the sandbox serves ecr-public; moto has none).

Issue 13's list: a public repository with catalog data, a local image pushed and deployed; a re-run sends and
registers nothing and leaves the catalog alone; a changed description is one PutRepositoryCatalogData and
nothing else; a private-only key is exit 2; the token is in no output, file or argv; `image.source` (the
Docker Hub path) and `ci-ecs push` in another region work the same way.
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import boto3
import pytest

from .conftest import Project, Registry, busybox_context

pytestmark = [pytest.mark.docker, pytest.mark.registry]

LOGO = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
CATALOG = {
    "description": "hello, publicly",
    "about": "# Hello\nA tiny web server.",
    "usage": "docker run IMAGE",
    "architectures": ["x86-64"],
    "operating_systems": ["Linux"],
    "logo_image": "logo.png",
}
# What changes something in AWS (everything else ci-ecs calls only reads).
WRITES = {"CreateRepository", "PutRepositoryCatalogData", "DeleteRepository", "BatchDeleteImage",
          "RegisterTaskDefinition", "CreateService", "UpdateService", "CreateCluster", "PutImage"}


def _public(sandbox: Any) -> Any:
    return boto3.client("ecr-public", endpoint_url=sandbox.endpoint_url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _public_config(project: Project, name: str, image: dict[str, Any], catalog: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
    """The project's config with a public repository and no execution role: a public image needs none."""
    config = project.config({"name": name, "public": True, **({"catalog": catalog} if catalog else {})}, image)
    task = config["task"]
    del task["execution_role_arn"]
    del task["containers"][0]["secrets"]  # secrets would need the role; the image does not
    return config


def _watch_public_token(project: Project, sandbox: Any) -> None:
    token = _public(sandbox).get_authorization_token()["authorizationData"]["authorizationToken"]
    project.secrets += [token, base64.b64decode(token).decode().split(":", 1)[1]]


def _writes(sandbox: Any) -> list[tuple[str, str]]:
    return [(c.service, c.operation) for c in sandbox.request_log if c.operation in WRITES]


def test_public_repository_local_image_deploy_rerun_and_catalog_change(
    project: Project, sandbox: Any, docker_client: Any, tmp_path: Path
) -> None:
    _watch_public_token(project, sandbox)
    public = _public(sandbox)
    (tmp_path / "logo.png").write_bytes(LOGO)
    docker_client.images.build(path=str(busybox_context(tmp_path / "c", extra="public")), tag="pub:dev", rm=True)
    config = _public_config(project, "pubapp", {"local": "pub:dev", "tag": "1.0"}, dict(CATALOG))

    sandbox.clear_request_log()
    first = project.run(config)
    assert first.code == 0, first.stderr
    result = first.json
    (detail,) = public.describe_images(repositoryName="pubapp")["imageDetails"]
    digest = detail["imageDigest"]
    uri = public.describe_repositories(repositoryNames=["pubapp"])["repositories"][0]["repositoryUri"]
    assert uri == f"{sandbox.registry}/public/sandbox/pubapp"  # the sandbox's public.ecr.aws/<alias>/<name>
    assert result["imageUri"] == f"{uri}@{digest}" and result["imageDigest"] == digest
    assert result["imagePushed"] is True and result["taskDefinitionRegistered"] is True
    definition = project.ecs.describe_task_definition(taskDefinition=result["taskDefinitionArn"])["taskDefinition"]
    assert definition["containerDefinitions"][0]["image"] == result["imageUri"]
    assert "executionRoleArn" not in definition  # nothing needed to pull a public image
    ecr_public_regions = {d.region for d in sandbox.request_details if d.service == "ecr-public"}
    assert ecr_public_regions == {"us-east-1"}
    assert "ecr" not in {c.service for c in sandbox.request_log}  # no private ECR call at all
    catalog = public.get_repository_catalog_data(repositoryName="pubapp")["catalogData"]
    assert catalog["description"] == CATALOG["description"] and catalog["aboutText"] == CATALOG["about"]
    assert catalog["usageText"] == CATALOG["usage"] and catalog["operatingSystems"] == ["Linux"]
    assert catalog["architectures"] == ["x86-64"] and catalog["logoUrl"]
    # Created with its catalog data in one call.
    assert [op for _, op in _writes(sandbox) if op in ("CreateRepository", "PutRepositoryCatalogData")] == [
        "CreateRepository"]

    # The same inputs again: nothing pushed, nothing registered, the catalog not written.
    before = sandbox.test_registry.blob_uploads()
    sandbox.clear_request_log()
    second = project.run(config, "--debug")
    assert second.code == 0, second.stderr
    assert second.json["imagePushed"] is False and second.json["imageDigest"] == digest
    assert second.json["taskDefinitionRegistered"] is False and second.json["serviceAction"] == "unchanged"
    assert sandbox.test_registry.blob_uploads() == before
    assert _writes(sandbox) == []

    # A new description: one PutRepositoryCatalogData, nothing else written anywhere.
    changed = copy.deepcopy(config)
    changed["repository"]["catalog"]["description"] = "hello, still public"
    sandbox.clear_request_log()
    third = project.run(changed)
    assert third.code == 0, third.stderr
    assert _writes(sandbox) == [("ecr-public", "PutRepositoryCatalogData")]
    assert third.json["imagePushed"] is False and third.json["taskDefinitionRegistered"] is False
    after = public.get_repository_catalog_data(repositoryName="pubapp")["catalogData"]
    assert after["description"] == "hello, still public"
    assert {k: after[k] for k in ("aboutText", "usageText", "architectures", "operatingSystems")} == {
        k: catalog[k] for k in ("aboutText", "usageText", "architectures", "operatingSystems")}
    assert after["logoUrl"]
    project.assert_no_secret_leaked()


def test_pin_tag_source_copy_and_push_from_another_region(
    project: Project, sandbox: Any, docker_client: Any, tmp_path: Path
) -> None:
    """image.source (the Docker Hub path) into a public repository, `ci-ecs push` with region eu-west-1:
    ECR Public is still called in us-east-1; `pin: tag` puts the tag into the task definition."""
    from tests.conftest import require_tool

    require_tool("skopeo")
    _watch_public_token(project, sandbox)
    source = Registry(tmp_path / "source")
    try:
        docker_client.images.build(path=str(busybox_context(tmp_path / "src", extra="upstream")),
                                   tag=f"{source.address}/library/web:1.27", rm=True)
        pushed = docker_client.images.push(f"{source.address}/library/web", tag="1.27", stream=True, decode=True)
        source_digest = [e["aux"]["Digest"] for e in pushed if "aux" in e][0]
        push_config = {"region": "eu-west-1", "repository": {"name": "mirrored", "public": True},
                       "image": {"source": f"{source.address}/library/web:1.27"}}
        sandbox.clear_request_log()
        first = project.run(push_config, command="push")
        assert first.code == 0, first.stderr
        uri = f"{sandbox.registry}/public/sandbox/mirrored"
        assert first.json == {"imageUri": f"{uri}@{source_digest}", "imageDigest": source_digest,
                              "imagePushed": True}
        assert {(d.service, d.region) for d in sandbox.request_details} == {("ecr-public", "us-east-1")}
        again = project.run(push_config, command="push")
        assert again.code == 0 and again.json["imagePushed"] is False, again.stderr

        config = _public_config(project, "mirrored", {"source": f"{source.address}/library/web:1.27", "pin": "tag"})
        deployed = project.run(config)
        assert deployed.code == 0, deployed.stderr
        assert deployed.json["imageUri"] == f"{uri}:1.27" and deployed.json["imagePushed"] is False
        project.assert_no_secret_leaked()
    finally:
        source.stop()


@pytest.mark.parametrize("key, value", [("tag_mutability", "IMMUTABLE"), ("scan_on_push", True),
                                        ("lifecycle_keep_last", 5), ("encryption", {"type": "KMS"})])
def test_a_private_only_key_on_a_public_repository_is_exit_2_and_nothing_is_called(
    project: Project, sandbox: Any, key: str, value: Any
) -> None:
    config = _public_config(project, "never-made", {"local": "pub:dev", "tag": "1"})
    config["repository"][key] = value
    sandbox.clear_request_log()
    run = project.run(config)
    assert run.code == 2
    assert f"repository.{key}: ECR Public repositories have no such setting" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert run.json["error"]
    assert sandbox.request_log == []
