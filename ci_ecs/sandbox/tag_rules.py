"""The tag rules ECS enforces on every resource it tags (RegisterTaskDefinition, CreateService,
CreateCluster, TagResource), written from the ECS API reference, ``Tag`` and ``TagResource``
("The following basic restrictions apply to tags: Maximum number of tags per resource - 50 ...
Maximum key length - 128 Unicode characters in UTF-8; Maximum value length - 256 Unicode
characters in UTF-8 ... Do not use aws:, AWS:, or any upper or lowercase combination of such as a
prefix for either keys or values as it is reserved for AWS use"). ECS answers
InvalidParameterException (TagResource's documented error for a bad tag).

botocore's parameter validation catches the lengths and the count before a request leaves an SDK
client, but a client without it (the aws CLI with validation off, other SDKs, raw HTTP) reaches ECS.
"""

from __future__ import annotations

from typing import Any

MAX_TAGS = 50
MAX_KEY = 128
MAX_VALUE = 256
RESERVED_PREFIX = "aws:"


def check_tags(tags: Any) -> str | None:
    """ECS's InvalidParameterException message for a tag list it refuses, else None.

    >>> check_tags([{"key": "aws:team", "value": "x"}])
    "Tag keys and values may not begin with the reserved prefix 'aws:' (tag key 'aws:team')."
    >>> check_tags([{"key": "team", "value": "web"}]) is None
    True
    """
    if not tags:
        return None
    if not isinstance(tags, list):
        return "tags must be a list of key/value pairs."
    if len(tags) > MAX_TAGS:
        return f"Too many tags: {len(tags)}; a resource can have at most {MAX_TAGS} tags."
    seen: set[str] = set()
    for tag in tags:
        key = str((tag or {}).get("key") or "")
        value = (tag or {}).get("value")
        value = "" if value is None else str(value)
        if not 1 <= len(key) <= MAX_KEY:
            return f"Tag key {key[:40]!r} must be 1 to {MAX_KEY} characters long."
        if len(value) > MAX_VALUE:
            return f"The value of tag {key!r} is {len(value)} characters long; the maximum is {MAX_VALUE}."
        if key.lower().startswith(RESERVED_PREFIX) or value.lower().startswith(RESERVED_PREFIX):
            what = f"tag key {key!r}" if key.lower().startswith(RESERVED_PREFIX) else f"the value of tag {key!r}"
            return f"Tag keys and values may not begin with the reserved prefix 'aws:' ({what})."
        if key in seen:
            return f"Duplicate tag key {key!r}: each tag key must be unique."
        seen.add(key)
    return None
