"""The Pacer (ci_ecs/pacing.py): ECS's documented buckets as one process uses them, on an injected clock (a pure
calculation, no AWS part involved; the e2e under the sandbox's `--rate-limits aws`: tests/e2e/test_throttled_scale.py).
"""

from __future__ import annotations

from ci_ecs.pacing import _MARGIN_SECONDS, Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_a_burst_past_the_bucket_goes_out_one_refill_apart() -> None:
    """RegisterTaskDefinition: 20 tokens, 1 a second (API Reference, "Request throttling")."""
    clock = Clock()
    pacer = Pacer(clock.sleep, clock)
    delays = [pacer.delay("RegisterTaskDefinition") for _ in range(23)]
    assert delays[:20] == [0.0] * 20
    assert delays[20:] == [1 + _MARGIN_SECONDS, 2 + _MARGIN_SECONDS, 3 + _MARGIN_SECONDS]
    clock.now += 10  # refilled 10 tokens less the 3 reserved ahead
    assert [pacer.delay("RegisterTaskDefinition") for _ in range(8)] == [0.0] * 7 + [1 + _MARGIN_SECONDS]


def test_buckets_are_per_category_and_unknown_actions_are_not_held() -> None:
    clock = Clock()
    pacer = Pacer(clock.sleep, clock)
    assert [pacer.delay("UpdateService") for _ in range(51)][-2:] == [0.0, 1 / 5 + _MARGIN_SECONDS]
    assert pacer.delay("CreateService") == 2 / 5 + _MARGIN_SECONDS  # the same "Service modify actions" bucket
    assert pacer.delay("DescribeServices") == 0.0
    assert pacer.delay("SomeFutureAction") == 0.0


def test_a_throttled_answer_empties_the_bucket_whatever_was_counted() -> None:
    """Another client of the account drew from the bucket: ECS's ThrottlingException is what counts."""
    clock = Clock()
    pacer = Pacer(clock.sleep, clock)
    assert pacer.delay("RegisterTaskDefinition") == 0.0

    class Operation:
        name = "RegisterTaskDefinition"

    pacer.needs_retry(response=(None, {"Error": {"Code": "ThrottlingException"}}), operation=Operation())
    assert pacer.delay("RegisterTaskDefinition") == 1 + _MARGIN_SECONDS
    pacer.take("RegisterTaskDefinition")
    assert clock.slept == [2 + _MARGIN_SECONDS]
