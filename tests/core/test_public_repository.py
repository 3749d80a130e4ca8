"""`repository.public` without a registry: the config's rules, the catalog comparison, `ci-ecs iam-policy`,
and a bad logo file refused before any AWS call. (The push/deploy flows: tests/images/test_public_repository.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from ci_ecs.cli import main
from ci_ecs.ecr_public import catalog_changes, registry_alias

ACCOUNT = "123456789012"


def _write(tmp_path: Path, repository: dict[str, Any]) -> Path:
    data = {
        "region": "eu-west-1", "cluster": "demo", "repository": repository,
        "image": {"local": "hello:dev", "tag": "1"},
        "task": {"family": "web", "cpu": "256", "memory": "512", "network_mode": "awsvpc",
                 "requires_compatibilities": ["FARGATE"], "containers": [{"name": "web"}]},
        "service": {"name": "web", "launch_type": "FARGATE", "subnets": ["subnet-1"]},
    }
    path = tmp_path / "ci-ecs.yml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("wanted, current, changed", [
    ({"description": "a"}, {"description": "a", "aboutText": "x"}, []),
    ({"description": "a"}, {}, ["description"]),
    ({"aboutText": "x", "usageText": "u"}, {"aboutText": "x", "usageText": "v"}, ["usageText"]),
    ({"architectures": ["x86-64", "ARM 64"]}, {"architectures": ["ARM 64", "x86-64"]}, ["architectures"]),
    ({"operatingSystems": ["Linux"]}, {"operatingSystems": ["Linux"], "logoUrl": "u"}, []),
    ({"logoImageBlob": b"png"}, {}, ["logoImageBlob"]),
    ({"logoImageBlob": b"png"}, {"logoUrl": "https://example.invalid/logo"}, []),
])
def test_catalog_changes_compare_only_the_configured_fields(
        wanted: dict[str, Any], current: dict[str, Any], changed: list[str]) -> None:
    assert catalog_changes(wanted, current) == changed


def test_registry_alias_of_a_public_uri() -> None:
    assert registry_alias("public.ecr.aws/a1b2c3d4/team/hello") == "a1b2c3d4"
    assert registry_alias("127.0.0.1:5000/public/sandbox/hello") is None


def test_iam_policy_of_a_public_repository(tmp_path: Path) -> None:
    path = _write(tmp_path, {"name": "hello", "public": True, "catalog": {"description": "hi"}})
    run = CliRunner().invoke(main, ["iam-policy", "-c", str(path), "--account-id", ACCOUNT])
    assert run.exit_code == 0, run.output
    statements = {s["Sid"]: s for s in json.loads(run.output)["Statement"]}
    assert statements["EcrPublicLogin"]["Action"] == ["ecr-public:GetAuthorizationToken", "sts:GetServiceBearerToken"]
    repository = statements["EcrPublicRepository"]
    assert repository["Resource"] == f"arn:aws:ecr-public::{ACCOUNT}:repository/hello"  # no region in the ARN
    # Every ECR Public call ci-ecs makes for a public repository, and the push's layer calls.
    assert {"ecr-public:DescribeRepositories", "ecr-public:CreateRepository", "ecr-public:GetRepositoryCatalogData",
            "ecr-public:PutRepositoryCatalogData", "ecr-public:DescribeImages", "ecr-public:PutImage",
            "ecr-public:InitiateLayerUpload", "ecr-public:UploadLayerPart", "ecr-public:CompleteLayerUpload",
            "ecr-public:BatchCheckLayerAvailability"} == set(repository["Action"])
    actions = [a for s in statements.values() for a in ([s["Action"]] if isinstance(s["Action"], str)
                                                        else s["Action"])]
    assert not [a for a in actions if a.startswith("ecr:")]  # nothing on private ECR


@pytest.mark.parametrize("key, value", [("tag_mutability", "MUTABLE"), ("scan_on_push", False),
                                        ("lifecycle_keep_last", 3), ("encryption", {"type": "AES256"})])
def test_private_only_keys_name_the_key(tmp_path: Path, key: str, value: Any) -> None:
    path = _write(tmp_path, {"name": "hello", "public": True, key: value})
    run = CliRunner().invoke(main, ["plan", "-c", str(path), "--endpoint-url", "http://127.0.0.1:9"])
    assert run.exit_code == 2
    assert f"repository.{key}: ECR Public repositories have no such setting" in run.output
    # The same keys stay valid on a private repository.
    assert _write(tmp_path, {"name": "hello", key: value}).exists()
    assert CliRunner().invoke(main, ["iam-policy", "-c", str(path.parent / "ci-ecs.yml")]).exit_code == 0


def test_catalog_needs_public_and_a_readable_logo(tmp_path: Path) -> None:
    path = _write(tmp_path, {"name": "hello", "catalog": {"description": "hi"}})
    run = CliRunner().invoke(main, ["plan", "-c", str(path)])
    assert run.exit_code == 2 and "set repository.public: true" in run.output

    # A logo that is missing or not an image: exit 2 before any AWS call (the endpoint has no listener).
    for content in (None, b"GIF89a not a png"):
        if content is not None:
            (tmp_path / "logo.png").write_bytes(content)
        path = _write(tmp_path, {"name": "hello", "public": True, "catalog": {"logo_image": "logo.png"}})
        run = CliRunner().invoke(main, ["plan", "-c", str(path), "--endpoint-url", "http://127.0.0.1:9",
                                        "--output", "json"])
        assert run.exit_code == 2, run.output
        assert "repository.catalog.logo_image" in run.output
