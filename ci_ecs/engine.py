"""The Docker engine, through the Docker SDK: connect, build, inspect a local image, tag and push.

The engine is the one in DOCKER_HOST (with DOCKER_TLS_VERIFY / DOCKER_CERT_PATH), else the default
socket, as `docker.from_env()` finds it. Pushes authenticate with `auth_config` in memory: the engine
gets it in the X-Registry-Auth header of that one request; nothing is written to a Docker config file.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_ecs.config import BuildConfig
from ci_ecs.errors import ConfigError, ImageConflictError, ImageEngineError, ImageNotFoundError
from ci_ecs.progress import EXISTS, SENDING, SENT, WAITING, LayerProgress
from ci_ecs.redact import redact
from ci_ecs.registry_auth import RegistryLogin

log = logging.getLogger(__name__)

NO_ENGINE = "no Docker engine reachable (set DOCKER_HOST or use image.source)"
# Builds and pushes stream events; a read can still wait long for a slow RUN step with no output.
ENGINE_TIMEOUT_SECONDS = 900


class AuthenticationFailed(ImageEngineError):
    """The registry refused the credentials (a new token may help)."""


@dataclass(frozen=True)
class LocalImage:
    """An image in the engine: its ID (the config digest) and the digests registries gave it."""

    reference: str
    id: str
    repo_digests: tuple[str, ...]
    repo_tags: tuple[str, ...]

    def digest_in(self, repository_uri: str) -> str | None:
        """The manifest digest `repository_uri` is known to hold for this image, from RepoDigests."""
        for entry in self.repo_digests:
            name, _, digest = entry.partition("@")
            if name == repository_uri and digest:
                return digest
        return None


def connect() -> Any:
    """A Docker SDK client for the engine the environment names; ImageEngineError when none answers."""
    try:
        import docker
        import docker.errors
    except ImportError:
        raise ImageEngineError(f"{NO_ENGINE}: the docker Python package is not installed") from None
    try:
        client = docker.from_env(timeout=ENGINE_TIMEOUT_SECONDS)
        client.ping()
    except Exception as exc:  # DockerException, requests' connection errors, a socket that is not an engine
        where = os.environ.get("DOCKER_HOST") or "the default socket"
        raise ImageEngineError(f"{NO_ENGINE}: {_one_line(f'{where}: {_reason(exc)}')}") from None
    return client


def _reason(exc: BaseException) -> str:
    """What went wrong, in words: the OS error under requests'/urllib3's wrappers, not their tuple repr.

    docker-py reports a missing socket as "Error while fetching server API version: ('Connection
    aborted.', FileNotFoundError(2, 'No such file or directory'))"; this returns "No such file or directory".
    """
    seen: set[int] = set()
    pending: list[Any] = [exc]
    while pending:
        current = pending.pop(0)
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return f"{current.strerror}: {current.filename}" if current.filename else str(current.strerror)
        pending.extend([current.__cause__, current.__context__, *current.args])
    return str(exc)


def _one_line(text: str, limit: int = 300) -> str:
    return redact(" ".join(text.split()))[:limit]


def inspect_local(client: Any, reference: str) -> LocalImage:
    """The engine's image `reference` (a name:tag or an ID); ImageNotFoundError when it has none."""
    import docker.errors

    try:
        attrs = client.api.inspect_image(reference)
    except docker.errors.ImageNotFound:
        raise ImageNotFoundError(
            f"image {reference} is not in the Docker engine (image.local): build or pull it first",
            reference=reference,
        ) from None
    except docker.errors.DockerException as exc:
        raise ImageEngineError(f"inspect image {reference}: {_one_line(str(exc))}") from None
    return LocalImage(
        reference=reference,
        id=str(attrs["Id"]),
        repo_digests=tuple(attrs.get("RepoDigests") or ()),
        repo_tags=tuple(attrs.get("RepoTags") or ()),
    )


def build(client: Any, config: BuildConfig, base_dir: Path) -> str:
    """Build `config` and return the image ID.

    The context is relative to `base_dir` (the config file's directory), the dockerfile to the context.

    Build output goes to the log line by line (CI logs want the build's own words when a step fails).
    """
    import docker.errors

    context = (base_dir / config.context).resolve()
    if not context.is_dir():
        raise ConfigError(f"build context {context} is not a directory", key="image.build.context")
    dockerfile = Path(config.dockerfile)
    if not (dockerfile if dockerfile.is_absolute() else context / dockerfile).is_file():
        raise ConfigError(
            f"Dockerfile {config.dockerfile} not found in {context}", key="image.build.dockerfile"
        )
    log.info("build %s (Dockerfile %s)", context, config.dockerfile)
    image_id: str | None = None
    tail: deque[str] = deque(maxlen=15)
    try:
        events = client.api.build(
            path=str(context),
            dockerfile=config.dockerfile,
            buildargs=config.build_args or None,
            target=config.target,
            platform=config.platform,
            labels=config.labels or None,
            rm=True,
            forcerm=True,
            decode=True,
        )
        for event in events:
            if "error" in event or "errorDetail" in event:
                message = (event.get("errorDetail") or {}).get("message") or event.get("error")
                detail = "; ".join(list(tail)[-3:])
                raise ImageEngineError(
                    f"build {context}: {_one_line(str(message))}"
                    + (f" (after: {_one_line(detail)})" if detail else "")
                )
            text = event.get("stream")
            if isinstance(text, str):
                for line in text.splitlines():
                    if line.strip():
                        tail.append(line.strip())
                        log.info("build: %s", redact(line.rstrip()))
            aux = event.get("aux")
            if isinstance(aux, dict) and aux.get("ID"):
                image_id = str(aux["ID"])
    except (docker.errors.DockerException, OSError) as exc:  # requests' errors are OSErrors too
        raise ImageEngineError(f"build {context}: {_one_line(_reason(exc))}") from None
    if image_id is None:
        # Engines older than API 1.30 give no aux ID; the last line is "Successfully built <id>".
        for line in reversed(tail):
            if line.startswith("Successfully built "):
                image_id = line.split()[-1]
                break
    if image_id is None:
        raise ImageEngineError(f"build {context}: the engine reported no image ID")
    return image_id


_STATES = {
    "Preparing": WAITING,
    "Waiting": WAITING,
    "Pushing": SENDING,
    "Pushed": SENT,
    "Layer already exists": EXISTS,
}


def _auth_failure(message: str) -> bool:
    lowered = message.lower()
    return any(
        word in lowered
        for word in (
            "unauthorized",
            "authentication required",
            "no basic auth",
            "denied: your authorization token has expired",
            "401",
        )
    )


def push(
    client: Any, image_id: str, repository_uri: str, tag: str, login: RegistryLogin, progress: LayerProgress
) -> str:
    """Tag `image_id` as `repository_uri:tag` and push it; returns the manifest digest the registry stored.

    The engine skips the layers the registry already has ("Layer already exists"), so only new layers
    travel. Raises AuthenticationFailed when the registry refuses the login, ImageConflictError when it
    refuses to move an immutable tag.
    """
    import docker.errors

    target = f"{repository_uri}:{tag}"
    try:
        client.api.tag(image_id, repository=repository_uri, tag=tag, force=True)
        events = client.api.push(
            repository_uri, tag=tag, stream=True, decode=True, auth_config=login.docker_auth_config()
        )
        digest: str | None = None
        for event in events:
            if "error" in event or "errorDetail" in event:
                message = str((event.get("errorDetail") or {}).get("message") or event.get("error"))
                if _auth_failure(message):
                    raise AuthenticationFailed(
                        f"push {target}: the registry refused the credentials: {_one_line(message)}"
                    )
                if "immutable" in message.lower():
                    raise ImageConflictError(f"push {target}: {_one_line(message)}", tag=tag)
                raise ImageEngineError(f"push {target}: {_one_line(message)}")
            status = str(event.get("status", ""))
            layer = event.get("id")
            if layer and status:
                state = _STATES.get(status, EXISTS if status.startswith("Mounted from") else None)
                if state is not None:
                    detail = event.get("progressDetail") or {}
                    progress.update(str(layer), state, detail.get("current"), detail.get("total"))
            aux = event.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = str(aux["Digest"])
    except (docker.errors.DockerException, OSError) as exc:  # requests' errors are OSErrors too
        raise ImageEngineError(f"push {target}: {_one_line(_reason(exc))}") from None
    if digest is None:
        raise ImageEngineError(f"push {target}: the engine reported no digest")
    return digest
