"""Real parts for the image tests: a private dockerd, registries that log every request, the sandbox.

- dockerd (testing.md's recipe, vfs storage) for the whole session.
- `Registry`: Debian's docker-registry with its access log on, so a test can count blob uploads
  (POST/PUT/PATCH to /v2/<name>/blobs/uploads/) and, optionally, htpasswd authentication.
- the sandbox, per module (moto's state is process-wide), with such a registry as its ECR data plane.
- `Recorder`: the argv and environment of every skopeo/docker child (PATH shims that log then exec
  the real program) plus a /proc poller, so a test can prove the ECR password reached no argv.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from tests.conftest import Run, require_tool

pytestmark = [pytest.mark.docker, pytest.mark.registry]

_UPLOAD = re.compile(r'"(?:POST|PUT|PATCH) /v2/\S+/blobs/uploads/')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Registry:
    """A docker-registry process with an access log; `htpasswd` = {user: password} turns on basic auth."""

    def __init__(self, root: Path, htpasswd: dict[str, str] | None = None) -> None:
        self.program = require_tool("docker-registry")
        self.root = root
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log_path = root / "registry.log"
        root.mkdir(parents=True, exist_ok=True)
        auth = ""
        if htpasswd:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                try:
                    import crypt  # bcrypt through libc: the registry only reads bcrypt htpasswd entries
                except ImportError:  # Python 3.13 dropped the module
                    if os.environ.get("CI_ECS_REQUIRE_ALL"):
                        pytest.fail("the crypt module (bcrypt for htpasswd) is required in CI")
                    pytest.skip("the crypt module is not available to write an htpasswd file")

            lines = [
                f"{user}:{crypt.crypt(pw, crypt.mksalt(crypt.METHOD_BLOWFISH))}"
                for user, pw in htpasswd.items()
            ]
            (root / "htpasswd").write_text("\n".join(lines) + "\n")
            auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {root / 'htpasswd'}\n"
        (root / "config.yml").write_text(
            "version: 0.1\nlog:\n  level: info\n"
            f"storage:\n  filesystem:\n    rootdirectory: {root / 'storage'}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.address}\n{auth}"
        )
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [self.program, "serve", str(root / "config.yml")],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"docker-registry did not start: {self.log_path.read_text()[-1000:]}")
                time.sleep(0.05)

    def blob_uploads(self) -> int:
        """Blob upload requests (start, chunk, finish) the registry has served so far."""
        return sum(
            1 for line in self.log_path.read_text(errors="replace").splitlines() if _UPLOAD.search(line)
        )

    def stop(self) -> None:
        """Stop the process (its storage stays in the test's tmp dir)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def busybox_context(path: Path, extra: str = "") -> Path:
    """A FROM scratch build context with /bin/busybox (Debian busybox-static); `extra` changes the image."""
    busybox = require_tool("busybox")
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(busybox, path / "busybox")
    lines = ["FROM scratch", "COPY busybox /bin/busybox"]
    if extra:
        (path / "extra.txt").write_text(extra)
        lines.append("COPY extra.txt /extra.txt")
    lines.append('CMD ["/bin/busybox", "httpd", "-f", "-p", "8080"]')
    (path / "Dockerfile").write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The sandbox, whose ECR data plane is a `Registry` with an access log (`sandbox.test_registry`)."""
    require_tool("docker-registry")
    from ci_ecs.sandbox import Sandbox
    from ci_ecs.sandbox.registry import RegistryClient

    root = tmp_path_factory.mktemp("ecr-registry")

    class LoggingSandbox(Sandbox):
        # The sandbox's own registry runs with its access log off; the blob-upload count needs it on.
        test_registry: Registry

        def _start_registry(self) -> RegistryClient:
            self.test_registry = Registry(root)
            self._registry_process = self.test_registry  # type: ignore[assignment]  # stop() is all it needs
            self.registry_port = self.test_registry.port
            return RegistryClient(self.test_registry.address)

    # Test mode: every response is checked against botocore's model (check_sandbox_responses).
    with LoggingSandbox(port=0, task_start_seconds=0.3, validate_responses=True) as sb:
        yield sb


@pytest.fixture(autouse=True)
def check_sandbox_responses(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test during which the sandbox answered something botocore's model refuses."""
    yield
    if "sandbox" in request.fixturenames:
        violations = request.getfixturevalue("sandbox").take_violations()
        if violations:
            pytest.fail("sandbox responses that botocore's model refuses:\n" + "\n".join(violations[:20]))


_SHIM = """#!/bin/sh
{{ printf 'argv:'; for a in "$0" "$@"; do printf ' %s' "$a"; done; printf '\\n'
  env | sed 's/^/env: /'; }} >> "{log}"
exec "{real}" "$@"
"""


class Recorder:
    """Records every skopeo/docker child's argv and environment, and polls /proc for all processes."""

    def __init__(self, root: Path) -> None:
        self.shims = root / "shims"
        self.shims.mkdir(parents=True, exist_ok=True)
        self.log = root / "children.log"
        self.log.touch()
        for name in ("skopeo", "docker", "docker-credential-ecr-login"):
            real = shutil.which(name)
            if real:
                shim = self.shims / name
                shim.write_text(_SHIM.format(log=self.log, real=real))
                shim.chmod(0o755)
        self.seen: set[str] = set()  # every command line and environment
        self.seen_argv: set[str] = set()  # command lines only
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _poll(self) -> None:
        while not self._stop.is_set():
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit() or int(entry.name) == os.getpid():
                    continue
                for part in ("cmdline", "environ"):
                    try:
                        with open(f"/proc/{entry.name}/{part}", "rb") as fh:
                            text = fh.read().decode(errors="replace").replace("\0", " ")
                    except OSError:
                        continue
                    self.seen.add(text)
                    if part == "cmdline":
                        self.seen_argv.add(text)
            time.sleep(0.002)

    def __enter__(self) -> Recorder:
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def children(self) -> str:
        """What the shims logged."""
        return self.log.read_text(errors="replace")

    def children_argv(self) -> str:
        """The command lines the shims logged."""
        return "\n".join(line for line in self.children().splitlines() if line.startswith("argv:"))


AWS_SECRET_KEY = "ciEcsImagesTestSecretKey/K7MDENG/bPxRfiCYEXAMPLE"
AWS_SESSION_TOKEN = "ciEcsImagesTestSessionToken0123456789abcdefEXAMPLE"


class Project:
    """A cluster of its own in the module's sandbox, and the real `ci-ecs` command run against it."""

    def __init__(self, sandbox: Any, docker_env: dict[str, str], tmp_path: Path) -> None:
        self.sandbox = sandbox
        self.tmp_path = tmp_path
        self.home = tmp_path / "home"
        self.home.mkdir()
        (tmp_path / "tmp").mkdir()
        self.cluster = f"c-{uuid.uuid4().hex[:8]}"
        self.recorder = Recorder(tmp_path)
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CI_ECS_", "DOCKER_"))}
        self.env = {
            **clean,
            **sandbox.env(),
            **docker_env,
            "HOME": str(self.home),
            "TMPDIR": str(tmp_path / "tmp"),
            "PATH": f"{self.recorder.shims}:{os.environ.get('PATH', '')}",
            "CI": "true",
            # Recognisable AWS secrets (the sandbox accepts any): they must not leak either.
            "AWS_SECRET_ACCESS_KEY": AWS_SECRET_KEY,
            "AWS_SESSION_TOKEN": AWS_SESSION_TOKEN,
        }
        kwargs = {
            "endpoint_url": sandbox.endpoint_url,
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        self.ecr = boto3.client("ecr", **kwargs)
        self.ecs = boto3.client("ecs", **kwargs)
        token = self.ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
        self.secrets = [token, base64.b64decode(token).decode().split(":", 1)[1]]
        # The user hands these to ci-ecs in its environment, so its own environ holds them by design:
        # they are checked everywhere else, argv included.
        self.user_secrets = [AWS_SECRET_KEY, AWS_SESSION_TOKEN]
        self.runs: list[Run] = []

    def config(self, repository: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
        return {
            "region": "us-east-1",
            "cluster": self.cluster,
            "repository": repository,
            "image": image,
            "task": {
                "family": f"{self.cluster}-web",
                "cpu": "256",
                "memory": "512",
                "network_mode": "awsvpc",
                "requires_compatibilities": ["FARGATE"],
                "execution_role_arn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
                "containers": [{"name": "web", "port_mappings": [{"container_port": 8080}],
                                "secrets": {"DB_PASSWORD": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"}}],
            },
            "service": {
                "name": "web",
                "desired_count": 1,
                "launch_type": "FARGATE",
                "assign_public_ip": True,
            },
            "deploy": {"timeout": 60},
        }

    def run(
        self,
        config: dict[str, Any],
        *args: str,
        command: str = "deploy",
        env: dict[str, str] | None = None,
        timeout: float = 180,
    ) -> Run:
        path = self.tmp_path / "ci-ecs.yml"
        path.write_text(yaml.safe_dump(config))
        ci_ecs = require_tool("ci-ecs")
        with self.recorder:
            done = subprocess.run(
                [ci_ecs, command, "-c", str(path), "--output", "json", *args],
                env={**self.env, **(env or {})},
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=self.tmp_path,
            )
        sys.stderr.write(done.stderr)
        run = Run(done.returncode, done.stdout, done.stderr)
        self.runs.append(run)
        return run

    def tag_digest(self, repository: str, tag: str) -> str | None:
        try:
            found = self.ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
        except self.ecr.exceptions.ImageNotFoundException:
            return None
        return str(found["imageDetails"][0]["imageDigest"])

    def assert_no_secret_leaked(self) -> None:
        """The ECR password and token: in no output, no file under HOME or TMPDIR, no child's argv or env."""
        places: dict[str, str] = {}
        for index, run in enumerate(self.runs):
            places[f"run {index} stdout"] = run.stdout
            places[f"run {index} stderr"] = run.stderr
        for base in (self.home, self.tmp_path / "tmp"):
            for file in base.rglob("*"):
                if file.is_file():
                    places[str(file)] = file.read_bytes().decode(errors="replace")
        for secret in self.user_secrets:
            argv = {**places, "children's argv (shims)": self.recorder.children_argv(),
                    "argv (/proc)": "\n".join(self.recorder.seen_argv)}
            for where, text in argv.items():
                assert secret not in text, f"an AWS credential leaked into {where}"
        places["children (shims)"] = self.recorder.children()
        places["processes (/proc)"] = "\n".join(self.recorder.seen)
        for secret in self.secrets:
            for where, text in places.items():
                assert secret not in text, f"the ECR credential leaked into {where}"


@pytest.fixture
def project(sandbox: Any, docker_env: dict[str, str], tmp_path: Path) -> Project:
    """A fresh cluster and working directory in the module's sandbox."""
    return Project(sandbox, docker_env, tmp_path)
