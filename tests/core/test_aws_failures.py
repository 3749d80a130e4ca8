"""How AWS-side trouble is classified (ci_ecs.aws_failures, aws_regions, aws_guard): exit 5 for AWS unreachable or
failing after retries, exit 2 for a region that does not exist, and the CallGuard's cancel and deadline. botocore's
own exception and partition data objects, no AWS; the end-to-end cases (proxy, sandbox) are in
tests/e2e/test_outages.py."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import botocore.exceptions
import botocore.session
import pytest
from click.testing import CliRunner

from ci_ecs.aws import AwsSettings, ClientFactory
from ci_ecs.aws_failures import aws_errors
from ci_ecs.aws_guard import CallGuard, cancel_calls, reset_cancel
from ci_ecs.aws_regions import region_check
from ci_ecs.cli import main
from ci_ecs.errors import (
    AwsCallTimeoutError,
    AwsError,
    AwsUnavailableError,
    ConfigError,
    CredentialsError,
    DeployCancelledError,
)
from tests.core.helpers import config, write


def _client_error(code: str, status: int, message: str = "m") -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": message},
         "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": 7, "CiEcsEndpoint": "http://127.0.0.1:9"}},
        "DescribeServices")


def _raised(exc: BaseException) -> BaseException:
    with pytest.raises(Exception) as caught, aws_errors("describe services of demo"):
        raise exc
    return caught.value


@pytest.mark.parametrize(("code", "status", "expected", "exit_code"), [
    ("ThrottlingException", 400, AwsUnavailableError, 5),
    ("RequestLimitExceeded", 503, AwsUnavailableError, 5),  # EC2's throttling
    ("ServiceUnavailableException", 503, AwsUnavailableError, 5),
    ("InternalFailure", 500, AwsUnavailableError, 5),
    ("LimitExceededException", 400, AwsError, 1),  # an ECS quota reached, not a rate: the request's own problem
    ("ClientException", 400, AwsError, 1),
    ("AccessDeniedException", 400, CredentialsError, 3),
])
def test_answers_after_retries(code: str, status: int, expected: type, exit_code: int) -> None:
    error = _raised(_client_error(code, status))
    assert type(error) is expected and error.exit_code == exit_code
    if expected is AwsUnavailableError:
        assert "at http://127.0.0.1:9 after 8 attempts" in str(error)


@pytest.mark.parametrize(("exc", "words", "maybe_done"), [
    (botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:9/",
                                                 error="[Errno 111] Connection refused"),
     "cannot connect to http://127.0.0.1:9 ([Errno 111] Connection refused): is the sandbox running?", False),
    (botocore.exceptions.EndpointConnectionError(
        endpoint_url="https://ecs.us-east-1.amazonaws.com/",
        error="Failed to resolve 'ecs.us-east-1.amazonaws.com' ([Errno -2] Name or service not known)"),
     "cannot resolve ecs.us-east-1.amazonaws.com", False),
    (botocore.exceptions.SSLError(endpoint_url="https://127.0.0.1:9/", error="[SSL: WRONG_VERSION_NUMBER]"),
     "TLS with https://127.0.0.1:9 failed", False),
    (botocore.exceptions.ConnectTimeoutError(endpoint_url="https://ecs.us-east-1.amazonaws.com/"),
     "cannot connect to https://ecs.us-east-1.amazonaws.com", False),
    (botocore.exceptions.ReadTimeoutError(endpoint_url="https://ecs.us-east-1.amazonaws.com/"),
     "no answer from https://ecs.us-east-1.amazonaws.com (read timed out", True),
    (botocore.exceptions.ConnectionClosedError(endpoint_url="http://user:pw@127.0.0.1:9/"),
     "no answer from http://user:***@127.0.0.1:9 (the connection closed before the answer", True),
])
def test_connection_failures_are_exit_5(exc: BaseException, words: str, maybe_done: bool) -> None:
    error = _raised(exc)
    assert isinstance(error, AwsUnavailableError) and error.exit_code == 5
    assert words in str(error)
    assert error.maybe_done is maybe_done
    assert "pw@" not in str(error)
    if "amazonaws.com" in words:
        assert "sandbox" not in str(error)  # "is the sandbox running?" only for a loopback endpoint


def test_region_check_names_the_nearest_known_region() -> None:
    session = botocore.session.Session()
    assert region_check(session, "eu-west-3") == (True, "eu-west-3")
    assert region_check(session, "us-esat-1") == (False, "us-east-1")
    assert region_check(session, "eu-wset-1") == (False, "eu-west-1")


def test_a_region_no_partition_has_fails_before_any_client(aws_env: None) -> None:
    factory = ClientFactory(AwsSettings(region="xx-nowhere-1"))
    with pytest.raises(ConfigError) as caught:
        factory.client("ecs")
    assert caught.value.exit_code == 2
    assert "region: 'xx-nowhere-1' is not an AWS region" in str(caught.value)


def test_max_attempts_counts_attempts(aws_env: None) -> None:
    """`max_attempts` means attempts in all (as in the AWS config file), not retries."""
    ecs = ClientFactory(AwsSettings(region="us-east-1", max_attempts=3)).client("ecs")
    assert ecs.meta.config.retries["total_max_attempts"] == 3


def test_guard_refuses_calls_after_a_cancel_except_cleanup() -> None:
    guard = CallGuard()
    assert guard.limit("ecs DescribeServices") is None
    guard.cancel(143, "cancelled (SIGTERM)")
    with pytest.raises(DeployCancelledError) as caught:
        guard.limit("ecs DescribeServices")
    assert caught.value.exit_code == 143
    with guard.cleanup(seconds=1.0):
        left = guard.limit("ecs StopTask")
        assert left is not None and 0 < left <= 1.0


def test_process_cancel_reaches_every_guard() -> None:
    guard = CallGuard()
    try:
        cancel_calls(130, "cancelled (SIGINT)")
        with pytest.raises(DeployCancelledError):
            guard.limit("ecs DescribeServices")
    finally:
        reset_cancel()
    assert guard.limit("ecs DescribeServices") is None


def test_guard_wait_leaves_an_attempt_at_the_deadline_and_on_a_cancel() -> None:
    guard = CallGuard()
    guard.set_deadline(0.3)
    never = threading.Event()
    begin = time.monotonic()
    with pytest.raises(AwsCallTimeoutError) as caught:
        guard.wait(never, "ecs RegisterTaskDefinition", "http://127.0.0.1:9")
    assert 0.25 < time.monotonic() - begin < 0.6
    assert "ecs RegisterTaskDefinition: no answer from http://127.0.0.1:9 within the run's timeout (0.3 s)" \
        in str(caught.value)
    assert caught.value.exit_code == 4
    later = CallGuard()
    threading.Timer(0.2, later.cancel, args=(143, "cancelled (SIGTERM)")).start()
    begin = time.monotonic()
    with pytest.raises(DeployCancelledError):
        later.wait(never, "ecs DescribeServices", None)
    assert time.monotonic() - begin < 0.5


def test_cli_exit_5_when_the_endpoint_refuses(tmp_path: Path, aws_env: None) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = write(tmp_path / "ci-ecs.yml", config(max_attempts=1))
    result = CliRunner().invoke(main, ["deploy", "-c", str(path), "--endpoint-url", f"http://127.0.0.1:{port}",
                                       "--output", "json"])
    assert result.exit_code == 5, result.output
    assert f"cannot connect to http://127.0.0.1:{port}" in result.stderr
    assert "is the sandbox running?" in result.stderr


@pytest.mark.parametrize("command", [[], ["deploy"]])
def test_help_lists_the_exit_codes(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    text = " ".join(result.output.split())
    assert "4 timed out (--timeout bounds the whole run" in text
    assert "5 AWS unreachable or failing after retries" in text
    assert "130/143 cancelled" in text
