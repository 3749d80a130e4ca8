"""Issue 26 item 1: docs/ecs-coverage.md is generated from the installed botocore's ECS model and ci_ecs/coverage.py's
table; every member is classified, the config keys the table names are the schema's, and the schema's keys that
set a request member are in the table."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

from pydantic import BaseModel

from ci_ecs import coverage
from ci_ecs.config import Config
from ci_ecs.config.service import API_STRUCTURES
from ci_ecs.preflight import keys as keymap
from tests.docs.blocks import REPO


def test_every_member_of_the_installed_model_is_classified() -> None:
    missing = coverage.unclassified()
    assert not missing, f"classify these ECS members in ci_ecs/coverage.py, then run {coverage.REGENERATE}: {missing}"


def test_committed_table_is_what_the_script_writes() -> None:
    committed = (REPO / "docs" / "ecs-coverage.md").read_text()
    assert committed == coverage.render(), f"docs/ecs-coverage.md is stale: run {coverage.REGENERATE}"
    check = subprocess.run([sys.executable, "-m", "ci_ecs.coverage", "--check"], cwd=REPO, capture_output=True,
                           text=True, timeout=120)
    assert check.returncode == 0, check.stderr


def test_check_fails_on_a_stale_table(tmp_path: Any, monkeypatch: Any) -> None:
    stale = tmp_path / "ecs-coverage.md"
    stale.write_text(coverage.render().replace("| `monitoring` |", "| `monitor` |"))
    monkeypatch.setattr(coverage, "DOC", stale)
    assert coverage.main(["--check"]) == 1
    assert coverage.main([]) == 0 and stale.read_text() == coverage.render()


def _inner(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner(arg)
        if found:
            return found
    return None


def _in_schema(path: str) -> bool:
    """Whether a dotted config path (`[]` for list items) is a key of the Config schema; below a key whose value is
    free-form (a map, a snake_case request structure) any name is taken."""
    model: Any = Config
    for part in re.sub(r"\[\]", "", path).split("."):
        if model is None:
            return True
        field = model.model_fields.get(part)
        if field is None:
            return False
        model = _inner(field.annotation)
    return True


def test_every_config_key_the_table_names_is_in_the_schema() -> None:
    named = {entry.where for table in coverage.COVERAGE.values() for entry in table.values()
             if entry.kind == coverage.KEY}
    named |= {entry.where for entry in coverage.PASSED_THROUGH.values() if entry.kind == coverage.KEY}
    assert named
    missing = sorted(path for path in named if not _in_schema(path))
    assert not missing, missing


def test_every_schema_key_that_sets_a_member_is_in_the_table() -> None:
    """The config keys pre-flight maps to request members (preflight/keys.py) appear in the table on that member."""
    expected: list[tuple[str, str, str]] = []
    expected += [("RegisterTaskDefinition", member, f"task.{name}") for member, name in keymap._TASK_FIELDS.items()
                 if member != "ephemeralStorage"]
    expected += [("ContainerDefinition", member, f"task.containers[].{name}")
                 for member, name in keymap.CONTAINER_FIELDS.items()]
    expected += [("CreateService", member, f"service.{name}") for member, name in keymap._SERVICE_FIELDS.items()
                 if member != "service"]
    expected += [("DeploymentConfiguration", member, f"service.{name}")
                 for member, name in keymap._DEPLOYMENT_FIELDS.items()]
    expected += [("CreateService", member, f"service.{name}") for name, member in API_STRUCTURES.items()]
    wrong = [(scope, member, key, coverage.classify(scope, member)) for scope, member, key in expected
             if (coverage.classify(scope, member) or coverage.Entry("", "")).where != key]
    assert not wrong, wrong


def test_readme_links_the_table() -> None:
    assert "(docs/ecs-coverage.md)" in (REPO / "README.md").read_text()
