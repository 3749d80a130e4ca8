"""Parse and validate container image references (the Docker/OCI reference grammar)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# The distribution reference grammar, simplified to what registries accept.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_NAME = rf"(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"^{_NAME}(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$")
TAG_PATTERN = re.compile(rf"^{_TAG}$")


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference: `registry/path:tag@digest`, each part optional but the path."""

    domain: str | None
    path: str
    tag: str | None
    digest: str | None

    @property
    def repository(self) -> str:
        """The reference without tag or digest, e.g. `127.0.0.1:5000/hello`."""
        return f"{self.domain}/{self.path}" if self.domain else self.path

    def __str__(self) -> str:
        text = self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_image_ref(reference: str) -> ImageRef:
    """Parse an image reference, raising ValueError with the reason when it is malformed.

    >>> parse_image_ref("123456789012.dkr.ecr.us-east-1.amazonaws.com/hello:1.0.0").path
    'hello'
    >>> parse_image_ref("nginx:1.27").domain is None
    True
    """
    if not reference or reference != reference.strip():
        raise ValueError(f"malformed image reference {reference!r}: empty or surrounded by spaces")
    match = _REFERENCE.match(reference)
    if not match:
        raise ValueError(f"malformed image reference {reference!r}: expected [registry/]name[:tag][@digest]"
                         " with a lower-case name")
    domain = match.group("domain")
    path = match.group("path")
    # "localhost:5000/x" and "a.b/x" name a registry; "library/nginx" does not.
    if domain and "." not in domain and ":" not in domain and domain != "localhost" \
            and not domain.startswith("["):
        path = f"{domain}/{path}"
        domain = None
        if not re.fullmatch(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*", path):
            raise ValueError(f"malformed image reference {reference!r}: repository names are lower-case")
    return ImageRef(domain=domain, path=path, tag=match.group("tag"), digest=match.group("digest"))


# What task-definition templates write where the deployed image goes: ci-ecs's own spellings, and
# CodeDeploy's `<IMAGE1_NAME>` convention (appspec/taskdef.json for ECS blue/green deployments, where
# "<IMAGE1_NAME>" ... "<IMAGEn_NAME>" stand for the images a pipeline substitutes).
_PLACEHOLDER = re.compile(r"^(?:\{\{\s*image\s*\}\}|\$\{IMAGE\}|<IMAGE>|IMAGE|<IMAGE\d*_NAME>)$")

# A private Amazon ECR registry: <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]
_PRIVATE_ECR = re.compile(r"^\d{12}\.dkr\.ecr(?:-fips)?\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$")


def is_image_placeholder(image: object) -> bool:
    """True when a container's `image` is empty or a placeholder for the image a deploy substitutes.

    >>> [is_image_placeholder(i) for i in ("<IMAGE1_NAME>", "${IMAGE}", "", "nginx:1")]
    [True, True, True, False]
    """
    if not isinstance(image, str):
        return not image
    return not image.strip() or bool(_PLACEHOLDER.match(image.strip()))


def is_private_ecr(image: str) -> bool:
    """True when `image` is in a private Amazon ECR registry (pulling it needs credentials).

    >>> is_private_ecr("123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1"), is_private_ecr("public.ecr.aws/x/y")
    (True, False)
    """
    try:
        domain = parse_image_ref(image).domain
    except ValueError:
        return False
    return bool(domain and _PRIVATE_ECR.match(domain))


def is_loopback_host(host: str) -> bool:
    """True for "localhost" and any loopback address (127.0.0.0/8, ::1), without brackets.

    >>> is_loopback_host("127.45.0.2"), is_loopback_host("::1"), is_loopback_host("ecr.aws")
    (True, True, False)
    """
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

