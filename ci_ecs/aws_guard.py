"""The guard that ends AWS calls on a cancel (SIGTERM/SIGINT, or the library's) or at the run's deadline, whichever
thread made them: each HTTP attempt runs in a thread the caller can leave, botocore's before-call and needs-retry
hooks refuse calls and retries that cannot finish in time.

botocore is imported lazily so `ci-ecs --help` stays fast.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from ci_ecs.aws_failures import cause_of, endpoint_label, maybe_sent, name_not_resolved
from ci_ecs.aws_regions import region_error
from ci_ecs.errors import AwsCallTimeoutError, CiEcsError, DeployCancelledError

# Operations whose retry could do the work twice: after a connection closed or a read timed out the request may
# have been carried out, so botocore does not send them again; the caller looks first (taskdef.py). Create/Run
# calls carry a client token and UpdateService sets a state: those are safe to repeat.
NOT_RESENT_OPERATIONS = frozenset({"RegisterTaskDefinition"})
# Past the deadline, the calls that report it (the deployment's last state, a rollback) get this much more time.
DEADLINE_GRACE_SECONDS = 0.5
# How often a thread waiting on an AWS call looks at the cancel flag (a signal handler only sets a flag).
_POLL_SECONDS = 0.05


class _Cancel:
    """The process-wide cancel: set by the CLI's signal handler (two attribute writes, no lock), read by every
    CallGuard."""

    code: int | None = None
    message: str = ""


_PROCESS_CANCEL = _Cancel()


class _SignalPipe:
    """The read end of the process's signal wakeup pipe (signal.set_wakeup_fd) and what each signal means.

    Python runs a signal handler in the main thread, between two bytecodes: a thread already awake in a retry's
    back-off can check the cancel flag before the main thread gets to run the handler (milliseconds on a loaded
    machine) and send one more attempt after the signal. The C-level handler writes the signal's number to the
    wakeup pipe the moment the signal arrives, whichever thread it lands in; every cancel check reads that pipe too.
    """

    fd: int | None = None
    meaning: Callable[[int], tuple[int, str] | None] | None = None


def watch_signal_pipe(fd: int | None, meaning: Callable[[int], tuple[int, str] | None] | None = None) -> None:
    """Read signals from `fd` (a non-blocking pipe given to signal.set_wakeup_fd) at every cancel check; `meaning`
    maps a signal number to the cancel's (exit code, message), None for a signal that is no cancel. None stops."""
    _SignalPipe.fd = fd
    _SignalPipe.meaning = meaning


def _read_signal_pipe() -> None:
    fd, meaning = _SignalPipe.fd, _SignalPipe.meaning
    if fd is None or meaning is None:
        return
    try:
        arrived = os.read(fd, 64)
    except OSError:  # empty (EAGAIN), or closed by the command's end
        return
    for signum in arrived:
        cancel = meaning(signum)
        if cancel is not None and _PROCESS_CANCEL.code is None:
            cancel_calls(*cancel)


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
    if _PROCESS_CANCEL.code is None:
        _read_signal_pipe()
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

    def needs_retry(self, handler: Any, throttled: Any = None, **kwargs: Any) -> Any:
        """needs-retry, around botocore's standard retry handler: never retry our own cancel or timeout, nor a
        NOT_RESENT_OPERATIONS call that may have been carried out; back off in slices the cancel can cut. A throttled
        call is retried by `throttled` (botocore's standard handler with more attempts, aws.py) when given."""
        import botocore.exceptions
        from botocore.retries import standard

        caught = kwargs.get("caught_exception")
        if isinstance(caught, CiEcsError):
            return None
        model = kwargs.get("operation")
        if caught is not None and getattr(model, "name", "") in NOT_RESENT_OPERATIONS and maybe_sent(caught):
            return None
        if self.unknown_region and isinstance(caught, botocore.exceptions.EndpointConnectionError) and \
                name_not_resolved(caught):
            # AWS has no endpoint for a region that does not exist: its name does not resolve.
            raise region_error(self.unknown_region, self.nearest_region,
                               f"{endpoint_label(getattr(kwargs.get('endpoint'), 'host', None))} does not resolve")
        if throttled is not None and kwargs.get("response") is not None and \
                standard.ThrottlingErrorDetector(standard.RetryEventAdapter()).is_throttling_error(**kwargs):
            handler = throttled
        delay = handler.needs_retry(**kwargs)
        if delay is None or delay is False:
            return delay
        endpoint = getattr(kwargs.get("endpoint"), "host", None)
        self.sleep(float(delay), self.current(), endpoint_label(endpoint), _last_attempt(kwargs))
        return 0.0  # slept already; botocore's own sleep is then 0 s


def _last_attempt(kwargs: dict[str, Any]) -> str:
    caught = kwargs.get("caught_exception")
    if caught is not None:
        return f"{type(caught).__name__}: {cause_of(caught)}"
    response = kwargs.get("response")
    if response:
        http, parsed = response
        code = (parsed or {}).get("Error", {}).get("Code", "")
        return f"HTTP {getattr(http, 'status_code', '?')} {code}".strip()
    return ""


class GuardedHttpSession:
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
