"""Image step pieces without an engine: token handling, auth file, progress lines, tags, error texts."""

from __future__ import annotations

import base64
import datetime as dt
import io
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ci_ecs.config import BuildConfig, ImageConfig
from ci_ecs.errors import AwsError, ConfigError
from ci_ecs.image import target_tag
from ci_ecs.progress import EXISTS, SENDING, SENT, WAITING, LayerProgress, RichLayerProgress, layer_progress
from ci_ecs.redact import redact
from ci_ecs.registry_auth import EcrCredentials, RegistryLogin, authfile, decode_token
from ci_ecs.skopeo import is_loopback_registry
from tests.conftest import require_tool

from .conftest import Recorder


class FakeEcr:
    """EcrGateway.authorization() with a new password and a chosen lifetime per call."""

    def __init__(self, lifetime: float) -> None:
        self.calls = 0
        self.lifetime = lifetime
        self.now = 1_000_000.0

    def authorization(self) -> dict[str, Any]:
        self.calls += 1
        token = base64.b64encode(f"AWS:password-number-{self.calls}".encode()).decode()
        expires = dt.datetime.fromtimestamp(self.now + self.lifetime, tz=dt.timezone.utc)
        return {
            "authorizationToken": token,
            "expiresAt": expires,
            "proxyEndpoint": "https://1.dkr.ecr.x.amazonaws.com",
        }


def test_token_decodes_and_is_refetched_only_when_about_to_expire() -> None:
    ecr = FakeEcr(lifetime=12 * 3600)
    creds = EcrCredentials(ecr, clock=lambda: ecr.now)  # type: ignore[arg-type]
    login = creds.get()
    assert (login.username, login.password, login.registry) == (
        "AWS",
        "password-number-1",
        "1.dkr.ecr.x.amazonaws.com",
    )
    assert creds.get() is login and ecr.calls == 1
    ecr.now += 12 * 3600 - 100  # inside the refresh margin
    assert creds.get().password == "password-number-2" and ecr.calls == 2
    assert creds.get(force=True).password == "password-number-3"
    assert "password-number" not in repr(login)
    assert redact("auth password-number-3 here") == "auth *** here"


def test_malformed_tokens_are_aws_errors() -> None:
    with pytest.raises(AwsError):
        decode_token("not base64!")
    with pytest.raises(AwsError):
        decode_token(base64.b64encode(b"no-colon").decode())


def test_authfile_is_in_memory_and_readable_by_a_child_only_while_open() -> None:
    login = RegistryLogin("127.0.0.1:5000", "AWS", "in-memory-password")
    with authfile(login) as (path, fd):
        assert fd is not None and path == f"/dev/fd/{fd}"
        assert "memfd:" in os.readlink(f"/proc/self/fd/{fd}")  # no file system holds it
        read = subprocess.run(
            ["cat", path], pass_fds=(fd,), capture_output=True, text=True, check=True
        ).stdout
        twice = subprocess.run(
            ["sh", "-c", f"cat {path}; cat {path}"],
            pass_fds=(fd,),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    assert base64.b64encode(b"AWS:in-memory-password").decode() in read
    assert twice == read * 2  # skopeo may open it more than once
    with pytest.raises(OSError):
        os.fstat(fd)


def test_plain_progress_is_one_line_per_layer(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ci_ecs")
    clock = iter([0.0, 2.0, 5.0, 6.0])
    with layer_progress("push x:1", live=False) as progress:
        progress.clock = lambda: next(clock)
        for event in [("a", WAITING), ("b", WAITING), ("a", SENDING, 1, 4_000_000)]:
            progress.update(*event)  # type: ignore[arg-type]
        for current in range(2, 200):
            progress.update("a", SENDING, current * 10_000, 4_000_000)
        progress.update("a", SENT)
        progress.update("b", EXISTS)
        progress.update("b", EXISTS)  # engines repeat final states
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "push x:1",
        "layer a: sent 4.0 MB in 2.0 s (2.0 MB/s)",
        "layer b: already in the registry",
    ]
    assert progress.summary() == "2 layers: 1 sent (4.0 MB), 1 already in the registry"


def test_rich_progress_shows_bytes_per_layer() -> None:
    out = io.StringIO()
    progress = RichLayerProgress("push x:1", stream=out)
    progress._progress_bar.console.width = 120  # a terminal wide enough for every column
    progress.update("sha256:aaaaaaaaaaaaaaaa", SENDING, 1_000_000, 2_000_000)
    progress.update("sha256:aaaaaaaaaaaaaaaa", SENT)
    progress.close()
    text = out.getvalue()
    assert "layer aaaaaaaaaaaa" in text and "2.0/2.0 MB" in text and "sent" in text
    assert isinstance(progress, LayerProgress)


def test_target_tag_defaults() -> None:
    assert target_tag(ImageConfig(local="hello:dev")) == "dev"
    assert target_tag(ImageConfig(local="hello")) == "latest"
    assert target_tag(ImageConfig(source="docker.io/library/nginx:1.27")) == "1.27"
    assert target_tag(ImageConfig(source="nginx:1.27", tag="mine")) == "mine"
    with pytest.raises(ValidationError, match="image.tag is required with image.build"):
        ImageConfig(build={})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="image.tag is required with image.build"):
        target_tag(ImageConfig.model_construct(build=BuildConfig(), tag=None))
    with pytest.raises(ConfigError, match="pinned by digest"):
        target_tag(ImageConfig(source="nginx@sha256:" + "a" * 64))


def test_loopback_registries_are_plain_http() -> None:
    assert is_loopback_registry("127.0.0.1:5000/a:1")
    assert is_loopback_registry("localhost:5000/a")
    assert is_loopback_registry("[::1]:5000/a")
    assert not is_loopback_registry("nginx:1.27")
    assert not is_loopback_registry("123456789012.dkr.ecr.us-east-1.amazonaws.com/a:1")


def test_the_leak_detectors_do_detect(tmp_path: Path) -> None:
    """The argv checks of the end-to-end tests would see a password passed the way --dest-creds would."""
    recorder = Recorder(tmp_path)
    secret = "detector-probe-secret-123"
    with recorder:
        subprocess.run(["sh", "-c", "sleep 0.3", "sh", f"--dest-creds=AWS:{secret}"], check=True)
    assert any(secret in seen for seen in recorder.seen)


def test_the_skopeo_shim_records_its_arguments(tmp_path: Path) -> None:
    """The Recorder's skopeo shim logs a child's argv, so a password on skopeo's command line would be seen."""
    require_tool("skopeo")
    recorder = Recorder(tmp_path)
    secret = "shim-probe-secret-456"
    with recorder:
        subprocess.run([str(recorder.shims / "skopeo"), "--version", f"--creds={secret}"], capture_output=True)
    assert secret in recorder.children()
