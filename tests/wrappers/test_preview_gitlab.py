"""The GitLab template's review apps (`.ecs-preview`, `.ecs-preview-stop`), run by gitlab-ci-local against the
sandbox: docs/wrappers.md's pipeline as written (only the include and the repository URL made local), the
preview job of a merge request, then its stop job."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from ci_ecs import __version__

from .conftest import REPO, SandboxProcess, docs_block
from .test_gitlab import _dotenv, _project, _run

pytestmark = pytest.mark.wrappers

HEADING = "### Previews on GitLab CI (review apps)"
TEMPLATE = REPO / "gitlab" / "deploy-to-ecs.gitlab-ci.yml"
MR = {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "7"}


def test_review_app_up_then_stop(sandbox: SandboxProcess, tmp_path: Path) -> None:
    example = docs_block(HEADING, "yaml")
    project = _project(sandbox, tmp_path, example)  # its ci-ecs.yml: service `api` in cluster gitlab-docs
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@ci-ecs.invalid"]
    subprocess.run([*git, "tag", f"v{__version__}"], cwd=project.repo, check=True)
    pipeline = example.replace("https://gitlab.example.com/my-group/ci-ecs.git", f"file://{project.repo}")
    pipeline = re.sub(r"include:\n(  .*\n)+", "include:\n  - local: gitlab/deploy-to-ecs.gitlab-ci.yml\n", pipeline)
    (project.repo / ".gitlab-ci.yml").write_text(pipeline)
    subprocess.run([*git, "commit", "-q", "-am", "review apps"], cwd=project.repo, check=True)
    ecs = sandbox.client("ecs")

    up = _run(project, sandbox, "preview", **MR)
    log = up.stdout + up.stderr
    assert up.returncode == 0, log[-6000:]
    assert f"installing git+file://{project.repo}@v{__version__} into" in log
    values = dict(line.split("=", 1) for line in _dotenv(project, "preview").splitlines())
    assert re.fullmatch(r"http://203\.0\.113\.\d+", values["CI_ECS_PREVIEW_URL"]), values
    assert values["CI_ECS_DEPLOYED_PREVIEW_ID"] == "7"
    assert "CI_ECS_PREVIEW_ID" not in values  # the template's input is never handed on under its own name
    (service,) = ecs.describe_services(cluster="gitlab-docs", services=["api-pr-7"])["services"]
    assert service["status"] == "ACTIVE" and service["runningCount"] >= 1

    stop = _run(project, sandbox, "stop-preview", **MR)
    log = stop.stdout + stop.stderr
    assert stop.returncode == 0, log[-6000:]
    services = ecs.describe_services(cluster="gitlab-docs", services=["api-pr-7"])["services"]
    assert all(s["status"] != "ACTIVE" for s in services), services

    again = _run(project, sandbox, "stop-preview", **MR)  # nothing left: the stop job still succeeds
    assert again.returncode == 0, (again.stdout + again.stderr)[-6000:]


def test_hidden_jobs_set_the_review_environment() -> None:
    template = yaml.safe_load(TEMPLATE.read_text())
    up, stop = template[".ecs-preview"], template[".ecs-preview-stop"]
    assert up["extends"] == stop["extends"] == ".deploy-to-ecs"
    assert up["environment"] == {"name": "review/$CI_COMMIT_REF_SLUG", "url": "$CI_ECS_PREVIEW_URL",
                                 "on_stop": "stop-preview", "auto_stop_in": "$CI_ECS_PREVIEW_AUTO_STOP_IN"}
    assert up["variables"] == {"CI_ECS_COMMAND_NAME": "preview-up", "CI_ECS_PREVIEW_AUTO_STOP_IN": "1 week"}
    assert stop["environment"] == {"name": "review/$CI_COMMIT_REF_SLUG", "action": "stop"}
    assert stop["variables"] == {"CI_ECS_COMMAND_NAME": "preview-down"}
    # The documented stop job has the name the template's on_stop names.
    assert up["environment"]["on_stop"] in yaml.safe_load(docs_block(HEADING, "yaml"))
