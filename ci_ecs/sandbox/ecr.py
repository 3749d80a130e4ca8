"""ECR on top of the sandbox registry: moto's ECR models mirror what the registry holds.

The registry is the source of truth for images. Before moto answers DescribeImages,
ListImages, BatchGetImage, PutImage or BatchDeleteImage, the repository's images are rebuilt
from the registry (tags list + manifests), so an image pushed with ``docker push`` or
``skopeo copy`` shows up with its real digest. Only repositories that exist in ECR are listed:
pushing to a name that has no ECR repository stores the image in the registry but creates
nothing in ECR (ECR itself would refuse such a push).
"""

from __future__ import annotations

import base64
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from moto.core.exceptions import ServiceException
from moto.ecr import ecr_backends
from moto.ecr.models import Image, Repository

from .ecr_public import is_public_path
from .registry import Manifest, RegistryClient

log = logging.getLogger(__name__)

MOTO_ECR_HOST = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com$")
AUTH_TOKEN_LIFETIME_SECONDS = 12 * 3600  # what ECR gives


class ImageTagAlreadyExistsException(ServiceException):
    """AWS's error for overwriting a tag in an IMMUTABLE repository (moto says ImageAlreadyExists)."""

    code = "ImageTagAlreadyExistsException"

    def __init__(self, repository_name: str, image_tag: str) -> None:
        super().__init__(
            f"The image tag '{image_tag}' already exists in the '{repository_name}' repository "
            "and cannot be overwritten because the repository is immutable."
        )


class LayersNotFoundException(ServiceException):
    """PutImage of a manifest whose blobs were never uploaded to the registry."""

    code = "LayersNotFoundException"

    def __init__(self, repository_name: str, detail: str) -> None:
        super().__init__(
            f"Layers required for pushing image into repository with name '{repository_name}' "
            f"do not exist in the registry ({detail})"
        )


@dataclass(frozen=True)
class ImageReference:
    """A parsed image reference: host (may be ""), repository, and a tag or a digest."""

    host: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str:
        """The tag or digest a registry resolves."""
        return self.digest or self.tag or "latest"


def parse_image(image: str) -> ImageReference:
    """Split an image reference the way Docker does.

    >>> parse_image("127.0.0.1:5000/hello:1.0")
    ImageReference(host='127.0.0.1:5000', repository='hello', tag='1.0', digest=None)
    >>> parse_image("nginx")
    ImageReference(host='', repository='nginx', tag='latest', digest=None)
    """
    rest = image
    digest = None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
    host = ""
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        host, rest = first, remainder
    tag = None
    name, colon, maybe_tag = rest.rpartition(":")
    if colon and "/" not in maybe_tag:
        rest, tag = name, maybe_tag
    if tag is None and digest is None:
        tag = "latest"
    return ImageReference(host=host, repository=rest, tag=tag, digest=digest)


class RegistryImage(Image):
    """moto's ECR Image, with the size the registry's manifest gives (moto guesses it)."""

    def __init__(self, account_id: str, repository: str, manifest: Manifest, tags: list[str]) -> None:
        super().__init__(
            account_id,
            tags[-1] if tags else None,  # type: ignore[arg-type]  # moto accepts an untagged image
            manifest.body,
            repository,
            manifest.media_type,
            manifest.digest,
        )
        self.image_tags = list(tags)
        self.size_in_bytes = manifest.size

    def get_image_size_in_bytes(self) -> int | None:
        return self.size_in_bytes


RegistrySnapshot = dict[str, tuple[Manifest, list[str]]]  # digest -> (manifest, tags)


def fetch_repository(name: str, registry: RegistryClient) -> RegistrySnapshot:
    """What the registry holds for a repository (HTTP calls: made without the sandbox lock)."""
    by_digest: RegistrySnapshot = {}
    for tag in registry.tags(name):
        manifest = registry.manifest(name, tag)
        if manifest is None or not manifest.digest:
            continue
        by_digest.setdefault(manifest.digest, (manifest, []))[1].append(tag)
    return by_digest


def sync_repository(repository: Repository, registry: RegistryClient) -> None:
    """Rebuild a moto repository's images from what the registry holds (fetch, then apply)."""
    apply_snapshot(repository, fetch_repository(repository.name, registry))


def apply_snapshot(repository: Repository, by_digest: RegistrySnapshot) -> None:
    """Rebuild a moto repository's images from a registry snapshot.

    imagePushedAt is the time the sandbox first saw a digest (the registry does not record
    push times); it stays stable across syncs.
    """
    previous = {img.get_image_digest(): img for img in repository.images}
    images: list[Image] = []
    for digest, (manifest, tags) in by_digest.items():
        image = RegistryImage(repository.account_id, repository.name, manifest, sorted(tags))
        old = previous.get(digest)
        if old is not None:
            image.image_pushed_at = old.image_pushed_at
            image.last_scan = old.last_scan
            image.scan_finding_results = old.scan_finding_results
        images.append(image)
    repository.images = images


def registry_host_aliases(registry: RegistryClient | None) -> set[str]:
    """Host names under which images count as the sandbox's own ECR."""
    if registry is None:
        return set()
    host, _, port = registry.address.rpartition(":")
    return {registry.address, f"localhost:{port}", f"127.0.0.1:{port}", f"{host}:{port}"}


def is_ecr_image(ref: ImageReference, registry: RegistryClient | None) -> bool:
    """True when the image is in a private ECR registry: any account's, or the sandbox's.

    Fargate needs an execution role to pull these (see ``taskdef_rules``). ECR Public's images, under
    ``public/`` in the same registry, are not private: anyone pulls them without credentials.
    """
    if ref.host in registry_host_aliases(registry):
        return not is_public_path(ref.repository)
    return bool(MOTO_ECR_HOST.match(ref.host))


def is_sandbox_ecr_image(ref: ImageReference, registry: RegistryClient | None, account_id: str) -> bool:
    """True when the image names the sandbox's own ECR: its registry, or its account's ECR host
    names. Other accounts' ECR (AWS's fluent-bit and CloudWatch agent images, a team's shared
    registry) is not the sandbox's: such images are pullable like any other public image.
    """
    if ref.host in registry_host_aliases(registry):
        return True
    match = MOTO_ECR_HOST.match(ref.host)
    return match is not None and match.group("account") == account_id


def pull_error(image: str, account_id: str, region: str, registry: RegistryClient | None) -> str | None:
    """None when a task could pull ``image``; else ECS's CannotPullContainerError reason.

    Images outside the sandbox's own ECR are assumed pullable (the sandbox runs nothing).
    """
    ref = parse_image(image)
    if not is_sandbox_ecr_image(ref, registry, account_id):
        return None
    if registry is not None:
        try:
            found = registry.has(ref.repository, ref.reference)
        except OSError as err:
            return f"CannotPullContainerError: pull image manifest has been retried 5 time(s): {err}"
    else:
        match = MOTO_ECR_HOST.match(ref.host)
        acct, reg = (match.group("account"), match.group("region")) if match else (account_id, region)
        found = _moto_has_image(acct, reg, ref)
    if found:
        return None
    return (
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
        f"failed to resolve ref {image}: {image}: not found"
    )


def _moto_has_image(account_id: str, region: str, ref: ImageReference) -> bool:
    backend = ecr_backends[account_id][region]
    repository = backend.repositories.get(ref.repository)
    if repository is None:
        return False
    for image in repository.images:
        if ref.digest and image.get_image_digest() == ref.digest:
            return True
        if not ref.digest and ref.tag in image.image_tags:
            return True
    return False


def authorization_data(registry_ids: list[str], region: str, registry: RegistryClient | None) -> list[dict[str, Any]]:
    """GetAuthorizationToken's answer: the token decodes to ``AWS:<password>``; it expires in 12 h."""
    expires = time.time() + AUTH_TOKEN_LIFETIME_SECONDS
    data = []
    for registry_id in registry_ids:
        token = base64.b64encode(f"AWS:{registry_id}-sandbox-token".encode("ascii")).decode()
        endpoint = f"http://{registry.address}" if registry else f"https://{registry_id}.dkr.ecr.{region}.amazonaws.com"
        data.append({"authorizationToken": token, "expiresAt": expires, "proxyEndpoint": endpoint})
    return data


def backend_for(account_id: str, region: str) -> Any:
    """moto's ECR backend for an account and region."""
    return ecr_backends[account_id][region]
