"""`ci-ecs demo`: start the sandbox in-process and deploy examples/hello through the real deploy path.

With a Docker engine and the sandbox's registry, the demo runs the sandbox's docker runtime: it builds
examples/hello on a base image made offline (FROM scratch + the machine's static busybox), pushes it to
the sandbox's ECR, deploys it with `verify`, then fetches the page from a task's public IP (a loopback
address) and prints it. Without them it deploys a public image on the simulated runtime, as it says.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ecs.config import load_config
from ci_ecs.deploy import DeployResult, deploy
from ci_ecs.errors import ConfigError, ImageEngineError, ImageNotFoundError

if TYPE_CHECKING:
    from ci_ecs.sandbox import Sandbox

log = logging.getLogger(__name__)

# Used when no Docker engine can build examples/hello: the sandbox counts images outside its ECR as pullable.
FALLBACK_IMAGE = "public.ecr.aws/docker/library/busybox:1.36"
# The offline base image the demo builds for examples/hello (its Dockerfile's BASE build argument).
BASE_IMAGE = "ci-ecs-demo/busybox:static"
# What the demo's deploy checks every task answers (examples/hello/index.html).
DEMO_VERIFY = {"path": "/", "body": "Hello from ci-ecs", "within": 60}


def example_dir() -> Path:
    """examples/hello of this checkout (the demo runs from a source tree)."""
    return Path(__file__).resolve().parent.parent / "examples" / "hello"


def _engine_reachable() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:  # any failure means: no engine we can use
        return False


def _is_static(path: str) -> bool:
    """Whether the ELF file at `path` has no program interpreter (PT_INTERP): it runs in a scratch image."""
    import struct

    try:
        with open(path, "rb") as handle:
            head = handle.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit ELF only
                return False
            order = "<" if head[5] == 1 else ">"
            phoff, = struct.unpack_from(order + "Q", head, 32)
            phentsize, phnum = struct.unpack_from(order + "HH", head, 54)
            handle.seek(phoff)
            table = handle.read(phentsize * phnum)
    except (OSError, struct.error):
        return False
    return all(struct.unpack_from(order + "I", table, i * phentsize)[0] != 3 for i in range(phnum))


def static_busybox() -> str | None:
    """A statically linked busybox on this machine (Debian/Ubuntu: busybox-static), or None."""
    for candidate in (shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox"):
        if candidate and os.path.isfile(candidate) and _is_static(candidate):
            return candidate
    return None


def _base_image() -> str | None:
    """Build BASE_IMAGE (FROM scratch + a static busybox) in the engine, with no network; None if impossible."""
    busybox = static_busybox()
    if busybox is None:
        log.warning("no static busybox on this machine (Debian/Ubuntu: apt-get install busybox-static): "
                    "the demo cannot build its base image offline")
        return None
    import docker

    with tempfile.TemporaryDirectory(prefix="ci-ecs-demo-") as context:
        shutil.copy(busybox, os.path.join(context, "busybox"))
        with open(os.path.join(context, "Dockerfile"), "w", encoding="utf-8") as dockerfile:
            dockerfile.write("FROM scratch\nCOPY busybox /bin/busybox\nCOPY busybox /bin/sh\n")
        try:
            docker.from_env(timeout=120).images.build(path=context, tag=BASE_IMAGE, rm=True, network_mode="none")
        except Exception as exc:  # the engine's own error, said once; the demo carries on without it
            log.warning("could not build the demo's base image: %s", exc)
            return None
    return BASE_IMAGE


def fetch_page(result: DeployResult, port: int = 80) -> tuple[str, str]:
    """(URL, text) of the page the first public IP serves; only a loopback address (the docker sandbox's)."""
    ip = result.publicIps[0]
    if not ipaddress.ip_address(ip).is_loopback:
        raise ConfigError(f"{ip} is not a sandbox address: the demo fetches only from 127.0.0.0/8")
    url = f"http://{ip}/" if port == 80 else f"http://{ip}:{port}/"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # straight to the loopback address
    with opener.open(url, timeout=10) as answer:
        return url, answer.read(64 * 1024).decode("utf-8", errors="replace")


def load_sandbox() -> type[Sandbox]:
    """The Sandbox class, or a one-line usage error saying how to install the `sandbox` extra.

    The extra (moto[server] and what it pulls in) is optional: `pip install ci-ecs` alone cannot run the demo.
    """
    try:
        from ci_ecs.sandbox import Sandbox as sandbox_class
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] == "ci_ecs":
            raise  # our own module missing is a broken install, not a missing extra
        raise ConfigError(f"the demo needs the sandbox extra ({exc.name} is not installed): "
                          "pip install 'ci-ecs[sandbox]'") from None
    return sandbox_class


def run_demo(echo: Callable[[str], Any] = print, task_start_seconds: float = 1.0) -> DeployResult:
    """Start a sandbox, deploy examples/hello to it (building the image when an engine is reachable), stop it.

    With an engine, a static busybox and docker-registry: the docker runtime, a deploy with `verify`, and
    the page fetched from a task's public IP and echoed.
    """
    sandbox_class = load_sandbox()
    directory = example_dir()
    config_path = directory / "ci-ecs.yml"
    engine = _engine_reachable()
    base = _base_image() if engine and shutil.which("docker-registry") else None
    if engine and base is None:
        log.warning("the demo runs the simulated runtime: it needs a static busybox and docker-registry to "
                    "run examples/hello as real containers")
    runtime = "docker" if base else "simulated"
    with sandbox_class(port=0, registry_port=0, task_start_seconds=task_start_seconds, runtime=runtime) as sandbox:
        echo(f"sandbox: AWS endpoint {sandbox.endpoint_url}, registry {sandbox.registry or '(none)'}, "
             f"runtime {runtime}")
        saved = {name: os.environ.get(name) for name in sandbox.env()}
        os.environ.update(sandbox.env())
        try:
            overrides: dict[str, Any] = {"endpoint_url": sandbox.endpoint_url}
            if base and sandbox.registry:
                log.info("building examples/hello on %s, pushing it to the sandbox's ECR, deploying it with verify",
                         base)
                overrides.update({"image.build.build_args": {"BASE": base}, "verify": DEMO_VERIFY})
                result = deploy(load_config(config_path, overrides), base_dir=directory)
                url, page = fetch_page(result)
                echo(f"{url} answered:")
                for line in page.strip().splitlines():
                    echo(f"  {line}")
                return result
            if sandbox.registry and engine:
                log.info("Docker engine reachable: building examples/hello and pushing it to the sandbox's ECR")
                try:
                    return deploy(load_config(config_path, overrides), base_dir=directory)
                except (ImageEngineError, ImageNotFoundError) as exc:
                    log.warning("could not build examples/hello (%s); deploying %s instead", exc, FALLBACK_IMAGE)
            else:
                log.warning("no Docker engine reachable (set DOCKER_HOST to use one) or no registry: deploying "
                            "the public image %s instead of building examples/hello", FALLBACK_IMAGE)
            overrides["image_uri"] = FALLBACK_IMAGE
            return deploy(load_config(config_path, overrides), base_dir=directory)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
