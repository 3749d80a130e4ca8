"""``python -m ci_ecs.sandbox``: the sandbox without the main CLI."""

from __future__ import annotations

import argparse
import os
import sys

from .faults import Faults, parse_operations
from .rate_limits import PROFILES, profile_from_env
from .registry import RegistryError
from .runtimes import RUNTIME_ENV, RUNTIME_NAMES, RuntimeUnavailableError
from .server import serve_forever
from .timing import PROFILE_NAMES, timing_from_env


def main(argv: list[str] | None = None) -> int:
    """Parse the same options as ``ci-ecs sandbox`` and serve until interrupted."""
    env = Faults.from_env()
    parser = argparse.ArgumentParser(prog="python -m ci_ecs.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--registry-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--task-start-seconds", type=float, default=env.task_start_seconds)
    parser.add_argument("--throttle-rate", type=float, default=env.throttle_rate)
    parser.add_argument(
        "--fail-operations",
        default=",".join(env.error_5xx_operations),
        help="comma-separated operations answered with 503, e.g. RegisterTaskDefinition",
    )
    parser.add_argument(
        "--deny-operations",
        default=",".join(env.denied_operations),
        help="comma-separated operations answered with AccessDeniedException, e.g. DescribeServiceDeployments",
    )
    parser.add_argument(
        "--fail-times", type=int, default=env.error_5xx_times, help="fail only the first N calls of each such operation"
    )
    parser.add_argument(
        "--runtime",
        choices=RUNTIME_NAMES,
        default=os.environ.get(RUNTIME_ENV) or "simulated",
        help="simulated (tasks are state only) or docker (tasks are containers on DOCKER_HOST's engine)",
    )
    parser.add_argument(
        "--minute-seconds", type=float, default=None, help="seconds a bake-time minute lasts (default 60)"
    )
    parser.add_argument(
        "--rate-limits", choices=PROFILES, default=profile_from_env(os.environ),
        help="aws: AWS's documented API request throttling (token buckets per action); none: unlimited",
    )
    parser.add_argument(
        "--timing", choices=PROFILE_NAMES, default=timing_from_env(os.environ),
        help="fast: tasks start in --task-start-seconds (1 s); ecs: Fargate-like task start and stop, in AWS seconds "
             "times --minute-seconds/60 (CI_ECS_SANDBOX_TIMING)",
    )
    args = parser.parse_args(argv)
    faults = Faults(
        throttle_rate=args.throttle_rate,
        error_5xx_operations=parse_operations(args.fail_operations),
        error_5xx_times=args.fail_times,
        denied_operations=parse_operations(args.deny_operations),
        task_start_seconds=args.task_start_seconds,
    )
    try:
        serve_forever(
            host=args.host, port=args.port, registry_port=args.registry_port, faults=faults, runtime=args.runtime,
            minute_seconds=args.minute_seconds, rate_limits=args.rate_limits, timing=args.timing,
        )
    except (RuntimeUnavailableError, RegistryError) as err:  # no engine; the registry port taken
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
