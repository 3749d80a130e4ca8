"""The GitLab template, run by gitlab-ci-local (shell executor) against the sandbox."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ci_ecs import __version__

from .conftest import (
    INJECTION,
    PWNED_FILES,
    REPO,
    SECRETS,
    SandboxProcess,
    child_env,
    copy_repo,
    docs_block,
    leftover_texts,
    npm_tool,
    require_tool,
    write_config,
)

pytestmark = pytest.mark.wrappers

TEMPLATE = REPO / "gitlab" / "deploy-to-ecs.gitlab-ci.yml"
PIPELINE = REPO / "tests" / "wrappers" / "gitlab" / ".gitlab-ci.yml"
FORGED = "6.6.6.6"
# A service whose image is built from the checkout (`build.context: .`) and pushed to the sandbox's ECR.
BUILD_CONFIG = """\
region: us-east-1
cluster: gitlab-build
repository: {name: wrappers-context}
image:
  tag: context-1
  build: {context: ., dockerfile: context.Dockerfile}
task:
  family: context
  cpu: "256"
  memory: "512"
  network_mode: awsvpc
  requires_compatibilities: [FARGATE]
  execution_role_arn: arn:aws:iam::123456789012:role/ecsTaskExecutionRole
  containers:
    - name: web
      port_mappings: [{container_port: 80}]
service:
  name: context
  desired_count: 1
  launch_type: FARGATE
  assign_public_ip: true
deploy: {timeout: 120, max_poll_interval: 1}
"""


@dataclass
class Project:
    tool: str
    repo: Path
    env: dict[str, str]


def _project(sandbox: SandboxProcess, base: Path, pipeline: str) -> Project:
    tool = npm_tool("gitlab-ci-local")
    require_tool("rsync")
    repo = copy_repo(base / "repo")
    (repo / ".gitlab-ci.yml").write_text(pipeline)
    write_config(repo, "gitlab", "web", name=f"{INJECTION}.yml")
    write_config(repo, "gitlab", "broken", name="broken.yml")
    write_config(repo, "gitlab-secrets", "secrets", name="secrets.yml")
    write_config(repo, "gitlab-docs", "api", name="ci-ecs.yml")
    (repo / "build.yml").write_text(BUILD_CONFIG)
    (repo / "context.Dockerfile").write_text("FROM scratch\nCOPY . /context/\n")
    # What a project's .dockerignore usually leaves out (and gitlab-ci-local's own state, which GitLab keeps
    # elsewhere): what remains is the checkout and whatever the job put into it.
    (repo / ".dockerignore").write_text(".git\n.gitlab-ci-local\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@ci-ecs.invalid"]
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "pipeline"], cwd=repo, check=True)
    home = base / "home"
    home.mkdir()
    return Project(tool, repo, child_env(sandbox, HOME=str(home)))


@pytest.fixture(scope="module")
def project(sandbox: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A throwaway copy of the repository with the test pipeline, and how to run gitlab-ci-local in it."""
    return _project(sandbox, tmp_path_factory.mktemp("gitlab"), PIPELINE.read_text())


def _run(project: Project, sandbox: SandboxProcess, *args: str, aws: bool = True,
         **variables: str) -> subprocess.CompletedProcess[str]:
    base = {**sandbox.env()} if aws else {"AWS_ENDPOINT_URL": sandbox.endpoint_url, "AWS_REGION": sandbox.region}
    # One virtualenv outside the checkout for the module's jobs (the template reuses a CI_ECS_VENV it is given
    # while the install is the same); CI_ECS_VENV="" gives a job the template's default, its own temporary one.
    variables = {**base, "TEST_PYTHON": shutil.which("python3") or "python3",
                 "CI_ECS_VENV": str(project.repo.parent / "ci-ecs-venv"), **variables}
    # The template names an image (python:3.12); here every job runs in the shell instead.
    command = [project.tool, "--force-shell-executor", "--no-color", *args]
    for name, value in variables.items():
        command += ["--variable", f"{name}={value}"]
    env = project.env if aws else {k: v for k, v in project.env.items() if not k.startswith("AWS_")}
    proc = subprocess.run(command, cwd=project.repo, env=env, capture_output=True, text=True, timeout=400)
    (project.repo.parent / f"gitlab-{args[-1]}.log").write_text(proc.stdout + proc.stderr)  # for a failing test
    return proc


def _dotenv(project: Project, job: str) -> str:
    """The dotenv report gitlab-ci-local kept as `job`'s artifact."""
    found = [p for p in (project.repo / ".gitlab-ci-local").rglob("ci-ecs.env") if f"/{job}/" in str(p)]
    assert found, f"no ci-ecs.env artifact for {job}"
    return found[0].read_text()


def test_later_job_reads_public_ips_from_the_dotenv(project: Project, sandbox: SandboxProcess) -> None:
    proc = _run(project, sandbox, "--needs", "verify")
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    # The pipeline-level CI_ECS_INSTALL, CI_ECS_PYTHON and CI_ECS_DOTENV won over the template's defaults.
    assert re.search(r"ci-ecs: installing \. into \S+ with " + re.escape(shutil.which("python3") or ""), log), log
    assert list(project.repo.rglob("pipeline-level.env")), "CI_ECS_DOTENV from the pipeline was not used"
    assert "verify > from the dotenv artifact: CI_ECS_PUBLIC_IPS=203.0.113." in log
    assert "verify > verified" in log
    # Where the time went: the job log shows one line per phase (the deploy's text output, issue 27).
    for phase in ("preflight", "register", "service-update", r"rollout [\w-]+", "stable-window"):
        assert re.search(rf"^deploy +> phase {phase}: \d+\.\d s \(\d+\.\d s to \d+\.\d s\)", log, re.M), phase
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


def test_newlines_in_values_forge_nothing(project: Project, sandbox: SandboxProcess) -> None:
    proc = _run(project, sandbox, "forge", RUN_FORGE="yes")
    log = proc.stdout + proc.stderr
    assert "ci-ecs deploy failed with exit code 2" in log, log[-6000:]
    dotenv = _dotenv(project, "forge")
    lines = dotenv.splitlines()
    assert all(re.fullmatch(r"CI_ECS_[A-Z_]+=[^\n]*", line) for line in lines), dotenv
    assert len({line.split("=", 1)[0] for line in lines}) == len(lines)  # no name twice
    values = dict(line.split("=", 1) for line in lines)
    assert values["CI_ECS_PUBLIC_IPS"] == "" and values["CI_ECS_SERVICE_URL"] == ""
    assert values["CI_ECS_DEPLOYED_SERVICE"] == "web\\nCI_ECS_PUBLIC_IPS=6.6.6.6\\nCI_ECS_SERVICE_URL=http://6.6.6.6"
    for line in log.splitlines():
        text = line.split(" > ", 1)[-1]
        assert not text.startswith(("::set-output", "CI_ECS_PUBLIC_IPS=")), line


@pytest.mark.parametrize("debug", ["false", "true"])
def test_secrets_reach_no_log_or_file(project: Project, sandbox: SandboxProcess, debug: str) -> None:
    proc = _run(project, sandbox, "secrets", RUN_SECRETS="yes", CI_ECS_DEBUG=debug,
                AWS_ACCESS_KEY_ID=SECRETS["access_key_id"], AWS_SECRET_ACCESS_KEY=SECRETS["secret_access_key"],
                AWS_SESSION_TOKEN=SECRETS["session_token"], AWS_ID_TOKEN=SECRETS["oidc_token"],
                AWS_ROLE_ARN="arn:aws:iam::123456789012:role/gitlab-deploy")
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    if debug == "true":
        assert "Credential=***/" in log  # botocore's signed requests are in the log, the key id masked
    _assert_no_secret(project, log)


def test_oidc_token_only(project: Project, sandbox: SandboxProcess) -> None:
    """No stored keys: the job writes the id token to a file, boto3 exchanges it, the file is gone afterwards."""
    proc = _run(project, sandbox, "secrets", aws=False, RUN_SECRETS="yes", CI_ECS_DEBUG="true",
                AWS_ID_TOKEN=SECRETS["oidc_token"], AWS_ROLE_ARN="arn:aws:iam::123456789012:role/gitlab-deploy")
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert "AssumeRoleWithWebIdentity" in log  # the token was used (botocore's debug log)
    _assert_no_secret(project, log)


def _assert_no_secret(project: Project, log: str) -> None:
    # gitlab-ci-local keeps the variables it was given (the test's inputs) in its own state: not ci-ecs' output.
    texts = leftover_texts(project.repo, project.repo.parent / "repo.tmp", Path(project.env["HOME"]),
                           skip=("/.gitlab-ci-local/variables", "/.gitlab-ci-local/scripts/"))
    for where, text in [("log", log), *texts]:
        for name, value in SECRETS.items():
            assert value not in text, f"{name} is in {where}"
    assert not list(project.repo.parent.rglob("web-identity-token")), "the OIDC token file was left behind"


def test_install_url_password_with_at_sign_is_masked_whole(project: Project, sandbox: SandboxProcess) -> None:
    """A job token holding `@`: the log shows `***@host`, never the part after the password's own `@`."""
    secret_tail = "TAILOFTHEJOBTOKEN"
    url = f"git+https://gitlab-ci-token:tok3n@{secret_tail}@127.0.0.1:1/my-group/ci-ecs.git@v0.1.0"
    proc = _run(project, sandbox, "install-url", RUN_INSTALL_URL="yes", CI_ECS_INSTALL=url)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "ci-ecs: installing git+https://***@127.0.0.1:1/my-group/ci-ecs.git@v0.1.0 into" in log, log[-4000:]
    assert "ci-ecs: installing ci-ecs failed" in log
    assert secret_tail not in log and "tok3n" not in log


def test_no_default_install_without_a_repository(project: Project, sandbox: SandboxProcess) -> None:
    """Without CI_ECS_REPOSITORY the default install cannot be known: one line says what to set."""
    pipeline = yaml.safe_load(PIPELINE.read_text())
    pipeline["variables"] = {"CI_ECS_PYTHON": "$TEST_PYTHON"}
    other = copy_repo(project.repo.parent / "no-repository")
    (other / ".gitlab-ci.yml").write_text(yaml.safe_dump({k: pipeline[k] for k in ("include", "variables",
                                                                                    "stages", "deploy")}))
    proc = subprocess.run([project.tool, "--force-shell-executor", "--no-color", "deploy"], cwd=other,
                          env=project.env, capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "ci-ecs: set CI_ECS_REPOSITORY to the git URL of the ci-ecs repository" in log, log[-4000:]
    assert "pip" not in log.split("ci-ecs: set CI_ECS_REPOSITORY", 1)[0].split("deploy >", 1)[-1]


def test_documented_example_runs_as_written(sandbox: SandboxProcess, tmp_path: Path) -> None:
    """docs/wrappers.md's pipeline, with only the repository URL changed (a local clone, tag v<version>)."""
    example = docs_block("## GitLab CI", "yaml")
    project = _project(sandbox, tmp_path, example)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@ci-ecs.invalid"]
    subprocess.run([*git, "tag", f"v{__version__}"], cwd=project.repo, check=True)
    # The documented include (project: + ref:) is fetched by GitLab; gitlab-ci-local reads the same file locally.
    pipeline = example.replace("https://gitlab.example.com/my-group/ci-ecs.git", f"file://{project.repo}")
    pipeline = re.sub(r"include:\n(  .*\n)+", "include:\n  - local: gitlab/deploy-to-ecs.gitlab-ci.yml\n", pipeline)
    (project.repo / ".gitlab-ci.yml").write_text(pipeline)
    subprocess.run([*git, "commit", "-q", "-am", "example"], cwd=project.repo, check=True)
    proc = _run(project, sandbox, "--needs", "smoke-test", aws=False, AWS_ID_TOKEN=SECRETS["oidc_token"])
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert f"installing git+file://{project.repo}@v{__version__} into" in log
    assert re.search(r"smoke-test > deployed \S+task-definition/api:1 on 203\.0\.113\.", log), log[-3000:]


@pytest.mark.parametrize("path", [TEMPLATE, PIPELINE], ids=["template", "test-pipeline"])
def test_gitlab_ci_schema(path: Path) -> None:
    tool = require_tool("check-jsonschema")
    proc = subprocess.run([tool, "--builtin-schema", "vendor.gitlab-ci", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_template_declares_no_input_and_no_environment() -> None:
    """Job-level variables would beat pipeline-level ones; an environment is the user's choice."""
    job = yaml.safe_load(TEMPLATE.read_text())[".deploy-to-ecs"]
    assert "variables" not in job
    assert "environment" not in job
    assert job["artifacts"]["reports"]["dotenv"] == "ci-ecs.env"
    script = job["script"][0]
    assert f'ci_ecs_version="{__version__}"' in script
    assert 'CI_ECS_INSTALL="git+${CI_ECS_REPOSITORY}@v${ci_ecs_version}"' in script
    assert "ci-ecs==" not in script.replace("ci-ecs==$ci_ecs_version once released", "")


def test_docs_example_pipeline_is_valid(tmp_path: Path) -> None:
    pipeline = tmp_path / ".gitlab-ci.yml"
    pipeline.write_text(docs_block("## GitLab CI", "yaml"))
    tool = require_tool("check-jsonschema")
    proc = subprocess.run([tool, "--builtin-schema", "vendor.gitlab-ci", str(pipeline)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
