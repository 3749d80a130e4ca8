"""ECR: a thin gateway, `ensure_repository` (create and reconcile settings) and image lookup."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from ci_ecs.act import Step, would
from ci_ecs.aws_failures import aws_errors, error_code
from ci_ecs.config import RepositoryConfig

log = logging.getLogger(__name__)


def lifecycle_policy(keep_last: int) -> str:
    """The lifecycle policy text that expires all but the newest `keep_last` images."""
    return json.dumps({"rules": [{
        "rulePriority": 1,
        "description": f"ci-ecs: keep the last {keep_last} images",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep_last},
        "action": {"type": "expire"},
    }]}, sort_keys=True)


def describe_one_repository(client: Any, action: str, name: str) -> dict[str, Any] | None:
    """DescribeRepositories for one repository, or None when it does not exist (ECR and ECR Public alike)."""
    with aws_errors(action):
        try:
            return dict(client.describe_repositories(repositoryNames=[name])["repositories"][0])
        except Exception as exc:
            if error_code(exc) == "RepositoryNotFoundException":
                return None
            raise


def describe_one_image(client: Any, action: str, name: str, *, tag: str | None = None,
                       digest: str | None = None) -> dict[str, Any] | None:
    """DescribeImages for one image by `tag` or `digest`, or None when the repository does not hold it.

    ECR and ECR Public answer this call alike (same input, `imageDetails`, same not-found errors).
    """
    image_id = {"imageTag": tag} if tag else {"imageDigest": digest}
    with aws_errors(action):
        try:
            details = client.describe_images(repositoryName=name, imageIds=[image_id])["imageDetails"]
        except Exception as exc:
            if error_code(exc) in ("ImageNotFoundException", "RepositoryNotFoundException"):
                return None
            raise
    return dict(details[0]) if details else None


class EcrGateway:
    """The ECR calls ci-ecs makes, wrapped verb-first."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def describe_repository(self, name: str) -> dict[str, Any] | None:
        """The repository, or None when it does not exist."""
        return describe_one_repository(self.client, f"describe repository {name}", name)

    def create_repository(self, params: dict[str, Any]) -> dict[str, Any]:
        """Create a repository."""
        with aws_errors(f"create repository {params['repositoryName']}"):
            return dict(self.client.create_repository(**params)["repository"])

    def put_tag_mutability(self, name: str, mutability: str) -> None:
        """Set tag mutability on an existing repository."""
        with aws_errors(f"set tag mutability of repository {name}"):
            self.client.put_image_tag_mutability(repositoryName=name, imageTagMutability=mutability)

    def put_scanning(self, name: str, scan_on_push: bool) -> None:
        """Set scan-on-push on an existing repository."""
        with aws_errors(f"set scan-on-push of repository {name}"):
            self.client.put_image_scanning_configuration(
                repositoryName=name, imageScanningConfiguration={"scanOnPush": scan_on_push})

    def get_lifecycle_policy(self, name: str) -> str | None:
        """The lifecycle policy text, or None when there is none."""
        with aws_errors(f"get lifecycle policy of repository {name}"):
            try:
                return str(self.client.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"])
            except Exception as exc:
                if error_code(exc) == "LifecyclePolicyNotFoundException":
                    return None
                raise

    def put_lifecycle_policy(self, name: str, text: str) -> None:
        """Replace the lifecycle policy."""
        with aws_errors(f"put lifecycle policy of repository {name}"):
            self.client.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=text)

    def describe_image(self, name: str, *, tag: str | None = None, digest: str | None = None
                       ) -> dict[str, Any] | None:
        """The image with `tag` or `digest`, or None when the repository does not hold it."""
        return describe_one_image(self.client, f"describe image {name}:{tag or digest}", name, tag=tag,
                                  digest=digest)

    def authorization(self) -> dict[str, Any]:
        """GetAuthorizationToken's first authorizationData (token, proxyEndpoint, expiresAt)."""
        with aws_errors("get ECR authorization token"):
            return dict(self.client.get_authorization_token()["authorizationData"][0])


@dataclass(frozen=True)
class RepositoryResult:
    """What ensure_repository found or did."""

    name: str
    uri: str
    created: bool
    changed: tuple[str, ...]


def ensure_repository(ecr: EcrGateway, repository: RepositoryConfig) -> Step[RepositoryResult]:
    """Create the repository when missing; on an existing one, reconcile the settings the config gives.

    A step (ci_ecs.act): the repository and its lifecycle policy are read and compared before anything is written.
    Settings the config leaves unset are not touched. Encryption cannot change after creation: a mismatch is
    logged, not fixed.
    """
    name = repository.name
    current = ecr.describe_repository(name)
    if current is None:
        params: dict[str, Any] = {"repositoryName": name}
        if repository.tag_mutability:
            params["imageTagMutability"] = repository.tag_mutability
        if repository.scan_on_push is not None:
            params["imageScanningConfiguration"] = {"scanOnPush": repository.scan_on_push}
        if repository.encryption:
            params["encryptionConfiguration"] = {"encryptionType": repository.encryption.type}
            if repository.encryption.kms_key:
                params["encryptionConfiguration"]["kmsKey"] = repository.encryption.kms_key
        yield would(RepositoryResult(name, f"(new)/{name}", True, ()), log, "repository %s: would create", name)
        created = ecr.create_repository(params)
        if repository.lifecycle_keep_last:
            ecr.put_lifecycle_policy(name, lifecycle_policy(repository.lifecycle_keep_last))
        log.info("repository %s created", name)
        return RepositoryResult(name, created["repositoryUri"], True, ())
    changed: list[str] = []
    if repository.tag_mutability and current.get("imageTagMutability") != repository.tag_mutability:
        changed.append("tag_mutability")
    scanning = current.get("imageScanningConfiguration", {}).get("scanOnPush", False)
    if repository.scan_on_push is not None and scanning != repository.scan_on_push:
        changed.append("scan_on_push")
    wanted = lifecycle_policy(repository.lifecycle_keep_last) if repository.lifecycle_keep_last else None
    if wanted is not None:
        existing = ecr.get_lifecycle_policy(name)
        if existing is None or json.loads(existing) != json.loads(wanted):
            changed.append("lifecycle_keep_last")
    if repository.encryption:
        encryption = current.get("encryptionConfiguration", {}).get("encryptionType", "AES256")
        if encryption != repository.encryption.type:
            log.warning("repository %s is encrypted with %s, the config asks %s: ECR cannot change the "
                        "encryption of an existing repository", name, encryption, repository.encryption.type)
    result = RepositoryResult(name, current["repositoryUri"], False, tuple(changed))
    if not changed:
        log.info("repository %s unchanged", name)
        return result
    yield would(result, log, "repository %s would update %s", name, ", ".join(changed))
    if "tag_mutability" in changed and repository.tag_mutability:
        ecr.put_tag_mutability(name, repository.tag_mutability)
    if "scan_on_push" in changed and repository.scan_on_push is not None:
        ecr.put_scanning(name, repository.scan_on_push)
    if "lifecycle_keep_last" in changed and wanted is not None:
        ecr.put_lifecycle_policy(name, wanted)
    log.info("repository %s updated %s", name, ", ".join(changed))
    return result
