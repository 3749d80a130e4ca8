"""The GitHub action's previews (`preview: up|down`), run by act against the sandbox: docs/wrappers.md's preview
workflow as written, for a pull request opened, pushed to, closed, and one from a fork without credentials.

GitHub's API has no real part offline: the comment goes to tests/wrappers/github_api.py, a recording stand-in
written from GitHub's REST reference, on 127.0.0.1 (act hands the job GITHUB_API_URL pointing at it).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass

import pytest

from ci_ecs import __version__

from .conftest import SandboxProcess, child_env, copy_repo, docs_block, require_tool, write_config
from .github_api import FakeGitHub, fake_github
from .test_github import _CHECKOUT_STUB, _CREDENTIALS_STUB

pytestmark = [pytest.mark.wrappers, pytest.mark.timeout(1200)]

HEADING = "### Previews on GitHub Actions"
TOKEN = "ghs_PreviewWorkflowToken0123456789abcdefXYZ"
REPOSITORY = "my-org/app"
CLUSTER, SERVICE = "github-preview", "web"


@dataclass
class Runs:
    """The logs of the act runs, by name, and the API stand-in's state afterwards."""

    logs: dict[str, str]
    codes: dict[str, int]
    api: FakeGitHub


def _event(action: str, number: int, head: str = REPOSITORY) -> dict[str, object]:
    return {"action": action, "number": number, "repository": {"full_name": REPOSITORY},
            "pull_request": {"number": number, "head": {"repo": {"full_name": head}}}}


@pytest.fixture(scope="module")
def runs(sandbox: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """docs/wrappers.md's preview workflow, run by act four times: pull request #7 opened, pushed to (a new
    commit), closed; then #8 from a fork, without AWS credentials."""
    act = require_tool("act")
    base = tmp_path_factory.mktemp("act-preview")
    repo = copy_repo(base / "repo")
    workflows = repo / ".github" / "workflows"
    shutil.rmtree(workflows, ignore_errors=True)
    workflows.mkdir(parents=True)
    (workflows / "preview.yml").write_text(docs_block(HEADING, "yaml"))
    write_config(repo, CLUSTER, SERVICE)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@ci-ecs.invalid"]
    subprocess.run([*git, "remote", "add", "origin", f"https://github.com/{REPOSITORY}.git"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "preview workflow"], cwd=repo, check=True)
    stubs = {"actions/checkout@v4": _CHECKOUT_STUB, "aws-actions/configure-aws-credentials@v4": _CREDENTIALS_STUB}
    local = [f"--local-repository=my-org/ci-ecs@v{__version__}={repo}"]
    for name, text in stubs.items():
        folder = base / "stubs" / name.replace("/", "_")
        folder.mkdir(parents=True)
        (folder / "action.yml").write_text(text)
        local.append(f"--local-repository={name}={folder}")
    secrets = base / "secrets"
    secrets.write_text(f"GITHUB_TOKEN={TOKEN}\n")
    home = base / "home"
    home.mkdir()
    logs: dict[str, str] = {}
    codes: dict[str, int] = {}
    with fake_github(TOKEN) as api:
        def run(name: str, event: dict[str, object], aws: bool = True) -> None:
            event_file = base / f"{name}.json"
            event_file.write_text(json.dumps(event))
            env = child_env(sandbox, HOME=str(home))
            if not aws:  # a fork's run: no secrets, no OIDC token, so no credentials at all
                env = {k: v for k, v in env.items() if not k.startswith("AWS_")}
            variables = {"SRC": str(repo), "AWS_ENDPOINT_URL": sandbox.endpoint_url, "GITHUB_API_URL": api.url,
                         # botocore's credential chain would ask the instance metadata address: tests stay on loopback
                         "AWS_EC2_METADATA_DISABLED": "true"}
            proc = subprocess.run(
                [act, "pull_request", "-e", str(event_file), "-P", "ubuntu-latest=-self-hosted", "--pull=false",
                 f"--secret-file={secrets}", *local, *[f"--env={k}={v}" for k, v in variables.items()]],
                cwd=repo, env=env, capture_output=True, text=True, timeout=400)
            logs[name] = proc.stdout + proc.stderr
            codes[name] = proc.returncode
            (base / f"act-{name}.log").write_text(logs[name])  # kept for a failing test's reader

        run("opened", _event("opened", 7))
        (repo / "NEXT").write_text("a second push\n")
        subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
        subprocess.run([*git, "commit", "-q", "-m", "second push"], cwd=repo, check=True)
        run("synchronize", _event("synchronize", 7))
        run("closed", _event("closed", 7))
        run("fork", _event("opened", 8, head="someone/app"), aws=False)
    return Runs(logs, codes, api)


def _ours(api: FakeGitHub, number: int) -> list[dict[str, object]]:
    return [c for c in api.comments.get((REPOSITORY, number), []) if "<!-- ci-ecs preview:" in str(c["body"])]


def test_up_deploys_the_preview_and_comments_its_url(runs: Runs, sandbox: SandboxProcess) -> None:
    log = runs.logs["opened"]
    assert runs.codes["opened"] == 0, log[-6000:]
    match = re.search(r"preview of pull request 7 at (http://203\.0\.113\.\d+)", log)
    assert match, log[-4000:]
    first = runs.api.writes()[0]
    assert first.method == "POST" and first.path == f"/repos/{REPOSITORY}/issues/7/comments"
    assert match.group(1) in first.body["body"]


def test_a_second_push_updates_the_same_comment(runs: Runs) -> None:
    assert runs.codes["synchronize"] == 0, runs.logs["synchronize"][-6000:]
    writes = runs.api.writes()
    assert [w.method for w in writes[:2]] == ["POST", "PATCH"]
    assert writes[0].body["body"] != writes[1].body["body"]  # the new commit
    assert writes[1].path.startswith(f"/repos/{REPOSITORY}/issues/comments/")


def test_close_removes_the_preview_and_says_so_in_the_comment(runs: Runs, sandbox: SandboxProcess) -> None:
    assert runs.codes["closed"] == 0, runs.logs["closed"][-6000:]
    (comment,) = _ours(runs.api, 7)  # one comment, never a second
    assert "was removed" in str(comment["body"])
    assert [w.method for w in runs.api.writes() if "/issues/7/" in w.path or "/comments/" in w.path] == \
        ["POST", "PATCH", "PATCH"]
    services = sandbox.client("ecs").describe_services(cluster=CLUSTER, services=[f"{SERVICE}-pr-7"])["services"]
    assert all(s["status"] != "ACTIVE" for s in services), services


def test_a_forks_pull_request_without_credentials_passes_without_deploying(runs: Runs,
                                                                             sandbox: SandboxProcess) -> None:
    log = runs.logs["fork"]
    assert runs.codes["fork"] == 0, log[-6000:]
    assert "pull request #8 comes from a fork and this run has no AWS credentials" in log, log[-4000:]
    assert not _ours(runs.api, 8)
    services = sandbox.client("ecs").describe_services(cluster=CLUSTER, services=[f"{SERVICE}-pr-8"])["services"]
    assert not [s for s in services if s["status"] == "ACTIVE"]


def test_the_token_reaches_no_log_and_no_argument(runs: Runs) -> None:
    for name, log in runs.logs.items():
        assert TOKEN not in log, f"the token is in the {name} run's log"
    assert all(r.authorization == f"Bearer {TOKEN}" for r in runs.api.requests)  # it did reach the API
