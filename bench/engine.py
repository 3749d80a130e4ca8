"""A Docker engine for scenario 7 (the sandbox's docker runtime): DOCKER_HOST's when it answers, else a private
dockerd (testing.md's recipe: vfs storage, no iptables, no default bridge) in a scratch directory.

The images are built FROM scratch with the machine's static busybox: nothing is pulled.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _ping(host: str | None) -> bool:
    try:
        import docker

        client = docker.DockerClient(base_url=host, timeout=5) if host else docker.from_env(timeout=5)
        client.ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means: not this engine
        return False


@contextlib.contextmanager
def docker_engine(root: Path) -> Iterator[dict[str, str] | None]:
    """The variables that point clients at an engine (DOCKER_HOST), or None when there is none to be had."""
    if os.environ.get("DOCKER_HOST") and _ping(os.environ["DOCKER_HOST"]):
        yield {"DOCKER_HOST": os.environ["DOCKER_HOST"]}
        return
    dockerd = shutil.which("dockerd")
    if dockerd is None or os.geteuid() != 0:
        yield None
        return
    root.mkdir(parents=True, exist_ok=True)
    sock = root / "d.sock"
    log = open(root / "dockerd.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen([dockerd, "--iptables=false", "--bridge=none", "--storage-driver=vfs",
                                "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
                                "--pidfile", str(root / "d.pid"), "-H", f"unix://{sock}"],
                               stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    env = {"DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": str(root / "client")}
    try:
        deadline = time.monotonic() + 40
        while not _ping(env["DOCKER_HOST"]):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not start: {(root / 'dockerd.log').read_text()[-800:]}")
            time.sleep(0.3)
        yield env
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def page_image(client: Any, busybox: str, repository: str, tag: str, text: str) -> str:
    """Build REPOSITORY:TAG (FROM scratch, busybox, an index.html saying `text`), push it; its reference."""
    with tempfile.TemporaryDirectory(prefix="ci-ecs-bench-image-") as context:
        shutil.copy(busybox, Path(context) / "busybox")
        (Path(context) / "index.html").write_text(f"<p>{text}</p>\n")
        (Path(context) / "Dockerfile").write_text(
            "FROM scratch\nCOPY busybox /bin/busybox\nCOPY busybox /bin/sh\nCOPY index.html /www/index.html\n")
        client.images.build(path=context, tag=f"{repository}:{tag}", rm=True, network_mode="none")
    client.images.push(repository, tag)
    return f"{repository}:{tag}"
