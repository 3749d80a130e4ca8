"""AWS's answers as ci-ecs errors: `aws_errors` wraps botocore's exceptions in typed ones whose message starts with
the action (credentials or permission: exit 3; throttling, HTTP 5xx and unreachable endpoints after botocore's
retries: exit 5; a missing profile or region: exit 2), each naming the endpoint and what to check.

botocore is imported lazily so `ci-ecs --help` stays fast.
"""

from __future__ import annotations

import contextlib
import os
import re
import urllib.parse
from collections.abc import Iterator

from ci_ecs.errors import AwsError, AwsUnavailableError, ConfigError, CredentialsError
from ci_ecs.imageref import is_loopback_host

# Error codes that mean "who you are or what you may do", not "what you asked for" (exit 3).
CREDENTIAL_ERROR_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException",
    "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException", "InvalidSignatureException",
    "SignatureDoesNotMatch", "MissingAuthenticationToken", "AuthFailure", "RequestExpired",
    "InvalidAccessKeyId", "NotAuthorized",
})
# Throttling answers (error codes), each service's own spelling: ECS, ECR, CloudWatch Logs "ThrottlingException"
# (ECS API reference, Common Errors), EC2 "RequestLimitExceeded" (EC2 API, Request throttling), ELB and STS
# "Throttling". Not LimitExceededException: for ECS that is a quota reached, not a rate (botocore retries it anyway).
THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "RequestThrottled", "SlowDown", "EC2ThrottledException", "BandwidthLimitExceeded",
})
ENDPOINT_KEY = "CiEcsEndpoint"  # where a failed call's endpoint is kept in its error response's ResponseMetadata


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError, or '' for anything else."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


@contextlib.contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """Wrap botocore errors raised inside as typed ci-ecs errors whose message starts with `action`.

    >>> with aws_errors("describe service web"):  # doctest: +SKIP
    ...     ecs.describe_services(cluster="c", services=["web"])
    """
    import botocore.exceptions

    try:
        yield
    except botocore.exceptions.ClientError as exc:
        code = error_code(exc)
        detail = str(exc.response.get("Error", {}).get("Message", "")) or str(exc)
        # Keep it one line: an HTML error page from a proxy or a 5xx becomes its text.
        detail = " ".join(re.sub(r"<[^>]+>", " ", detail).split())[:300]
        if code in CREDENTIAL_ERROR_CODES or "iam:PassRole" in detail or "not authorized to perform" in detail:
            raise CredentialsError(action, code, detail) from exc
        metadata = exc.response.get("ResponseMetadata") or {}
        status = int(metadata.get("HTTPStatusCode") or 0)
        if code in THROTTLING_CODES or status >= 500:
            raise unavailable_answer(action, code, detail, status, int(metadata.get("RetryAttempts") or 0),
                                     metadata.get(ENDPOINT_KEY)) from exc
        raise AwsError(action, code, detail) from exc
    except (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError) as exc:
        raise CredentialsError(action, "NoCredentials",
                               f"{exc} (set AWS credentials, a profile, or a web identity)") from exc
    except (botocore.exceptions.ProfileNotFound, botocore.exceptions.ConfigParseError) as exc:
        raise profile_error(None, exc) from exc
    except botocore.exceptions.NoRegionError as exc:
        raise ConfigError("no AWS region: set region, AWS_REGION or --region", key="region") from exc
    except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError) as exc:
        raise unreachable(action, exc) from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise AwsError(action, type(exc).__name__, str(exc)) from exc


def cause_of(exc: BaseException) -> str:
    """The underlying error of a botocore connection error, one short line ("[Errno 111] Connection refused")."""
    error = getattr(exc, "kwargs", {}).get("error")
    text = str(error) if error is not None else str(exc)
    # urllib3 names its connection object first ("<...AWSHTTPConnection object at 0x...>: ", or
    # "AWSHTTPConnection(host='127.0.0.1', port=9): "): the endpoint is named elsewhere in the message.
    text = re.sub(r"<[^>]*>:\s*|\b\w*Connection\(host=[^)]*\):\s*", "", text)
    return " ".join(text.split())[:200]


def name_not_resolved(exc: BaseException) -> bool:
    """True when a connection error is a DNS failure (urllib3's NameResolutionError, or the resolver's words)."""
    error = getattr(exc, "kwargs", {}).get("error")
    text = str(error or exc).lower()
    return type(error).__name__ == "NameResolutionError" or "failed to resolve" in text or \
        "name or service not known" in text or "nodename nor servname" in text


def _what_to_check(endpoint: str | None) -> str:
    if is_loopback(endpoint):
        return ("is the sandbox running? (`ci-ecs sandbox`; AWS_ENDPOINT_URL / --endpoint-url must name its "
                "address)")
    return "check the network path to it (a proxy: HTTPS_PROXY / NO_PROXY), the region and AWS_ENDPOINT_URL"


def unreachable(action: str, exc: BaseException) -> AwsUnavailableError:
    """The AwsUnavailableError (exit 5) for a botocore connection-level error after its retries."""
    import botocore.exceptions

    kwargs = getattr(exc, "kwargs", {}) or {}
    endpoint = endpoint_label(kwargs.get("endpoint_url")) or endpoint_label(kwargs.get("proxy_url"))
    cause = cause_of(exc)
    code = type(exc).__name__
    host = urllib.parse.urlsplit(endpoint or "").hostname or "the endpoint's host"
    if isinstance(exc, botocore.exceptions.SSLError):
        detail = (f"TLS with {endpoint} failed ({cause}): check AWS_CA_BUNDLE, a TLS-inspecting proxy's "
                  "certificate, and that the endpoint speaks https")
    elif name_not_resolved(exc):
        detail = f"cannot resolve {host} ({cause}): check the region, AWS_ENDPOINT_URL and the machine's DNS"
    elif isinstance(exc, botocore.exceptions.ProxyConnectionError):
        detail = f"cannot connect to the proxy {endpoint} ({cause}): check HTTPS_PROXY / NO_PROXY"
    elif isinstance(exc, botocore.exceptions.ConnectionError):
        detail = f"cannot connect to {endpoint} ({cause}): {_what_to_check(endpoint)}"
    elif isinstance(exc, botocore.exceptions.ReadTimeoutError):
        detail = (f"no answer from {endpoint} (read timed out; the call may have been carried out): "
                  f"{_what_to_check(endpoint)}")
    else:
        detail = (f"no answer from {endpoint} (the connection closed before the answer; the call may have been "
                  f"carried out): {_what_to_check(endpoint)}")
    return AwsUnavailableError(action, code, f"AWS unreachable: {detail}", endpoint=endpoint,
                               maybe_done=maybe_sent(exc))


def unavailable_answer(action: str, code: str, detail: str, status: int, retries: int,
                       endpoint: str | None) -> AwsUnavailableError:
    """The AwsUnavailableError (exit 5) for throttling or an HTTP 5xx still answered after botocore's retries."""
    attempts = f"{retries + 1} attempt{'s' if retries else ''}"
    where = f" at {endpoint}" if endpoint else ""
    if code in THROTTLING_CODES:
        text = (f"throttled by AWS{where} after {attempts} ({detail}): too many calls for this account and region "
                "right now; retry later, or lower deploy.parallelism")
    else:
        check = "is the sandbox healthy? (its log)" if is_loopback(endpoint) else \
            "AWS-side trouble: retry later (AWS Health Dashboard)"
        text = f"AWS answered HTTP {status}{where} after {attempts} ({detail}): {check}"
    # botocore retried these answers already; a 5xx seldom means "done", and sending again would repeat the storm.
    return AwsUnavailableError(action, code, text, endpoint=endpoint)


def maybe_sent(exc: BaseException) -> bool:
    """True when a failed attempt may have reached AWS (and been carried out): the connection closed before the
    answer, or the read timed out. A connection never made (refused, DNS, TLS, connect timeout) sent nothing."""
    import botocore.exceptions

    return isinstance(exc, botocore.exceptions.HTTPClientError)


def endpoint_label(url: str | None) -> str | None:
    """scheme://[user:***@]host[:port] of a URL: no path, a password masked.

    >>> endpoint_label("http://user:secret@127.0.0.1:4566/some/path")
    'http://user:***@127.0.0.1:4566'
    """
    if not url:
        return None
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}{':***' if parts.password is not None else ''}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}" if parts.scheme else url


def is_loopback(endpoint: str | None) -> bool:
    """True for an endpoint on this machine (the sandbox's kind).

    >>> is_loopback("http://127.0.0.1:4566"), is_loopback("https://ecs.us-east-1.amazonaws.com")
    (True, False)
    """
    return is_loopback_host(urllib.parse.urlsplit(endpoint or "").hostname or "")


def profile_error(profile: str | None, exc: Exception) -> ConfigError:
    """The ConfigError for a profile botocore cannot find (or a config file it cannot parse)."""
    import botocore.exceptions

    if isinstance(exc, botocore.exceptions.ConfigParseError):
        return ConfigError(f"cannot parse the AWS config file: {exc}", key="profile")
    name = profile or os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE")
    origin = "profile" if profile else ("AWS_PROFILE" if os.environ.get("AWS_PROFILE") else "AWS_DEFAULT_PROFILE")
    return ConfigError(f"AWS profile {name!r} not found in the AWS config or credentials file", key=origin)
