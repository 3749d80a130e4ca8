"""One AWS client factory: region, profile, endpoint, assumed role, standard retries, user agent, call counter,
and the guard that ends AWS calls on a cancel or at the run's deadline.

botocore is imported lazily so `ci-ecs --help` stays fast.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ci_ecs import __version__
from ci_ecs.errors import (
    AwsCallTimeoutError,
    AwsError,
    AwsUnavailableError,
    CiEcsError,
    ConfigError,
    CredentialsError,
    DeployCancelledError,
)
from ci_ecs.redact import register_secret

if TYPE_CHECKING:
    import botocore.session

    from ci_ecs.config import Config

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
# What AWS answers a request signed for a region it has no endpoint for (a typo'd AWS_REGION behind a custom
# endpoint): "Credential should be scoped to a valid region" (HTTP 403).
REGION_SIGNATURE_CODES = frozenset({"InvalidSignatureException", "SignatureDoesNotMatch"})
# Operations whose retry could do the work twice: after a connection closed or a read timed out the request may
# have been carried out, so botocore does not send them again; the caller looks first (taskdef.py). Create/Run
# calls carry a client token and UpdateService sets a state: those are safe to repeat.
NOT_RESENT_OPERATIONS = frozenset({"RegisterTaskDefinition"})
# Past the deadline, the calls that report it (the deployment's last state, a rollback) get this much more time.
DEADLINE_GRACE_SECONDS = 0.5
# How often a thread waiting on an AWS call looks at the cancel flag (a signal handler only sets a flag).
_POLL_SECONDS = 0.05
_ENDPOINT_KEY = "CiEcsEndpoint"  # where a failed call's endpoint is kept in its error response's ResponseMetadata
log = logging.getLogger(__name__)

MUTATING_PREFIXES = ("Create", "Register", "Update", "Put", "Delete", "Deregister", "Set", "Start", "Stop",
                     "Run", "Tag", "Untag", "Complete", "Upload", "Initiate", "BatchDelete")


@dataclass
class CallCounter:
    """Counts API calls (not HTTP attempts) per service and operation, via botocore's event hooks."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, model: Any = None, **_: Any) -> None:
        if model is None:
            return
        with self._lock:
            self.calls[(model.service_model.endpoint_prefix, model.name)] += 1

    def by_service(self) -> dict[str, int]:
        """Calls per service, e.g. {"ecs": 5, "ec2": 1}."""
        totals: Counter[str] = Counter()
        for (service, _), count in self.calls.items():
            totals[service] += count
        return dict(sorted(totals.items()))

    def mutating(self) -> list[str]:
        """The operations called that change something ("ecs:UpdateService", ...)."""
        return sorted(f"{s}:{op}" for (s, op) in self.calls if op.startswith(MUTATING_PREFIXES))

    def total(self) -> int:
        """All API calls made."""
        return sum(self.calls.values())


class _Cancel:
    """The process-wide cancel: set by the CLI's signal handler (two attribute writes, no lock), read by every
    CallGuard."""

    code: int | None = None
    message: str = ""


_PROCESS_CANCEL = _Cancel()


def cancel_calls(exit_code: int, message: str) -> None:
    """Refuse every AWS call from now on and end those in flight (SIGTERM 143, SIGINT 130).

    Safe in a signal handler: it only sets two attributes; the threads waiting on calls notice within 50 ms.
    """
    _PROCESS_CANCEL.message = message
    _PROCESS_CANCEL.code = exit_code


def reset_cancel() -> None:
    """Forget a process-wide cancel (each CLI command starts with none; tests run several in one process)."""
    _PROCESS_CANCEL.code = None
    _PROCESS_CANCEL.message = ""


def cancel_requested() -> DeployCancelledError | None:
    """The error of the process-wide cancel, None when there was none."""
    code = _PROCESS_CANCEL.code
    return DeployCancelledError(_PROCESS_CANCEL.message or "cancelled", code) if code is not None else None


class CallGuard:
    """Ends AWS calls when the run is cancelled or its deadline is reached, whichever thread made them.

    botocore retries an interrupted call and waits up to its read timeout (60 s) per attempt, so neither a
    cancel nor `--timeout` could end a call in flight. With the guard, every HTTP attempt runs in a thread of
    its own while the caller waits for its answer, the cancel flag and the deadline; on a cancel or at the
    deadline the caller leaves the attempt behind (its socket dies with the process) and raises
    DeployCancelledError / AwsCallTimeoutError, which botocore does not retry. No call or retry starts once
    cancelled, the back-off between retries is cut short the same way, and retries that cannot finish before
    the deadline are not tried. After the deadline, calls get DEADLINE_GRACE_SECONDS more (the last state of a
    timed-out deployment is read that way); after that none starts.
    """

    def __init__(self) -> None:
        self._deadline: float | None = None
        self._timeout: float | None = None
        self._code: int | None = None
        self._message = ""
        self._local = threading.local()
        self.unknown_region: str | None = None  # a region botocore does not know: AWS's refusal says it is wrong
        self.nearest_region: str | None = None

    def set_deadline(self, timeout: float, *, start: float | None = None) -> None:
        """Every call ends by `start` (time.monotonic(), default now) + `timeout` seconds (+ the grace)."""
        self._timeout = timeout
        self._deadline = (time.monotonic() if start is None else start) + timeout

    def cancel(self, exit_code: int = 130, message: str = "cancelled; what was done so far stays done") -> None:
        """Cancel this factory's calls (library use; the CLI cancels the whole process with `cancel_calls`)."""
        self._message = message
        self._code = exit_code

    def cancellation(self) -> DeployCancelledError | None:
        """The cancel in force for this thread's next call, or None (none, or inside `cleanup`)."""
        cancelled = DeployCancelledError(self._message, self._code) if self._code is not None else cancel_requested()
        until = getattr(self._local, "cleanup_until", None)
        if cancelled is None or (until is not None and time.monotonic() < until):
            return None
        return cancelled

    @contextlib.contextmanager
    def cleanup(self, seconds: float = 1.5) -> Iterator[None]:
        """Let this thread make calls after a cancel, for at most `seconds` in all: undoing what a cancelled
        run started (run-task's StopTask). Calls still end at the deadline."""
        previous = getattr(self._local, "cleanup_until", None)
        self._local.cleanup_until = time.monotonic() + seconds
        try:
            yield
        finally:
            self._local.cleanup_until = previous

    def limit(self, what: str, endpoint: str | None = None, last: str = "", *,
              started: float | None = None) -> float | None:
        """Seconds an attempt of `what` started at `started` (default now) may still take (None: no bound);
        raises DeployCancelledError when cancelled and AwsCallTimeoutError when no time is left. An attempt
        started before the deadline ends at it; one started after gets what is left of the grace."""
        cancelled = self.cancellation()
        if cancelled is not None:
            raise cancelled
        now = time.monotonic()
        bounds = []
        cleanup = getattr(self._local, "cleanup_until", None)
        if cleanup is not None:
            bounds.append(cleanup - now)
        if self._deadline is not None:
            late = (now if started is None else started) >= self._deadline
            bounds.append(self._deadline + (DEADLINE_GRACE_SECONDS if late else 0.0) - now)
        if not bounds:
            return None
        left = min(bounds)
        if left <= 0:
            raise self.timeout_error(what, endpoint, last)
        return left

    def timeout_error(self, what: str, endpoint: str | None, last: str = "") -> AwsCallTimeoutError:
        """The error for a call the deadline ended."""
        where = f" from {endpoint}" if endpoint else ""
        label = f"{self._timeout:g} s" if self._timeout is not None else "its time"
        tail = f"; last attempt: {last}" if last else ""
        return AwsCallTimeoutError(f"{what}: no answer{where} within the run's timeout ({label}){tail}",
                                   endpoint=endpoint)

    def wait(self, done: threading.Event, what: str, endpoint: str | None) -> None:
        """Wait for `done` (an attempt's answer), the cancel flag or the deadline."""
        started = time.monotonic()
        while True:
            left = self.limit(what, endpoint, started=started)
            if done.wait(_POLL_SECONDS if left is None else min(_POLL_SECONDS, left)):
                return

    def sleep(self, seconds: float, what: str, endpoint: str | None = None, last: str = "") -> None:
        """botocore's back-off before a retry, cut short by a cancel; a retry that would start after the deadline
        is not waited for (AwsCallTimeoutError at once)."""
        end = time.monotonic() + seconds
        while True:
            left = self.limit(what, endpoint, last)
            remaining = end - time.monotonic()
            if left is not None and left <= remaining:
                raise self.timeout_error(what, endpoint, last)
            if remaining <= 0:
                return
            time.sleep(min(_POLL_SECONDS, remaining))

    # botocore event handlers -------------------------------------------------------------------------------
    def before_call(self, model: Any = None, **_: Any) -> None:
        """before-call: name the operation for this thread's attempts; start no call once cancelled or expired."""
        what = f"{model.service_model.endpoint_prefix} {model.name}" if model is not None else "AWS call"
        self._local.what = what
        self.limit(what)

    def current(self) -> str:
        """The operation this thread is calling ("ecs RegisterTaskDefinition")."""
        return str(getattr(self._local, "what", "AWS call"))

    def needs_retry(self, handler: Any, **kwargs: Any) -> Any:
        """needs-retry, around botocore's standard retry handler: never retry our own cancel or timeout, nor a
        NOT_RESENT_OPERATIONS call that may have been carried out; back off in slices the cancel can cut."""
        import botocore.exceptions

        caught = kwargs.get("caught_exception")
        if isinstance(caught, CiEcsError):
            return None
        model = kwargs.get("operation")
        if caught is not None and getattr(model, "name", "") in NOT_RESENT_OPERATIONS and maybe_sent(caught):
            return None
        if self.unknown_region and isinstance(caught, botocore.exceptions.EndpointConnectionError) and \
                _name_not_resolved(caught):
            # AWS has no endpoint for a region that does not exist: its name does not resolve.
            raise region_error(self.unknown_region, self.nearest_region,
                               f"{endpoint_label(getattr(kwargs.get('endpoint'), 'host', None))} does not resolve")
        delay = handler.needs_retry(**kwargs)
        if delay is None or delay is False:
            return delay
        endpoint = getattr(kwargs.get("endpoint"), "host", None)
        self.sleep(float(delay), self.current(), endpoint_label(endpoint), _last_attempt(kwargs))
        return 0.0  # slept already; botocore's own sleep is then 0 s


def _last_attempt(kwargs: dict[str, Any]) -> str:
    caught = kwargs.get("caught_exception")
    if caught is not None:
        return f"{type(caught).__name__}: {_cause(caught)}"
    response = kwargs.get("response")
    if response:
        http, parsed = response
        code = (parsed or {}).get("Error", {}).get("Code", "")
        return f"HTTP {getattr(http, 'status_code', '?')} {code}".strip()
    return ""


def maybe_sent(exc: BaseException) -> bool:
    """True when a failed attempt may have reached AWS (and been carried out): the connection closed before the
    answer, or the read timed out. A connection never made (refused, DNS, TLS, connect timeout) sent nothing."""
    import botocore.exceptions

    return isinstance(exc, botocore.exceptions.HTTPClientError)


class _GuardedHttpSession:
    """botocore's HTTP session, each attempt run in a thread the caller can leave (CallGuard.wait)."""

    def __init__(self, inner: Any, guard: CallGuard) -> None:
        self._inner = inner
        self._guard = guard

    def send(self, request: Any) -> Any:
        what = self._guard.current()
        endpoint = endpoint_label(getattr(request, "url", None))
        self._guard.limit(what, endpoint)  # a retry after a cancel or past the deadline does not start
        box: dict[str, Any] = {}
        done = threading.Event()

        def attempt() -> None:
            try:
                box["response"] = self._inner.send(request)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller as is
                box["error"] = exc
            finally:
                done.set()

        threading.Thread(target=attempt, name="ci-ecs-aws-attempt", daemon=True).start()
        self._guard.wait(done, what, endpoint)
        if "error" in box:
            raise box["error"]
        return box["response"]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


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
    from ci_ecs.imageref import is_loopback_host

    return is_loopback_host(urllib.parse.urlsplit(endpoint or "").hostname or "")


def region_check(session: Any, region: str) -> tuple[bool, str | None]:
    """(known, nearest) for `region` against botocore's partition data (partitions.json): whether botocore
    knows it, and the known region closest in spelling. A region that no partition's `regionRegex` matches
    cannot exist; one that matches but is unknown may be newer than this botocore.

    >>> import botocore.session
    >>> region_check(botocore.session.Session(), "us-esat-1")
    (False, 'us-east-1')
    """
    partitions = session.get_data("partitions").get("partitions", [])
    known: list[str] = []
    for partition in partitions:
        pattern = re.compile(partition.get("regionRegex") or "^$")
        known.extend(name for name in partition.get("regions", {}) if pattern.match(name))
    if region in known:
        return True, region
    nearest = min(sorted(known), key=lambda name: _edit_distance(region, name), default=None)
    return False, nearest


def _edit_distance(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) from `a` to `b`: a typo's distance.

    >>> _edit_distance("us-esat-1", "us-east-1"), _edit_distance("us-esat-1", "us-west-1")
    (1, 2)
    """
    rows = [list(range(len(b) + 1))]
    for i, x in enumerate(a, 1):
        row = [i]
        for j, y in enumerate(b, 1):
            cost = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (x != y))
            if i > 1 and j > 1 and x == b[j - 2] and a[i - 2] == y:
                cost = min(cost, rows[-2][j - 2] + 1)
            row.append(cost)
        rows.append(row)
    return rows[-1][-1]


def region_pattern_matches(session: Any, region: str) -> bool:
    """True when some partition's `regionRegex` (partitions.json) matches `region`."""
    partitions = session.get_data("partitions").get("partitions", [])
    return any(re.match(p.get("regionRegex") or "^$", region) for p in partitions)


def region_error(region: str, nearest: str | None, why: str) -> ConfigError:
    """The ConfigError (exit 2) for a region that does not exist."""
    hint = f"; the nearest known region is {nearest}" if nearest else ""
    return ConfigError(f"{region!r} is not an AWS region ({why}){hint}", key="region")


@dataclass(frozen=True)
class AwsSettings:
    """Where and as whom to call AWS. None means: let botocore's own chain decide (AWS_* variables)."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    assume_role_arn: str | None = None
    max_attempts: int = 8


def aws_settings(config: Config) -> AwsSettings:
    """The client factory settings a config asks for."""
    return AwsSettings(region=config.region, profile=config.profile, endpoint_url=config.endpoint_url,
                       assume_role_arn=config.assume_role_arn, max_attempts=config.max_attempts)


class ClientFactory:
    """Builds botocore clients that share one session, retry policy, user agent and call counter.

    >>> factory = ClientFactory(AwsSettings(region="us-east-1"))  # doctest: +SKIP
    >>> ecs = factory.client("ecs")  # doctest: +SKIP
    """

    def __init__(self, settings: AwsSettings, counter: CallCounter | None = None) -> None:
        self.settings = settings
        self.counter = counter or CallCounter()
        self._session: botocore.session.Session | None = None
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.guard = CallGuard()

    def set_deadline(self, timeout: float, *, start: float | None = None) -> None:
        """Bound every AWS call, retries included, by `start` (time.monotonic()) + `timeout` (`--timeout`)."""
        self.guard.set_deadline(timeout, start=start)

    def _config(self) -> Any:
        from botocore.config import Config

        # total_max_attempts: attempts in all, as `max_attempts` means in the AWS config file and AWS_MAX_ATTEMPTS
        # (Config's own "max_attempts" counts retries only: one attempt more than the config asks for).
        return Config(retries={"mode": "standard", "total_max_attempts": self.settings.max_attempts},
                      user_agent_extra=f"ci-ecs/{__version__}", connect_timeout=10, read_timeout=60)

    def session(self) -> botocore.session.Session:
        """The botocore session (the one every client comes from), assuming `assume_role_arn` when set.

        botocore's own session, not boto3's: boto3 adds resources and S3 transfers ci-ecs does not use, and
        importing it costs ~60 ms and ~3 MB more. Clients and credentials are botocore's either way.
        """
        if self._session is not None:
            return self._session
        import botocore.exceptions
        import botocore.session

        try:
            # botocore reads AWS_DEFAULT_REGION; CI systems (and the aws CLI v2) also set AWS_REGION.
            region = self.settings.region or os.environ.get("AWS_REGION") or None
            session = _botocore_session(profile=self.settings.profile, region=region)
            # An AWS_PROFILE naming no profile passes the constructor and fails on first use: use it now.
            session_region = session.get_config_variable("region")
        except (botocore.exceptions.ProfileNotFound, botocore.exceptions.ConfigParseError) as exc:
            raise profile_error(self.settings.profile, exc) from None
        if not session_region:
            raise ConfigError("no AWS region: set region in the file, AWS_REGION/CI_ECS_REGION or --region",
                              key="region")
        self._check_region(session, str(session_region))
        if self.settings.assume_role_arn:
            sts = session.create_client("sts", endpoint_url=self.settings.endpoint_url, config=self._config())
            self._guard_client(sts)
            with aws_errors(f"assume role {self.settings.assume_role_arn}"):
                creds = sts.assume_role(RoleArn=self.settings.assume_role_arn,
                                        RoleSessionName=f"ci-ecs-{__version__}")["Credentials"]
            session = _botocore_session(region=session_region)
            session.set_credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        try:
            credentials = session.get_credentials()
        except (botocore.exceptions.ProfileNotFound, botocore.exceptions.ConfigParseError) as exc:
            raise profile_error(self.settings.profile, exc) from None
        if credentials is not None:
            frozen = credentials.get_frozen_credentials()
            register_secret(frozen.secret_key)
            register_secret(frozen.token)
        _use_trimmed_models(session)
        self._session = session
        return session

    @property
    def region(self) -> str:
        """The region clients call."""
        return str(self.session().get_config_variable("region"))

    def client(self, service: str, region: str | None = None) -> Any:
        """A cached client for `service` with the shared retries, user agent and call counting.

        `region` calls another region than the session's (e.g. the ECR registry an image names).
        """
        key = service if region is None else f"{service}@{region}"
        with self._lock:
            if key not in self._clients:
                session: Any = self.session()  # the service name is data here, not a literal
                try:
                    client = session.create_client(service, endpoint_url=self.settings.endpoint_url,
                                                   config=self._config(), region_name=region)
                except ValueError as exc:  # botocore's "Invalid endpoint: ..." (AWS_ENDPOINT_URL*)
                    raise endpoint_error(service, exc) from None
                self._guard_client(client)
                self._clients[key] = client
            return self._clients[key]

    def _check_region(self, session: Any, region: str) -> None:
        """A region no partition can have is exit 2 before any call; one botocore does not know (a typo, or a
        region newer than this botocore) is tried, and AWS's refusal of it is reported as a wrong region."""
        known, nearest = region_check(session, region)
        if known:
            return
        import botocore

        if not region_pattern_matches(session, region):
            raise region_error(region, nearest, f"no AWS partition has a region named like it, botocore "
                                                f"{botocore.__version__}")
        self.guard.unknown_region, self.guard.nearest_region = region, nearest
        log.warning("region %s is not one botocore %s knows (nearest: %s); trying it", region,
                    botocore.__version__, nearest)

    def _guard_client(self, client: Any) -> None:
        """The hooks every client gets: the guard (cancel, deadline), the call counter, the retry wrapper and
        the endpoint kept in error responses."""
        events = client.meta.events
        events.register("before-call.*.*", self.guard.before_call)  # first: a refused call is not counted
        events.register("before-call.*.*", self.counter)
        endpoint = endpoint_label(client.meta.endpoint_url)
        events.register("after-call.*.*", functools.partial(_after_call, self.guard, endpoint))
        # The attempt-in-a-thread needs botocore's Endpoint (Client._endpoint, private; there since botocore 1.0):
        # without it calls still work, only a call in flight cannot be left.
        http = getattr(getattr(client, "_endpoint", None), "http_session", None)
        if http is not None and not isinstance(http, _GuardedHttpSession):
            client._endpoint.http_session = _GuardedHttpSession(http, self.guard)
        if client.meta.config.retries.get("mode") == "standard":
            from botocore.retries import standard

            name = client.meta.service_model.service_id.hyphenize()
            event, unique_id = f"needs-retry.{name}", f"retry-config-{name}"
            # Replace botocore's standard retry handler (same policy, same quota) by the guard's wrapper of it.
            events.unregister(event, unique_id=unique_id)
            handler = standard.register_retry_handler(
                client, max_attempts=client.meta.config.retries.get("total_max_attempts"))
            events.unregister(event, unique_id=unique_id)
            events.register(event, functools.partial(self.guard.needs_retry, handler), unique_id=unique_id)


def _after_call(guard: CallGuard, endpoint: str | None, http_response: Any = None, parsed: Any = None,
                **_: Any) -> None:
    """after-call: keep the endpoint in an error answer (aws_errors names it); a signature refused for a region
    botocore does not know is that region's error."""
    status = int(getattr(http_response, "status_code", 0) or 0)
    if status < 300 or not isinstance(parsed, dict):
        return
    parsed.setdefault("ResponseMetadata", {})[_ENDPOINT_KEY] = endpoint
    code = str((parsed.get("Error") or {}).get("Code") or "")
    if guard.unknown_region and code in REGION_SIGNATURE_CODES:
        raise region_error(guard.unknown_region, guard.nearest_region, f"{endpoint} refused a request signed for it")


def _botocore_session(*, profile: str | None = None, region: str | None = None) -> Any:
    """A botocore session for `profile` (None: AWS_PROFILE or the default) in `region` (None: its own)."""
    import botocore.session

    session = botocore.session.Session(profile=profile)
    if region:
        session.set_config_variable("region", region)
    return session


def _use_trimmed_models(session: Any) -> None:
    """Let botocore find ci_ecs/data (the EC2 model trimmed to the operations ci-ecs calls) before its own data.

    Building a client from botocore's full EC2 model costs ~24 MB and ~0.15 s for two operations
    (ci_ecs/data/make_models.py writes the trimmed one from it). botocore's loader searches its
    `search_paths` in order (botocore.loaders.Loader); ci_ecs/data goes just before botocore's own data,
    so a user's AWS_DATA_PATH or ~/.aws/models still comes first.
    """
    from pathlib import Path

    import botocore

    data = Path(__file__).resolve().parent / "data"
    # Only with the botocore release the files were cut from: a newer botocore's models (new parameters,
    # new regions in endpoints.json) must never be shadowed by older copies. The wrappers' constraints
    # pin that release; any other botocore simply uses its own full data.
    stamp = data / "BOTOCORE_VERSION"
    if not stamp.is_file() or stamp.read_text().strip() != botocore.__version__:
        return
    loader = session.get_component("data_loader")
    ours = str(data)
    paths = loader.search_paths
    if ours in paths:
        return
    botocore_data = next((i for i, p in enumerate(paths) if Path(p).parent.name == "botocore"), len(paths))
    paths.insert(botocore_data, ours)


def profile_error(profile: str | None, exc: Exception) -> ConfigError:
    """The ConfigError for a profile botocore cannot find (or a config file it cannot parse)."""
    import botocore.exceptions

    if isinstance(exc, botocore.exceptions.ConfigParseError):
        return ConfigError(f"cannot parse the AWS config file: {exc}", key="profile")
    name = profile or os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE")
    origin = "profile" if profile else ("AWS_PROFILE" if os.environ.get("AWS_PROFILE") else "AWS_DEFAULT_PROFILE")
    return ConfigError(f"AWS profile {name!r} not found in the AWS config or credentials file", key=origin)


def endpoint_error(service: str, exc: Exception) -> ConfigError:
    """The ConfigError for an endpoint botocore refuses; names the variable it came from."""
    names = [f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}", "AWS_ENDPOINT_URL"]
    origin = next((name for name in names if os.environ.get(name)), "the AWS config file's endpoint_url")
    return ConfigError(f"{exc} (from {origin}; give an http(s) URL with a host)", key="endpoint_url")


def check_profile(profile: str | None) -> None:
    """Raise a ConfigError (exit 2) now when `profile` (or AWS_PROFILE) names no profile.

    botocore only notices on first use, which may be deep inside a deploy; this is the check
    before any AWS call. Reads the AWS config files, makes no request.
    """
    import botocore.exceptions
    import botocore.session

    try:
        botocore.session.Session(profile=profile).get_scoped_config()
    except (botocore.exceptions.ProfileNotFound, botocore.exceptions.ConfigParseError) as exc:
        raise profile_error(profile, exc) from None


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
                                     metadata.get(_ENDPOINT_KEY)) from exc
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


def _cause(exc: BaseException) -> str:
    """The underlying error of a botocore connection error, one short line ("[Errno 111] Connection refused")."""
    error = getattr(exc, "kwargs", {}).get("error")
    text = str(error) if error is not None else str(exc)
    # urllib3 names its connection object first ("<...AWSHTTPConnection object at 0x...>: ", or
    # "AWSHTTPConnection(host='127.0.0.1', port=9): "): the endpoint is named elsewhere in the message.
    text = re.sub(r"<[^>]*>:\s*|\b\w*Connection\(host=[^)]*\):\s*", "", text)
    return " ".join(text.split())[:200]


def _name_not_resolved(exc: BaseException) -> bool:
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
    cause = _cause(exc)
    code = type(exc).__name__
    host = urllib.parse.urlsplit(endpoint or "").hostname or "the endpoint's host"
    if isinstance(exc, botocore.exceptions.SSLError):
        detail = (f"TLS with {endpoint} failed ({cause}): check AWS_CA_BUNDLE, a TLS-inspecting proxy's "
                  "certificate, and that the endpoint speaks https")
    elif _name_not_resolved(exc):
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
