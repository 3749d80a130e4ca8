"""A SIGTERM is seen by every thread's cancel check at once, not only after the main thread gets to run Python's
handler: ci_ecs/cli/runner.py installs a signal wakeup pipe (signal.set_wakeup_fd) that aws_guard reads.

Real process, real signal: the main thread is held inside one long C call (hashlib releases the GIL for large
data but runs no Python signal handler until it returns), the state a loaded machine leaves it in for a few
milliseconds; a second thread, like a pool thread waking from a retry's back-off, must see the cancel meanwhile."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

_CHILD = textwrap.dedent("""
    import hashlib, json, os, signal, sys, threading, time
    from ci_ecs.aws_guard import cancel_requested
    from ci_ecs.cli.runner import command_scope

    data = b"x" * (512 << 20)
    state = {"handler_ran": False}
    report = {}

    def pool_thread():
        time.sleep(0.05)  # the main thread is inside the hash by now
        os.kill(os.getpid(), signal.SIGTERM)
        end = time.monotonic() + 10
        while time.monotonic() < end and "seen" not in report:
            cancelled = cancel_requested()
            if cancelled is not None:
                report.update(seen=cancelled.exit_code, handler_ran=state["handler_ran"],
                              message=cancelled.message)
            time.sleep(0.001)
        sys.stderr.write("REPORT " + json.dumps(report) + chr(10))
        sys.stderr.flush()

    with command_scope("text", False):
        installed = signal.getsignal(signal.SIGTERM)

        def handler(signum, frame):  # ci-ecs's handler, noting when the main thread got to run it
            state["handler_ran"] = True
            installed(signum, frame)

        signal.signal(signal.SIGTERM, handler)
        watcher = threading.Thread(target=pool_thread)
        watcher.start()
        try:
            hashlib.sha256(data).hexdigest()
        finally:
            watcher.join()
""")


def test_a_thread_sees_the_cancel_while_the_main_thread_cannot_run_the_handler() -> None:
    ended = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=60)
    (line,) = [line for line in ended.stderr.splitlines() if line.startswith("REPORT ")]
    report = json.loads(line.removeprefix("REPORT "))
    assert report.get("seen") == 143, ended.stderr
    assert report["handler_ran"] is False, "seen only once the main thread had run the handler"
    assert report["message"] == "cancelled (SIGTERM); what was done so far stays done"
    # The main thread's handler still ends the command as a cancel, with one message.
    assert ended.returncode == 143, ended.stderr
    assert ended.stderr.count("error: cancelled (SIGTERM)") == 1, ended.stderr
