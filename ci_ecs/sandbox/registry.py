"""The ECR data plane: Debian's ``docker-registry`` (distribution v2) as a subprocess, and a
small client for the parts of its HTTP API the sandbox reads.

The registry runs without authentication (a sandbox on 127.0.0.1); ECR's authorization token
still decodes to ``AWS:<password>`` so ``docker login`` works, it is just not checked.

Its lifetime is the sandbox's: it runs under a small guard process that stops it when the
sandbox's end of a pipe closes, which the kernel does when the sandbox exits in any way, SIGKILL
included. It is only "ready" once the registry that answers on its port is this one (a header
with a token of this start), so a registry another sandbox left on the port is never served.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

REGISTRY_PROGRAM = "docker-registry"

MANIFEST_MEDIA_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
)
ACCEPT_MANIFESTS = ", ".join(MANIFEST_MEDIA_TYPES)


# The response header the sandbox's registry adds to every answer (distribution's `http.headers`), its value a
# token of one start: how start() tells its own registry from another one on the same port.
IDENTITY_HEADER = "X-Ci-Ecs-Registry"

# Runs between the sandbox and docker-registry (`python -I -c _GUARD PROGRAM ARGS...`): starts the registry,
# stops it when the guard's stdin reaches end of file, that is when the sandbox closed its end of the pipe (stop())
# or died (the kernel closes a dead process's descriptors, SIGKILL included), and exits with the registry's
# status. PR_SET_PDEATHSIG cannot do this: it fires when the *thread* that spawned the child ends, and the
# sandbox may start from any thread. Ctrl-C reaches the whole process group: the guard leaves it to the others.
_GUARD = """
import signal, subprocess, sys, threading, time
child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL)
def watch():
    while sys.stdin.buffer.read(4096):
        pass
    child.terminate()
    time.sleep(5)
    child.kill()
signal.signal(signal.SIGINT, lambda *_: None)
signal.signal(signal.SIGTERM, lambda *_: child.terminate())
threading.Thread(target=watch, daemon=True).start()
sys.exit(child.wait())
"""


class RegistryError(RuntimeError):
    """The registry did not start or answered something unexpected."""


class RegistryPortError(RegistryError):
    """The registry's port cannot be bound: another process holds it (often a registry a killed sandbox left)."""


@dataclass(frozen=True)
class Manifest:
    """A manifest as the registry serves it."""

    digest: str
    media_type: str
    body: str

    @property
    def size(self) -> int:
        """Bytes ECR would report: the config and the (compressed) layers, or the body of an index."""
        try:
            data = json.loads(self.body)
        except ValueError:
            return len(self.body)
        if "layers" in data:
            return int(data.get("config", {}).get("size", 0)) + sum(int(x.get("size", 0)) for x in data["layers"])
        return len(self.body)


class RegistryClient:
    """Reads and writes a distribution v2 registry over plain HTTP on 127.0.0.1."""

    def __init__(self, address: str, timeout: float = 5.0) -> None:
        self.address = address
        self.base = f"http://{address}"
        self.timeout = timeout

    def _request(
        self, method: str, path: str, headers: dict[str, str] | None = None, data: bytes | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, dict(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers.items()), err.read()

    def ping(self) -> bool:
        """True when the registry answers its API root."""
        try:
            status, _, _ = self._request("GET", "/v2/")
        except OSError:
            return False
        return status == 200

    def identity(self) -> str | None:
        """The IDENTITY_HEADER the registry answers its API root with; None when nothing (or no registry) answers."""
        try:
            status, headers, _ = self._request("GET", "/v2/")
        except OSError:
            return None
        if status != 200:
            return None
        return {k.lower(): v for k, v in headers.items()}.get(IDENTITY_HEADER.lower(), "")

    def tags(self, repository: str) -> list[str]:
        """Tags of a repository; [] when the repository has never been pushed to."""
        status, _, body = self._request("GET", f"/v2/{repository}/tags/list")
        if status == 404:
            return []
        if status != 200:
            raise RegistryError(f"list tags of {repository}: HTTP {status}")
        return sorted(json.loads(body or b"{}").get("tags") or [])

    def manifest(self, repository: str, reference: str) -> Manifest | None:
        """The manifest a tag or digest names, or None when the registry does not have it."""
        status, headers, body = self._request(
            "GET", f"/v2/{repository}/manifests/{reference}", headers={"Accept": ACCEPT_MANIFESTS}
        )
        if status == 404:
            return None
        if status != 200:
            raise RegistryError(f"get manifest {repository}:{reference}: HTTP {status}")
        lowered = {k.lower(): v for k, v in headers.items()}
        media_type = lowered.get("content-type", "").split(";")[0].strip()
        return Manifest(digest=lowered.get("docker-content-digest", ""), media_type=media_type, body=body.decode())

    def has(self, repository: str, reference: str) -> bool:
        """Whether ``repository:reference`` (a tag or a digest) can be pulled."""
        status, _, _ = self._request(
            "HEAD", f"/v2/{repository}/manifests/{reference}", headers={"Accept": ACCEPT_MANIFESTS}
        )
        return status == 200

    def put_manifest(self, repository: str, reference: str, body: str, media_type: str) -> str:
        """Store a manifest under a tag; returns its digest. Raises RegistryError when blobs are missing."""
        status, headers, answer = self._request(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            headers={"Content-Type": media_type},
            data=body.encode(),
        )
        if status not in (200, 201):
            raise RegistryError(f"put manifest {repository}:{reference}: HTTP {status} {answer[:300]!r}")
        return {k.lower(): v for k, v in headers.items()}.get("docker-content-digest", "")

    def delete_manifest(self, repository: str, digest: str) -> bool:
        """Delete a manifest by digest (removes every tag pointing at it)."""
        status, _, _ = self._request(
            "DELETE", f"/v2/{repository}/manifests/{digest}", headers={"Accept": ACCEPT_MANIFESTS}
        )
        return status in (200, 202)

    def upload_blob(self, repository: str, data: bytes, digest: str) -> None:
        """Monolithic blob upload (POST then PUT), enough for tests and small images."""
        status, headers, body = self._request("POST", f"/v2/{repository}/blobs/uploads/")
        if status != 202:
            raise RegistryError(f"start upload to {repository}: HTTP {status} {body[:200]!r}")
        location = {k.lower(): v for k, v in headers.items()}["location"]
        if location.startswith(self.base):
            location = location[len(self.base) :]
        sep = "&" if "?" in location else "?"
        status, _, body = self._request(
            "PUT",
            f"{location}{sep}digest={digest}",
            headers={"Content-Type": "application/octet-stream"},
            data=data,
        )
        if status != 201:
            raise RegistryError(f"upload blob {digest} to {repository}: HTTP {status} {body[:200]!r}")


def find_program() -> str | None:
    """Path of the docker-registry program, or None when it is not installed."""
    return shutil.which(REGISTRY_PROGRAM)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _free_port(host: str) -> int:
    with socket.socket(_family(host)) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_in_use(host: str, port: int) -> RegistryPortError:
    return RegistryPortError(
        f"cannot start the ECR registry on {host}:{port}: the port is in use (a registry a killed sandbox left "
        f"running?); stop that process or choose another --registry-port"
    )


def _check_port_free(host: str, port: int) -> None:
    """Raise RegistryPortError when ``host:port`` cannot be bound (SO_REUSEADDR, as the registry binds it)."""
    with socket.socket(_family(host)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            raise _port_in_use(host, port) from err


class RegistryProcess:
    """A docker-registry subprocess (under its guard, see _GUARD) with its storage in a temporary directory."""

    def __init__(self, program: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.program = program
        self.host = host
        self.port = port
        self.workdir: str | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def address(self) -> str:
        """host:port clients push to."""
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> RegistryClient:
        """Start the registry and wait until it answers; returns a client for it.

        Raises RegistryPortError (naming the port) when the port is taken, RegistryError when the
        registry does not start."""
        if self.port:
            _check_port_free(self.host, self.port)  # the common case, told before anything starts
        else:
            # docker-registry cannot report an OS-chosen port, so pick a free one first.
            self.port = _free_port(self.host)
        self.workdir = tempfile.mkdtemp(prefix="ci-ecs-registry-")
        token = secrets.token_hex(16)
        config = os.path.join(self.workdir, "config.yml")
        storage = os.path.join(self.workdir, "storage")
        with open(config, "w", encoding="utf-8") as fh:
            fh.write(
                "version: 0.1\n"
                "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
                f"storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
                f"http:\n  addr: {self.address}\n  headers:\n    {IDENTITY_HEADER}: [{token}]\n"
            )
        log_path = os.path.join(self.workdir, "registry.log")
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        # stdin is the pipe the guard watches: its write end stays open in this process, and only here
        # (subprocess makes its pipes non-inheritable, so no other child holds it open).
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", _GUARD, self.program, "serve", config],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE,
        )
        client = RegistryClient(self.address)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                with open(log_path, "rb") as fh:
                    output = fh.read().decode(errors="replace")
                code = self.process.returncode
                self.stop()
                if "address already in use" in output:
                    raise _port_in_use(self.host, self.port)
                last = output.strip().splitlines()[-1:] or [""]
                raise RegistryError(f"{self.program} exited with {code}: {last[0][-300:]}")
            # Another registry may answer on the port (taken between the check and the bind): not ours.
            if client.identity() == token:
                log.debug("registry ready at %s", self.address)
                return client
            time.sleep(0.05)
        self.stop()
        raise RegistryError(f"{self.program} did not answer on {self.address} within {timeout}s")

    def stop(self) -> None:
        """Stop the process and delete its storage."""
        if self.process is not None:
            if self.process.stdin is not None:
                self.process.stdin.close()  # end of file: the guard stops the registry and exits with it
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
