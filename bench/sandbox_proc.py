"""One sandbox in its own process, with its request log readable over stdin/stdout.

``bench/run.py`` starts this once per scenario run. The first stdout line is a JSON object
(``endpoint``, ``registry``, ``task_start_seconds``); then one command per stdin line, one
JSON answer per stdout line:

- ``clear``: forget the calls logged so far → ``"ok"``
- ``log``: the calls since the last ``clear``, each with the time.time() the sandbox logged it and, for a
  poll (DescribeServices / DescribeServiceDeployments), how many services or deployments it asked about
  → ``[["ecs", "CreateService", 1764400000.123, null], ["ecs", "DescribeServices", 1764400000.2, 10], ...]``
- ``quit`` (or end of input): stop the sandbox and exit.

Every AWS call any tool makes is counted here, at the endpoint, the same way for every tool.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
import threading
import time
from typing import Any

from ci_ecs.sandbox import Sandbox


def _say(value: object) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


# The list each poll names (ECS's JSON protocol): DescribeServices takes up to 10 services, DescribeServiceDeployments
# up to 20 service deployment ARNs (API reference), so a batched poll is seen in these lengths.
POLL_ITEMS = {"DescribeServices": "services", "DescribeServiceDeployments": "serviceDeploymentArns"}


class TimedLog:
    """Every call the sandbox logs, with the time it was logged (for poll lateness and call order) and, for a
    poll, how many services or deployments it asked about (for batching)."""

    def __init__(self, sb: Sandbox) -> None:
        self.calls: list[tuple[str, str, float, int | None, str | None]] = []
        self.lock = threading.Lock()
        self.local = threading.local()  # the poll's item count, from the request body to the log line
        middleware: Any = getattr(sb, "_middleware", None)
        record = getattr(middleware, "_record", None)
        if record is None:  # without the hook the calls come untimed from the request log
            self.sb: Sandbox | None = sb
            return
        self.sb = None
        app = middleware.app

        def counting(environ: dict[str, Any], start_response: Any) -> Any:
            # The middleware calls moto's app and then logs the call, in the same request thread.
            target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
            key = POLL_ITEMS.get(target.rsplit(".", 1)[-1])
            if key is not None:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                body = environ["wsgi.input"].read(length) if length else b""
                environ["wsgi.input"] = io.BytesIO(body)
                try:
                    self.local.items = len(json.loads(body or b"{}").get(key) or [])
                except (ValueError, AttributeError):
                    self.local.items = None
            return app(environ, start_response)

        def timed(service: str, operation: str, *rest: Any) -> None:
            items = getattr(self.local, "items", None)
            self.local.items = None
            fault = rest[2] if len(rest) >= 3 else None  # _record(service, operation, region, status, fault)
            with self.lock:
                self.calls.append((service, operation, time.time(), items, fault))
            record(service, operation, *rest)

        middleware.app = counting
        middleware._record = timed

    def clear(self) -> None:
        with self.lock:
            self.calls.clear()
        if self.sb is not None:
            self.sb.clear_request_log()

    def read(self) -> list[list[Any]]:
        if self.sb is not None:
            return [[d.service, d.operation, None, None, d.fault] for d in self.sb.request_details]
        with self.lock:
            return [list(c) for c in self.calls]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task-start-seconds", type=float, default=None,
                        help="real seconds a task takes to start (default: the timing profile's)")
    parser.add_argument("--timing", choices=("fast", "ecs"), default="fast",
                        help="the sandbox's timing profile (ci_ecs/sandbox/timing.py; scenario 9: ecs)")
    parser.add_argument("--minute-seconds", type=float, default=None,
                        help="seconds an AWS minute lasts on the sandbox's clock (default 60)")
    parser.add_argument("--runtime", choices=("simulated", "docker"), default="simulated",
                        help="docker: tasks are containers on the engine in DOCKER_HOST (scenario 7)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with Sandbox(port=0, registry_port=0, task_start_seconds=args.task_start_seconds, runtime=args.runtime,
                 timing=args.timing, minute_seconds=args.minute_seconds) as sb:
        _say({"endpoint": sb.endpoint_url, "registry": sb.registry, "task_start_seconds": sb.task_start_seconds,
              "env": sb.env()})
        calls = TimedLog(sb)
        for line in sys.stdin:
            command = line.strip()
            if command == "clear":
                calls.clear()
                _say("ok")
            elif command == "log":
                _say(calls.read())
            elif command in ("limits aws", "limits none"):  # scenario 8: AWS's documented throttling on / off
                sb.rate_limiter.profile = command.split()[1]
                sb.rate_limiter.reset()
                _say("ok")
            elif command == "limits reset":  # every bucket full again, between measured runs
                sb.rate_limiter.reset()
                _say("ok")
            elif command == "quit":
                break
            else:
                _say({"error": f"unknown command {command!r}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
