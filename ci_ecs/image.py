"""Which image a deploy uses, and putting it into ECR first when the config says where it comes from.

- `--image` (config.image_uri): used as is.
- `image.build` / `image.local` / `image.source`: built with (or taken from) the Docker engine, or
  copied registry to registry with skopeo, into the config's ECR repository at `image.tag`.
- otherwise `<repositoryUri>:<image.tag>` must already be in ECR.

A repository with `public: true` is in Amazon ECR Public (ecr_public.py): the same flows, with its own
API in us-east-1 and its token; the repositoryUri (public.ecr.aws/<alias>/<name>) is what tasks pull.

The task definition gets `repositoryUri@sha256:...` (a moved tag never changes a running service) or,
with `image.pin: tag`, `repositoryUri:tag`.

Idempotent: before anything is sent, the image is compared with what ECR's tag holds (DescribeImages,
and the manifest from BatchGetImage). The same image is not pushed again (`pushed=False`); an IMMUTABLE
tag holding a different image is an ImageConflictError naming both, and nothing is written.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_ecs import engine, phases, skopeo
from ci_ecs.act import Planned, Step, act, would
from ci_ecs.aws import ClientFactory
from ci_ecs.aws_failures import aws_errors, error_code
from ci_ecs.config import Config, ImageConfig
from ci_ecs.ecr import EcrGateway, RepositoryResult, ensure_repository
from ci_ecs.ecr_public import PUBLIC_REGION, EcrPublicGateway, check_catalog, ensure_public_repository
from ci_ecs.errors import CiEcsError, ConfigError, ImageConflictError, ImageEngineError, ImageNotFoundError
from ci_ecs.imageref import parse_image_ref
from ci_ecs.progress import layer_progress
from ci_ecs.registry_auth import EcrCredentials

log = logging.getLogger(__name__)

# What ci-ecs asks BatchGetImage for: the manifest types an engine or skopeo pushes.
_MANIFEST_TYPES = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
]


# A private (ecr) or public (ecr-public) repository's gateway: the same calls, for the same flows.
Gateway = EcrGateway | EcrPublicGateway


@dataclass(frozen=True)
class ResolvedImage:
    """The image reference the task definition gets, and what was done to put it there."""

    uri: str | None
    digest: str | None = None
    pushed: bool = False


def origin(image: ImageConfig) -> str | None:
    """Where the image comes from: 'build', 'local', 'source', or None (already in ECR)."""
    for name in ("build", "local", "source"):
        if getattr(image, name) is not None:
            return name
    return None


def target_tag(image: ImageConfig) -> str:
    """The ECR tag to push to: image.tag, else the local image's or source's tag ('latest' when it has none).

    >>> target_tag(ImageConfig(local="hello:dev"))
    'dev'
    >>> target_tag(ImageConfig(source="docker.io/library/nginx", tag="1.27"))
    '1.27'
    """
    if image.tag:
        return image.tag
    kind = origin(image)
    if kind == "build":
        raise ConfigError(
            "image.tag is required with image.build (or --tag / CI_ECS_IMAGE_TAG)", key="image.tag"
        )
    reference = image.local or image.source
    if reference:
        ref = parse_image_ref(reference)
        if ref.tag:
            return ref.tag
        if ref.digest:
            raise ConfigError(
                f"image.tag is required: image.{kind} {reference} is pinned by digest and has no "
                "tag to reuse",
                key="image.tag",
            )
    return "latest"


def preflight(config: Config, *, dry_run: bool = False, base_dir: Path | None = None) -> None:
    """What can fail before any AWS call: the tag, the engine (build/local) or skopeo (source), and a public
    repository's logo file (relative to `base_dir`, default the working directory).

    With `dry_run` (`ci-ecs plan`) no Docker engine is needed: plan reports what would be built or
    pushed instead. Raises ConfigError (exit 2) or ImageEngineError (exit 1).
    """
    if not config.image_uri:
        check_catalog(config.repository, base_dir or Path.cwd())
    kind = origin(config.image)
    if kind is None or config.image_uri:
        return
    target_tag(config.image)
    if kind == "source":
        skopeo.find_skopeo()
    elif not dry_run:
        engine.connect().close()


def _reference(repository: RepositoryResult, tag: str, digest: str | None, pin: str) -> str:
    if digest and pin == "digest":
        return f"{repository.uri}@{digest}"
    return f"{repository.uri}:{tag}"


def _manifest(ecr: Gateway, repository: RepositoryResult, digest: str) -> dict[str, Any] | None:
    """The manifest ECR holds for `digest` (BatchGetImage), parsed; None when it cannot be read."""
    if isinstance(ecr, EcrPublicGateway):
        return ecr.manifest(repository.uri, digest)
    name = repository.name
    with aws_errors(f"get image {name}@{digest}"):
        answer = ecr.client.batch_get_image(
            repositoryName=name, imageIds=[{"imageDigest": digest}], acceptedMediaTypes=_MANIFEST_TYPES
        )
    for image in answer.get("images") or []:
        try:
            return dict(json.loads(image.get("imageManifest") or "{}"))
        except ValueError:
            return None
    return None


def _same_engine_image(
    ecr: Gateway, repository: RepositoryResult, local: engine.LocalImage, existing: str
) -> tuple[bool, str | None]:
    """Whether ECR's `existing` digest is the local image; also ECR's config digest when it was read.

    An engine knows a manifest digest only after a push (RepoDigests). Otherwise the identity is the
    config: its digest is the image ID and covers every layer's content and the image's settings.
    """
    if local.digest_in(repository.uri) == existing or local.id == existing:
        return True, None
    manifest = _manifest(ecr, repository, existing)
    config_digest = str((manifest or {}).get("config", {}).get("digest") or "") or None
    return config_digest == local.id, config_digest


def _check_mutable(
    ecr: Gateway,
    repository: RepositoryResult,
    tag: str,
    existing: str,
    existing_detail: str,
    incoming: str,
) -> None:
    """Raise ImageConflictError when the repository's tags are IMMUTABLE (the tag holds something else)."""
    current = ecr.describe_repository(repository.name) or {}
    if current.get("imageTagMutability", "MUTABLE").startswith("IMMUTABLE"):
        raise ImageConflictError(
            f"image tag {tag} in IMMUTABLE repository {repository.name} already holds "
            f"{existing}{existing_detail}; the image to push is {incoming}. Nothing was pushed: use a new "
            "tag (image.tag, --tag) or make the repository MUTABLE (repository.tag_mutability)",
            repository=repository.name,
            tag=tag,
            existing_digest=existing,
            digest=incoming,
        )


def _publish_engine(config: Config, ecr: Gateway, repository: RepositoryResult, tag: str, *, base_dir: Path
                    ) -> Step[ResolvedImage]:
    image = config.image
    tagged = f"{repository.uri}:{tag}"
    if image.build is not None:
        context = (base_dir / image.build.context).resolve()
        yield would(ResolvedImage(tagged), log, "image %s: would build %s (context %s) and push it", tagged,
                    image.build.dockerfile, context)
    try:
        client = engine.connect()
    except ImageEngineError as exc:
        # plan needs no engine: without one it cannot compare the local image with ECR's.
        yield would(ResolvedImage(tagged), log, "image %s: would push image.local %s (not compared with ECR: %s)",
                    tagged, image.local, exc)
        raise
    try:
        if image.build is not None:
            phases.begin("image-build", f"docker build of {image.build.dockerfile} (context {image.build.context})")
            local = engine.inspect_local(client, engine.build(client, image.build, base_dir))
        elif image.local is not None:
            local = engine.inspect_local(client, image.local)
        else:
            raise ConfigError("give image.build or image.local to push with the Docker engine", key="image")
        if repository.created:  # a dry run has no repository to compare with
            yield would(ResolvedImage(tagged), log, "image %s: would push %s", tagged, local.reference[:19])
        found = ecr.describe_image(repository.name, tag=tag)
        if found is not None:
            existing = str(found["imageDigest"])
            same, existing_config = _same_engine_image(ecr, repository, local, existing)
            if same:
                log.info("image %s unchanged (%s): nothing to push", tagged, existing)
                return ResolvedImage(_reference(repository, tag, existing, image.pin), existing, pushed=False)
            known = local.digest_in(repository.uri)
            incoming = f"{known} (image ID {local.id})" if known else f"image ID {local.id}"
            detail = f" (image ID {existing_config})" if existing_config else ""
            _check_mutable(ecr, repository, tag, existing, detail, incoming)
        yield would(ResolvedImage(tagged), log, "image %s: would push", tagged)
        credentials = EcrCredentials(ecr)
        phases.begin("image-push", f"push of {tagged}")
        with layer_progress(f"push {tagged}") as progress:
            try:
                digest = engine.push(client, local.id, repository.uri, tag, credentials.get(), progress)
            except engine.AuthenticationFailed:
                # The token may have expired during a long build: fetch a new one and try once more.
                log.info("push %s: the registry refused the login; retrying with a new ECR token", tagged)
                digest = engine.push(
                    client, local.id, repository.uri, tag, credentials.get(force=True), progress
                )
        log.info("image %s pushed (%s; %s)", tagged, digest, progress.summary())
        phases.note(f"push of {tagged}: {progress.summary()}", bytes=progress.bytes_sent)
        return ResolvedImage(_reference(repository, tag, digest, image.pin), digest, pushed=True)
    finally:
        client.close()


def _publish_source(config: Config, ecr: Gateway, repository: RepositoryResult, tag: str, source: str
                    ) -> Step[ResolvedImage]:
    image = config.image
    tagged = f"{repository.uri}:{tag}"
    program = skopeo.find_skopeo()
    raw = skopeo.inspect_raw(program, source)
    digest = skopeo.manifest_digest(raw)
    planned = would(ResolvedImage(_reference(repository, tag, digest, image.pin), digest), log,
                    "image %s: would copy %s (%s)", tagged, source, digest)
    if repository.created:  # a dry run has no repository to compare with
        yield planned
    found = ecr.describe_image(repository.name, tag=tag)
    if found is not None:
        existing = str(found["imageDigest"])
        if existing == digest:
            log.info("image %s unchanged (%s): nothing to copy", tagged, digest)
            return ResolvedImage(_reference(repository, tag, digest, image.pin), digest, pushed=False)
        _check_mutable(ecr, repository, tag, existing, "", f"{digest} ({source})")
    yield planned
    credentials = EcrCredentials(ecr)
    sizes = skopeo.layer_sizes(raw)
    phases.begin("image-copy", f"copy of {source} to {tagged}")
    # live=False: on a terminal skopeo draws its own bars; our renderer only collects the CI lines.
    with layer_progress(f"copy {source} to {tagged}", live=False) as progress:
        try:
            skopeo.copy(program, source, tagged, credentials.get(), progress, sizes)
        except ImageEngineError as exc:
            if "unauthorized" not in str(exc).lower() and "authentication" not in str(exc).lower():
                raise
            log.info("copy to %s: the registry refused the login; retrying with a new ECR token", tagged)
            skopeo.copy(program, source, tagged, credentials.get(force=True), progress, sizes)
    log.info("image %s copied from %s (%s; %s)", tagged, source, digest, progress.summary())
    phases.note(f"copy of {source} to {tagged}: {progress.summary()}", bytes=sum(sizes.values()) or None)
    return ResolvedImage(_reference(repository, tag, digest, image.pin), digest, pushed=True)


def publish(config: Config, ecr: Gateway, repository: RepositoryResult, *, base_dir: Path | None = None
            ) -> Step[ResolvedImage]:
    """Put the configured image (build, local or source) into `repository` at its tag, unless it is there.

    A step (ci_ecs.act): a dry run builds nothing and pushes nothing. Returns the reference to deploy, its digest,
    and whether anything was sent.
    """
    tag = target_tag(config.image)
    if config.image.source is not None:
        return (yield from _publish_source(config, ecr, repository, tag, config.image.source))
    return (yield from _publish_engine(config, ecr, repository, tag, base_dir=base_dir or Path.cwd()))


def resolve_image(config: Config, ecr: Gateway | None, repository: RepositoryResult | None, *,
                  base_dir: Path | None = None) -> Step[ResolvedImage]:
    """The image to deploy (a step, ci_ecs.act).

    `--image` (config.image_uri) is used as is. With image.build / image.local / image.source the image is
    first put into the repository (`publish`; `base_dir` is where a relative build context starts, default
    the working directory). Otherwise the config's repository and tag must name an image ECR already holds
    (DescribeImages); it is pinned to its digest unless `image.pin: tag`.
    """
    if config.image_uri:
        ref = parse_image_ref(config.image_uri)
        return ResolvedImage(config.image_uri, ref.digest)
    if repository is None or ecr is None:
        return ResolvedImage(None)
    if origin(config.image) is not None:
        return (yield from publish(config, ecr, repository, base_dir=base_dir))
    tag = config.image.tag
    if tag is None:
        return ResolvedImage(None)
    tagged = f"{repository.uri}:{tag}"
    if repository.created:  # a dry run has no repository to look in
        yield Planned(ResolvedImage(tagged))
    found = ecr.describe_image(repository.name, tag=tag)
    if found is None:
        raise ImageNotFoundError(
            f"image {tagged} not found in ECR repository {repository.name}: push it first "
            "(or configure image.build / image.local / image.source)",
            repository=repository.name,
            tag=tag,
        )
    digest = str(found["imageDigest"])
    log.info("image %s found (%s)", tagged, digest[:19])
    return ResolvedImage(_reference(repository, tag, digest, config.image.pin), digest)


def push_image(
    config: Config, factory: ClientFactory, *, dry_run: bool = False, base_dir: Path | None = None
) -> ResolvedImage:
    """`ci-ecs push`: ensure the repository, then put the configured image into it. No ECS call. With `dry_run`
    the steps stop before their first write (ci_ecs.act): compare only, push nothing.

    >>> push_image(load_config("ci-ecs.yml"), ClientFactory(AwsSettings()))  # doctest: +SKIP
    ResolvedImage(uri='1234.dkr.ecr.us-east-1.amazonaws.com/hello@sha256:...', digest=..., pushed=True)
    """
    if config.repository is None:
        raise ConfigError("repository is required to push (repository.name)", key="repository")
    if origin(config.image) is None:
        raise ConfigError("nothing to push: configure image.build, image.local or image.source", key="image")
    preflight(config, base_dir=base_dir)
    ecr = image_repository(config, factory)
    repository = act(ensure_image_repository(config, ecr, base_dir=base_dir), dry_run=dry_run)
    return act(publish(config, ecr, repository, base_dir=base_dir), dry_run=dry_run)


def image_repository(config: Config, factory: ClientFactory) -> Gateway:
    """The gateway of the config's repository: private ECR in the config's region, or with `repository.public`
    Amazon ECR Public, whose API is in us-east-1 whatever the region."""
    if config.repository is None:
        raise ConfigError("repository is required (repository.name)", key="repository")
    if config.repository.public:
        return EcrPublicGateway(factory.client("ecr-public", PUBLIC_REGION))
    return EcrGateway(factory.client("ecr"))


def ensure_image_repository(config: Config, ecr: Gateway, *, base_dir: Path | None = None
                            ) -> Step[RepositoryResult]:
    """The config's repository in `ecr` (`image_repository`), created or reconciled (a step, ci_ecs.act)."""
    if config.repository is None:
        raise ConfigError("repository is required (repository.name)", key="repository")
    if isinstance(ecr, EcrPublicGateway):
        return (yield from ensure_public_repository(ecr, config.repository, base_dir=base_dir or Path.cwd()))
    return (yield from ensure_repository(ecr, config.repository))


# A private Amazon ECR registry host: <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]
_ECR_HOST = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")
_AWS_ENDPOINT = re.compile(r"\.(?:amazonaws\.com(?:\.cn)?|api\.aws)$")
# Public registries that are never a custom ECR endpoint's own registry: no GetAuthorizationToken to rule them out.
_PUBLIC_REGISTRIES = frozenset({"public.ecr.aws", "docker.io", "registry-1.docker.io", "ghcr.io", "quay.io",
                                "gcr.io", "mcr.microsoft.com"})


@dataclass(frozen=True)
class TagResolution:
    """What `TagResolver.resolve` made of one image reference."""

    uri: str  # what the task definition gets
    digest: str | None  # the digest the tag holds, when it was read
    note: str | None = None  # why a tag was not resolved (said in the output)


class TagResolver:
    """Mutable tags of images in ECR, resolved to the digest they hold now (`repo@sha256:...`).

    A task definition that names `repo:latest` stays the same when `:latest` is pushed again, so ci-ecs
    would see nothing to do; naming the digest makes a re-pushed tag a change that rolls out, and an
    unchanged one a true no-op. Any account's ECR the credentials can read is asked (DescribeImages with
    its registryId, in the region the host names), and with a custom AWS endpoint (the sandbox,
    LocalStack) also the registry that endpoint's GetAuthorizationToken names. Other registries cannot
    be asked: the tag is used as is, and the note says so.
    """

    def __init__(self, factory: ClientFactory, pin: str = "digest") -> None:
        self.factory = factory
        self.pin = pin
        self._cache: dict[str, TagResolution] = {}
        self._own_host: str | None = None
        self._own_looked_up = False
        self.notes: list[str] = []

    def resolve(self, reference: str) -> TagResolution:
        """`reference` as the task definition should name it; a digest already given is kept as is."""
        if reference not in self._cache:
            resolution = self._resolve(reference)
            self._cache[reference] = resolution
            if resolution.note:
                log.info("%s", resolution.note)
                self.notes.append(resolution.note)
        return self._cache[reference]

    def _resolve(self, reference: str) -> TagResolution:
        ref = parse_image_ref(reference)
        if ref.digest:
            return TagResolution(reference, ref.digest)
        tag = ref.tag or "latest"
        if self.pin == "tag":
            return TagResolution(reference, None)
        target = self._ecr_repository(ref.domain)
        if target is None:
            return TagResolution(reference, None, self._unresolved(reference, "a registry ci-ecs cannot query"))
        region, registry_id = target
        try:
            ecr = self.factory.client("ecr", region)
            params: dict[str, Any] = {"repositoryName": ref.path, "imageIds": [{"imageTag": tag}]}
            if registry_id:
                params["registryId"] = registry_id
            with aws_errors(f"describe image {reference}"):
                try:
                    details = ecr.describe_images(**params).get("imageDetails") or []
                except Exception as exc:
                    if error_code(exc) in ("ImageNotFoundException", "RepositoryNotFoundException"):
                        details = []
                    else:
                        raise
        except CiEcsError as exc:
            # e.g. another account's registry this role may pull from but not describe: deploy the tag.
            return TagResolution(reference, None, self._unresolved(reference, f"ECR did not answer: {exc.message}"))
        if not details:
            return TagResolution(reference, None, self._unresolved(reference, "ECR does not hold that tag"))
        digest = str(details[0]["imageDigest"])
        log.info("image %s is %s", reference, digest[:19])
        return TagResolution(f"{ref.repository}@{digest}", digest)

    @staticmethod
    def _unresolved(reference: str, why: str) -> str:
        return (f"image {reference}: tag not resolved to a digest ({why}); the task definition names the tag, so "
                "a re-pushed tag is not a change: --force-new-deployment rolls tasks onto what the tag holds now")

    def _ecr_repository(self, domain: str | None) -> tuple[str | None, str | None] | None:
        """(region, registryId) of the ECR registry `domain` is, or None when it is no ECR ci-ecs can ask."""
        if not domain:
            return None
        match = _ECR_HOST.match(domain)
        if match:
            return match.group("region"), match.group("account")
        if domain in _PUBLIC_REGISTRIES:
            return None
        if domain == self._own_registry_host():
            return None, None  # the endpoint's own registry: its default registryId
        return None

    def _own_registry_host(self) -> str | None:
        """host:port of the registry a custom ECR endpoint serves (its GetAuthorizationToken proxyEndpoint).

        On AWS itself every ECR registry host has the `<account>.dkr.ecr.<region>` form, so this is asked
        only when the ECR endpoint is not AWS's (one call per deploy, and none on AWS).
        """
        if self._own_looked_up:
            return self._own_host
        self._own_looked_up = True
        try:
            ecr = self.factory.client("ecr")
            endpoint = urllib.parse.urlsplit(str(ecr.meta.endpoint_url)).hostname or ""
            if _AWS_ENDPOINT.search(endpoint):
                return None
            proxy = EcrGateway(ecr).authorization().get("proxyEndpoint") or ""
            self._own_host = urllib.parse.urlsplit(str(proxy)).netloc or None
        except CiEcsError as exc:
            log.debug("no ECR registry address from %s: %s", "GetAuthorizationToken", exc.message)
        return self._own_host or None
