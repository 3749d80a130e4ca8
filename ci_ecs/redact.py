"""Keep secrets out of everything ci-ecs prints, including `--debug` output.

Secret values (AWS secret key, session token, ECR passwords) are registered as they become known;
every log record passes through `RedactingFilter`, which replaces them and the usual header shapes.
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
    re.compile(r"(['\"]?(?:password|authorizationToken|SecretAccessKey|SessionToken)['\"]?\s*[:=]\s*['\"]?)"
               r"[^'\",\s}]+", re.IGNORECASE),
]


def register_secret(value: str | None) -> None:
    """Remember `value` so it is masked wherever it would be printed (short values are ignored)."""
    if value and len(value) >= 8:
        with _lock:
            _secrets.add(value)


def register_environment_secrets(environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Register the AWS secrets the process was given through its environment."""
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        register_secret(environ.get(name))


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
