"""Deploy twice with the same inputs: the second run writes nothing. moto in-process (control plane only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ci_ecs.aws import AwsSettings, CallCounter, ClientFactory
from ci_ecs.config import load_config
from ci_ecs.deploy import deploy
from tests.core.helpers import config, write


def _deploy(path: Path, **overrides: Any) -> tuple[dict[str, Any], CallCounter]:
    factory = ClientFactory(AwsSettings(region="us-east-1"))
    result = deploy(load_config(path, overrides), factory=factory, base_dir=path.parent)
    return result.as_json(), factory.counter


def test_second_identical_deploy_makes_no_mutating_call(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path / "ci-ecs.yml", config(**{"service.security_groups": [moto_aws["security_group"]]}))
    first, first_calls = _deploy(path)
    assert first["serviceAction"] == "created"
    assert first["taskDefinitionRegistered"] is True
    assert "ecs:CreateService" in first_calls.mutating()

    second, second_calls = _deploy(path)
    assert second["serviceAction"] == "unchanged"
    assert second["taskDefinitionRegistered"] is False
    assert second["taskDefinitionArn"] == first["taskDefinitionArn"]
    assert second_calls.mutating() == []
    assert second["apiCalls"]["ecs"] >= 3
    services = moto_aws["ecs"].describe_services(cluster="demo", services=["hello"])["services"]
    assert services[0]["desiredCount"] == 2


def test_one_environment_change_makes_one_revision_and_one_update(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    base = config(**{"service.security_groups": [moto_aws["security_group"]]})
    path = write(tmp_path / "ci-ecs.yml", base)
    _deploy(path)
    base["task"]["containers"][0]["environment"]["GREETING"] = "bonjour"
    write(path, base)

    result, calls = _deploy(path)
    assert result["serviceAction"] == "updated"
    assert result["taskDefinitionRegistered"] is True
    assert result["taskDefinitionArn"].endswith("task-definition/hello:2")
    assert calls.calls[("ecs", "RegisterTaskDefinition")] == 1
    assert calls.calls[("ecs", "UpdateService")] == 1
    assert calls.mutating() == ["ecs:RegisterTaskDefinition", "ecs:UpdateService"]
    arns = moto_aws["ecs"].list_task_definitions(familyPrefix="hello")["taskDefinitionArns"]
    assert len(arns) == 2
    service = moto_aws["ecs"].describe_services(cluster="demo", services=["hello"])["services"][0]
    assert service["taskDefinition"].endswith(":2")


def test_desired_count_change_updates_without_new_revision(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path / "ci-ecs.yml", config(**{"service.security_groups": [moto_aws["security_group"]]}))
    _deploy(path)
    result, calls = _deploy(path, **{"service.desired_count": 5})
    assert result["taskDefinitionRegistered"] is False
    assert calls.mutating() == ["ecs:UpdateService"]
    service = moto_aws["ecs"].describe_services(cluster="demo", services=["hello"])["services"][0]
    assert service["desiredCount"] == 5


def test_unset_desired_count_keeps_what_the_service_has(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    """An autoscaler's desired count survives a deploy that does not set one."""
    data = config(**{"service.security_groups": [moto_aws["security_group"]]})
    path = write(tmp_path / "ci-ecs.yml", data)
    _deploy(path)
    moto_aws["ecs"].update_service(cluster="demo", service="hello", desiredCount=7)
    del data["service"]["desired_count"]
    write(path, data)
    result, calls = _deploy(path)
    assert result["serviceAction"] == "unchanged"
    assert calls.mutating() == []


def test_dry_run_writes_nothing(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path / "ci-ecs.yml", config(**{"service.security_groups": [moto_aws["security_group"]]}))
    factory = ClientFactory(AwsSettings(region="us-east-1"))
    result = deploy(load_config(path), factory=factory, dry_run=True).as_json()
    assert result["serviceAction"] == "created" and result["dryRun"] is True and result["changed"] is True
    assert factory.counter.mutating() == []
    assert moto_aws["ecs"].list_clusters()["clusterArns"] == []


def test_force_new_deployment_updates_an_unchanged_service(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path / "ci-ecs.yml", config(**{"service.security_groups": [moto_aws["security_group"]]}))
    _deploy(path)
    result, calls = _deploy(path, **{"deploy.force_new_deployment": True})
    assert result["serviceAction"] == "updated"
    assert calls.mutating() == ["ecs:UpdateService"]


def test_repository_image_is_pinned_to_its_digest(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    ecr = moto_aws["ecr"]
    ecr.create_repository(repositoryName="hello")
    manifest = ('{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",'
                ' "config": {"digest": "sha256:' + "a" * 64 + '", "size": 1, "mediaType": '
                '"application/vnd.docker.container.image.v1+json"}, "layers": []}')
    digest = ecr.put_image(repositoryName="hello", imageManifest=manifest, imageTag="1.0.0")["image"]["imageId"][
        "imageDigest"]
    data = config(**{"service.security_groups": [moto_aws["security_group"]],
                     "repository": {"name": "hello", "scan_on_push": True}, "image": {"tag": "1.0.0"}})
    del data["task"]["containers"][0]["image"]
    path = write(tmp_path / "ci-ecs.yml", data)
    result, _ = _deploy(path)
    assert result["imageDigest"] == digest
    assert result["imageUri"].endswith(f"/hello@{digest}")
    container = moto_aws["ecs"].describe_task_definition(taskDefinition="hello")["taskDefinition"][
        "containerDefinitions"][0]
    assert container["image"] == result["imageUri"]
    repo = ecr.describe_repositories(repositoryNames=["hello"])["repositories"][0]
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True
