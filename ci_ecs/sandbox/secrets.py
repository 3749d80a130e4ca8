"""Container ``secrets`` resolved the way ECS does, from the sandbox's own Secrets Manager and
SSM Parameter Store (moto's backends, read under the sandbox lock).

``valueFrom`` forms (ECS developer guide, "Pass sensitive data to an Amazon ECS container"):
- Secrets Manager: ``arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME[:json-key:version-stage:version-id]``
  (a full or partial ARN; the empty fields pick the whole string / AWSCURRENT).
- Parameter Store: a parameter name (same Region) or ``arn:aws:ssm:REGION:ACCOUNT:parameter/NAME``.

A secret that cannot be read stops the task before its containers start, with ECS's
``ResourceInitializationError: unable to pull secrets or registry auth: ...`` reason.
"""

from __future__ import annotations

import json
from typing import Any

from moto.secretsmanager import secretsmanager_backends
from moto.ssm import ssm_backends

PREFIX = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "


class SecretError(Exception):
    """A secret the task cannot get; ``str()`` is ECS's stopped reason for it."""


def resolve(secrets: list[dict[str, Any]], account_id: str, region: str) -> dict[str, str]:
    """{environment variable: value} for a container's ``secrets``; raises SecretError.

    Values never reach logs: only the names of missing secrets appear in the error.
    """
    values: dict[str, str] = {}
    for secret in secrets or []:
        name = str(secret.get("name") or "")
        value_from = str(secret.get("valueFrom") or "")
        if value_from.startswith("arn:") and ":secretsmanager:" in value_from:
            values[name] = _from_secrets_manager(value_from, account_id, region)
        else:
            values[name] = _from_parameter_store(value_from, account_id, region)
    return values


def _from_secrets_manager(arn: str, account_id: str, region: str) -> str:
    parts = arn.split(":")
    arn_region = parts[3] or region
    arn_account = parts[4] or account_id
    secret_id = ":".join(parts[:7])
    json_key = parts[7] if len(parts) > 7 and parts[7] else None
    stage = parts[8] if len(parts) > 8 and parts[8] else None
    version = parts[9] if len(parts) > 9 and parts[9] else None
    backend = secretsmanager_backends[arn_account][arn_region]
    try:
        answer = backend.get_secret_value(secret_id, version, stage)  # type: ignore[arg-type] # None: unset
    except Exception as err:  # noqa: BLE001 - moto's own exceptions carry AWS's code and message
        code = getattr(err, "error_type", None) or type(err).__name__
        message = getattr(err, "message", None) or "Secrets Manager can't find the specified secret."
        raise SecretError(
            f"{PREFIX}unable to retrieve secret from asm: service call has been retried 1 time(s): "
            f"failed to fetch secret {arn} from secrets manager: {code}: {message}"
        ) from None
    text = answer.get("SecretString")
    if text is None:
        raise SecretError(f"{PREFIX}unable to retrieve secret from asm: secret {arn} has no SecretString")
    if json_key is None:
        return str(text)
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict) or json_key not in document:
        raise SecretError(
            f"{PREFIX}unable to retrieve secret from asm: retrieved secret from Secrets Manager "
            f"did not contain json key {json_key}"
        )
    value = document[json_key]
    return value if isinstance(value, str) else json.dumps(value)


def _from_parameter_store(value_from: str, account_id: str, region: str) -> str:
    name = value_from
    if value_from.startswith("arn:"):
        parts = value_from.split(":", 5)
        region = parts[3] or region
        account_id = parts[4] or account_id
        name = parts[5][len("parameter") :] if len(parts) > 5 else ""
    backend = ssm_backends[account_id][region]
    candidates = [name]
    if name.startswith("/") and name.count("/") == 1:
        candidates.append(name[1:])  # the ARN of a name without slashes is ...:parameter/NAME
    for candidate in candidates:
        parameter = backend.get_parameter(candidate) if candidate else None
        if parameter is not None:
            # SecureString values are stored "encrypted"; ECS decrypts them with the execution role.
            return str(parameter.decrypt(parameter.value) or "")
    raise SecretError(
        f"{PREFIX}unable to retrieve secrets from ssm: service call has been retried 1 time(s): "
        f"invalid ssm parameters: {value_from}"
    )
