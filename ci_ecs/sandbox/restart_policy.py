"""Container restart policies: whether ECS restarts a container that exited, in place within its task.

ECS API reference, ContainerRestartPolicy: with ``enabled``, a container that exits with a code not in
``ignoredExitCodes`` is restarted "without needing to replace the task"; ``restartAttemptPeriod`` (60 to
1800 s, default 300) is how long "the container must run for before a restart can be attempted. A
container can be restarted only once every restartAttemptPeriod seconds. If a container isn't able to run
for this time period and exits early, it will not be restarted." The ECS agent measures that period from the
container's start, or from its last restart once it has one (amazon-ecs-agent, ecs-agent/api/container/
restart/restart_tracker.go, ShouldRestart), and restarts at once when it has elapsed. ECS counts the
restarts (RestartCount in the task metadata endpoint v4 and Container Insights, Developer Guide "Restart
individual containers in Amazon ECS tasks with container restart policies"); DescribeTasks' Container has
no such member, so the sandbox keeps the count on the container (``sb_restart_count``) and
``Sandbox.restart_counts(task_arn)`` reports it.

The period follows the sandbox's clock, as the load balancers' timings do: each of its seconds lasts
``minute_seconds / 60`` s (``--minute-seconds 1``: the minimum of 60 s lasts one second). Both task
runtimes decide with ``should_restart``; the stopping of a task (desiredStatus STOPPED) is never undone.
"""

from __future__ import annotations

from typing import Any

DEFAULT_ATTEMPT_PERIOD = 300  # seconds (ContainerRestartPolicy.restartAttemptPeriod's default)


def policy_of(definition: dict[str, Any]) -> dict[str, Any] | None:
    """The container definition's restartPolicy when it is enabled, else None."""
    policy = definition.get("restartPolicy") or {}
    return dict(policy) if policy.get("enabled") else None


def attempt_period(policy: dict[str, Any], minute_seconds: float) -> float:
    """restartAttemptPeriod in the sandbox's seconds.

    >>> attempt_period({"enabled": True}, 60.0)
    300.0
    >>> attempt_period({"enabled": True, "restartAttemptPeriod": 60}, 1.0)
    1.0
    """
    seconds = policy.get("restartAttemptPeriod")
    period = DEFAULT_ATTEMPT_PERIOD if seconds is None else int(seconds)
    return period * minute_seconds / 60.0


def should_restart(policy: dict[str, Any] | None, exit_code: int | None, ran_for: float,
                   minute_seconds: float) -> bool:
    """Whether a container that exited with ``exit_code`` after running ``ran_for`` seconds (since its
    start, or its last restart) is restarted in place.

    >>> policy = {"enabled": True, "ignoredExitCodes": [0], "restartAttemptPeriod": 60}
    >>> [should_restart(policy, code, 61, 60.0) for code in (1, 0, None)]
    [True, False, False]
    >>> should_restart(policy, 1, 59, 60.0)  # exited before the attempt period: not restarted
    False
    """
    if policy is None or exit_code is None:
        return False
    if exit_code in [int(code) for code in policy.get("ignoredExitCodes") or []]:
        return False
    return ran_for >= attempt_period(policy, minute_seconds)
