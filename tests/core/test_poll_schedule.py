"""Issue 27: the poll loop's schedule and its stopped-task listings, on a scripted reader (no AWS, a fake clock).

The reader and the stopped-task listing are stand-ins written here (no real part answers a scripted sequence of
deployment states at chosen times); the loop (ci_ecs.follow.loop), its schedule and its budget are the real ones.
"""

from __future__ import annotations

from typing import Any

from ci_ecs.follow.loop import Followed, Going, Poll, follow_polls
from ci_ecs.follow.state import WaitOutcome


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


class Listing:
    """Counts ListTasks(STOPPED) calls (StoppedTasks' interface as the loop uses it); nothing ever stopped."""

    def __init__(self) -> None:
        self.polls = 0
        self.tasks: list[dict[str, Any]] = []

    def poll(self) -> list[dict[str, Any]]:
        self.polls += 1
        return []

    def failures(self, scaled_in: int = 0, *, before_baseline: bool = False) -> list[dict[str, Any]]:
        return []

    def reasons(self, failures: list[dict[str, Any]] | None = None) -> list[str]:
        return []


class Script:
    """A rolling deployment read from scripted (running, pending, old running) counts, COMPLETED at the end."""

    names_state_at_deadline = False

    def __init__(self, states: list[tuple[int, int, int]], desired: int = 2) -> None:
        self.deployment_id = "ecs-svc/1"
        self.states = list(states)
        self.desired = desired
        self.reads: list[tuple[int, int, int]] = []

    def read(self, poll: Poll) -> Going | Followed | WaitOutcome:
        running, pending, old = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        self.reads.append((running, pending, old))
        done = running == self.desired and not old
        return Going((running, pending, 0), self.desired, ending=done, circuit_breaker=True, what="d",
                     progress=f"{running}/{pending}/{old}", timed_out="timed out",
                     near_end=running >= self.desired and pending == 0 and old > 0,
                     starting=bool(pending) and running + pending >= self.desired)

    def ended(self, going: Going) -> WaitOutcome | Followed | None:
        return WaitOutcome("COMPLETED", self.deployment_id, {}) if going.ending else None

    def failed(self, reason: str, reasons: list[str]) -> WaitOutcome:
        return WaitOutcome("FAILED", self.deployment_id, {}, reason, reasons)

    def finished(self, going: Going) -> WaitOutcome | None:
        return None


def _follow(states: list[tuple[int, int, int]], started: tuple[int, int, int] | None) -> tuple[Clock, Listing]:
    clock, listing = Clock(), Listing()
    poll = Poll(listing, timeout=60, max_interval=15, timeout_label=None, clock=clock,  # type: ignore[arg-type]
                sleep=clock.sleep, started_counts=started)
    assert follow_polls(Script(states), poll).state == "COMPLETED"
    return clock, listing


def test_a_deployment_we_started_is_not_listed_at_its_first_poll_while_its_tasks_are_placed() -> None:
    """UpdateService's answer said 0 running, 0 pending, 0 failed: pending tasks at the first poll are the new
    ones being placed, not a stop's replacement. The stopped tasks are listed once, when the deployment ends."""
    _, listing = _follow([(0, 2, 2), (2, 0, 2), (2, 0, 0)], started=(0, 0, 0))
    assert listing.polls == 1


def test_a_deployment_this_run_did_not_start_is_listed_at_its_first_poll() -> None:
    """An unchanged re-run follows the service's own deployment: what stopped before is unknown."""
    _, listing = _follow([(0, 2, 2), (2, 0, 2), (2, 0, 0)], started=None)
    assert listing.polls == 2


def test_fewer_running_than_the_answer_said_lists_at_the_first_poll() -> None:
    _, listing = _follow([(1, 1, 2), (2, 0, 2), (2, 0, 0)], started=(2, 0, 0))
    assert listing.polls == 2


def test_polls_near_the_end_come_when_the_budget_allows_not_at_the_back_off() -> None:
    """Tasks placed and starting, then running with old ones draining: the next polls come as soon as the wait's
    polls stay within one a second on average (the 0.25 s tolerance), never the 1.25 s back-off."""
    clock, _ = _follow([(0, 2, 2), (2, 0, 2), (2, 0, 2), (2, 0, 2), (2, 0, 0)], started=(0, 0, 0))
    # first sleep 1 s; poll 1 at 1.0 → next at 1.75; poll 2 at 1.75 → 2.75; then a second apart.
    assert clock.sleeps == [1.0, 0.75, 1.0, 1.0, 1.0]
    elapsed = 0.0
    for polls, seconds in enumerate(clock.sleeps):
        elapsed += seconds
        assert polls + 1 <= elapsed + 0.25  # the budget: at most one poll a second on average


def test_a_slow_start_backs_off_once_the_wait_is_older_than_the_back_off_floor() -> None:
    """Fargate's tens of seconds: tasks pending for 30 s are polled at the growing back-off after the first ~12 s."""
    clock, _ = _follow([(0, 2, 2)] * 20 + [(2, 0, 0)], started=(0, 0, 0))
    assert max(clock.sleeps[:8]) <= 1.0
    assert clock.sleeps[-1] > 1.25
    assert len(clock.sleeps) < 30  # far fewer polls than one a second over the wait
