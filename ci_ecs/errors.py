"""Typed errors. Library code raises these; the CLI maps them to exit codes in one place."""

from __future__ import annotations

import unicodedata
from typing import Any

_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_control(text: str) -> str:
    r"""`text` with control characters written as escapes, so it stays one line and cannot drive a terminal.

    A newline in a path would start a new line in a CI log (and could fake one); ESC starts terminal
    control sequences. Line and paragraph separators (U+2028/9) count too: some viewers break on them.

    >>> print(escape_control("a\nb \x1b[31mred\x00"))
    a\nb \x1b[31mred\x00
    """
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[char])
        elif unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


class CiEcsError(Exception):
    """Base of every error ci-ecs reports to a user; `exit_code` is what the CLI exits with.

    The message is kept with control characters escaped (`escape_control`): whatever value or path
    it quotes, it prints as one line.
    """

    exit_code = 1
    # The deploy result so far (the `--output json` object), printed with `error` set when this error ends a run.
    result: dict[str, Any] | None = None

    def __init__(self, message: str, **fields: Any) -> None:
        message = escape_control(message)
        super().__init__(message)
        self.message = message
        self.fields = fields

    def __str__(self) -> str:
        return self.message


class ConfigError(CiEcsError):
    """Bad usage or configuration, found before anything was written to AWS (exit 2)."""

    exit_code = 2

    def __init__(self, message: str, *, key: str | None = None, line: int | None = None,
                 source: str | None = None) -> None:
        where = ""
        if source and line:
            where = f"{source}:{line}: "
        elif source:
            where = f"{source}: "
        prefix = f"{key}: " if key else ""
        super().__init__(f"{where}{prefix}{message}", key=key, line=line, source=source)
        self.key = key
        self.line = line


class AwsError(CiEcsError):
    """An AWS call failed; the message starts with what ci-ecs was doing ("describe service web: ...")."""

    exit_code = 1

    def __init__(self, action: str, code: str, detail: str) -> None:
        super().__init__(f"{action}: {code}: {detail}" if code else f"{action}: {detail}",
                         action=action, code=code)
        self.action = action
        self.code = code
        self.detail = detail


class CredentialsError(AwsError):
    """Missing or rejected credentials, or a permission AWS refused (AccessDenied, PassRole) (exit 3)."""

    exit_code = 3


class AwsUnavailableError(AwsError):
    """AWS could not be reached, or kept failing after botocore's retries (exit 5): no connection, DNS or TLS
    failure, a connection closed or a read timed out, throttling, HTTP 5xx. Not "the deployment failed":
    nothing says what the call did, so the message names the endpoint and what to check.

    `maybe_done`: the request may have reached AWS and been carried out, its answer lost (a connection
    closed or a read timeout after sending); a caller that must not repeat it looks before sending again.
    """

    exit_code = 5

    def __init__(self, action: str, code: str, detail: str, *, endpoint: str | None = None,
                 maybe_done: bool = False) -> None:
        super().__init__(action, code, detail)
        self.fields.update(endpoint=endpoint, maybe_done=maybe_done)
        self.endpoint = endpoint
        self.maybe_done = maybe_done


class ImageNotFoundError(CiEcsError):
    """The image to deploy is not in the registry it names (exit 1)."""


class ImageConflictError(CiEcsError):
    """An immutable tag already holds a different digest (exit 1)."""


class ServiceStateError(CiEcsError):
    """The service is in a state ci-ecs must not deploy over, e.g. DRAINING (exit 1)."""


class DeploymentFailedError(CiEcsError):
    """The deployment failed or was rolled back; carries the reasons ECS gave (exit 1)."""

    def __init__(self, message: str, *, deployment_id: str | None = None,
                 stopped_reasons: list[str] | None = None, events: list[str] | None = None,
                 rolled_back_to: str | None = None, result: dict[str, Any] | None = None,
                 log_tails: list[Any] | None = None) -> None:
        super().__init__(message, deployment_id=deployment_id)
        self.deployment_id = deployment_id
        # Printed one per line: each escaped like the message, so none can split into two lines.
        self.stopped_reasons = [escape_control(reason) for reason in stopped_reasons or []]
        self.events = [escape_control(event) for event in events or []]
        self.rolled_back_to = rolled_back_to
        self.result = result
        # The last log lines of the stopped (or unverified) tasks' essential containers (ci_ecs.tails.LogTail),
        # printed under their stopped reason; escaped where they are printed.
        self.log_tails = list(log_tails or [])


class ServiceDeletedError(DeploymentFailedError):
    """The service was deleted (DRAINING, INACTIVE or no longer described) while ci-ecs waited on it: a failed
    deploy (exit 1), never rolled back (ECS refuses UpdateService on a service being deleted)."""

    def __init__(self, message: str, *, service: str, status: str, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.service = service
        self.status = status


class DeployTimeoutError(CiEcsError):
    """The deployment did not finish within the timeout (exit 4)."""

    exit_code = 4

    def __init__(self, message: str, *, deployment_id: str | None = None,
                 result: dict[str, Any] | None = None) -> None:
        super().__init__(message, deployment_id=deployment_id)
        self.deployment_id = deployment_id
        self.result = result


class AwsCallTimeoutError(DeployTimeoutError):
    """An AWS call (or its retries) was still unanswered when the run's `--timeout` ran out (exit 4)."""

    def __init__(self, message: str, *, endpoint: str | None = None) -> None:
        super().__init__(message)
        self.fields.update(endpoint=endpoint)
        self.endpoint = endpoint


class ImageEngineError(CiEcsError):
    """No Docker engine reachable, or a build/push through it failed (exit 1)."""


class DeployCancelledError(CiEcsError):
    """ci-ecs was cancelled (SIGINT 130, SIGTERM 143): raised where the run was, an AWS call in flight
    included, and by every AWS call tried after it (ci_ecs.aws_guard.CallGuard)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
