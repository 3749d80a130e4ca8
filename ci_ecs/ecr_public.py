"""Amazon ECR Public: a thin gateway and `ensure_public_repository` (create it, reconcile its catalog data).

ECR Public is its own API (`ecr-public`), served from us-east-1 only: ci-ecs calls it there whatever the
config's `region` says (the cluster, service and tasks stay in `region`). Its images are at
`public.ecr.aws/<registry alias>/<name>` (the repositoryUri DescribeRepositories gives) and anyone can pull
them without credentials, so a Fargate task needs no execution role to pull one. A public repository has
no tag mutability, scan-on-push, lifecycle policy or encryption setting (ci_ecs.config refuses those keys);
what it has is catalog data shown in the Amazon ECR Public Gallery, compared and written only when the
configured fields differ.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from ci_ecs.act import Step, would
from ci_ecs.aws_failures import aws_errors, error_code
from ci_ecs.config import CatalogConfig, RepositoryConfig
from ci_ecs.ecr import RepositoryResult, describe_one_image, describe_one_repository
from ci_ecs.errors import ConfigError

log = logging.getLogger(__name__)

# "Amazon ECR Public ... API endpoint: api.ecr-public.us-east-1.amazonaws.com" (Amazon ECR Public user guide,
# "Amazon ECR Public service endpoints"): the registry is global, its API lives in us-east-1.
PUBLIC_REGION = "us-east-1"
PUBLIC_REGISTRY_HOST = "public.ecr.aws"

# Catalog fields: the config's name -> the API's (RepositoryCatalogDataInput). The logo is separate: the API
# takes the image (logoImageBlob) but gives back only a URL (logoUrl), so it cannot be compared byte for byte.
CATALOG_FIELDS = {
    "description": "description",
    "about": "aboutText",
    "usage": "usageText",
    "architectures": "architectures",
    "operating_systems": "operatingSystems",
}
_TEXT_FIELDS = tuple(CATALOG_FIELDS.values())

_MANIFEST_TYPES = ", ".join((
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
))
_LOGO_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")


class EcrPublicGateway:
    """The ECR Public calls ci-ecs makes, wrapped verb-first. `client` is an `ecr-public` client in us-east-1.

    It offers what image.py asks of a repository gateway (describe_repository, describe_image, authorization,
    manifest), so the build / local / source flows work on either kind of repository.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        # host of the repositoryUri (public.ecr.aws, or a stand-in's registry): the login's registry.
        self.registry_host = PUBLIC_REGISTRY_HOST

    def describe_repository(self, name: str) -> dict[str, Any] | None:
        """The repository, or None when it does not exist."""
        return describe_one_repository(self.client, f"describe public repository {name}", name)

    def create_repository(self, name: str, catalog: dict[str, Any] | None) -> dict[str, Any]:
        """Create a public repository, with its catalog data in the same call."""
        params: dict[str, Any] = {"repositoryName": name}
        if catalog:
            params["catalogData"] = catalog
        with aws_errors(f"create public repository {name}"):
            return dict(self.client.create_repository(**params)["repository"])

    def get_catalog(self, name: str) -> dict[str, Any]:
        """The repository's catalog data ({} when it has none)."""
        with aws_errors(f"get catalog data of public repository {name}"):
            try:
                return dict(self.client.get_repository_catalog_data(repositoryName=name).get("catalogData") or {})
            except Exception as exc:
                if error_code(exc) == "RepositoryCatalogDataNotFoundException":
                    return {}
                raise

    def put_catalog(self, name: str, catalog: dict[str, Any]) -> None:
        """Write the repository's catalog data."""
        with aws_errors(f"put catalog data of public repository {name}"):
            self.client.put_repository_catalog_data(repositoryName=name, catalogData=catalog)

    def describe_image(self, name: str, *, tag: str | None = None, digest: str | None = None
                       ) -> dict[str, Any] | None:
        """The image with `tag` or `digest` (DescribeImages), or None when the repository does not hold it."""
        return describe_one_image(self.client, f"describe public image {name}:{tag or digest}", name, tag=tag,
                                  digest=digest)

    def image_tags(self, name: str) -> dict[str, str]:
        """Every tag of the repository and the digest it holds (DescribeImageTags, all pages)."""
        tags: dict[str, str] = {}
        with aws_errors(f"describe image tags of public repository {name}"):
            for page in self.client.get_paginator("describe_image_tags").paginate(repositoryName=name):
                for detail in page.get("imageTagDetails") or []:
                    digest = (detail.get("imageDetail") or {}).get("imageDigest")
                    if detail.get("imageTag") and digest:
                        tags[str(detail["imageTag"])] = str(digest)
        return tags

    def authorization(self) -> dict[str, Any]:
        """GetAuthorizationToken's authorizationData, with the registry it is for as `proxyEndpoint`.

        ECR Public's token carries no endpoint (it is for public.ecr.aws); EcrCredentials reads the
        registry from proxyEndpoint, so the repositoryUri's host is put there.
        """
        with aws_errors("get ECR Public authorization token"):
            data = dict(self.client.get_authorization_token()["authorizationData"])
        data["proxyEndpoint"] = self.registry_host
        return data

    def manifest(self, repository_uri: str, digest: str) -> dict[str, Any] | None:
        """The manifest of `digest`, read from the registry anonymously (ECR Public has no BatchGetImage)."""
        return read_public_manifest(repository_uri, digest)


def _catalog_input(catalog: CatalogConfig, base_dir: Path) -> dict[str, Any]:
    """The configured catalog fields as PutRepositoryCatalogData's catalogData (the logo read from its file)."""
    data: dict[str, Any] = {}
    for key, api_key in CATALOG_FIELDS.items():
        value = getattr(catalog, key)
        if value is not None:
            data[api_key] = list(value) if isinstance(value, list) else value
    if catalog.logo_image:
        data["logoImageBlob"] = read_logo(catalog.logo_image, base_dir)
    return data


def read_logo(path: str, base_dir: Path) -> bytes:
    """The logo file's bytes; ConfigError (exit 2) when it is missing or not a PNG/JPEG image."""
    file = base_dir / path
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}", key="repository.catalog.logo_image") from None
    if not data.startswith(_LOGO_MAGIC):
        raise ConfigError(f"{path} is not a PNG or JPEG image", key="repository.catalog.logo_image")
    return data


def check_catalog(repository: RepositoryConfig | None, base_dir: Path) -> None:
    """What can be checked of a public repository's catalog before any AWS call (the logo file)."""
    if repository is not None and repository.public and repository.catalog and repository.catalog.logo_image:
        read_logo(repository.catalog.logo_image, base_dir)


def catalog_changes(wanted: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The configured catalog fields (API names) whose value differs from the repository's.

    Fields the config leaves out are not compared. The logo counts as changed only when the repository
    has none (the API gives back a URL, not the image).

    >>> catalog_changes({"description": "a", "architectures": ["x86-64"]}, {"description": "b",
    ...                 "architectures": ["x86-64"]})
    ['description']
    >>> catalog_changes({"logoImageBlob": b"..."}, {"logoUrl": "https://..."})
    []
    """
    changed = [key for key in _TEXT_FIELDS if key in wanted and wanted[key] != current.get(key)]
    if "logoImageBlob" in wanted and not current.get("logoUrl"):
        changed.append("logoImageBlob")
    return changed


def registry_alias(repository_uri: str) -> str | None:
    """The registry alias in a public repositoryUri.

    >>> registry_alias("public.ecr.aws/abc1d2e3/hello")
    'abc1d2e3'
    """
    parts = repository_uri.split("/")
    return parts[1] if len(parts) >= 3 and parts[0] == PUBLIC_REGISTRY_HOST else None


def ensure_public_repository(gateway: EcrPublicGateway, repository: RepositoryConfig, *, base_dir: Path
                             ) -> Step[RepositoryResult]:
    """Create the public repository (with its catalog data) when missing; on an existing one, write the
    catalog data only when a configured field differs (one PutRepositoryCatalogData), nothing otherwise.
    A step (ci_ecs.act).
    """
    name = repository.name
    wanted = _catalog_input(repository.catalog, base_dir) if repository.catalog else {}
    current = gateway.describe_repository(name)
    if current is None:
        yield would(RepositoryResult(name, f"{PUBLIC_REGISTRY_HOST}/(alias)/{name}", True, ()), log,
                    "public repository %s: would create (ECR Public, %s)", name, PUBLIC_REGION)
        created = gateway.create_repository(name, wanted or None)
        uri = str(created["repositoryUri"])
        gateway.registry_host = uri.split("/", 1)[0]
        log.info("public repository %s created (%s)", name, uri)
        return RepositoryResult(name, uri, True, ())
    uri = str(current["repositoryUri"])
    gateway.registry_host = uri.split("/", 1)[0]
    existing = gateway.get_catalog(name) if wanted else {}
    differing = catalog_changes(wanted, existing) if wanted else []
    reverse = {api: key for key, api in CATALOG_FIELDS.items()} | {"logoImageBlob": "logo_image"}
    changed = [f"catalog.{reverse[key]}" for key in differing]
    result = RepositoryResult(name, uri, False, tuple(changed))
    if not changed:
        log.info("public repository %s unchanged", name)
        return result
    yield would(result, log, "public repository %s would update %s", name, ", ".join(changed))
    # What the config leaves out keeps the repository's value: the call carries the current text fields with
    # the configured ones laid over them. (The logo can only be sent when configured.)
    merged = {key: existing[key] for key in _TEXT_FIELDS if existing.get(key) not in (None, "", [])}
    gateway.put_catalog(name, {**merged, **wanted})
    log.info("public repository %s updated %s", name, ", ".join(changed))
    return result


# --------------------------------------------------------------------------- the registry's manifest API
def _scheme(host: str) -> str:
    # Plain HTTP only to a loopback registry (a local stand-in); Docker allows the same.
    name = host.rsplit(":", 1)[0].strip("[]")
    try:
        return "http" if ipaddress.ip_address(name).is_loopback else "https"
    except ValueError:
        return "http" if name == "localhost" else "https"


_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


def _bearer_token(challenge: str, timeout: float) -> str | None:
    """An anonymous pull token from the realm a `WWW-Authenticate: Bearer ...` challenge names."""
    if not challenge.lower().startswith("bearer "):
        return None
    fields = dict(_CHALLENGE.findall(challenge))
    realm = fields.pop("realm", "")
    parts = urllib.parse.urlsplit(realm)
    if not parts.hostname or _scheme(parts.netloc) != parts.scheme:
        return None  # a realm over plain HTTP to a remote host is not followed
    url = f"{realm}?{urllib.parse.urlencode(fields)}"
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked above
        answer = json.loads(response.read() or b"{}")
    token = answer.get("token") or answer.get("access_token")
    return str(token) if token else None


def read_public_manifest(repository_uri: str, digest: str, *, timeout: float = 10.0) -> dict[str, Any] | None:
    """The manifest of `repository_uri@digest` from its registry's v2 API, anonymously (public images need
    no credentials; a Bearer challenge is answered with an anonymous token). None when it cannot be read.
    """
    host, _, path = repository_uri.partition("/")
    url = f"{_scheme(host)}://{host}/v2/{path}/manifests/{digest}"
    headers = {"Accept": _MANIFEST_TYPES}
    try:
        for _attempt in range(2):
            request = urllib.request.Request(url, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) only
                    return dict(json.loads(response.read()))
            except urllib.error.HTTPError as exc:
                token = _bearer_token(exc.headers.get("WWW-Authenticate", ""), timeout) if exc.code == 401 else None
                if token is None:
                    log.debug("manifest %s@%s: HTTP %s", repository_uri, digest, exc.code)
                    return None
                headers = {**headers, "Authorization": f"Bearer {token}"}
    except (OSError, ValueError) as exc:
        log.debug("manifest %s@%s not read: %s", repository_uri, digest, exc)
    return None

