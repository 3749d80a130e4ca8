"""A command's start-up without Python's cyclic garbage collector.

Start-up allocates what lives for the whole run: modules, the config's pydantic validators, botocore's service
models and clients. Each allocation burst lets the collector run (about 150 passes, a full one among them, ~60 ms
of a deploy's ~0.5 s start before its first AWS call), and none of those objects is garbage. So `collector_paused`
turns the collector off for the start-up; `resume_collector` turns it back on, with what start-up made frozen
(gc.freeze: later passes skip it), the first time the command waits (the deploy's first sleep, before its first
poll) and at the latest `RESUME_AFTER_SECONDS` after the start (a long image build or push allocates as it goes).
Reference counting frees everything else meanwhile, as always; only garbage in reference cycles waits.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

RESUME_AFTER_SECONDS = 3.0

_lock = threading.Lock()
_paused = False


@contextlib.contextmanager
def collector_paused(resume_after: float = RESUME_AFTER_SECONDS) -> Iterator[None]:
    """Run the block with the collector off until `resume_collector` (or `resume_after` seconds); on leaving,
    the collector is as it was before (a library caller or a test process keeps its own setting)."""
    global _paused
    if not gc.isenabled():  # the caller turned it off itself: leave that alone
        yield
        return
    with _lock:
        gc.disable()
        _paused = True
    timer = threading.Timer(resume_after, resume_collector)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        with _lock:
            _paused = False
            # Everything the command made goes to the oldest generation, collectable again (an in-process caller's
            # garbage is its own): re-enabled with it all young, the next pass would walk it on the way out (~40 ms).
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def resume_collector() -> None:
    """The start-up is over (the command waits now): the collector runs again, skipping what start-up made.
    Does nothing outside `collector_paused` or once resumed."""
    global _paused
    with _lock:
        if not _paused:
            return
        _paused = False
        gc.freeze()
        gc.enable()
