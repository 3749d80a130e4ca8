"""The GitLab template's `build.context: .` job, run by gitlab-ci-local against the sandbox and the private Docker
engine: the job's virtualenv and dotenv stay out of what the engine gets as the build context.

A module of its own because it needs the Docker engine: every module with such a test runs in the one "docker"
pytest-xdist group (tests/conftest.py), one after another, while test_gitlab.py's other jobs need no engine and
run beside that group.
"""

from __future__ import annotations

import re
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pytest

from .conftest import SandboxProcess
from .test_gitlab import PIPELINE, Project, _dotenv, _project, _run

pytestmark = pytest.mark.wrappers


@pytest.fixture
def project(sandbox: SandboxProcess, tmp_path: Path) -> Project:
    """test_gitlab.py's project: a copy of the repository with the test pipeline."""
    return _project(sandbox, tmp_path, PIPELINE.read_text())


@pytest.mark.docker
def test_build_context_gets_no_venv_or_dotenv(project: Project, sandbox: SandboxProcess,
                                              docker_env: dict[str, str], docker_client: Any) -> None:
    """`build.context: .` sends the checkout to the Docker engine: the job's virtualenv and dotenv live outside
    it (the dotenv report is copied in once ci-ecs has ended, and a later job still reads it)."""
    if sandbox.registry is None:
        pytest.skip("the sandbox has no ECR registry (docker-registry is not installed)")
    (project.repo / "ci-ecs.env").write_text("CI_ECS_PUBLIC_IPS=left-by-an-earlier-run\n")
    proc = _run(project, sandbox, "build-context", RUN_BUILD_CONTEXT="yes", CI_ECS_VENV="", **docker_env)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    values = dict(line.split("=", 1) for line in _dotenv(project, "build-context").splitlines())
    assert values["CI_ECS_IMAGE_URI"].startswith(f"{sandbox.registry}/wrappers-context@sha256:"), values
    assert values["CI_ECS_PUBLIC_IPS"].startswith("203.0.113."), values
    assert re.search(r"ci-ecs: installing \. into \S+\.tmp/ci-ecs-\d+/venv ", log), log[-4000:]  # the default
    # What the engine got as context is in the image (context.Dockerfile copies all of it to /context).
    container = docker_client.containers.create(f"{sandbox.registry}/wrappers-context:context-1", command=["/none"])
    try:
        stream, _ = container.get_archive("/context")
        with tempfile.TemporaryFile() as archive:
            for chunk in stream:
                archive.write(chunk)
            archive.seek(0)
            with tarfile.open(fileobj=archive) as tar:
                names = tar.getnames()
    finally:
        container.remove()
    assert "context/build.yml" in names  # the checkout is there
    assert not [n for n in names if n.endswith("/pyvenv.cfg")], "a virtualenv was in the build context"
    assert "context/ci-ecs.env" not in names, "a dotenv report was in the build context"
