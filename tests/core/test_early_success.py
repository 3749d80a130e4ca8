"""Issue 26 item 3 (ci-ecs's side): what ci-ecs reads of a service deployment with early success criteria. Pure,
table-driven: the inputs are DescribeServiceDeployments answers as the ECS API reference documents them
(ServiceDeployment.deploymentConfiguration.earlySuccessCriteria, sourceServiceRevisions[].runningTaskCount)."""

from __future__ import annotations

from typing import Any

import pytest

from ci_ecs.early_success import cleanup_note, criteria, old_tasks


def _sd(status: str = "SUCCESSFUL", cleanup: str | None = "DEFERRED", enable: bool = True,
        running: int = 2, pending: int = 0) -> dict[str, Any]:
    early: dict[str, Any] = {"enable": enable, "healthyPercent": 50}
    if cleanup:
        early["sourceServiceRevisionCleanup"] = cleanup
    return {"status": status, "deploymentConfiguration": {"strategy": "ROLLING", "earlySuccessCriteria": early},
            "targetServiceRevision": {"requestedTaskCount": 4, "runningTaskCount": 2, "pendingTaskCount": 2},
            "sourceServiceRevisions": [{"requestedTaskCount": 0, "runningTaskCount": running,
                                        "pendingTaskCount": pending}]}


# (id, service deployment, whether a clean-up note is due)
CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("deferred-old-tasks-left", _sd(), True),
    ("deferred-old-task-still-pending", _sd(running=0, pending=1), True),
    ("deferred-nothing-left", _sd(running=0), False),
    ("blocking", _sd(cleanup="BLOCKING"), False),
    ("criteria-disabled", _sd(enable=False), False),
    ("still-in-progress", _sd(status="IN_PROGRESS"), False),
    ("rolled-back", _sd(status="ROLLBACK_SUCCESSFUL"), False),
    ("no-criteria", {"status": "SUCCESSFUL", "sourceServiceRevisions": [{"runningTaskCount": 3}]}, False),
]


@pytest.mark.parametrize(("case", "sd", "due"), CASES, ids=[c[0] for c in CASES])
def test_cleanup_note(case: str, sd: dict[str, Any], due: bool) -> None:
    note = cleanup_note(sd)
    assert (note is not None) == due, note
    if due:
        assert "still being cleaned up" in str(note) and f"{old_tasks(sd)} task(s) left" in str(note)


def test_criteria_and_old_tasks() -> None:
    assert criteria(_sd()) == {"enable": True, "healthyPercent": 50, "sourceServiceRevisionCleanup": "DEFERRED"}
    assert criteria(_sd(enable=False)) is None and criteria({}) is None
    assert old_tasks(_sd(running=2, pending=1)) == 3 and old_tasks({}) == 0
