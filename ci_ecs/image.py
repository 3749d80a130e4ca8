"""Which image a deploy uses: `--image` as is, or `<repositoryUri>:<tag>` from ECR, pinned to its digest."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ci_ecs.config import Config
from ci_ecs.ecr import EcrGateway, RepositoryResult
from ci_ecs.errors import ImageNotFoundError
from ci_ecs.imageref import parse_image_ref

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolvedImage:
    """The image reference the task definition gets, and what was done to put it there."""

    uri: str | None
    digest: str | None = None
    pushed: bool = False


def resolve_image(config: Config, ecr: EcrGateway | None, repository: RepositoryResult | None, *,
                  dry_run: bool = False) -> ResolvedImage:
    """The image to deploy.

    `--image` (config.image_uri) is used as is. Otherwise the config's repository and tag must name an
    image ECR already holds (DescribeImages); it is pinned to its digest unless `image.pin: tag`.
    """
    if config.image_uri:
        ref = parse_image_ref(config.image_uri)
        return ResolvedImage(config.image_uri, ref.digest)
    if repository is None or ecr is None:
        return ResolvedImage(None)
    tag = config.image.tag
    if tag is None:
        return ResolvedImage(None)
    tagged = f"{repository.uri}:{tag}"
    if dry_run and repository.created:
        return ResolvedImage(tagged)
    found = ecr.describe_image(repository.name, tag=tag)
    if found is None:
        raise ImageNotFoundError(f"image {tagged} not found in ECR repository {repository.name}: push it first "
                                 "(or configure image.build / image.local / image.source)",
                                 repository=repository.name, tag=tag)
    digest = str(found["imageDigest"])
    log.info("image %s found (%s)", tagged, digest[:19])
    uri = f"{repository.uri}@{digest}" if config.image.pin == "digest" else tagged
    return ResolvedImage(uri, digest)
