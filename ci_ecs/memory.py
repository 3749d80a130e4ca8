"""The process's memory during a deploy of many services (issue 27, "Memory": peak RSS at most a peer's).

A `services:` deploy runs each service's steps in threads of its own (ci_ecs.parallel), and each AWS call's
attempt in another (ci_ecs.aws_guard). glibc's malloc gives a thread that finds the main arena busy an arena of its
own, up to 8 per core (mallopt(3), M_ARENA_MAX), and each arena keeps the memory freed in it for its next use:
Python's objects larger than 512 bytes (parsed responses, their dicts and lists) come from malloc, so 100 services'
responses parsed in many threads leave freed memory held in many arenas. Two arenas hold the same objects; the
threads wait on a GIL anyway, so they lose nothing by sharing them (measured: 100 services, peak RSS 73 -> 68 MB).
"""

from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)

# glibc's <malloc.h>: mallopt's parameter for the most arenas malloc creates.
_M_ARENA_MAX = -8
ARENAS = 2


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Let glibc's malloc create at most `arenas` arenas from now on (as MALLOC_ARENA_MAX would at start-up);
    True when the C library took it. Elsewhere (macOS, musl's mallopt, no mallopt) nothing changes: False."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (OSError, AttributeError):
        return False
    taken = bool(mallopt(_M_ARENA_MAX, arenas))
    log.debug("malloc arenas limited to %d: %s", arenas, taken)
    return taken
