"""Fixtures for the wrapper tests: the real sandbox in a child process, the tools, a ci-ecs config.

The sandbox runs as `python -m ci_ecs.sandbox` (its own process: moto's state is process-wide, so it
must not share a process with the core tests' `mock_aws`). Every wrapper drives the real `ci-ecs`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_tool as _require_tool

REPO = Path(__file__).resolve().parents[2]
TOOLS_DIR = Path(os.environ.get("CI_ECS_TOOLS_DIR") or Path.home() / ".cache" / "ci-ecs-wrapper-tools")
JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"

# A Fargate service that runs an image from outside the sandbox's ECR (the sandbox treats those as pullable).
CONFIG_YAML = """\
region: us-east-1
cluster: {cluster}
task:
  family: {service}
  cpu: "256"
  memory: "512"
  network_mode: awsvpc
  requires_compatibilities: [FARGATE]
  # Fargate needs an execution role to pull from ECR (the `broken` cases deploy an image from the sandbox's ECR).
  execution_role_arn: arn:aws:iam::123456789012:role/ecsTaskExecutionRole
  containers:
    - name: web
      image: public.ecr.aws/nginx/nginx:1.27
      port_mappings: [{{container_port: 80}}]
service:
  name: {service}
  desired_count: 2
  launch_type: FARGATE
  assign_public_ip: true
deploy: {{timeout: 120, max_poll_interval: 1}}
"""

# Characters a shell would act on: each `touch` creates a file only if something evaluated the value.
INJECTION = "x $(touch pwned-dollar) `touch pwned-backtick` 'single' \"double\" ; touch pwned-semicolon"
PWNED_FILES = ("pwned-dollar", "pwned-backtick", "pwned-semicolon")

# Recognisable credentials (the sandbox accepts any): none may appear in a log, an output or a leftover file.
SECRETS = {
    "access_key_id": "AKIAZQ3DT5EXAMPLE742",
    "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCY9EXAMPLEK3",
    "session_token": "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN0123456789abcdefGHIJKLmnopqrSTUVwxyz",
    "oidc_token": "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJzdWIiOiJwcm9qZWN0X3BhdGg6bXktZ3JvdXAvbXktYXBwIn0"
                  ".c2lnbmF0dXJlLW9mLXRoZS1jaS1lY3MtdGVzdHM",
}
assert len(SECRETS["access_key_id"]) == 20 and len(SECRETS["secret_access_key"]) == 40


def leftover_texts(*roots: Path, skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(path, text) of every file under `roots` (missing roots are skipped), except paths containing a `skip`.

    The tests' own sources (copied with the repository) hold the secrets on purpose and are left out."""
    skip = (*skip, "/tests/wrappers/")
    texts = []
    for root in roots:
        if not root.exists():
            continue
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink() and not any(part in str(path) for part in skip) \
                    and "/.git/" not in str(path) and path.stat().st_size < 20_000_000:
                texts.append((str(path), path.read_text(errors="replace")))
    return texts


def docs_block(heading: str, language: str) -> str:
    """The first ```language block under `heading` in docs/wrappers.md (so tests run the examples as written)."""
    text = (REPO / "docs" / "wrappers.md").read_text()
    section = text.split(heading, 1)[1]
    return section.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def require_tool(name: str, path: str | Path | None = None) -> str:
    """tests.conftest.require_tool, pointing at the installer that provides the wrapper tools.

    A tool not on PATH is also looked for in the virtualenv install-tools.sh puts its Python tools in."""
    venv_tool = TOOLS_DIR / "venv" / "bin" / name
    if path is None and not shutil.which(name) and venv_tool.exists():
        path = venv_tool
    return _require_tool(name, path, hint="run tests/wrappers/install-tools.sh")


def npm_tool(name: str) -> str:
    """A tool install-tools.sh put under $CI_ECS_TOOLS_DIR/node_modules/.bin."""
    return require_tool(name, TOOLS_DIR / "node_modules" / ".bin" / name)


@dataclass
class SandboxProcess:
    """A `python -m ci_ecs.sandbox` child and what it printed."""

    endpoint_url: str
    registry: str | None
    process: subprocess.Popen[str]
    region: str = "us-east-1"
    output: list[str] = field(default_factory=list)
    violations_file: Path | None = None  # the sandbox's response-check findings, one a line
    _violations_read: int = 0

    def take_violations(self) -> list[str]:
        """Responses the sandbox found botocore's model refuses since the last call."""
        if self.violations_file is None or not self.violations_file.exists():
            return []
        with self.violations_file.open(encoding="utf-8") as found:
            found.seek(self._violations_read)
            text = found.read()
            self._violations_read = found.tell()
        return [line for line in text.splitlines() if line]

    def env(self) -> dict[str, str]:
        """What a child process needs to use the sandbox (dummy credentials)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=self.region,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def missing_image(self, repository: str) -> str:
        """An image reference in the sandbox's ECR that was never pushed (tasks fail: CannotPullContainerError)."""
        ecr = self.client("ecr")
        try:
            uri = ecr.create_repository(repositoryName=repository)["repository"]["repositoryUri"]
        except ecr.exceptions.RepositoryAlreadyExistsException:
            uri = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]["repositoryUri"]
        return f"{uri}:never-pushed"


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    """The real sandbox (moto + scheduler + registry) on a free port, for the whole session, in test
    mode: every response is checked against botocore's model and what fails is written to a file
    (``check_sandbox_responses`` fails the test that caused it)."""
    if not shutil.which("docker-registry") and os.environ.get("CI_ECS_REQUIRE_ALL"):
        pytest.fail("docker-registry is required (the sandbox's ECR); CI_ECS_REQUIRE_ALL is set")
    violations = tmp_path_factory.mktemp("sandbox-responses") / "violations.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CI_ECS_"))}
    env.update(CI_ECS_SANDBOX_VALIDATE_RESPONSES="1", CI_ECS_SANDBOX_VIOLATIONS_FILE=str(violations))
    process = subprocess.Popen(
        [sys.executable, "-m", "ci_ecs.sandbox", "--port", "0", "--task-start-seconds", "0.3"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO,
    )
    output: list[str] = []
    endpoint = registry = None
    deadline = time.monotonic() + 60
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output.append(line.rstrip())
        if match := re.match(r"AWS_ENDPOINT_URL=(\S+)", line):
            endpoint = match.group(1)
        if match := re.match(r"ECR registry: (\S+)", line):
            registry = match.group(1)
        if line.startswith("sandbox ready"):
            break
    if endpoint is None or process.poll() is not None:
        process.kill()
        pytest.fail("the sandbox did not start:\n" + "\n".join(output))
    sb = SandboxProcess(endpoint, registry, process, output=output, violations_file=violations)
    if registry is None and os.environ.get("CI_ECS_REQUIRE_ALL"):
        pytest.fail("the sandbox has no ECR registry:\n" + "\n".join(output))
    try:
        yield sb
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(autouse=True)
def check_sandbox_responses(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test during which the sandbox answered something botocore's model refuses."""
    yield
    if "sandbox" in request.fixturenames:
        sb: SandboxProcess = request.getfixturevalue("sandbox")
        violations = sb.take_violations()
        if violations:
            pytest.fail("sandbox responses that botocore's model refuses:\n" + "\n".join(violations[:20]))


@pytest.fixture
def missing_image(sandbox: SandboxProcess) -> str:
    if sandbox.registry is None:
        pytest.skip("the sandbox has no ECR registry (docker-registry is not installed)")
    return sandbox.missing_image("wrappers-missing")


def write_config(directory: Path, cluster: str, service: str, name: str = "ci-ecs.yml") -> Path:
    """A ci-ecs config for `service` in `cluster` (an image outside the sandbox's ECR)."""
    path = directory / name
    path.write_text(CONFIG_YAML.format(cluster=cluster, service=service))
    return path


def write_tagged_config(directory: Path, sandbox: SandboxProcess, cluster: str, service: str, tag: str,
                        name: str = "ci-ecs.yml") -> Path:
    """A config whose image is `repository:` + the tag a pipeline passes (docs' `tag: env.GIT_COMMIT`): the
    sandbox's ECR gets the repository and a tiny image at that tag, as an earlier build job would have pushed it."""
    from tests.sandbox.conftest import push_image

    assert sandbox.registry, "the sandbox has no registry (docker-registry is not installed)"
    uri = sandbox.client("ecr").create_repository(repositoryName=service)["repository"]["repositoryUri"]
    push_image(sandbox.registry, uri.split("/", 1)[1], tag)
    text = CONFIG_YAML.format(cluster=cluster, service=service)
    image_line = "      image: public.ecr.aws/nginx/nginx:1.27\n"
    assert image_line in text
    text = text.replace(image_line, "").replace("task:\n", f"repository: {{name: {service}}}\ntask:\n", 1)
    path = directory / name
    path.write_text(text)
    return path


def child_env(sandbox: SandboxProcess, **extra: str) -> dict[str, str]:
    """The test process's environment without AWS/CI_ECS/CI variables, plus the sandbox's."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "CI_ECS_", "GITHUB_", "GITLAB_", "CI_", "RUNNER_"))}
    env.pop("CI", None)
    env.update(sandbox.env())
    env.update(extra)
    return env


def copy_repo(destination: Path) -> Path:
    """The repository's files (tracked and untracked, not ignored) in a fresh git repository with one commit."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, check=True, capture_output=True).stdout.decode().split("\0")
    destination.mkdir(parents=True, exist_ok=True)
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git = ["git", "-c", "user.name=ci-ecs tests", "-c", "user.email=tests@ci-ecs.invalid",
           "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=destination, check=True)
    subprocess.run([*git, "add", "-A"], cwd=destination, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "test copy"], cwd=destination, check=True)
    return destination
