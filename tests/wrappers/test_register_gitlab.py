"""The GitLab template with nothing naming a service (issue 14): like aws-actions and the GitHub action, it only
registers the task definition (`ci-ecs register`), and the dotenv report hands CI_ECS_TASK_DEFINITION_ARN on.
Run by gitlab-ci-local (shell executor) against the sandbox.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from .conftest import SandboxProcess
from .test_gitlab import Project, _dotenv, _project, _run

pytestmark = pytest.mark.wrappers

PIPELINE = """\
include:
  - local: gitlab/deploy-to-ecs.gitlab-ci.yml

variables:
  CI_ECS_INSTALL: "."
  CI_ECS_PYTHON: $TEST_PYTHON

stages: [register, use]

register:
  extends: .deploy-to-ecs
  stage: register
  variables:
    CI_ECS_TASK_DEFINITION: task-definition.json
    CI_ECS_IMAGE: public.ecr.aws/nginx/nginx:1.27

register-with-config:
  extends: .deploy-to-ecs
  stage: register
  variables:
    CI_ECS_COMMAND_NAME: register
    CI_ECS_CONFIG: task-only.yml

use:
  stage: use
  needs: [register]
  script:
    - |
      echo "registered: $CI_ECS_TASK_DEFINITION_ARN (new: $CI_ECS_TASK_DEFINITION_REGISTERED)"
      case "$CI_ECS_TASK_DEFINITION_ARN" in arn:aws:ecs:*:task-definition/gitlab-register:*) ;; *) exit 1 ;; esac
      echo "used"
"""

# A native task definition file as aws-actions workflows keep them, with a null the register drops.
TASK_DEFINITION = {
    "family": "gitlab-register",
    "requiresCompatibilities": ["FARGATE"],
    "networkMode": "awsvpc",
    "cpu": "256",
    "memory": "512",
    "taskRoleArn": None,
    "containerDefinitions": [{"name": "job", "image": "placeholder", "essential": True, "command": ["true"]}],
}

# A config with a task and no service: only CI_ECS_COMMAND_NAME=register makes it a register-only job.
TASK_ONLY = """\
region: us-east-1
task:
  family: gitlab-register-config
  cpu: "256"
  memory: "512"
  network_mode: awsvpc
  requires_compatibilities: [FARGATE]
  containers:
    - name: job
      image: public.ecr.aws/docker/library/busybox:1.36
"""


@pytest.fixture(scope="module")
def project(sandbox: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Project:
    made = _project(sandbox, tmp_path_factory.mktemp("gitlab-register"), PIPELINE)
    (made.repo / "ci-ecs.yml").unlink()  # no config file: nothing names a service
    (made.repo / "task-definition.json").write_text(json.dumps(TASK_DEFINITION, indent=2))
    (made.repo / "task-only.yml").write_text(TASK_ONLY)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@ci-ecs.invalid"]
    subprocess.run([*git, "add", "-A"], cwd=made.repo, check=True)
    subprocess.run([*git, "commit", "-qm", "register-only"], cwd=made.repo, check=True)
    return made


def test_no_service_registers_only(project: Project, sandbox: SandboxProcess) -> None:
    ecs = sandbox.client("ecs")
    services_before = {arn for cluster in ecs.list_clusters()["clusterArns"]
                       for arn in ecs.list_services(cluster=cluster)["serviceArns"]}
    proc = _run(project, sandbox, "--needs", "use")
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert re.search(r"use +> used", log), log[-6000:]
    values = dict(line.split("=", 1) for line in _dotenv(project, "register").splitlines())
    arn = values["CI_ECS_TASK_DEFINITION_ARN"]
    assert arn == "arn:aws:ecs:us-east-1:123456789012:task-definition/gitlab-register:1"
    assert values["CI_ECS_TASK_DEFINITION_REGISTERED"] == "true"
    registered = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    assert registered["containerDefinitions"][0]["image"] == "public.ecr.aws/nginx/nginx:1.27"
    assert "taskRoleArn" not in registered  # the null was dropped, as aws-actions drops it
    services_after = {arn for cluster in ecs.list_clusters()["clusterArns"]
                      for arn in ecs.list_services(cluster=cluster)["serviceArns"]}
    assert services_after == services_before  # nothing was deployed

    again = _run(project, sandbox, "register")
    assert again.returncode == 0, (again.stdout + again.stderr)[-6000:]
    values = dict(line.split("=", 1) for line in _dotenv(project, "register").splitlines())
    assert values["CI_ECS_TASK_DEFINITION_ARN"] == arn  # idempotent: the same revision, nothing new
    assert values["CI_ECS_TASK_DEFINITION_REGISTERED"] == "false"


def test_register_asked_for_with_a_config_file(project: Project, sandbox: SandboxProcess) -> None:
    proc = _run(project, sandbox, "register-with-config")
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    values = dict(line.split("=", 1) for line in _dotenv(project, "register-with-config").splitlines())
    assert values["CI_ECS_TASK_DEFINITION_ARN"].endswith(":task-definition/gitlab-register-config:1")
