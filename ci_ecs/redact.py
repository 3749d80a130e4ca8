"""Keep secrets out of everything ci-ecs prints, including `--debug` output.

Secret values (AWS keys, session token, OIDC tokens, ECR passwords) are registered as they become known;
every log record passes through `RedactingFilter`, which replaces them and the usual credential shapes
(signed headers, AWS access key ids, JSON Web Tokens). The result channels (stdout, $GITHUB_OUTPUT, the
job summary, the dotenv) pass through `redact` as well (ci_ecs/output.py).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from typing import Any

_lock = threading.Lock()
_secrets: set[str] = set()
MASK = "***"

# Header and query shapes that carry credentials, whatever their value.
_PATTERNS = [
    re.compile(r"(X-Amz-Security-Token['\"]?\s*[:=]\s*b?['\"]?)[^'\",\s}&]+", re.IGNORECASE),
    re.compile(r"(Signature=)[0-9a-f]+", re.IGNORECASE),
    re.compile(r"(['\"]?Authorization['\"]?\s*[:=]\s*b?['\"]?Basic\s+)[A-Za-z0-9+/=]+", re.IGNORECASE),
    re.compile(r"(['\"]?(?:password|authorizationToken|SecretAccessKey|SessionToken|AccessKeyId|WebIdentityToken"
               r"|SecretKey|Token)['\"]?\s*[:=]\s*b?['\"]?)[^'\",\s}&]+", re.IGNORECASE),
    # The password of a URL's user info (`http://user:PASSWORD@host`, e.g. an --endpoint-url): the user stays.
    re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]*:)[^/\s@'\"]+(?=@)", re.IGNORECASE),
    # SigV4's Authorization header names the access key id: `Credential=AKIA.../20240101/us-east-1/ecs/aws4_request`
    # (botocore's request log at --debug). The scope after the key id is not secret and stays readable.
    re.compile(r"(Credential=)[^/\s,'\"]+"),
    # An AWS access key id wherever it appears (AKIA: long-term, ASIA: temporary), as AWS documents its shape.
    re.compile(r"()\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    # A JSON Web Token (an OIDC id token from GitHub or GitLab): three base64url parts, the first two JSON.
    re.compile(r"()\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
]

# Variables whose values are credentials: AWS's own, and the CI systems' tokens a job may hand ci-ecs.
SECRET_VARIABLES = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_ID_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ACTIONS_RUNTIME_TOKEN", "GITHUB_TOKEN",
    "CI_JOB_TOKEN", "CI_JOB_JWT", "CI_JOB_JWT_V2",
)
_TOKEN_FILE_LIMIT = 64 * 1024


def register_secret(value: str | None) -> None:
    """Remember `value` so it is masked wherever it would be printed (short values are ignored)."""
    if value and len(value) >= 8:
        with _lock:
            _secrets.add(value)


def register_environment_secrets(environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Register the credentials the process was given through its environment.

    That includes the web-identity (OIDC) token boto3 reads from AWS_WEB_IDENTITY_TOKEN_FILE: it is a bearer
    token for AssumeRoleWithWebIdentity until it expires.
    """
    for name in SECRET_VARIABLES:
        register_secret(environ.get(name))
    token_file = environ.get("AWS_WEB_IDENTITY_TOKEN_FILE")
    if token_file:
        try:
            with open(token_file, encoding="utf-8", errors="replace") as handle:
                register_secret(handle.read(_TOKEN_FILE_LIMIT).strip())
        except OSError:
            pass  # boto3 reports an unreadable token file itself, when it needs it


def redact(text: str) -> str:
    """`text` with every registered secret and credential-shaped header masked.

    >>> register_secret("s3cr3t-value-123")
    >>> redact("key=s3cr3t-value-123 X-Amz-Security-Token: abc")
    'key=*** X-Amz-Security-Token: ***'
    """
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        # An ARN is an identifier, never a credential: a Secrets Manager ARN may end in `:password::` (the JSON
        # key of the secret ECS injects), which the key=value shapes would otherwise cut into `:password:***`.
        text = pattern.sub(_Masker([m.span() for m in _ARN.finditer(text)]), text)
    return text


class _Masker:
    """re.sub's replacement: the credential masked, unless the match lies inside one of `arns` (spans)."""

    def __init__(self, arns: list[tuple[int, int]]) -> None:
        self.arns = arns

    def __call__(self, match: re.Match[str]) -> str:
        return match.group(0) if _inside(match.start(), self.arns) else match.group(1) + MASK


# An ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE), as far as it runs without a quote or a space.
_ARN = re.compile(r"\barn:aws[a-z-]*:[a-z0-9-]+:[^\s'\"]*")


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)


# Names and values of environment variables that are probably secrets: masked wherever ci-ecs prints
# a task definition (plan's diff, the JSON result's changes, botocore's request bodies at --debug) and never logged.
_SECRET_NAME = re.compile(r"(?i)(pass(word|wd|phrase)?|secret|token|api_?key|private_?key|credential|"
                          r"(^|_)key$|auth|session|cookie|signature|dsn|connection_?string)")
_SECRET_VALUE = re.compile(r"^(?=[^\s]*[A-Za-z])(?=[^\s]*[0-9])[A-Za-z0-9+/=_\-.~]{20,}$")
_URL_CREDENTIALS = re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)


def looks_secret(name: str, value: str) -> bool:
    """Whether an environment variable probably holds a secret: by its name, or a value shaped like a key.

    >>> looks_secret("DB_PASSWORD", "x"), looks_secret("GREETING", "hello world")
    (True, False)
    >>> looks_secret("X", "postgres://u:p4ss@db/app"), looks_secret("X", "AKIAabcdEFGH1234ijklMNOP")
    (True, True)
    """
    return bool(_SECRET_NAME.search(name) or _SECRET_VALUE.match(value) or _URL_CREDENTIALS.match(value))


def _mask_value(value: Any, path: str) -> Any:
    secret_entry = re.search(r"\.environment\[([^\]]+)\](?:\.value)?$", path)
    if secret_entry and isinstance(value, (str, dict)):
        text = value.get("value", "") if isinstance(value, dict) else value
        if looks_secret(secret_entry.group(1), str(text)):
            return {**value, "value": MASK} if isinstance(value, dict) else MASK
    if isinstance(value, dict):
        if isinstance(value.get("name"), str) and isinstance(value.get("value"), str) \
                and looks_secret(value["name"], value["value"]):
            return {**value, "value": MASK}
        return {k: _mask_value(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_value(v, path) for v in value]
    if isinstance(value, str):
        return redact(value)
    return value


def mask_secrets(change: dict[str, Any]) -> dict[str, Any]:
    """A change (`Change.as_dict()`) with environment values that look like secrets replaced by `***`."""
    path = str(change.get("path", ""))
    return {k: (_mask_value(v, path) if k in ("old", "new") else v) for k, v in change.items()}


def mask_secret_values(data: Any) -> Any:
    """`data` (parsed JSON) with the values of `{"name": N, "value": V}` entries that look secret replaced.

    Those are a container's environment variables in an ECS request or response body
    (RegisterTaskDefinition, RunTask overrides); `valueFrom` (a secret's ARN) is never touched.

    >>> mask_secret_values({"environment": [{"name": "DB_PASSWORD", "value": "hunter2"},
    ...                                     {"name": "GREETING", "value": "hello"}]})
    {'environment': [{'name': 'DB_PASSWORD', 'value': '***'}, {'name': 'GREETING', 'value': 'hello'}]}
    """
    if isinstance(data, dict):
        if isinstance(data.get("name"), str) and isinstance(data.get("value"), str) \
                and looks_secret(data["name"], data["value"]):
            return {**data, "value": MASK}
        return {key: mask_secret_values(value) for key, value in data.items()}
    if isinstance(data, list):
        return [mask_secret_values(item) for item in data]
    return data


def _masked_body(body: Any) -> Any:
    """A JSON request/response body with its secret-looking environment values masked; other bodies as they are."""
    if not isinstance(body, (bytes, bytearray, str)) or not body:
        return body
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body
    masked = json.dumps(mask_secret_values(parsed))
    return masked.encode() if isinstance(body, (bytes, bytearray)) else masked


def _masked_arg(arg: Any) -> Any:
    # botocore.endpoint logs "Making request for %s with params: %s" with the request dict (its `body` the
    # serialized JSON); botocore.parsers logs "Response body:\n%r" with the body's bytes.
    if isinstance(arg, dict) and "body" in arg:
        return {**arg, "body": _masked_body(arg["body"])}
    if isinstance(arg, (bytes, bytearray)):
        return _masked_body(arg)
    return arg


class RedactingFilter(logging.Filter):
    """A logging filter that renders the record's message once, redacted: registered secrets, credential shapes,
    and (botocore's request and response bodies at --debug) environment values that look secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_masked_arg(arg) for arg in record.args)
        message = record.getMessage()
        record.msg = redact(message)
        record.args = None
        # A traceback logged with the record (botocore's "Exception received when sending HTTP request." at
        # --debug) quotes URLs and values too: rendered here once, redacted; the formatter uses it as is.
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
