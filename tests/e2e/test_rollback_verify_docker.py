"""A rollback's verify asks that the tasks answer, not for the page of the release being left (issue 23,
item 8), on the sandbox's docker runtime: the tasks are real containers serving a page on a loopback address.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ci_ecs.sandbox import Sandbox
from tests.e2e.test_lifecycle_docker import Cli, busybox_image, sandbox

pytestmark = [pytest.mark.docker]

__all__ = ["busybox_image", "sandbox"]  # the module's docker sandbox and image, shared with this one


def _write(cli: Cli, version: str) -> None:
    """The team's config for `version`: its verify expects that release's page."""
    cli.write(version)
    data = yaml.safe_load(cli.path.read_text())
    data["verify"] = {"path": "/", "status": "200", "body": f"page-{version}", "within": 20}
    cli.path.write_text(yaml.safe_dump(data))


def test_rollback_with_the_teams_config_verifies_status_not_the_new_page(sandbox: Sandbox, tmp_path: Path) -> None:
    """Before: the rollback's verify wanted "page-2" from release 1, failed, and rolled the rollback back to 2
    (exit 1, the service on the revision the user was leaving)."""
    cli = Cli(sandbox, tmp_path)
    _write(cli, "1")
    first = cli.run("deploy", "--output", "json")
    assert first.code == 0, first.stderr
    _write(cli, "2")
    second = cli.run("deploy", "--output", "json")
    assert second.code == 0 and second.json["verify"]["ok"], second.stderr

    back = cli.run("rollback", "--output", "json")
    assert back.code == 0, back.stderr
    assert back.json["rolledBackFrom"] == second.json["taskDefinitionArn"]
    assert back.json["rolledBackTo"] == first.json["taskDefinitionArn"]
    assert back.json["verify"]["ok"] is True
    assert [check["status"] for check in back.json["verify"]["checks"]] == [200]
    assert cli.service()["taskDefinition"] == first.json["taskDefinitionArn"]

    # --no-verify skips it (and CI_ECS_VERIFY=false, the same option's variable); a re-run changes nothing.
    again = cli.run("rollback", "--output", "json", "--no-verify")
    assert again.code == 0 and again.json["verify"] is None, again.stderr
    assert again.json["serviceAction"] == "unchanged"
