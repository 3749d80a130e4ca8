"""Registry-to-registry copies without a Docker engine, through skopeo (Debian/Ubuntu/Fedora package).

`skopeo copy --all --preserve-digests` copies an image (every platform of a multi-arch index) blob by
blob, skips blobs the destination already has, and refuses any change that would alter the digest, so
ECR ends up holding exactly the source's manifest digest. Source credentials come from where skopeo
always looks (REGISTRY_AUTH_FILE, ~/.docker/config.json, ...); the ECR login reaches it only through an
in-memory auth file (see `registry_auth.authfile`), never its argv.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from collections import deque

from ci_ecs.errors import ImageEngineError, ImageNotFoundError
from ci_ecs.imageref import is_loopback_host, parse_image_ref
from ci_ecs.progress import EXISTS, SENT, WAITING, LayerProgress, human_bytes, live_display_wanted
from ci_ecs.redact import redact
from ci_ecs.registry_auth import RegistryLogin, authfile

log = logging.getLogger(__name__)

INSPECT_TIMEOUT_SECONDS = 120


def child_env() -> dict[str, str]:
    """skopeo's environment: ours without AWS credentials, which it never needs (least exposure)."""
    secret = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
    return {name: value for name, value in os.environ.items() if name not in secret}


def find_skopeo() -> str:
    """The skopeo program; ImageEngineError naming the fix when it is not on PATH."""
    path = shutil.which("skopeo")
    if not path:
        raise ImageEngineError(
            "image.source needs skopeo on PATH (apt-get install skopeo, dnf install skopeo, "
            "brew install skopeo), or use image.local after a docker pull"
        )
    return path


def is_loopback_registry(reference: str) -> bool:
    """True when the reference names a registry on this machine, which Docker talks to over plain HTTP.

    >>> is_loopback_registry("127.0.0.1:5000/hello:1")
    True
    >>> is_loopback_registry("docker.io/library/nginx:1.27")
    False
    """
    domain = parse_image_ref(reference).domain
    if not domain:
        return False
    host = domain.rsplit(":", 1)[0] if not domain.endswith("]") else domain
    return is_loopback_host(host.strip("[]"))


def _tls(option: str, reference: str) -> list[str]:
    # Docker's own rule: registries on 127.0.0.0/8 are plain HTTP; skopeo needs to be told.
    return [f"--{option}=false"] if is_loopback_registry(reference) else []


def _failure(action: str, stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    text = lines[-1] if lines else "failed"
    if text.startswith("time="):
        # skopeo logs logrus lines: time="..." level=fatal msg="..."
        _, _, text = text.partition('msg="')
        text = text.rstrip('"')
    return redact(f"{action}: skopeo: {' '.join(text.split())[:400]}")


def _not_found(stderr: str) -> bool:
    lowered = stderr.lower()
    return any(
        word in lowered for word in ("manifest unknown", "name unknown", "not found", "repository name")
    )


def inspect_raw(skopeo: str, reference: str) -> bytes:
    """The manifest (or index) exactly as the registry serves it."""
    argv = [
        skopeo,
        "inspect",
        "--raw",
        "--retry-times",
        "2",
        *_tls("tls-verify", reference),
        f"docker://{reference}",
    ]
    try:
        done = subprocess.run(
            argv, capture_output=True, timeout=INSPECT_TIMEOUT_SECONDS, stdin=subprocess.DEVNULL, env=child_env()
        )
    except subprocess.TimeoutExpired:
        raise ImageEngineError(
            f"inspect {reference}: skopeo did not answer within {INSPECT_TIMEOUT_SECONDS} s"
        ) from None
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace")
        if _not_found(stderr):
            raise ImageNotFoundError(
                f"source image {reference} not found: "
                f"{_failure('inspect', stderr).split(': skopeo: ', 1)[-1]}",
                reference=reference,
            )
        raise ImageEngineError(_failure(f"inspect {reference}", stderr))
    return done.stdout


def manifest_digest(raw: bytes) -> str:
    """The digest a registry gives a manifest: sha256 of its exact bytes.

    >>> manifest_digest(b"{}")
    'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a'
    """
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def layer_sizes(raw: bytes) -> dict[str, int]:
    """Blob digest -> size for a single-platform manifest ({} for an index)."""
    try:
        document = json.loads(raw)
    except ValueError:
        return {}
    blobs = list(document.get("layers") or [])
    if isinstance(document.get("config"), dict):
        blobs.append(document["config"])
    return {str(b.get("digest")): int(b.get("size") or 0) for b in blobs if b.get("digest")}


def copy(
    skopeo: str,
    source: str,
    destination: str,
    login: RegistryLogin,
    progress: LayerProgress,
    sizes: dict[str, int] | None = None,
) -> None:
    """Copy `source` to `destination` (both registry references) with the destination's `login`.

    On a terminal skopeo draws its own per-blob progress bars on stderr; in CI its one line per blob is
    turned into one log line per layer.
    """
    sizes = sizes or {}
    live = live_display_wanted()
    registry = parse_image_ref(destination).domain or login.registry
    with authfile(login, registry) as (path, fd):
        argv = [
            skopeo,
            "copy",
            "--all",
            "--preserve-digests",
            "--retry-times",
            "2",
            *_tls("src-tls-verify", source),
            *_tls("dest-tls-verify", destination),
            "--dest-authfile",
            path,
            f"docker://{source}",
            f"docker://{destination}",
        ]
        log.debug("run %s", " ".join(argv))  # the argv holds /dev/fd/N, never the password
        # On a terminal skopeo's stdout goes to our stderr, so stdout stays clean for --output json.
        process = subprocess.Popen(
            argv,
            stdout=sys.stderr if live else subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=child_env(),
            pass_fds=(fd,) if fd is not None else (),
            text=True,
        )
        if process.stdout is not None:
            for line in process.stdout:
                words = line.split()
                if len(words) >= 3 and words[0] == "Copying" and words[1] in ("blob", "config"):
                    blob = words[2] if ":" in words[2] else f"sha256:{words[2]}"
                    blob = next((d for d in sizes if d.startswith(blob)), blob)
                    if "skipped" in line or "already exists" in line:
                        progress.update(blob, EXISTS)
                    else:
                        # Without a terminal skopeo says when a blob starts, not when it ends: the
                        # layer is reported sent once the whole copy succeeded.
                        progress.update(blob, WAITING, total=sizes.get(blob))
        stderr = process.stderr.read() if process.stderr is not None else ""
        code = process.wait()
    if code != 0:
        tail = "\n".join(deque(stderr.splitlines(), maxlen=5))
        raise ImageEngineError(_failure(f"copy {source} to {destination}", tail))
    for blob, entry in list(progress.layers.items()):
        if entry.state == WAITING:
            progress.update(blob, SENT, total=sizes.get(blob))
    log.debug("copied %s (%s)", source, human_bytes(sum(sizes.values())))
