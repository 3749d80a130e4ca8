"""One AWS client factory: region, profile, endpoint, assumed role, standard retries, user agent, call counter;
every client it builds carries the guard (aws_guard.py: cancel, deadline) and keeps the endpoint in error answers
(aws_failures.py turns them into ci-ecs errors).

botocore is imported lazily so `ci-ecs --help` stays fast.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ci_ecs import __version__
from ci_ecs.aws_failures import ENDPOINT_KEY, aws_errors, endpoint_label, profile_error
from ci_ecs.aws_guard import CallGuard, GuardedHttpSession
from ci_ecs.aws_regions import REGION_SIGNATURE_CODES, region_check, region_error, region_pattern_matches
from ci_ecs.errors import ConfigError
from ci_ecs.redact import register_secret

if TYPE_CHECKING:
    import botocore.session

    from ci_ecs.config import Config

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


@dataclass(frozen=True)
class AwsSettings:
    """Where and as whom to call AWS. None means: let botocore's own chain decide (AWS_* variables)."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    assume_role_arn: str | None = None
    max_attempts: int = 8
    throttle_max_attempts: int = 30


def aws_settings(config: Config) -> AwsSettings:
    """The client factory settings a config asks for."""
    return AwsSettings(region=config.region, profile=config.profile, endpoint_url=config.endpoint_url,
                       assume_role_arn=config.assume_role_arn, max_attempts=config.max_attempts,
                       throttle_max_attempts=config.throttle_max_attempts)


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
            session = _checked_session(self.settings.profile) or _botocore_session(profile=self.settings.profile)
            if region:
                session.set_config_variable("region", region)
            _share_models(session)
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
            _share_models(session)
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
        _share_timezone(session)
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
        if http is not None and not isinstance(http, GuardedHttpSession):
            client._endpoint.http_session = GuardedHttpSession(http, self.guard)
        if client.meta.config.retries.get("mode") == "standard":
            from botocore.retries import standard

            name = client.meta.service_model.service_id.hyphenize()
            event, unique_id = f"needs-retry.{name}", f"retry-config-{name}"
            # Replace botocore's standard retry handler (same policy, same quota) by the guard's wrapper of it.
            events.unregister(event, unique_id=unique_id)
            handler = standard.register_retry_handler(
                client, max_attempts=client.meta.config.retries.get("total_max_attempts"))
            events.unregister(event, unique_id=unique_id)
            throttled = _throttle_retry_handler(client, max(self.settings.throttle_max_attempts, 1))
            events.unregister(event, unique_id=unique_id)
            events.register(event, functools.partial(self.guard.needs_retry, handler, throttled),
                            unique_id=unique_id)


class _NoRetryQuota:
    """botocore's retry quota, left out for throttles: the quota (500 tokens a client, 5 a throttled retry, only the
    last one given back) stops retry storms against a failing service, but a throttle is the service asking for
    back-off, which the backoff gives. Many services deployed by one process share a client, and ECS's write
    buckets refill at 1-5 tokens a second (ECS API Reference, "Request throttling"): with the quota their throttled
    retries would run dry and fail the deploy. The run's deadline (aws_guard.py) bounds the retries instead."""

    def acquire_retry_quota(self, context: Any) -> bool:
        return True

    def release_retry_quota(self, context: Any, http_response: Any, **kwargs: Any) -> None:
        return None


def _throttle_retry_handler(client: Any, max_attempts: int) -> Any:
    """botocore's standard retry handler (its retry conditions and exponential backoff with jitter, capped at 20 s)
    for calls AWS throttled: `max_attempts` attempts in all, no retry quota. Registers nothing the caller keeps but
    botocore's own hooks (the caller unregisters its needs-retry handler)."""
    from botocore.retries import standard

    handler = standard.register_retry_handler(client, max_attempts=max_attempts)
    # RetryHandler._retry_quota: private, in botocore since its standard mode (1.15); without it the quota stays.
    if hasattr(handler, "_retry_quota"):
        handler._retry_quota = _NoRetryQuota()
    return handler


def _after_call(guard: CallGuard, endpoint: str | None, http_response: Any = None, parsed: Any = None,
                **_: Any) -> None:
    """after-call: keep the endpoint in an error answer (aws_errors names it); a signature refused for a region
    botocore does not know is that region's error."""
    status = int(getattr(http_response, "status_code", 0) or 0)
    if status < 300 or not isinstance(parsed, dict):
        return
    parsed.setdefault("ResponseMetadata", {})[ENDPOINT_KEY] = endpoint
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


@functools.lru_cache(maxsize=1)
def model_session() -> Any:
    """The botocore session service models are read from outside a client (ci_ecs.preflight.model), once per
    process: its loader finds ci_ecs/data first, as the clients' does (`_use_trimmed_models`), and caches each
    model it parsed. No credentials or region are read from it. The clients' sessions share its loader
    (`_share_models`), so a model the pre-flight read is not parsed again for a client."""
    import botocore.session

    session = botocore.session.Session()
    _use_trimmed_models(session)
    return session


def _share_models(session: Any) -> None:
    """Let `session` read service models, endpoints and partitions through `model_session`'s loader: botocore's
    Loader caches every file it parsed (the ECS model ~20 ms, endpoints and partitions), so the pre-flight's read
    of the ECS model and the ECS client's are one parse. Only when both look in the same places: a profile's own
    `data_path` (or AWS_DATA_PATH) set differently keeps the session's own loader."""
    shared = model_session()
    if session is shared or session.get_config_variable("data_path") != shared.get_config_variable("data_path"):
        return
    session.register_component("data_loader", shared.get_component("data_loader"))


# The session `check_profile` built, handed to the command's client factory instead of building another (~10 ms):
# only its scoped config was read. Keyed by the profile and the AWS_* variables it was built under, so a later
# factory under other variables (a library caller, a test) builds its own.
_CHECKED: dict[tuple[str | None, tuple[tuple[str, str], ...]], Any] = {}
_CHECKED_LOCK = threading.Lock()


def _checked_key(profile: str | None) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    return profile, tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))


def _checked_session(profile: str | None) -> Any:
    """The session `check_profile(profile)` built under the same AWS_* variables, once; else None."""
    with _CHECKED_LOCK:
        return _CHECKED.pop(_checked_key(profile), None)

def _share_timezone(session: Any) -> None:
    """Parse the timestamps of every client's answers into datetimes that share one local time zone object.

    botocore's default parser (botocore.utils.parse_timestamp) builds a new dateutil `tzlocal()` for each
    timestamp: ~0.4 KB against the datetime's 48 bytes. A DescribeServices answer carries up to 100 events a service
    (ECS API Reference, Service.events) and each task and deployment several timestamps, so a deploy of 100
    services kept tens of thousands of identical zone objects. The same values (the same instant in the same zone,
    as botocore's: local time, else UTC) with one `tzlocal()`; anything else (strings, platforms whose localtime
    refuses the value) goes to botocore's parser as before. `set_parser_defaults` is the documented way to
    give a session's clients a timestamp parser (botocore.parsers.ResponseParserFactory).
    """
    import datetime

    from botocore.utils import parse_timestamp
    from dateutil.tz import tzlocal

    local = tzlocal()

    def parse(value: Any) -> datetime.datetime:
        if isinstance(value, (int, float)):  # the JSON protocols' epoch seconds (ECS, ELB's are strings)
            try:
                return datetime.datetime.fromtimestamp(value, local)
            except (OSError, OverflowError):
                pass
        return parse_timestamp(value)

    session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse)


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

    session = _botocore_session(profile=profile)
    try:
        session.get_scoped_config()
    except (botocore.exceptions.ProfileNotFound, botocore.exceptions.ConfigParseError) as exc:
        raise profile_error(profile, exc) from None
    with _CHECKED_LOCK:  # the command's client factory starts from it (`_checked_session`)
        _CHECKED[_checked_key(profile)] = session
