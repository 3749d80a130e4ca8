"""The Jenkins step `ecsPreview`, run by jenkins/test/harness.groovy (Debian groovy) against the sandbox: the
harness's `sh` really runs the step's script, so the real `ci-ecs preview up|down` runs."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ci_ecs import __version__

from .conftest import REPO, SandboxProcess, copy_repo, docs_block, write_config, write_tagged_config
from .test_jenkins import _python, _workspace, run_step

pytestmark = pytest.mark.wrappers

STEP = REPO / "jenkins" / "vars" / "ecsPreview.groovy"
HEADING = "### Previews on Jenkins (multibranch)"


def _active(sandbox: SandboxProcess, cluster: str, service: str) -> bool:
    services = sandbox.client("ecs").describe_services(cluster=cluster, services=[service])["services"]
    return any(s["status"] == "ACTIVE" for s in services)


def test_up_returns_the_url_and_down_removes_the_preview(tmp_path: Path, sandbox: SandboxProcess) -> None:
    write_config(_workspace(tmp_path), "jenkins-preview", "web")
    up = run_step(tmp_path, sandbox, {"action": "up", "install": "", "desiredCount": 1}, step="ecsPreview",
                  env={"CHANGE_ID": "12"})
    assert up["error"] is None, up["log"][-4000:]
    assert re.fullmatch(r"http://203\.0\.113\.\d+", up["result"]), up["result"]  # the URL, a String
    (script,) = up["scripts"]
    assert script["label"] == "ci-ecs preview"
    env = script["env"]
    assert (env["CI_ECS_SUBCOMMAND"], env["CI_ECS_PREVIEW_ACTION"], env["CI_ECS_PREVIEW_ID"]) == ("preview", "up", "12")
    assert env["CI_ECS_DESIRED_COUNT"] == "1"  # deployToEcs' parameters map as they do there
    assert _active(sandbox, "jenkins-preview", "web-pr-12")

    down = run_step(tmp_path, sandbox, {"action": "down", "id": "12", "install": ""}, step="ecsPreview")
    assert down["error"] is None, down["log"][-4000:]
    assert down["result"]["previewId"] == "12"
    assert not _active(sandbox, "jenkins-preview", "web-pr-12")
    again = run_step(tmp_path, sandbox, {"action": "down", "id": "12", "install": ""}, step="ecsPreview")
    assert again["error"] is None, again["log"][-4000:]  # nothing there: success


@pytest.mark.parametrize(("params", "env", "error"), [
    ({"action": "sideways"}, {}, "ecsPreview: action: must be 'up' or 'down', not sideways"),
    ({}, {}, "ecsPreview: action: must be 'up' or 'down', not null"),
    ({"action": "up"}, {}, "ecsPreview: id: not given, and env.CHANGE_ID is empty (this build is not for a pull "
                           "request)"),
    ({"action": "up", "id": "1", "servce": "x"}, {}, "ecsPreview: unknown parameter(s): servce "),
])
def test_bad_parameters_fail_before_anything_runs(tmp_path: Path, sandbox: SandboxProcess, params: dict[str, Any],
                                                  env: dict[str, str], error: str) -> None:
    report = run_step(tmp_path, sandbox, params, step="ecsPreview", env=env)
    assert report["result"] is None
    assert report["error"].startswith(error), report["error"]
    assert report["scripts"] == []


def test_takes_every_deploy_to_ecs_parameter() -> None:
    """Same options handling as deployToEcs: its parameters (with their comments) and variables, plus action/id."""
    def block(path: Path, name: str) -> str:
        return path.read_text().split(f"@Field final Map {name} = [\n", 1)[1].split("\n]\n", 1)[0]

    deploy = REPO / "jenkins" / "vars" / "deployToEcs.groovy"
    for name in ("DEFAULTS", "ENV_NAMES"):
        ours, theirs = block(STEP, name), block(deploy, name)
        # deployToEcs' lines (a parameter with the comment above it) in the same order, but dryRun's: `preview up`
        # has no --dry-run (test_jenkins.py's test_step_variables_match_the_cli_options checks every variable).
        without_dry_run = re.sub(r"(    // [^\n]*\n)*    dryRun: [^\n]*\n", "", theirs + "\n")
        assert ours.endswith(without_dry_run.rstrip("\n")), name
        assert "dryRun" not in ours
    assert "<code>action</code>" in (REPO / "jenkins" / "vars" / "ecsPreview.txt").read_text()


def test_documented_example_runs_as_written(tmp_path: Path, sandbox: SandboxProcess) -> None:
    """docs/wrappers.md's multibranch example's ecsPreview call, installing from the library's repository (a
    local clone) at its tag; then the documented down call."""
    block = docs_block(HEADING, "groovy")
    call = block.split("ecsPreview(", 1)[1].split(")", 1)[0]
    params: dict[str, Any] = {}
    for name, literal, env_name in re.findall(r"(\w+): (?:'([^']*)'|env\.(\w+))", call):
        params[name] = literal if not env_name else {"GIT_COMMIT": "0123abcd", "CHANGE_ID": "34"}[env_name]
    assert params["action"] == "up" and params["id"] == "34", call
    repo = copy_repo(tmp_path / "ci-ecs")
    subprocess.run(["git", "tag", f"v{__version__}"], cwd=repo, check=True)
    write_tagged_config(_workspace(tmp_path), sandbox, "jenkins-preview-docs", "docs", params["tag"],
                        name=params["config"])
    credentials = {params["credentialsId"]: {"accessKey": "testing", "secretKey": "testing"}}
    path = ":".join(p for p in os.environ["PATH"].split(":") if not (Path(p) / "ci-ecs").exists())
    env = {"CI_ECS_REPOSITORY": f"file://{repo}", "PATH": f"{Path(_python()).parent}:{path}"}
    report = run_step(tmp_path, sandbox, params, credentials=credentials, step="ecsPreview", env=env)
    assert report["error"] is None, report["log"][-4000:]
    assert f"ecsPreview: installing git+file://{repo}@v{__version__} into" in report["log"]
    assert re.fullmatch(r"http://203\.0\.113\.\d+", report["result"]), report["result"]
    assert _active(sandbox, "jenkins-preview-docs", "docs-pr-34")

    down_call = re.search(r"ecsPreview\((action: 'down'[^)]*)\)", _after_block(HEADING))
    assert down_call, "the documented down call"
    down: dict[str, Any] = {"id": "34"}  # its `id: params.PR`: the job's parameter
    for name, literal in re.findall(r"(\w+): '([^']*)'", down_call.group(1)):
        down[name] = literal
    report = run_step(tmp_path, sandbox, down, credentials=credentials, step="ecsPreview", env=env)
    assert report["error"] is None, report["log"][-4000:]
    assert not _active(sandbox, "jenkins-preview-docs", "docs-pr-34")


def _after_block(heading: str) -> str:
    """The prose after the heading's first groovy block, up to the next heading (where the down call is shown)."""
    text = (REPO / "docs" / "wrappers.md").read_text().split(heading, 1)[1]
    return text.split("```groovy\n", 1)[1].split("```", 1)[1].split("\n## ", 1)[0]
