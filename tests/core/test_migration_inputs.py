"""Issue 14's inputs against moto: tags in any account's and region's ECR resolved to digests, the
`--env` / `--image` / `--task-definition` forms, and their bad values as exit 2 with nothing written."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from ci_ecs.aws import AwsSettings, ClientFactory
from ci_ecs.cli import main
from ci_ecs.config import load_config, split_names
from ci_ecs.image import TagResolver
from ci_ecs.redact import looks_secret, mask_secrets
from ci_ecs.taskdef import render
from tests.core.helpers import config, write

MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2,
               "digest": "sha256:" + hashlib.sha256(b"{}").hexdigest()},
    "layers": [],
})


def _put(region: str, name: str, tag: str) -> tuple[str, str]:
    """An image at `tag` in moto's ECR of `region` (this account); its registry id and digest."""
    ecr = boto3.client("ecr", region_name=region)
    repository = ecr.create_repository(repositoryName=name)["repository"]
    image = ecr.put_image(repositoryName=name, imageManifest=MANIFEST, imageTag=tag)["image"]
    return repository["registryId"], image["imageId"]["imageDigest"]


def test_tags_in_ecr_of_any_region_resolve_to_their_digest(moto_aws: dict[str, Any]) -> None:
    account, digest = _put("eu-west-1", "team/base", "latest")
    resolver = TagResolver(ClientFactory(AwsSettings(region="us-east-1")))
    host = f"{account}.dkr.ecr.eu-west-1.amazonaws.com"
    resolved = resolver.resolve(f"{host}/team/base:latest")
    assert resolved.uri == f"{host}/team/base@{digest}" and resolved.digest == digest and resolved.note is None
    # Given a digest, nothing is asked; an unknown tag is deployed as named, and the output says so.
    assert resolver.resolve(f"{host}/team/base@{digest}").uri == f"{host}/team/base@{digest}"
    missing = resolver.resolve(f"{host}/team/base:nope")
    assert missing.uri == f"{host}/team/base:nope" and "not resolved" in (missing.note or "")
    public = resolver.resolve("public.ecr.aws/nginx/nginx:1.27")
    assert public.uri == "public.ecr.aws/nginx/nginx:1.27" and "--force-new-deployment" in (public.note or "")
    assert len(resolver.notes) == 2
    # image.pin: tag keeps the tag.
    assert TagResolver(resolver.factory, "tag").resolve(f"{host}/team/base:latest").uri == f"{host}/team/base:latest"


def test_image_flag_resolves_and_plan_shows_the_digest(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    account, digest = _put("us-east-1", "app", "latest")
    image = f"{account}.dkr.ecr.us-east-1.amazonaws.com/app:latest"
    data = config(**{"service.security_groups": [moto_aws["security_group"]]})
    data["task"]["containers"][0].pop("image")
    path = write(tmp_path / "ci-ecs.yml", data)
    result = CliRunner().invoke(main, ["plan", "-c", str(path), "--image", image, "--output", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["imageUri"] == f"{account}.dkr.ecr.us-east-1.amazonaws.com/app@{digest}"


def test_env_and_images_render_on_the_right_containers(tmp_path: Path) -> None:
    task = load_config(None, {"cluster": "c", "service.name": "s", "task": {
        "family": "f", "containers": [{"name": "app"}, {"name": "nginx", "image": "nginx:1"}]},
        "task.images": {"nginx": "nginx:2"}, "task.environment_overrides": {"MODE": "x"},
        "image_uri": "app:7"}).task
    assert task is not None
    containers = render(task, "app:7")["containerDefinitions"]
    assert [c["image"] for c in containers] == ["app:7", "nginx:2"]
    # Both containers were given an image: both get the variables.
    assert [c.get("environment") for c in containers] == [[{"name": "MODE", "value": "x"}]] * 2


def test_names_and_secrets() -> None:
    assert split_names(["web,nginx", " worker  sidecar "]) == ["web", "nginx", "worker", "sidecar"]
    assert looks_secret("API_KEY", "abc") and looks_secret("X", "postgres://app:pw@db/app")
    assert not looks_secret("GREETING", "hello") and not looks_secret("PORT", "8080")
    change = {"resource": "taskDefinition", "path": "containerDefinitions[web].environment[DB_PASSWORD].value",
              "old": "one-secret", "new": "two-secret"}
    assert mask_secrets(change) == {**change, "old": "***", "new": "***"}
    whole = {"resource": "taskDefinition", "path": "containerDefinitions[web]",
             "new": {"environment": [{"name": "TOKEN", "value": "t0k3n"}, {"name": "A", "value": "1"}]}}
    assert mask_secrets(whole)["new"]["environment"] == [{"name": "TOKEN", "value": "***"}, {"name": "A", "value": "1"}]


def _one_line(result: Any) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(("args", "fragment"), [
    (["--env", "1BAD=x"], "not a valid environment variable name"),
    (["--env", "GREETING hello"], "--env: --env must be NAME=VALUE"),
    (["--image", "nginx:1", "--image", "nginx:2"], "give one image without a container name"),
    (["--image", "nope=nginx:1"], "no container named nope"),
    (["--task-definition", "hello:3", "--env", "A=1"], "deployed as is"),
    (["--task-definition", "hello:3", "--image", "nginx:1"], "deployed as is"),
    (["--task-definition", "not a family!"], "cannot read task definition file"),
])
def test_bad_inputs_are_exit_2_and_write_nothing(moto_aws: dict[str, Any], tmp_path: Path, args: list[str],
                                                 fragment: str) -> None:
    path = write(tmp_path / "ci-ecs.yml", config())
    for command in ("plan", "deploy", "register"):
        line = _one_line(CliRunner().invoke(main, [command, "-c", str(path), *args]))
        assert fragment in line, line
        assert "GREETING hello" not in line  # a line without '=' may be a secret: never echoed
    assert moto_aws["ecs"].list_task_definitions()["taskDefinitionArns"] == []
    assert moto_aws["ecs"].list_clusters()["clusterArns"] == []


def test_unknown_family_is_exit_2(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path / "ci-ecs.yml", {"cluster": "demo", "service": {"name": "web"}})
    line = _one_line(CliRunner().invoke(main, ["deploy", "-c", str(path), "--task-definition", "nowhere"]))
    assert "task.definition: task definition family nowhere has no ACTIVE revision" in line
    assert moto_aws["ecs"].list_task_definitions()["taskDefinitionArns"] == []
