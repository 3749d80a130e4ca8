"""Fixtures for the `ci-ecs jenkins` tests: the stand-in controller (controller.py), a library repository,
the real sandbox (tests/wrappers/conftest.py's), and a runner for the real `ci-ecs` command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_ecs import __version__
from tests.conftest import Run
from tests.wrappers.conftest import JAVA_HOME, REPO, SandboxProcess, child_env, require_tool
from tests.wrappers.conftest import check_sandbox_responses as check_sandbox_responses  # noqa: F401 - autouse
from tests.wrappers.conftest import sandbox as sandbox  # noqa: F401 - the session fixture, shared

from .controller import StandInJenkins

USER = "deployer"
TOKEN = "11d5c0ffee0123456789abcdef0a1b2c3d"  # an API token's shape; must never be printed
AWS_CREDENTIALS = {"aws-deploy": {"accessKey": "AKIAJENKINSSTANDIN01",
                                  "secretKey": "standin/secret/key/0123456789abcdefghijk"}}
LIBRARY_VERSION = f"v{__version__}"


def groovy_tools() -> str:
    """groovy and Java 17 (tests/wrappers/install-tools.sh; CI fails instead of skipping)."""
    groovy = require_tool("groovy")
    if not Path(JAVA_HOME).exists():
        require_tool("java-17", JAVA_HOME)
    return groovy


@pytest.fixture(scope="session")
def library_repo(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A git repository holding this checkout's jenkins/ directory, tagged LIBRARY_VERSION (what Jenkins
    clones for `@Library('ci-ecs')`)."""
    repo = tmp_path_factory.mktemp("library")
    shutil.copytree(REPO / "jenkins", repo / "jenkins")
    git = ["git", "-c", "user.name=ci-ecs tests", "-c", "user.email=tests@ci-ecs.invalid",
           "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "library"], ["tag", LIBRARY_VERSION]):
        subprocess.run([*git, *args], cwd=repo, check=True)
    return str(repo)


def start_controller(root: Path, sandbox: SandboxProcess, **kwargs: object) -> StandInJenkins:
    groovy = groovy_tools()
    root.mkdir(parents=True, exist_ok=True)
    # The agent: the sandbox's AWS endpoint, and this virtualenv's ci-ecs first on the PATH (install: '').
    env = child_env(sandbox, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    return StandInJenkins(root, user=USER, token=TOKEN, agent_env=env, credentials=AWS_CREDENTIALS,
                          groovy=groovy, java_home=JAVA_HOME, **kwargs).start()  # type: ignore[arg-type]


@pytest.fixture
def controller(tmp_path: Path, sandbox: SandboxProcess) -> Iterator[StandInJenkins]:
    """A fresh stand-in controller (no library, no jobs; folder `team` exists)."""
    jenkins = start_controller(tmp_path / "controller", sandbox, folders=("team",))
    try:
        yield jenkins
    finally:
        jenkins.stop()


def ci_ecs(*args: str, jenkins: StandInJenkins | None = None, token: str = TOKEN, timeout: float = 240,
           cwd: Path | None = None, url: str | None = None) -> Run:
    """Runs the real `ci-ecs` with the Jenkins connection in JENKINS_* variables (the token never in argv)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CI_ECS_", "JENKINS_"))}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    if jenkins is not None or url:
        env.update({"JENKINS_URL": url or (jenkins.url if jenkins else ""), "JENKINS_USER": USER,
                    "JENKINS_API_TOKEN": token})
    proc = subprocess.run(["ci-ecs", *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    return Run(proc.returncode, proc.stdout, proc.stderr)
