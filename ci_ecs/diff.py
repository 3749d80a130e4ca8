"""A pure, readable structural diff used for task definitions and services."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ci_ecs.redact import mask_secrets

_MISSING: Any = object()

# Lists of objects that are really maps keyed by these fields (so a reorder is not a change and a
# diff names the item, e.g. containerDefinitions[web].environment[GREETING]).
_LIST_KEYS = ("name", "containerName", "targetGroupArn", "capacityProvider", "sourceVolume")


@dataclass(frozen=True)
class Change:
    """One difference: `path` went from `old` to `new` (either may be absent)."""

    path: str
    old: Any = _MISSING
    new: Any = _MISSING

    def __str__(self) -> str:
        if self.old is _MISSING:
            return f"+ {self.path}: {_show(self.new)}"
        if self.new is _MISSING:
            return f"- {self.path}: {_show(self.old)}"
        return f"~ {self.path}: {_show(self.old)} -> {_show(self.new)}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form for `plan --output json`."""
        out: dict[str, Any] = {"path": self.path}
        if self.old is not _MISSING:
            out["old"] = self.old
        if self.new is not _MISSING:
            out["new"] = self.new
        return out


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 200 else text[:197] + "..."


def _keyed(items: list[Any]) -> dict[str, Any] | None:
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in _LIST_KEYS:
        values = [i.get(key) for i in items]
        if all(isinstance(v, str) for v in values) and len(set(values)) == len(values):
            return {str(i[key]): i for i in items}
    return None


def diff_values(old: Any, new: Any, path: str = "") -> list[Change]:
    """Every difference between two JSON-like values, deepest first-level paths named.

    >>> [str(c) for c in diff_values({"a": 1, "b": [1]}, {"a": 2, "b": [1]})]
    ['~ a: 1 -> 2']
    """
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[Change] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                changes.append(Change(sub, new=new[key]))
            elif key not in new:
                changes.append(Change(sub, old=old[key]))
            else:
                changes.extend(diff_values(old[key], new[key], sub))
        return changes
    if isinstance(old, list) and isinstance(new, list):
        old_keyed, new_keyed = _keyed(old), _keyed(new)
        # An empty list is an empty map when the other side is one.
        if not old and new_keyed is not None:
            old_keyed = {}
        if not new and old_keyed is not None:
            new_keyed = {}
        if old_keyed is not None and new_keyed is not None:
            changes = []
            for key in list(dict.fromkeys([*old_keyed, *new_keyed])):
                sub = f"{path}[{key}]"
                if key not in old_keyed:
                    changes.append(Change(sub, new=new_keyed[key]))
                elif key not in new_keyed:
                    changes.append(Change(sub, old=old_keyed[key]))
                else:
                    changes.extend(diff_values(old_keyed[key], new_keyed[key], sub))
            return changes
        if len(old) == len(new):
            changes = []
            for index, (a, b) in enumerate(zip(old, new, strict=True)):
                changes.extend(diff_values(a, b, f"{path}[{index}]"))
            return changes
    if old != new:
        return [Change(path or "(root)", old, new)]
    return []


def strip_empty(value: Any) -> Any:
    """Drop None, empty lists and empty dicts at every depth (AWS treats them as absent).

    >>> strip_empty({"a": [], "b": {"c": None}, "d": 0})
    {'d': 0}
    """
    if isinstance(value, dict):
        out = {k: strip_empty(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != [] and v != {}}
    if isinstance(value, list):
        return [strip_empty(v) for v in value]
    return value


def masked_changes(*groups: tuple[str, list[Change]]) -> list[dict[str, Any]]:
    """The changes of each (resource, changes) group as the result's `changes` entries; environment values that
    look like secrets never reach the printed diff."""
    return [mask_secrets({"resource": name, **change.as_dict()}) for name, changes in groups for change in changes]
