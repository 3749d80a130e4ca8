"""The action's `run-task: true` under act: a migration step before the deploy step, against the sandbox.

The command arrives through env: as one string, is split like a shell splits it, and nothing evaluates
it; `run-task-arn` reaches later steps. (The wrappers' sandbox runs tasks as state only, so the step starts
the task without waiting; exit codes of real containers are tests/e2e/test_lifecycle_docker.py's.)
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import INJECTION, PWNED_FILES, REPO, SandboxProcess, child_env, copy_repo, require_tool, write_config

pytestmark = pytest.mark.wrappers

WORKFLOW = REPO / "tests" / "wrappers" / "github" / "run-task.yml"


def test_migration_step_before_the_deploy_step(sandbox: SandboxProcess, tmp_path: Path) -> None:
    act = require_tool("act")
    cluster = "gh-run-task"
    repo = copy_repo(tmp_path / "repo")
    workflows = repo / ".github" / "workflows"
    shutil.rmtree(workflows, ignore_errors=True)
    workflows.mkdir(parents=True)
    shutil.copy(WORKFLOW, workflows / "run-task.yml")
    write_config(repo, cluster, "api")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@ci-ecs.invalid"]
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "workflow"], cwd=repo, check=True)
    env_args = [f"--env={name}={value}" for name, value in {
        **sandbox.env(), "SRC": str(repo), "MIGRATE_COMMAND": INJECTION}.items()]
    proc = subprocess.run([act, "push", "-P", "ubuntu-latest=-self-hosted", "--pull=false", *env_args],
                          cwd=repo, env=child_env(sandbox, HOME=str(tmp_path / "home")),
                          capture_output=True, text=True, timeout=400)
    log = proc.stdout + proc.stderr
    (tmp_path / "act.log").write_text(log)
    assert proc.returncode == 0 and "Job succeeded" in log, log[-6000:]
    match = re.search(r"outputs: task=(\S+) migrated=(\S+) deployed=(\S+)", log)
    assert match, log[-4000:]
    task_arn, migrated, _ = match.groups()
    assert migrated.endswith("task-definition/api:1")
    task = sandbox.client("ecs").describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"][0]
    assert task["startedBy"] == "ci-ecs"
    assert task["overrides"]["containerOverrides"] == [{"name": "web", "command": shlex.split(INJECTION)}]
    assert "INJECTED" not in log
    assert not any((repo / name).exists() for name in PWNED_FILES)
