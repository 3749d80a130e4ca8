"""Keep secrets out of everything ci-ecs prints, including `--debug` output.

Secret values (AWS keys, session token, OIDC tokens, ECR passwords) are registered as they become known;
every log record passes through `RedactingFilter`, which replaces them and the usual credential shapes
(signed headers, AWS access key ids, JSON Web Tokens). The result channels (stdout, $GITHUB_OUTPUT, the
job summary, the dotenv) pass through `redact` as well (ci_ecs/output.py).
"""

from __future__ import annotations

import logging
import os
import re
import threading

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
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that renders the record's message once, redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = redact(message)
        record.args = None
        return True
