"""How every command runs: progress logging, SIGTERM/SIGINT as a cancel, and the one place that maps an error
to its one-line message and exit code (`command_scope`)."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from typing import Any

import click

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CREDENTIALS, EXIT_TIMEOUT, EXIT_AWS_UNAVAILABLE = 0, 1, 2, 3, 4, 5
# A cancel exits 128 + the signal's number, as a shell reports a process the signal ended.
CANCEL_SIGNALS: dict[int, int] = {signal.SIGINT: 130, signal.SIGTERM: 143}


def _setup_logging(debug: bool) -> None:
    from ci_ecs.output import ProgressHandler
    from ci_ecs.redact import RedactingFilter, register_environment_secrets

    register_environment_secrets()
    handler = ProgressHandler()
    handler.addFilter(RedactingFilter())
    root = logging.getLogger("ci_ecs")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    root.propagate = False
    if debug:
        # botocore's request log carries signed headers: it goes through the same redacting handler.
        boto = logging.getLogger("botocore.endpoint")
        boto.handlers[:] = [handler]
        boto.setLevel(logging.DEBUG)
        boto.propagate = False


class _Signals:
    """Whether a cancel may still raise where the main thread is (not once the result is being printed), and
    whether the handler already ran for this command."""

    raising = False
    handled = False


def _cancel_for(signum: int) -> tuple[int, str] | None:
    """The exit code and message of a cancel by `signum`; None for a signal that does not cancel."""
    if signum not in CANCEL_SIGNALS:
        return None
    return CANCEL_SIGNALS[signum], f"cancelled ({signal.Signals(signum).name}); what was done so far stays done"


def _on_signal(signum: int, frame: Any) -> None:
    """SIGTERM/SIGINT: cancel every AWS call (ci_ecs.aws_guard.cancel_calls: in flight, retried or to come, in every
    thread) and raise DeployCancelledError where the main thread is, so the run ends within 2 s with its result.
    A second signal changes nothing: the first one's ending is under way. (A thread may have read the signal
    from the wakeup pipe and cancelled the calls first; the main thread still raises here.)"""
    from ci_ecs.aws_guard import cancel_calls, cancel_requested
    from ci_ecs.errors import DeployCancelledError

    if _Signals.handled:
        return
    _Signals.handled = True
    cancel = _cancel_for(signum)
    if cancel is None:
        return
    code, message = cancel
    already = cancel_requested()
    if already is None:
        cancel_calls(code, message)
    else:  # a thread read the signal from the wakeup pipe first: one message for one cancel
        code, message = already.exit_code, already.message
    if _Signals.raising:
        _Signals.raising = False
        raise DeployCancelledError(message, code)


def report_error(exc: BaseException, output_format: str, debug: bool) -> int:
    """Print an error as one line (plus reasons for a failed deploy); return its exit code."""
    from ci_ecs.errors import (
        CiEcsError,
        DeployCancelledError,
        DeploymentFailedError,
        DeployTimeoutError,
        escape_control,
    )
    from ci_ecs.output import emit
    from ci_ecs.redact import redact

    if debug:
        import traceback

        sys.stderr.write(redact("".join(traceback.format_exception(exc))))
    if isinstance(exc, KeyboardInterrupt):
        click.echo("ci-ecs: cancelled (SIGINT); what was done so far stays done", err=True)
        return 130
    if not isinstance(exc, CiEcsError):
        message = redact(f"internal error: {type(exc).__name__}: {escape_control(str(exc))} "
                         "(run with --debug for details)")
        click.echo(f"error: {message}", err=True)
        if output_format != "text":
            emit({"error": message}, "json" if output_format == "json" else output_format)
        return EXIT_FAILED
    problems = getattr(exc, "problems", None)  # a PreflightError: every problem, one line each
    if problems and len(problems) > 1:
        for problem in problems:
            click.echo(redact(f"error: {problem.message}"), err=True)
    else:
        click.echo(redact(f"error: {exc.message}"), err=True)
    if isinstance(exc, DeploymentFailedError):
        tails = list(exc.log_tails)
        for reason in exc.stopped_reasons:
            click.echo(redact(f"  stopped: {escape_control(reason)}"), err=True)
            mine = [t for t in tails if f"task {t.task_id}:" in reason]
            tails = [t for t in tails if t not in mine]
            _print_tails(mine, "    ")
        if tails:  # tasks that did not stop (a failed verify)
            for task_id in dict.fromkeys(t.task_id for t in tails):
                click.echo(redact(f"  logs of task {escape_control(task_id)}:"), err=True)
                _print_tails([t for t in tails if t.task_id == task_id], "    ")
        for event in exc.events:
            click.echo(redact(f"  event: {escape_control(event)}"), err=True)
    # Machine-readable formats always get the result, with `error` set, whatever failed (a config error
    # included): a pipeline reads one JSON object or one set of outputs either way.
    result = exc.result
    if output_format != "text" or (isinstance(exc, (DeploymentFailedError, DeployTimeoutError, DeployCancelledError))
                                   and result):
        extra = {"problems": exc.as_json()} if hasattr(exc, "as_json") and problems else {}
        emit({**(result or {}), "error": exc.message, **extra}, output_format)
    return exc.exit_code


def _print_tails(tails: list[Any], indent: str) -> None:
    """Each container's last log lines, one escaped line each (a log line is the container's, not ours)."""
    from ci_ecs.errors import escape_control
    from ci_ecs.redact import redact

    for tail in tails:
        click.echo(redact(f"{indent}{escape_control(tail.heading())}"), err=True)
        for line in tail.lines:
            click.echo(redact(f"{indent}| {escape_control(line)}"), err=True)


@contextlib.contextmanager
def command_scope(output_format: str, debug: bool) -> Iterator[None]:
    """Progress logging, SIGTERM/SIGINT as a cancel, and the one place that maps every error to its exit code.

    A cancel decides the exit code (143/130) whatever the run did after it: an error it caused, or a result.
    """
    from ci_ecs.aws_guard import cancel_requested, reset_cancel

    _setup_logging(debug)
    # When the process ends, the interpreter's last garbage collection walks every object boto and pydantic
    # made (~0.15 s); the command is done by then, so what exists is frozen instead (gc.freeze).
    import atexit
    import gc

    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    reset_cancel()
    _Signals.handled = False
    previous = {signum: signal.signal(signum, _on_signal) for signum in CANCEL_SIGNALS}
    wakeup = _SignalPipe()
    _Signals.raising = True
    try:
        yield
    except (Exception, KeyboardInterrupt) as exc:
        _Signals.raising = False
        cancelled = cancel_requested()
        if cancelled is not None and getattr(exc, "exit_code", None) != cancelled.exit_code:
            cancelled.result = getattr(exc, "result", None)  # e.g. a call the cancel cut short, reported as such
            exc = cancelled
        code = report_error(exc, output_format, debug)
        _exit(code, cancelled=cancelled is not None)
    else:
        _Signals.raising = False
        cancelled = cancel_requested()
        if cancelled is not None:  # the run ended after the signal (its result is printed): still a cancel
            click.echo(f"error: {cancelled.message}", err=True)
            _exit(cancelled.exit_code, cancelled=True)
    finally:
        _Signals.raising = False
        wakeup.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class _SignalPipe:
    """The signal wakeup pipe of one command (ci_ecs.aws_guard.watch_signal_pipe says why): installed with
    signal.set_wakeup_fd, read by every cancel check, closed and the previous wakeup fd restored at the end."""

    def __init__(self) -> None:
        import os

        from ci_ecs.aws_guard import watch_signal_pipe

        self._read, self._write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._previous = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        watch_signal_pipe(self._read, _cancel_for)

    def close(self) -> None:
        """Stop reading signals from the pipe, restore the previous wakeup fd and close both ends."""
        import os

        from ci_ecs.aws_guard import watch_signal_pipe

        watch_signal_pipe(None)
        signal.set_wakeup_fd(self._previous)
        os.close(self._read)
        os.close(self._write)


def _exit(code: int, *, cancelled: bool) -> None:
    """sys.exit(code); after a cancel, without waiting long for threads still busy (an image build in a pool
    thread): the interpreter would join them before exiting, and a cancel ends within 2 s."""
    if cancelled:
        import os
        import threading
        import time

        end = time.monotonic() + 0.5
        for thread in threading.enumerate():
            if thread is not threading.current_thread() and not thread.daemon:
                thread.join(max(0.0, end - time.monotonic()))
        if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.current_thread()):
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    sys.exit(code)


EXIT_CODES_HELP = """Exit codes:

\b
  0        deployed (or nothing to do)
  1        the deployment failed (rolled back or not)
  2        bad usage or configuration (a region that does not exist included); nothing written
  3        credentials or permission (AccessDenied, iam:PassRole)
  4        timed out (--timeout bounds the whole run, AWS calls and their retries included)
  5        AWS unreachable or failing after retries (endpoint, DNS/TLS, throttling, HTTP 5xx)
  130/143  cancelled (SIGINT/SIGTERM): within 2 s, an AWS call in flight included"""
