"""`ci-ecs demo`: start the sandbox in-process and deploy examples/hello through the real deploy path."""

from __future__ import annotations

import logging
import os
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
    """Start a sandbox, deploy examples/hello to it (building the image when an engine is reachable), stop it."""
    sandbox_class = load_sandbox()
    directory = example_dir()
    config_path = directory / "ci-ecs.yml"
    with sandbox_class(port=0, registry_port=0, task_start_seconds=task_start_seconds) as sandbox:
        echo(f"sandbox: AWS endpoint {sandbox.endpoint_url}, registry {sandbox.registry or '(none)'}")
        saved = {name: os.environ.get(name) for name in sandbox.env()}
        os.environ.update(sandbox.env())
        try:
            overrides: dict[str, Any] = {"endpoint_url": sandbox.endpoint_url}
            if sandbox.registry and _engine_reachable():
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
