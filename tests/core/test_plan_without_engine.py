"""`ci-ecs plan` needs no Docker engine, and an engine error reads as words, not a Python tuple (issue 10 #22)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from ci_ecs.cli import main
from tests.core.helpers import config, write

# A socket path that does not exist: what a CI runner without Docker has.
NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/ci-ecs-test/docker.sock"}


def _build_config(tmp_path: Path, moto_aws: dict[str, Any], **changes: Any) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    data = config(**{"service.security_groups": [moto_aws["security_group"]], "repository": {"name": "hello"},
                     "image": {"tag": "1.0.0", "build": {"context": "app"}}, **changes})
    del data["task"]["containers"][0]["image"]
    return write(tmp_path / "ci-ecs.yml", data)


def test_plan_with_build_reports_the_build_without_an_engine(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    path = _build_config(tmp_path, moto_aws)
    result = CliRunner().invoke(main, ["plan", "-c", str(path), "--output", "json"], env=NO_ENGINE)
    assert result.exit_code == 0, result.output  # before: exit 1, "no Docker engine reachable"
    assert json.loads(result.stdout)["changed"] is True
    assert "would build Dockerfile" in result.stderr and str((tmp_path / "app").resolve()) in result.stderr
    assert moto_aws["ecr"].describe_repositories()["repositories"] == []


def test_plan_with_local_image_without_an_engine(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    data = config(**{"service.security_groups": [moto_aws["security_group"]], "repository": {"name": "hello"},
                     "image": {"local": "hello:dev"}})
    del data["task"]["containers"][0]["image"]
    result = CliRunner().invoke(main, ["plan", "-c", str(write(tmp_path / "ci-ecs.yml", data))], env=NO_ENGINE)
    assert result.exit_code == 0, result.output
    assert "would push image.local hello:dev" in result.stderr


def test_deploy_without_an_engine_says_why_in_words(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    path = _build_config(tmp_path, moto_aws)
    result = CliRunner().invoke(main, ["deploy", "-c", str(path)], env=NO_ENGINE)
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "no Docker engine reachable" in lines[-1] and "No such file or directory" in lines[-1]
    # before: "...: ('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))"
    assert not re.search(r"\(\s*'|Error\(\d", result.stderr), result.stderr
    assert moto_aws["ecr"].describe_repositories()["repositories"] == []
