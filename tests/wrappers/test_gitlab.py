"""The GitLab template, run by gitlab-ci-local (shell executor) against the sandbox."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import (
    INJECTION,
    PWNED_FILES,
    REPO,
    SandboxProcess,
    child_env,
    copy_repo,
    npm_tool,
    require_tool,
    write_config,
)

pytestmark = pytest.mark.wrappers

TEMPLATE = REPO / "gitlab" / "deploy-to-ecs.gitlab-ci.yml"
PIPELINE = REPO / "tests" / "wrappers" / "gitlab" / ".gitlab-ci.yml"


@dataclass
class Project:
    tool: str
    repo: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def project(sandbox: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A throwaway copy of the repository with the test pipeline, and how to run gitlab-ci-local in it."""
    tool = npm_tool("gitlab-ci-local")
    require_tool("rsync")
    base = tmp_path_factory.mktemp("gitlab")
    repo = copy_repo(base / "repo")
    shutil.copy(PIPELINE, repo / ".gitlab-ci.yml")
    write_config(repo, "gitlab", "web", name=f"{INJECTION}.yml")
    write_config(repo, "gitlab", "broken", name="broken.yml")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@ci-ecs.invalid"]
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "pipeline"], cwd=repo, check=True)
    home = base / "home"
    home.mkdir()
    return Project(tool, repo, child_env(sandbox, HOME=str(home)))


def _run(project: Project, sandbox: SandboxProcess, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    variables = {**sandbox.env(), "TEST_PYTHON": shutil.which("python3") or "python3", **variables}
    # The template names an image (python:3.12-slim); here every job runs in the shell instead.
    command = [project.tool, "--force-shell-executor", "--no-color", *args]
    for name, value in variables.items():
        command += ["--variable", f"{name}={value}"]
    return subprocess.run(command, cwd=project.repo, env=project.env, capture_output=True, text=True, timeout=300)


def test_later_job_reads_public_ips_from_the_dotenv(project: Project, sandbox: SandboxProcess) -> None:
    proc = _run(project, sandbox, "--needs", "verify")
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert "installing . into" in log  # CI_ECS_INSTALL: the checkout, into a virtualenv
    assert "verify > from the dotenv artifact: CI_ECS_PUBLIC_IPS=203.0.113." in log
    assert "verify > verified" in log
    assert "INJECTED" not in log
    assert not any((project.repo / name).exists() for name in PWNED_FILES)


def test_failing_deploy_fails_the_job_with_the_reason(project: Project, sandbox: SandboxProcess,
                                                      missing_image: str) -> None:
    proc = _run(project, sandbox, "broken", RUN_BROKEN="yes", MISSING_IMAGE=missing_image)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0, log[-6000:]
    assert "FAIL  broken" in log
    assert "CannotPullContainerError" in log
    assert "ci-ecs deploy failed with exit code 1" in log


@pytest.mark.parametrize("path", [TEMPLATE, PIPELINE], ids=["template", "test-pipeline"])
def test_gitlab_ci_schema(path: Path) -> None:
    tool = require_tool("check-jsonschema")
    proc = subprocess.run([tool, "--builtin-schema", "vendor.gitlab-ci", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_default_install_matches_the_package_version() -> None:
    import yaml

    from ci_ecs import __version__

    job = yaml.safe_load(TEMPLATE.read_text())[".deploy-to-ecs"]
    assert job["variables"]["CI_ECS_INSTALL"] == f"ci-ecs=={__version__}"
    assert job["artifacts"]["reports"]["dotenv"] == job["variables"]["CI_ECS_DOTENV"]
    assert job["environment"]["url"] == "$CI_ECS_SERVICE_URL"


def test_docs_example_pipeline_is_valid(tmp_path: Path) -> None:
    text = (REPO / "docs" / "wrappers.md").read_text().split("## GitLab CI", 1)[1]
    pipeline = tmp_path / ".gitlab-ci.yml"
    pipeline.write_text(text.split("```yaml\n", 1)[1].split("```", 1)[0])
    tool = require_tool("check-jsonschema")
    proc = subprocess.run([tool, "--builtin-schema", "vendor.gitlab-ci", str(pipeline)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
