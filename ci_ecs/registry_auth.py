"""ECR registry credentials, in memory only.

GetAuthorizationToken gives a base64 `AWS:<password>` valid for 12 hours. ci-ecs decodes it, hands the
password to the Docker SDK as `auth_config` (it travels to the engine in the X-Registry-Auth header over
the engine socket) or to skopeo through an in-memory file (see `authfile`), and fetches a new token when
the old one is about to expire. It never runs `docker login`, never writes ~/.docker/config.json, and
registers the password with `redact` so no log line or error message can print it.

ECR Public's GetAuthorizationToken (ecr_public.EcrPublicGateway) gives the same kind of token for
public.ecr.aws and is handled the same way: anyone may pull a public image, but a push needs it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlparse

from ci_ecs.errors import AwsError
from ci_ecs.redact import register_secret

log = logging.getLogger(__name__)

# Fetch a new token this long before the old one expires: a push of a big image can take minutes.
REFRESH_MARGIN_SECONDS = 300.0


class TokenSource(Protocol):
    """What gives a registry token: ecr.EcrGateway or ecr_public.EcrPublicGateway."""

    def authorization(self) -> dict[str, Any]:
        """authorizationData: authorizationToken, expiresAt and the registry as proxyEndpoint."""
        ...


@dataclass(frozen=True)
class RegistryLogin:
    """A registry's user name and password. The password never shows in repr()."""

    registry: str
    username: str
    password: str = field(repr=False)
    expires_at: float | None = None

    def docker_auth_config(self) -> dict[str, str]:
        """The Docker SDK's `auth_config` for a push."""
        return {"username": self.username, "password": self.password, "serveraddress": self.registry}

    def auth_json(self) -> bytes:
        """The containers-auth.json / Docker config.json document holding only this login."""
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
        return json.dumps({"auths": {self.registry: {"auth": token}}}).encode()


def decode_token(token: str) -> tuple[str, str]:
    """Split an ECR authorization token into user name and password.

    >>> decode_token(base64.b64encode(b"AWS:pa:ss").decode())
    ('AWS', 'pa:ss')
    """
    try:
        text = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise AwsError("get ECR authorization token", "", "the token is not base64 text") from None
    username, sep, password = text.partition(":")
    if not sep or not password:
        raise AwsError("get ECR authorization token", "", "the token is not <user>:<password>")
    return username, password


def _timestamp(value: Any) -> float | None:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    return None


def _host(endpoint: str) -> str:
    """`https://1234.dkr.ecr.us-east-1.amazonaws.com` -> `1234.dkr.ecr.us-east-1.amazonaws.com`."""
    parsed = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
    return parsed.netloc or endpoint


class EcrCredentials:
    """ECR (or ECR Public) credentials for pushes, fetched on first use and again when about to expire.

    >>> creds = EcrCredentials(EcrGateway(factory.client("ecr")))  # doctest: +SKIP
    >>> client.api.push(uri, tag, auth_config=creds.get().docker_auth_config())  # doctest: +SKIP
    """

    def __init__(
        self,
        ecr: TokenSource,
        *,
        clock: Callable[[], float] = time.time,
        margin: float = REFRESH_MARGIN_SECONDS,
    ) -> None:
        self._ecr = ecr
        self._clock = clock
        self._margin = margin
        self._login: RegistryLogin | None = None
        self._lock = threading.Lock()

    def _fresh(self, login: RegistryLogin | None) -> bool:
        if login is None:
            return False
        return login.expires_at is None or login.expires_at - self._margin > self._clock()

    def get(self, *, force: bool = False) -> RegistryLogin:
        """A login that is valid for at least the refresh margin (`force` fetches a new one anyway)."""
        with self._lock:
            current = self._login
            if not force and current is not None and self._fresh(current):
                return current
            data = self._ecr.authorization()
            token = str(data.get("authorizationToken", ""))
            register_secret(token)
            username, password = decode_token(token)
            register_secret(password)
            login = RegistryLogin(
                registry=_host(str(data.get("proxyEndpoint", ""))),
                username=username,
                password=password,
                expires_at=_timestamp(data.get("expiresAt")),
            )
            if not self._fresh(login):
                # Some stand-ins (moto) hand out tokens that expired long ago; a real one never does.
                log.debug("the ECR token says it expires at %s; using it anyway", data.get("expiresAt"))
            self._login = login
            return login


@contextlib.contextmanager
def authfile(login: RegistryLogin, registry: str | None = None) -> Iterator[tuple[str, int | None]]:
    """A containers-auth.json holding `login` (for `registry`, default the login's), as (path, fd).

    Why a memfd: skopeo takes credentials on its command line (`--dest-creds`, visible to every user
    in /proc/PID/cmdline) or from an auth file. A memfd is a file that lives only in memory: the child
    gets it as an inherited descriptor and reads it as `/dev/fd/N`, so the password is in no argv and
    never on any disk, and it is gone when both processes close it. Pass the fd with `pass_fds`.
    Where memfd_create does not exist (not Linux), a 0600 file in a private 0700 directory is used and
    deleted as soon as the block ends (fd is None then).
    """
    document = (
        login.auth_json()
        if registry is None
        else RegistryLogin(registry, login.username, login.password, login.expires_at).auth_json()
    )
    memfd_create = getattr(os, "memfd_create", None)
    if memfd_create is not None:
        # Close-on-exec, so no other child inherits it; pass_fds hands it to the one that needs it.
        fd = memfd_create("ci-ecs-auth")
        try:
            os.write(fd, document)
            os.lseek(fd, 0, os.SEEK_SET)
            yield f"/dev/fd/{fd}", fd
        finally:
            os.close(fd)
        return
    directory = tempfile.mkdtemp(prefix="ci-ecs-auth-")
    path = os.path.join(directory, "auth.json")
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, "wb") as out:
            out.write(document)
        yield path, None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        with contextlib.suppress(OSError):
            os.rmdir(directory)
