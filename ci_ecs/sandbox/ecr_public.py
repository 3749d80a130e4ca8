"""Amazon ECR Public in the sandbox: moto has no ``ecr-public``, so the sandbox serves it itself.

A small JSON 1.1 service (``X-Amz-Target: SpencerFrontendService.<Operation>``, credential scope
``ecr-public``) in front of moto's app, with the operations ci-ecs and ``aws ecr-public`` use:
CreateRepository, DescribeRepositories, DeleteRepository, DescribeRegistries, GetAuthorizationToken,
DescribeImages, DescribeImageTags, Get/PutRepositoryCatalogData, BatchDeleteImage, and
Get/PutRegistryCatalogData. Responses follow botocore's model (the middleware checks them in test
mode); errors are the API reference's (RepositoryNotFoundException, RepositoryAlreadyExistsException,
RepositoryNotEmptyException, ImageNotFoundException, InvalidParameterException, HTTP 400).

Images live in the sandbox's own registry, the same one the private ECR uses, under a path of their own:
``<registry>/public/<registry alias>/<name>``. That is the repositoryUri the sandbox gives (on AWS it is
``public.ecr.aws/<registry alias>/<name>``), so ``docker push`` and the task runtime use it unchanged and
pull it without credentials; the registry alias is DescribeRegistries' (``sandbox``). Without a registry
(control plane only) the repositoryUri has AWS's shape and there are no images.

Where the sandbox is simpler than AWS (said here, not hidden): the registry lists tagged images only (an
image pushed by digest alone is not described); BatchDeleteImage by tag deletes the manifest, with every
tag it has (the registry cannot untag); PutRepositoryCatalogData replaces the whole catalog data (a logo
not sent again is gone; ci-ecs sends the fields it does not manage back unchanged). Served in us-east-1
and us-west-2, the regions botocore has endpoints for; other regions get AWS's signature error.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .registry import RegistryClient, RegistryError

PUBLIC_PREFIX = "public/"  # the registry path ECR Public's images live under
DEFAULT_ALIAS = "sandbox"
DEFAULT_ACCOUNT = "123456789012"  # moto's default account: the sandbox's one account
REGIONS = frozenset({"us-east-1", "us-west-2"})  # botocore's endpoints.json for api.ecr-public
TARGET_PREFIX = "SpencerFrontendService."
LOGO_PATH = "/_ci_ecs/ecr-public/logo/"
TOKEN_LIFETIME_SECONDS = 12 * 3600
# CreateRepository repositoryName: 2-205 characters, this pattern (ECR Public API reference).
_NAME = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_CATALOG_LIMITS = {"description": 1024, "aboutText": 25600, "usageText": 25600}

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def is_public_path(repository: str) -> bool:
    """Whether a registry repository path holds an ECR Public image (anyone may pull it).

    >>> is_public_path("public/sandbox/hello"), is_public_path("hello")
    (True, False)
    """
    return repository.startswith(PUBLIC_PREFIX)


class EcrPublicError(Exception):
    """An ECR Public error as AWS returns it (JSON 1.1, HTTP 400 unless said)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def _not_found(name: str, account: str) -> EcrPublicError:
    return EcrPublicError("RepositoryNotFoundException",
                          f"The repository with name '{name}' does not exist in the registry with id '{account}'")


@dataclass
class _Repository:
    name: str
    created_at: float
    catalog: dict[str, Any] = field(default_factory=dict)
    logo: bytes | None = None
    pushed_at: dict[str, float] = field(default_factory=dict)  # digest -> when the sandbox first saw it


class EcrPublicService:
    """ECR Public's state (one account, one registry alias) and its operations."""

    def __init__(self, registry: RegistryClient | None, endpoint: Callable[[], str], *,
                 account: str = DEFAULT_ACCOUNT, alias: str = DEFAULT_ALIAS) -> None:
        self.registry = registry
        self.endpoint = endpoint  # the sandbox's http://HOST:PORT (known once its server listens)
        self.account = account
        self.alias = alias
        self.display_name = ""
        # One password per sandbox, as the private ECR's token is fixed: a test can ask for it and look for
        # it in logs and files. The registry never checks it.
        self._password = secrets.token_urlsafe(24)
        self.repositories: dict[str, _Repository] = {}
        self.lock = threading.Lock()

    # ------------------------------------------------------------------ helpers
    @property
    def registry_uri(self) -> str:
        """Where the registry's repositories are: ``<registry>/public/<alias>`` (AWS: public.ecr.aws/<alias>)."""
        if self.registry is None:
            return f"public.ecr.aws/{self.alias}"
        return f"{self.registry.address}/{PUBLIC_PREFIX}{self.alias}"

    def path(self, name: str) -> str:
        """The registry path of a repository's images."""
        return f"{PUBLIC_PREFIX}{self.alias}/{name}"

    def _repository_json(self, repo: _Repository) -> dict[str, Any]:
        return {
            "repositoryArn": f"arn:aws:ecr-public::{self.account}:repository/{repo.name}",
            "registryId": self.account,
            "repositoryName": repo.name,
            "repositoryUri": f"{self.registry_uri}/{repo.name}",
            "createdAt": repo.created_at,
        }

    def _catalog_json(self, repo: _Repository) -> dict[str, Any]:
        data = {k: v for k, v in repo.catalog.items() if v not in (None, "", [])}
        if repo.logo is not None:
            data["logoUrl"] = f"{self.endpoint()}{LOGO_PATH}{repo.name}"
        data["marketplaceCertified"] = False
        return data

    def _get(self, params: dict[str, Any]) -> _Repository:
        name = str(params.get("repositoryName") or "")
        self._registry_id(params)
        repo = self.repositories.get(name)
        if repo is None:
            raise _not_found(name, self.account)
        return repo

    def _registry_id(self, params: dict[str, Any]) -> None:
        registry_id = params.get("registryId")
        if registry_id not in (None, self.account):
            raise EcrPublicError("InvalidParameterException",
                                 f"Invalid parameter at 'registryId' failed to satisfy constraint: "
                                 f"'registry {registry_id} is not in this account'")

    @staticmethod
    def _catalog_input(data: Any) -> tuple[dict[str, Any], bytes | None]:
        if not isinstance(data, dict):
            raise EcrPublicError("InvalidParameterException", "catalogData must be a structure")
        catalog: dict[str, Any] = {}
        for key, limit in _CATALOG_LIMITS.items():
            if key in data:
                if len(str(data[key])) > limit:
                    raise EcrPublicError("InvalidParameterException",
                                         f"Invalid parameter at '{key}' failed to satisfy constraint: "
                                         f"'Member must have length less than or equal to {limit}'")
                catalog[key] = str(data[key])
        for key in ("architectures", "operatingSystems"):
            if key in data:
                values = data[key]
                if not isinstance(values, list) or len(values) > 50 or any(
                        not isinstance(v, str) or not 1 <= len(v) <= 50 for v in values):
                    raise EcrPublicError("InvalidParameterException",
                                         f"Invalid parameter at '{key}' failed to satisfy constraint: 'Member must "
                                         "have at most 50 items of length 1 to 50'")
                catalog[key] = list(values)
        logo = None
        if data.get("logoImageBlob"):
            try:
                logo = base64.b64decode(str(data["logoImageBlob"]), validate=True)
            except ValueError:
                raise EcrPublicError("InvalidParameterException", "logoImageBlob is not base64") from None
        return catalog, logo

    def _images(self, repo: _Repository) -> list[dict[str, Any]]:
        """What the registry holds for the repository: one entry per digest (tagged images only)."""
        if self.registry is None:
            return []
        path = self.path(repo.name)
        by_digest: dict[str, dict[str, Any]] = {}
        try:
            for tag in self.registry.tags(path):
                manifest = self.registry.manifest(path, tag)
                if manifest is None or not manifest.digest:
                    continue
                entry = by_digest.setdefault(manifest.digest, {"digest": manifest.digest, "tags": [],
                                                               "size": manifest.size, "media": manifest.media_type})
                entry["tags"].append(tag)
        except (RegistryError, OSError) as exc:
            raise EcrPublicError("ServerException", f"the sandbox registry did not answer: {exc}", 500) from None
        now = time.time()
        for digest in by_digest:
            repo.pushed_at.setdefault(digest, now)
        return list(by_digest.values())

    def _image_detail(self, repo: _Repository, image: dict[str, Any]) -> dict[str, Any]:
        detail = {"registryId": self.account, "repositoryName": repo.name, "imageDigest": image["digest"],
                  "imageSizeInBytes": int(image["size"]), "imagePushedAt": repo.pushed_at[image["digest"]],
                  "imageManifestMediaType": image["media"]}
        if image["tags"]:
            detail["imageTags"] = sorted(image["tags"])
        return detail

    @staticmethod
    def _page(items: list[Any], params: dict[str, Any], default: int, most: int) -> tuple[list[Any], str | None]:
        try:
            start = int(params.get("nextToken") or 0)
        except ValueError:
            raise EcrPublicError("InvalidParameterException", "Invalid parameter at 'nextToken'") from None
        size = int(params.get("maxResults") or default)
        if not 1 <= size <= most:
            raise EcrPublicError("InvalidParameterException", f"Invalid parameter at 'maxResults' failed to satisfy "
                                 f"constraint: 'Member must have value between 1 and {most}'")
        chunk = items[start:start + size]
        return chunk, (str(start + size) if start + size < len(items) else None)

    # ------------------------------------------------------------------ operations
    def create_repository(self, params: dict[str, Any]) -> dict[str, Any]:
        """CreateRepository (catalog data in the same call)."""
        name = str(params.get("repositoryName") or "")
        if not 2 <= len(name) <= 205 or not _NAME.match(name):
            raise EcrPublicError("InvalidParameterException",
                                 f"Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy "
                                 f"regular expression '{_NAME.pattern}''")
        if name in self.repositories:
            raise EcrPublicError("RepositoryAlreadyExistsException",
                                 f"The repository with name '{name}' already exists in the registry with id "
                                 f"'{self.account}'")
        catalog, logo = self._catalog_input(params.get("catalogData") or {})
        repo = _Repository(name=name, created_at=time.time(), catalog=catalog, logo=logo)
        self.repositories[name] = repo
        return {"repository": self._repository_json(repo), "catalogData": self._catalog_json(repo)}

    def describe_repositories(self, params: dict[str, Any]) -> dict[str, Any]:
        """DescribeRepositories: the named ones (each must exist), else all, paginated."""
        self._registry_id(params)
        names = params.get("repositoryNames")
        if names:
            for name in names:
                if name not in self.repositories:
                    raise _not_found(str(name), self.account)
            repos = [self.repositories[n] for n in names]
        else:
            repos = sorted(self.repositories.values(), key=lambda r: r.created_at)
        chunk, token = self._page(repos, params, 100, 1000)
        answer: dict[str, Any] = {"repositories": [self._repository_json(r) for r in chunk]}
        if token:
            answer["nextToken"] = token
        return answer

    def delete_repository(self, params: dict[str, Any]) -> dict[str, Any]:
        """DeleteRepository: refused while it holds images, unless ``force``."""
        repo = self._get(params)
        images = self._images(repo)
        if images and not params.get("force"):
            raise EcrPublicError("RepositoryNotEmptyException",
                                 f"The repository with name '{repo.name}' in registry with id '{self.account}' "
                                 "cannot be deleted because it still contains images")
        for image in images:
            if self.registry is not None:
                self.registry.delete_manifest(self.path(repo.name), image["digest"])
        del self.repositories[repo.name]
        return {"repository": self._repository_json(repo)}

    def describe_registries(self, params: dict[str, Any]) -> dict[str, Any]:
        """DescribeRegistries: the account's one registry and its (default, primary) alias."""
        return {"registries": [{
            "registryId": self.account,
            "registryArn": f"arn:aws:ecr-public::{self.account}:registry/{self.account}",
            "registryUri": self.registry_uri,
            "verified": False,
            "aliases": [{"name": self.alias, "status": "ACTIVE", "primaryRegistryAlias": True,
                         "defaultRegistryAlias": True}],
        }]}

    def get_authorization_token(self, params: dict[str, Any]) -> dict[str, Any]:
        """GetAuthorizationToken: base64 ``AWS:<password>`` for 12 hours (the registry does not check it)."""
        token = base64.b64encode(f"AWS:{self._password}".encode("ascii")).decode("ascii")
        return {"authorizationData": {"authorizationToken": token, "expiresAt": time.time() + TOKEN_LIFETIME_SECONDS}}

    def describe_images(self, params: dict[str, Any]) -> dict[str, Any]:
        """DescribeImages: the given imageIds (each must exist: ImageNotFoundException), else all."""
        repo = self._get(params)
        images = self._images(repo)
        wanted = params.get("imageIds")
        if wanted:
            chosen = []
            for image_id in wanted:
                digest, tag = image_id.get("imageDigest"), image_id.get("imageTag")
                found = next((i for i in images if (not digest or i["digest"] == digest)
                              and (not tag or tag in i["tags"])), None) if digest or tag else None
                if found is None:
                    shown = json.dumps(image_id, separators=(",", ":"))
                    raise EcrPublicError("ImageNotFoundException",
                                         f"The image with imageId {shown} does not exist within the repository with "
                                         f"name '{repo.name}' in the registry with id '{self.account}'")
                if found not in chosen:
                    chosen.append(found)
            images = chosen
        chunk, token = self._page(images, params, 100, 1000)
        answer: dict[str, Any] = {"imageDetails": [self._image_detail(repo, i) for i in chunk]}
        if token:
            answer["nextToken"] = token
        return answer

    def describe_image_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        """DescribeImageTags: every tag and the image it holds, paginated."""
        repo = self._get(params)
        rows = []
        for image in self._images(repo):
            for tag in image["tags"]:
                detail = self._image_detail(repo, image)
                rows.append({"imageTag": tag, "createdAt": detail["imagePushedAt"], "imageDetail": {
                    k: detail[k] for k in ("imageDigest", "imageSizeInBytes", "imagePushedAt",
                                           "imageManifestMediaType")}})
        rows.sort(key=lambda r: r["imageTag"])
        chunk, token = self._page(rows, params, 100, 1000)
        answer: dict[str, Any] = {"imageTagDetails": chunk}
        if token:
            answer["nextToken"] = token
        return answer

    def get_repository_catalog_data(self, params: dict[str, Any]) -> dict[str, Any]:
        """GetRepositoryCatalogData."""
        return {"catalogData": self._catalog_json(self._get(params))}

    def put_repository_catalog_data(self, params: dict[str, Any]) -> dict[str, Any]:
        """PutRepositoryCatalogData: the catalog data becomes what was sent."""
        repo = self._get(params)
        if "catalogData" not in params:
            raise EcrPublicError("InvalidParameterException", "catalogData is required")
        repo.catalog, repo.logo = self._catalog_input(params["catalogData"])
        return {"catalogData": self._catalog_json(repo)}

    def batch_delete_image(self, params: dict[str, Any]) -> dict[str, Any]:
        """BatchDeleteImage: deleted ids, and a failure per id the repository does not hold."""
        repo = self._get(params)
        images = self._images(repo)
        deleted, failures = [], []
        for image_id in params.get("imageIds") or []:
            digest, tag = image_id.get("imageDigest"), image_id.get("imageTag")
            if not digest and not tag:
                failures.append({"imageId": image_id, "failureCode": "MissingDigestAndTag",
                                 "failureReason": "Missing digest and tag"})
                continue
            found = next((i for i in images if (not digest or i["digest"] == digest)
                          and (not tag or tag in i["tags"])), None)
            if found is None:
                failures.append({"imageId": image_id, "failureCode": "ImageNotFound",
                                 "failureReason": "Requested image not found"})
                continue
            if self.registry is not None:
                self.registry.delete_manifest(self.path(repo.name), found["digest"])
            deleted.append({"imageDigest": found["digest"], **({"imageTag": tag} if tag else {})})
        return {"imageIds": deleted, "failures": failures}

    def get_registry_catalog_data(self, params: dict[str, Any]) -> dict[str, Any]:
        """GetRegistryCatalogData."""
        return {"registryCatalogData": {"displayName": self.display_name} if self.display_name else {}}

    def put_registry_catalog_data(self, params: dict[str, Any]) -> dict[str, Any]:
        """PutRegistryCatalogData."""
        if params.get("displayName") is not None:
            self.display_name = str(params["displayName"])
        return self.get_registry_catalog_data({})

    OPERATIONS = {
        "CreateRepository": create_repository,
        "DescribeRepositories": describe_repositories,
        "DeleteRepository": delete_repository,
        "DescribeRegistries": describe_registries,
        "GetAuthorizationToken": get_authorization_token,
        "DescribeImages": describe_images,
        "DescribeImageTags": describe_image_tags,
        "GetRepositoryCatalogData": get_repository_catalog_data,
        "PutRepositoryCatalogData": put_repository_catalog_data,
        "BatchDeleteImage": batch_delete_image,
        "GetRegistryCatalogData": get_registry_catalog_data,
        "PutRegistryCatalogData": put_registry_catalog_data,
    }

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run one operation; EcrPublicError for what AWS refuses."""
        handler = self.OPERATIONS.get(operation)
        if handler is None:
            raise EcrPublicError("UnsupportedCommandException",
                                 f"The action {operation} is not supported by the ci-ecs sandbox's ECR Public")
        with self.lock:
            return handler(self, params)

    def logo(self, name: str) -> bytes | None:
        """A repository's logo (what its logoUrl serves)."""
        repo = self.repositories.get(name)
        return repo.logo if repo is not None else None


def _credential_scope(authorization: str) -> tuple[str, str]:
    marker = "Credential="
    start = authorization.find(marker)
    if start < 0:
        return "", ""
    scope = authorization[start + len(marker):].split(",", 1)[0].strip().split("/")
    return (scope[2], scope[3].lower()) if len(scope) == 5 else ("", "")


class EcrPublicRouter:
    """WSGI: requests signed for ``ecr-public`` go to the EcrPublicService, everything else to moto."""

    def __init__(self, app: WSGIApp, service: EcrPublicService) -> None:
        self.app = app
        self.service = service

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO") or "")
        if environ.get("REQUEST_METHOD") == "GET" and path.startswith(LOGO_PATH):
            return self._logo(path[len(LOGO_PATH):], start_response)
        region, signing_name = _credential_scope(str(environ.get("HTTP_AUTHORIZATION") or ""))
        if signing_name != "ecr-public":
            return self.app(environ, start_response)
        target = str(environ.get("HTTP_X_AMZ_TARGET") or "")
        operation = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else ""
        try:
            if region not in REGIONS:
                # No ECR Public endpoint there on AWS; the sandbox answers as for a region it does not know.
                raise EcrPublicError("InvalidSignatureException",
                                     f"Credential should be scoped to a valid region, not '{region}'.", 403)
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length > 0 else b""
            try:
                params = json.loads(body or b"{}")
            except ValueError:
                raise EcrPublicError("SerializationException", "the request body is not JSON") from None
            if not isinstance(params, dict):
                raise EcrPublicError("SerializationException", "the request body is not a JSON object")
            answer = self.service.call(operation, params)
        except EcrPublicError as exc:
            return _respond(start_response, exc.status, {"__type": exc.code, "message": exc.message},
                            error=exc.code)
        return _respond(start_response, 200, answer)

    def _logo(self, name: str, start_response: Callable[..., Any]) -> list[bytes]:
        data = self.service.logo(name)
        if data is None:
            start_response("404 Not Found", [("Content-Length", "0")])
            return [b""]
        kind = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
        start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(data)))])
        return [data]


_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 500: "Internal Server Error"}


def _respond(start_response: Callable[..., Any], status: int, payload: dict[str, Any],
             error: str | None = None) -> list[bytes]:
    body = json.dumps(payload).encode()
    headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", str(uuid.uuid4())),
               ("Content-Length", str(len(body)))]
    if error:
        headers.append(("x-amzn-ErrorType", f"{error}:"))
    start_response(f"{status} {_REASONS.get(status, 'Error')}", headers)
    return [body]
