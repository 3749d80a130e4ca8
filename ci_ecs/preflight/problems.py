"""The pre-flight's problems: each a ConfigError naming its key, collected and raised together (a PreflightError,
exit 2)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ci_ecs.errors import ConfigError

if TYPE_CHECKING:
    from ci_ecs.config import Config, ServiceEntry


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


def with_prefix(problem: ConfigError, prefix: str) -> ConfigError:
    """`problem` with its key under `prefix` ("services[N].") when it names a `task.`/`service.` key."""
    key = problem.key
    if not prefix or not key or not key.startswith(("task", "service.")):
        return problem
    source = problem.fields.get("source")
    where = f"{source}: " if source and not problem.line else (f"{source}:{problem.line}: " if source else "")
    message = problem.message.removeprefix(where).removeprefix(f"{key}: ")
    return ConfigError(message, key=prefix + key, line=problem.line, source=source)


def target_prefix(config: Config, target: ServiceEntry) -> str:
    """What precedes `task.`/`service.` in the target's config keys: "" or "services[N].\""""
    index = next((i for i, entry in enumerate(config.services) if entry is target), None)
    return "" if index is None else f"services[{index}]."
