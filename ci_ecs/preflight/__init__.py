"""The pre-flight: everything a deploy will send is checked before its first write, and every problem reported.

Issue 22. One place for the rules `plan`, `deploy`, `register` and `run-task` apply to the requests they are
about to send (RegisterTaskDefinition, CreateService/UpdateService, CreateCluster): botocore's model at run
time (model.py), AWS's documented limits the model lacks (limits.py), ECS's own rules for a task definition
with its service (rules.py) and the references ECS resolves, found with read calls (references.py). Problems
are collected, not raised at the first: a PreflightError (exit 2) carries them all.
"""

from __future__ import annotations

from collections.abc import Iterable

from ci_ecs.errors import ConfigError


class PreflightError(ConfigError):
    """Every problem the pre-flight found (each a ConfigError with key/source/message); exit 2, nothing written.

    Its message is the one problem's, or "N problems: first; second; ..." (the CLI prints one line each).
    """

    def __init__(self, problems: Iterable[ConfigError]) -> None:
        self.problems: list[ConfigError] = _unique(problems)
        if not self.problems:
            raise ValueError("a PreflightError needs at least one problem")
        first = self.problems[0]
        message = first.message if len(self.problems) == 1 else (
            f"{len(self.problems)} problems: " + "; ".join(p.message for p in self.problems))
        # ConfigError's own constructor would prefix the key again: the problems' messages already carry theirs.
        super(ConfigError, self).__init__(message, key=first.key, line=first.line, source=first.fields.get("source"))
        self.key = first.key
        self.line = first.line

    def as_json(self) -> list[dict[str, object]]:
        """The problems as `--output json` lists them (`problems`)."""
        return [{"key": p.key, "source": p.fields.get("source"), "line": p.line, "message": p.message}
                for p in self.problems]


def _unique(problems: Iterable[ConfigError]) -> list[ConfigError]:
    seen: set[str] = set()
    out = []
    for problem in problems:
        nested = problem.problems if isinstance(problem, PreflightError) else [problem]
        for item in nested:
            if item.message not in seen:
                seen.add(item.message)
                out.append(item)
    return out


def raise_problems(problems: Iterable[ConfigError]) -> None:
    """Raise a PreflightError carrying `problems`, when there are any."""
    found = _unique(problems)
    if found:
        raise PreflightError(found)
