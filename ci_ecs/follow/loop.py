"""The one poll loop every deployment strategy is followed with, and its schedule.

The loop (`follow_polls`) is written once: the first sleep, when stopped tasks are listed, the failure count
held against ECS's circuit-breaker threshold, the progress line, the timeout and the adaptive sleep between
polls (the caller's sleep: a cancel ends it), and the run's deadline reached while a call is in flight. What
differs per way of following is a `Reader`: one poll's read (DescribeServices for a deployment followed by its
id, ci_ecs.follow.by_id; DescribeServiceDeployments for a service deployment of any strategy,
ci_ecs.follow.service_deployment) that answers `Going` (counts, progress, near the end) or an outcome, and the
verdicts ECS's own data gives.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ci_ecs import phases
from ci_ecs.errors import AwsCallTimeoutError, DeployTimeoutError
from ci_ecs.follow.state import StoppedTasks, WaitOutcome

log = logging.getLogger(__name__)

MIN_POLL_SECONDS = 1.0
# Near the end (new tasks all running, old ones draining; or one failed task short of the circuit breaker's
# threshold) polls come this often, as long as the wait's polls average at most one a second.
FAST_POLL_SECONDS = 0.25
# Otherwise polls come at least this far apart (then growing with the wait, `poll_interval`).
BACKOFF_POLL_SECONDS = 1.25
# Stopped tasks are listed when the counts suggest a stop, and at least this often otherwise (a task that
# crashed and was replaced between two polls leaves the counts as they were).
STOPPED_POLL_BOUND_SECONDS = 5.0


def failure_threshold(desired_count: int) -> int:
    """ECS's circuit-breaker threshold: half the desired count, at least 3, at most 200.

    >>> [failure_threshold(n) for n in (1, 10, 1000)]
    [3, 5, 200]
    """
    return min(200, max(3, math.ceil(0.5 * desired_count)))


def poll_interval(elapsed: float, max_interval: float) -> float:
    """Seconds to the next poll: about 1 s at first, growing with the wait to at most `max_interval`.

    Growing in proportion to the time already spent keeps detection within ~10 % of the wait while
    a long wait costs at most one call per `max_interval`.
    """
    return min(max_interval, max(MIN_POLL_SECONDS, 0.1 * elapsed))


def adaptive_interval(elapsed: float, max_interval: float, *, near_end: bool, polls: int) -> float:
    """Poll sooner when the deployment is about to end, back off otherwise.

    Near the end: FAST_POLL_SECONDS, or longer until the polls so far (`polls`, over `elapsed` seconds) stay
    within one per second on average, the next one included (never longer than the back-off). Otherwise
    `poll_interval`, at least BACKOFF_POLL_SECONDS: the time saved pays for the fast polls.

    >>> adaptive_interval(3.0, 15.0, near_end=True, polls=2)
    0.25
    >>> adaptive_interval(3.0, 15.0, near_end=True, polls=4)
    1.25
    >>> adaptive_interval(1.0, 15.0, near_end=True, polls=1)
    0.75
    """
    normal = max(BACKOFF_POLL_SECONDS, poll_interval(elapsed, max_interval))
    if near_end:
        # The earliest moment the budget allows (the next poll taken once `polls + 1 <= elapsed + FAST`), not the
        # back-off: a rolling deployment whose new tasks all run ends when its old ones have drained.
        return min(normal, max(FAST_POLL_SECONDS, polls + 1 - FAST_POLL_SECONDS - elapsed))
    return normal



def ours_to_count(failures: list[dict[str, Any]], ecs_failed: int, *, circuit_breaker: bool) -> int:
    """How many of our deployment's failed tasks ci-ecs holds against `failure_threshold` itself.

    With ECS's circuit breaker on, ECS counts the tasks that never reached RUNNING and acts at its threshold
    (rolloutState FAILED / a ROLLBACK_* service deployment): ci-ecs does not race it. It stops counting once a
    task ran (Deployment.failedTasks), so ci-ecs counts the tasks that stopped after running (they have a
    startedAt, API reference Task.startedAt). Without a breaker ECS retries forever: every failure counts.

    >>> ours_to_count([{"startedAt": 1}, {}], 2, circuit_breaker=True)
    1
    >>> ours_to_count([{"startedAt": 1}, {}], 3, circuit_breaker=False)
    3
    """
    if circuit_breaker:
        return sum(1 for t in failures if t.get("startedAt"))
    return max(len(failures), ecs_failed)


@dataclass(frozen=True)
class Going:
    """One poll's read of a deployment that goes on: what the loop weighs, shows and sleeps on."""

    # Running and pending tasks of our deployment (or its target revision), and ECS's own count of failed tasks
    # (Deployment.failedTasks; deploymentCircuitBreaker.failureCount of a service deployment).
    counts: tuple[int, int, int]
    desired: int  # what `failure_threshold` is taken of
    ending: bool  # the deployment ends at this poll either way: its stopped tasks are listed now
    circuit_breaker: bool  # ECS's circuit breaker counts failures too (`ours_to_count`)
    what: str  # the progress line's subject
    progress: str
    timed_out: str  # DeployTimeoutError's message, should the timeout pass before the next poll
    near_end: bool  # poll sooner: the deployment is about to end
    near_threshold: bool = False  # poll sooner when one more failed task reaches the threshold
    # Our tasks are all placed and starting (running + pending ≥ desired, some pending): once they run, a rolling
    # deployment ends as its old tasks drain. Polled like `near_end` while the back-off is at its floor.
    starting: bool = False
    counting: bool = True  # failed tasks are held against the threshold (not while ECS rolls back)
    note: bool = True  # a growing count of stopped tasks is logged
    # The rollout's stage as ECS reports it (ci_ecs.phases: a lifecycleStage, or a rolling stage from the counts)
    # and what it waits on, for the deploy's phases.
    stage: str = ""
    waiting: str = ""


@dataclass(frozen=True)
class Followed:
    """The reader follows another deployment now (one of the same task definition replaced ours): read again at
    once. `relist`: list the stopped tasks at the next read, whatever the counts."""

    relist: bool = False


class Reader(Protocol):
    """One way of reading a deployment's state (see the module docstring)."""

    deployment_id: str  # the deployment followed (it changes when the reader follows another, `Followed`)
    # The run's deadline reached while a call is in flight: DeployTimeoutError naming where the deployment stood
    # at its last answer, instead of the abandoned call's AwsCallTimeoutError.
    names_state_at_deadline: bool

    def read(self, poll: Poll) -> Going | Followed | WaitOutcome:
        """One poll's read (its first: `poll.polls == 0`): the deployment goes on, or it ended (service deleted,
        replaced), or another deployment is followed from now on."""

    def ended(self, going: Going) -> WaitOutcome | Followed | None:
        """ECS's own verdict on what `read` saw, once the stopped tasks are listed; None while it goes on."""

    def failed(self, reason: str, reasons: list[str]) -> WaitOutcome:
        """ci-ecs's verdict: the stopped tasks reached the threshold (`reason`), `reasons` why they stopped."""

    def finished(self, going: Going) -> WaitOutcome | None:
        """The outcome when what `read` saw is complete (weighed after the stopped tasks), else None."""


class Poll:
    """The schedule every follower shares (by deployment id, or through the service-deployment API): the first
    sleep, when stopped tasks are listed, the failure count logged, the progress line, the timeout and the
    adaptive sleep between polls. Each follower reads its own API and decides its own verdict.
    """

    def __init__(self, stopped: StoppedTasks, *, timeout: float, max_interval: float,
                 timeout_label: float | None, clock: Callable[[], float], sleep: Callable[[float], None],
                 started_counts: tuple[int, int, int] | None = None,
                 on_ending: Callable[[Going], None] | None = None) -> None:
        self.stopped = stopped
        self.timeout = timeout
        self.max_interval = max_interval
        self.label = int(timeout_label or timeout)  # the timeout as the user set it, for the message
        self.clock = clock
        self._sleep = sleep
        self.begin = clock()
        self.polls = 0
        self.counted_failures = 0
        self.last_progress = ""
        # (running, pending, failed) at the last poll, and when stopped tasks were last listed. `started_counts`:
        # the deployment's counts in the CreateService/UpdateService answer that started it (0, 0, 0 for a new
        # deployment, API reference Deployment.runningCount/pendingCount/failedTasks): then the first poll lists
        # the stopped tasks only when its counts say a task may have stopped since, like every later poll.
        self.last_counts: tuple[int, int, int] | None = started_counts
        self.started = started_counts is not None
        # Nothing of a deployment our call started had stopped before it: the bound counts from then.
        self.stopped_listed = self.begin if self.started else -math.inf
        # Called with the poll that ends the deployment, before its last reads (the stopped tasks, the verdict's
        # describe): the caller's own reads may run alongside them (ci_ecs.follow.prefetch).
        self.on_ending = on_ending

    def first_sleep(self) -> None:
        """The caller has just created/updated (and so described) the service: nothing to see before a poll."""
        self._sleep(min(MIN_POLL_SECONDS, self.timeout))

    def list_stopped(self, counts: tuple[int, int, int], *, now: bool) -> None:
        """ListTasks(STOPPED) only when a stop may have happened: fewer running, more pending, more failed,
        `now` (the deployment ending either way), or the bound elapsed. A stopped task stays listed for about
        an hour, so a stop the counts hid is still found at the next listing (at the latest before success)."""
        last = self.last_counts
        # Against the counts of our call's answer (the first poll of a deployment we started) pending tasks are the
        # new ones being placed, not a stop's replacement.
        placed = self.polls <= 1 and self.started
        if (last is None or counts[0] < last[0] or (counts[1] > last[1] and not placed) or counts[2] > last[2] or now
                or self.clock() - self.stopped_listed >= STOPPED_POLL_BOUND_SECONDS):
            self.stopped.poll()
            self.stopped_listed = self.clock()
        self.last_counts = counts

    def note_failures(self, deployment_id: str, failures: list[dict[str, Any]], failed_count: int) -> None:
        """Log the stopped tasks once their count grew."""
        if failed_count > self.counted_failures:
            self.counted_failures = failed_count
            reasons = self.stopped.reasons(failures or self.stopped.failures(before_baseline=True))
            log.warning("deployment %s: %d task(s) stopped; latest %s", deployment_id, self.counted_failures,
                        reasons[0] if reasons else "")

    def progress(self, what: str, progress: str) -> None:
        """Log the progress line when it changed (a line per change in a CI log, not per poll)."""
        if progress != self.last_progress:
            log.info("%s: %s", what, progress, extra={"live": True})
            self.last_progress = progress

    def young(self) -> bool:
        """While the back-off is at its floor (BACKOFF_POLL_SECONDS: the first ~12 s of a wait): tasks that are
        starting then are about to run (the sandbox's start, ECS's image pulls of seconds). A slow start (Fargate's
        tens of seconds) is followed at the growing back-off from then on."""
        return poll_interval(self.clock() - self.begin, self.max_interval) <= BACKOFF_POLL_SECONDS

    def sleep(self, deployment_id: str, timed_out: str, *, near_end: bool) -> None:
        """Raise DeployTimeoutError (`timed_out` its message, naming `label`) once the timeout passed, else sleep
        until the next poll: sooner `near_end`, backing off otherwise (`adaptive_interval`)."""
        elapsed = self.clock() - self.begin
        if elapsed >= self.timeout:
            raise DeployTimeoutError(timed_out, deployment_id=deployment_id)
        interval = adaptive_interval(elapsed, self.max_interval, near_end=near_end, polls=self.polls)
        self._sleep(min(interval, max(0.0, self.timeout - elapsed)))


def follow_polls(reader: Reader, poll: Poll) -> WaitOutcome:
    """Poll `reader` on `poll`'s schedule until an outcome; raise DeployTimeoutError once the timeout passed.

    At each poll: the reader's read; the stopped tasks listed when a stop may have happened; ECS's verdict; the
    failed tasks held against ECS's circuit-breaker threshold (`failure_threshold`, `ours_to_count`: without a
    breaker ECS retries failing tasks forever, and with one it stops counting once a task ran, so a task that
    crashes after RUNNING is seen only this way); completion; the progress line; the sleep.
    """
    first_id = reader.deployment_id
    last_state: str | None = None  # the timeout message of the last answer: where the deployment stood
    poll.first_sleep()
    try:
        while True:
            going = reader.read(poll)
            if isinstance(going, WaitOutcome):
                return going
            poll.polls += 1
            if isinstance(going, Followed):
                poll.last_counts = None if going.relist else poll.last_counts
                continue
            if going.stage:
                phases.stage(going.stage, going.waiting or None)
            if going.ending and poll.on_ending is not None:
                poll.on_ending(going)
            poll.list_stopped(going.counts, now=going.ending)
            ended = reader.ended(going)
            if isinstance(ended, WaitOutcome):
                return ended
            if isinstance(ended, Followed):
                poll.last_counts = None if ended.relist else poll.last_counts
                continue
            stopped = poll.stopped
            failures = stopped.failures()
            # ECS's own count of tasks that never reached RUNNING is exact until a task runs; the stopped tasks
            # seen since we started watching cover what it stops counting after that.
            failed_count = max(len(failures), going.counts[2])
            if going.note:
                poll.note_failures(reader.deployment_id, failures, failed_count)
            threshold = failure_threshold(going.desired)
            # Checked at every poll: a task that stops after running counts even when ECS's own count is higher.
            if going.counting and ours_to_count(failures, going.counts[2],
                                                circuit_breaker=going.circuit_breaker) >= threshold:
                return reader.failed(f"{poll.counted_failures} tasks failed to start or stopped (threshold "
                                     f"{threshold})",
                                     stopped.reasons(failures or stopped.failures(before_baseline=True)))
            finished = reader.finished(going)
            if finished is not None:
                return finished
            poll.progress(going.what, going.progress)
            near_end = going.near_end or (going.near_threshold and failed_count + 1 >= threshold) or (
                going.starting and poll.young())
            last_state = going.timed_out
            poll.sleep(reader.deployment_id, going.timed_out, near_end=near_end)
    except AwsCallTimeoutError:
        # The run's deadline came while a poll's call was in flight (the client abandons it).
        if not reader.names_state_at_deadline or last_state is None:
            raise
        raise DeployTimeoutError(last_state, deployment_id=first_id) from None
