"""The doc blocks that need a Docker engine (test_docs_examples.py plans them; here they deploy): builds and
pushes (`image.build`), `verify` (only the sandbox's docker runtime runs tasks that answer), and
`ci-ecs sandbox --runtime docker`. One sandbox with the docker runtime on the session's private engine; this
module is in the "docker" xdist group with every other engine test outside tests/e2e (tests/conftest.py).

What the blocks name and a user has: a Dockerfile with a `runtime` stage next to the config (FROM scratch with
Debian's static busybox, nothing is pulled), and for `verify` an image whose server answers `/health` with `ok`
on port 8080 (the block names no image: any such image will do).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_ecs.sandbox import Sandbox
from tests.conftest import require_tool, with_ctrl_c
from tests.docs.blocks import Block
from tests.docs.test_docs_examples import (
    BLOCKS,
    ENGINE_SH,
    MAPPED_LINES,
    Resources,
    _ci_ecs,
    _env,
    _kind,
    config_args,
    merged_config,
    needs_engine,
    runnable_config,
    shell_script,
)

pytestmark = [pytest.mark.docker, pytest.mark.registry]


def _engine_configs() -> list[Any]:
    out = []
    for index, block in enumerate(BLOCKS):
        if _kind(block) in ("config", "config-partial") and needs_engine(merged_config(block, f"docs-{index}")):
            out.append(pytest.param(block, id=block.id))
    return out


# The command blocks that build or run on an engine, and the config block (by its first line after the
# `# partial:` line) they run with as ci-ecs.yml.
ENGINE_COMMANDS = {
    'ci-ecs push -c ci-ecs.yml --tag "$GIT_COMMIT"': "repository: {name: hello, tag_mutability: IMMUTABLE}",
    'ci-ecs push -c ci-ecs.yml --tag "$(git rev-parse --short HEAD)"': "repository: {name: hello, public: true}",
}
# A line that runs in the foreground until Ctrl-C: started, seen ready, then interrupted (exit 0); --port 0
# because another run may hold the default port.
SERVER_LINES = {
    'ci-ecs sandbox --runtime docker     # or CI_ECS_SANDBOX_RUNTIME=docker; Sandbox(runtime="docker")':
        "ci-ecs sandbox --runtime docker --port 0",
}


def _engine_commands() -> list[Any]:
    return [pytest.param(b, id=b.id) for b in BLOCKS
            if _kind(b) == "sh" and any(b.text.startswith(p) for p in (*ENGINE_COMMANDS, *SERVER_LINES))]


def _config_block(first_line: str) -> Block:
    (block,) = [b for b in BLOCKS if _kind(b) in ("config", "config-partial")
                and b.text.splitlines()[1 if b.partial else 0] == first_line]
    return block


@pytest.fixture(scope="module")
def busybox(docker_env: dict[str, str]) -> str:
    return require_tool("busybox", hint="Debian busybox-static")


def build_context(folder: Path, busybox: str) -> None:
    """The Dockerfile a build block names (context `.`, stage `runtime`, build arg VERSION): FROM scratch."""
    shutil.copy(busybox, folder / "busybox")
    (folder / "Dockerfile").write_text(
        "FROM scratch AS runtime\nARG VERSION=dev\nLABEL version=$VERSION\nCOPY busybox /bin/busybox\n"
        'CMD ["/bin/busybox", "httpd", "-f", "-p", "80"]\n')


@pytest.fixture(scope="module")
def health_image(docker_client: Any, busybox: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An image whose server answers /health with `ok` on 8080 (what the verify block probes), in the engine."""
    context = tmp_path_factory.mktemp("health")
    shutil.copy(busybox, context / "busybox")
    (context / "health").write_text("ok\n")
    (context / "Dockerfile").write_text(
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY health /www/health\n"
        'CMD ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]\n')
    tag = "ci-ecs-docs/health:1"
    docker_client.images.build(path=str(context), tag=tag, rm=True, network_mode="none")
    return tag


@pytest.fixture(scope="module")
def sandbox(docker_env: dict[str, str]) -> Iterator[Sandbox]:
    with Sandbox(port=0, registry_port=0, task_start_seconds=0.3, validate_responses=True, runtime="docker",
                 docker_host=docker_env["DOCKER_HOST"]) as sb:
        if sb.registry is None:
            require_tool("docker-registry")
        yield sb
        violations = sb.take_violations()
        assert not violations, "sandbox responses that botocore's model refuses:\n" + "\n".join(violations[:20])


def _engine_env(sandbox: Sandbox, docker_env: dict[str, str], home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {**_env(sandbox, home), **docker_env, "DOCKER_BUILDKIT": "0"}


@pytest.mark.parametrize("block", _engine_configs())
def test_engine_config_block_deploys(block: Block, sandbox: Sandbox, docker_env: dict[str, str], busybox: str,
                                     health_image: str, tmp_path: Path) -> None:
    config = runnable_config(block, Resources(ids={}, registry=str(sandbox.registry)), f"engine-{tmp_path.name}")
    (tmp_path / "ci-ecs.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    args = config_args(config)
    if config.get("verify") and args[:1] == ["--image"]:
        args = ["--image", health_image]  # the block names no image: one that answers what verify asks
    if (config.get("image") or {}).get("build"):
        build_context(tmp_path, busybox)
    env = _engine_env(sandbox, docker_env, tmp_path / "home")
    plan = _ci_ecs("plan", "-c", "ci-ecs.yml", *args, cwd=tmp_path, env=env)
    assert plan.code == 0, plan.stderr[-3000:]
    deploy = _ci_ecs("deploy", "-c", "ci-ecs.yml", *args, cwd=tmp_path, env=env, timeout=300)
    assert deploy.code == 0, deploy.stderr[-4000:] + "\n" + yaml.safe_dump(config)


@pytest.mark.parametrize("block", _engine_commands())
def test_engine_command_block_runs(block: Block, sandbox: Sandbox, docker_env: dict[str, str], busybox: str,
                                   tmp_path: Path) -> None:
    from tests.wrappers.conftest import copy_repo

    env = _engine_env(sandbox, docker_env, tmp_path / "home")
    server = next((line for prefix, line in SERVER_LINES.items() if block.text.startswith(prefix)), None)
    if server is not None:
        _run_server(server, env, tmp_path)
        return
    repo = copy_repo(tmp_path / "ci-ecs")
    first = next(p for p in ENGINE_COMMANDS if block.text.startswith(p))
    config_block = _config_block(ENGINE_COMMANDS[first])
    config = runnable_config(config_block, Resources(ids={}, registry=str(sandbox.registry)), "engine-commands")
    (repo / "ci-ecs.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    build_context(repo, busybox)
    script = shell_script(block, sandbox.endpoint_url)
    proc = subprocess.run(["bash", "-e", "-x", "-o", "pipefail", "-c", script], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"--- script\n{script}\n--- output\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"


def _run_server(line: str, env: dict[str, str], folder: Path) -> None:
    env = {k: v for k, v in env.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen(with_ctrl_c(["bash", "-c", f"exec {line}"]), cwd=folder, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        out = proc.stdout.readline()
        if not out:
            break
        seen.append(out)
        if out.startswith("sandbox ready"):
            break
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    try:
        rest, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        rest, _ = proc.communicate()
    text = "".join(seen) + (rest or "")
    assert any(s.startswith("sandbox ready") for s in seen), text[-3000:]
    assert re.search(r"AWS_ENDPOINT_URL=http://127\.0\.0\.1:\d+", text), text[-3000:]
    assert proc.returncode in (0, 130), f"exit {proc.returncode}: {text[-3000:]}"


def test_engine_lists_name_doc_lines() -> None:
    firsts = [b.text for b in BLOCKS if _kind(b) == "sh"]
    for prefix in (*ENGINE_COMMANDS, *SERVER_LINES):
        assert any(text.startswith(prefix) for text in firsts), f"no command block starts with {prefix!r}"
    for first_line in ENGINE_COMMANDS.values():
        _config_block(first_line)
    assert not set(SERVER_LINES) & set(MAPPED_LINES)
    # test_docs_examples.py leaves exactly these to this module.
    assert sorted(ENGINE_SH) == sorted([*ENGINE_COMMANDS, *(line.split("  ")[0] for line in SERVER_LINES)])
