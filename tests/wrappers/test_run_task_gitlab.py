"""The GitLab template's `.run-ecs-task` job, run by gitlab-ci-local (shell executor) against the sandbox:
a migration job before the deploy, its command arriving as one shell-split string and nothing else
evaluated, its result handed on through the dotenv report.

The wrappers' sandbox runs tasks as state only (they never stop), so the job starts the task with
CI_ECS_WAIT=false; exit codes and logs of real containers are tests/e2e/test_lifecycle_docker.py's.
"""

from __future__ import annotations

import re
import shlex
import subprocess

import pytest

from .conftest import INJECTION, PWNED_FILES, SandboxProcess, write_config
from .test_gitlab import Project, _dotenv, _project, _run

pytestmark = pytest.mark.wrappers

PIPELINE = """\
include:
  - local: gitlab/deploy-to-ecs.gitlab-ci.yml

variables:
  CI_ECS_INSTALL: "."
  CI_ECS_PYTHON: $TEST_PYTHON

stages: [migrate, deploy, verify]

migrate:
  extends: .run-ecs-task
  stage: migrate
  variables:
    CI_ECS_CONFIG: migrate.yml
    CI_ECS_WAIT: "false"
    CI_ECS_COMMAND: $MIGRATE_COMMAND

deploy:
  extends: .deploy-to-ecs
  needs: [migrate]
  variables:
    CI_ECS_CONFIG: migrate.yml
    CI_ECS_WAIT: "false"

verify:
  stage: verify
  needs: [migrate, deploy]
  script:
    - |
      echo "migration task: $CI_ECS_RUN_TASK_ARN"
      case "$CI_ECS_RUN_TASK_ARN" in arn:aws:ecs:*:task/*) ;; *) echo "no task ARN"; exit 1 ;; esac
      echo "verified"
"""


@pytest.fixture(scope="module")
def project(sandbox: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Project:
    made = _project(sandbox, tmp_path_factory.mktemp("gitlab-run-task"), PIPELINE)
    write_config(made.repo, "gitlab-migrate", "api", name="migrate.yml")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@ci-ecs.invalid"]
    subprocess.run([*git, "add", "migrate.yml"], cwd=made.repo, check=True)
    subprocess.run([*git, "commit", "-qm", "migration config"], cwd=made.repo, check=True)
    return made


def test_migration_job_runs_the_task_before_the_deploy(project: Project, sandbox: SandboxProcess) -> None:
    proc = _run(project, sandbox, "--needs", "verify", MIGRATE_COMMAND=INJECTION)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert re.search(r"verify +> verified", log), log[-6000:]
    values = dict(line.split("=", 1) for line in _dotenv(project, "migrate").splitlines())
    arn = values["CI_ECS_RUN_TASK_ARN"]
    assert arn.startswith("arn:aws:ecs:us-east-1:123456789012:task/gitlab-migrate/")
    assert values["CI_ECS_TASK_DEFINITION_ARN"].endswith("task-definition/api:1")
    task = sandbox.client("ecs").describe_tasks(cluster="gitlab-migrate", tasks=[arn])["tasks"][0]
    assert task["startedBy"] == "ci-ecs"
    # The value reached ci-ecs literally and was split like a shell splits, never evaluated.
    assert task["overrides"]["containerOverrides"] == [{"name": "web", "command": shlex.split(INJECTION)}]
    assert not any((project.repo / name).exists() for name in PWNED_FILES)
    # The deploy that followed used the revision the migration registered: nothing new.
    assert "task definition api:1 unchanged" in log or "api:1 (unchanged)" in log
