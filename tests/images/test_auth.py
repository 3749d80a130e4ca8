"""The login really travels: pushes and copies into a registry that checks passwords (htpasswd)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from ci_ecs import engine, skopeo
from ci_ecs.errors import ImageEngineError
from ci_ecs.progress import LayerProgress
from ci_ecs.registry_auth import RegistryLogin
from tests.conftest import require_tool

from .conftest import Recorder, Registry, busybox_context

pytestmark = [pytest.mark.docker, pytest.mark.registry]
PASSWORD = "htpasswd-checked-password-42"


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Any:
    registry = Registry(tmp_path_factory.mktemp("locked"), htpasswd={"AWS": PASSWORD})
    yield registry
    registry.stop()


def test_engine_push_authenticates_in_memory(
    locked: Registry,
    docker_env: dict[str, str],
    docker_client: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in docker_env.items():
        monkeypatch.setenv(name, value)
    image, _ = docker_client.images.build(path=str(busybox_context(tmp_path / "c", extra="auth")), rm=True)
    client = engine.connect()
    repository = f"{locked.address}/private"
    with pytest.raises(engine.AuthenticationFailed):
        engine.push(
            client,
            image.id,
            repository,
            "1",
            RegistryLogin(locked.address, "AWS", "wrong-password"),
            LayerProgress("push"),
        )
    progress = LayerProgress("push")
    digest = engine.push(
        client, image.id, repository, "1", RegistryLogin(locked.address, "AWS", PASSWORD), progress
    )
    assert digest.startswith("sha256:") and progress.sent >= 1
    again = LayerProgress("push")
    assert (
        engine.push(client, image.id, repository, "1", RegistryLogin(locked.address, "AWS", PASSWORD), again)
        == digest
    )
    assert again.sent == 0 and again.existing >= 1  # layers the registry has are not sent again
    assert not (Path(docker_env["DOCKER_CONFIG"]) / "config.json").exists()


def test_skopeo_copy_authenticates_through_the_memfd(
    locked: Registry, docker_client: Any, tmp_path: Path
) -> None:
    program = require_tool("skopeo")
    source = Registry(tmp_path / "source")
    try:
        docker_client.images.build(
            path=str(busybox_context(tmp_path / "s", extra="copy")), tag=f"{source.address}/app:1", rm=True
        )
        list(docker_client.images.push(f"{source.address}/app", tag="1", stream=True))
        raw = skopeo.inspect_raw(program, f"{source.address}/app:1")
        target = f"{locked.address}/copied:1"
        with pytest.raises(ImageEngineError, match="(?i)unauthorized|authentication"):
            skopeo.copy(
                program,
                f"{source.address}/app:1",
                target,
                RegistryLogin(locked.address, "AWS", "nope"),
                LayerProgress("copy"),
            )
        recorder = Recorder(tmp_path / "rec")
        with recorder:
            skopeo.copy(
                program,
                f"{source.address}/app:1",
                target,
                RegistryLogin(locked.address, "AWS", PASSWORD),
                LayerProgress("copy"),
            )
        assert PASSWORD not in "\n".join(recorder.seen)
        inspected = subprocess.run(
            [
                program,
                "inspect",
                "--raw",
                "--tls-verify=false",
                f"--creds=AWS:{PASSWORD}",
                f"docker://{target}",
            ],
            capture_output=True,
            check=True,
        ).stdout
        assert skopeo.manifest_digest(inspected) == skopeo.manifest_digest(raw)
    finally:
        source.stop()
