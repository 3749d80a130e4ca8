"""One sandbox in its own process, with its request log readable over stdin/stdout.

``bench/run.py`` starts this once per scenario run. The first stdout line is a JSON object
(``endpoint``, ``registry``, ``task_start_seconds``); then one command per stdin line, one
JSON answer per stdout line:

- ``clear``: forget the calls logged so far → ``"ok"``
- ``log``: the calls since the last ``clear`` → ``[["ecs", "CreateService"], ...]``
- ``quit`` (or end of input): stop the sandbox and exit.

Every AWS call any tool makes is counted here, at the endpoint, the same way for every tool.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from ci_ecs.sandbox import Sandbox


def _say(value: object) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task-start-seconds", type=float, required=True)
    parser.add_argument("--runtime", choices=("simulated", "docker"), default="simulated",
                        help="docker: tasks are containers on the engine in DOCKER_HOST (scenario 7)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with Sandbox(port=0, registry_port=0, task_start_seconds=args.task_start_seconds, runtime=args.runtime) as sb:
        _say({"endpoint": sb.endpoint_url, "registry": sb.registry, "task_start_seconds": sb.task_start_seconds,
              "env": sb.env()})
        for line in sys.stdin:
            command = line.strip()
            if command == "clear":
                sb.clear_request_log()
                _say("ok")
            elif command == "log":
                _say([[c.service, c.operation] for c in sb.request_log])
            elif command == "quit":
                break
            else:
                _say({"error": f"unknown command {command!r}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
