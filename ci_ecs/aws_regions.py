"""Region checks against botocore's partition data: a region no partition can have is exit 2 before any call; one
botocore does not know is tried, and AWS's refusal of it is reported as a wrong region with the nearest known one."""

from __future__ import annotations

import re
from typing import Any

from ci_ecs.errors import ConfigError

# What AWS answers a request signed for a region it has no endpoint for (a typo'd AWS_REGION behind a custom
# endpoint): "Credential should be scoped to a valid region" (HTTP 403).
REGION_SIGNATURE_CODES = frozenset({"InvalidSignatureException", "SignatureDoesNotMatch"})


def region_check(session: Any, region: str) -> tuple[bool, str | None]:
    """(known, nearest) for `region` against botocore's partition data (partitions.json): whether botocore
    knows it, and the known region closest in spelling. A region that no partition's `regionRegex` matches
    cannot exist; one that matches but is unknown may be newer than this botocore.

    >>> import botocore.session
    >>> region_check(botocore.session.Session(), "us-esat-1")
    (False, 'us-east-1')
    """
    partitions = session.get_data("partitions").get("partitions", [])
    known: list[str] = []
    for partition in partitions:
        pattern = re.compile(partition.get("regionRegex") or "^$")
        known.extend(name for name in partition.get("regions", {}) if pattern.match(name))
    if region in known:
        return True, region
    nearest = min(sorted(known), key=lambda name: _edit_distance(region, name), default=None)
    return False, nearest


def _edit_distance(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) from `a` to `b`: a typo's distance.

    >>> _edit_distance("us-esat-1", "us-east-1"), _edit_distance("us-esat-1", "us-west-1")
    (1, 2)
    """
    rows = [list(range(len(b) + 1))]
    for i, x in enumerate(a, 1):
        row = [i]
        for j, y in enumerate(b, 1):
            cost = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (x != y))
            if i > 1 and j > 1 and x == b[j - 2] and a[i - 2] == y:
                cost = min(cost, rows[-2][j - 2] + 1)
            row.append(cost)
        rows.append(row)
    return rows[-1][-1]


def region_pattern_matches(session: Any, region: str) -> bool:
    """True when some partition's `regionRegex` (partitions.json) matches `region`."""
    partitions = session.get_data("partitions").get("partitions", [])
    return any(re.match(p.get("regionRegex") or "^$", region) for p in partitions)


def region_error(region: str, nearest: str | None, why: str) -> ConfigError:
    """The ConfigError (exit 2) for a region that does not exist."""
    hint = f"; the nearest known region is {nearest}" if nearest else ""
    return ConfigError(f"{region!r} is not an AWS region ({why}){hint}", key="region")
