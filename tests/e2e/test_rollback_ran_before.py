"""`ci-ecs rollback` goes to the revision the service ran before the current one, read from ECS's service
deployments (sourceServiceRevisions), not from revision numbers; a second run after a revert changes nothing.
(Issue 23, item 8; the real command against the sandbox.)"""

from __future__ import annotations

import subprocess
import sys

import yaml

from tests.conftest import Run, require_tool
from tests.e2e.conftest import Deployer

IMAGES = ["public.ecr.aws/nginx/nginx:1.25", "public.ecr.aws/nginx/nginx:1.26", "public.ecr.aws/nginx/nginx:1.27"]


def _cli(deployer: Deployer, *args: str, env: dict[str, str] | None = None) -> Run:
    path = deployer.tmp_path / "ci-ecs.yml"
    path.write_text(yaml.safe_dump(deployer.config()))
    completed = subprocess.run([require_tool("ci-ecs"), *args, "-c", str(path)], env={**deployer.env, **(env or {})},
                               capture_output=True, text=True, timeout=120)
    sys.stderr.write(completed.stderr)
    return Run(completed.returncode, completed.stdout, completed.stderr)


def _revision(arn: str | None) -> str:
    return str(arn).rsplit(":", 1)[-1]


def test_rollback_after_a_manual_revert_goes_to_what_ran_not_to_the_bad_revision(deployer: Deployer) -> None:
    """1, 2 (bad), a manual revert to 1, then 3: rollback puts back 1. Before: 2, "the newest deployed revision
    older than the newest one" — the revision the team had just reverted."""
    family = f"{deployer.cluster}-web"
    assert deployer.run(deployer.config(), "--image", IMAGES[0]).code == 0
    assert deployer.run(deployer.config(), "--image", IMAGES[1]).code == 0  # revision 2, found bad
    revert = deployer.run(deployer.config(), "--task-definition", f"{family}:1")
    assert revert.code == 0 and _revision(revert.json["taskDefinitionArn"]) == "1", revert.stderr
    third = deployer.run(deployer.config(), "--image", IMAGES[2])
    assert third.code == 0 and _revision(third.json["taskDefinitionArn"]) == "3", third.stderr

    back = _cli(deployer, "rollback", "--output", "json")
    assert back.code == 0, back.stderr
    assert _revision(back.json["rolledBackFrom"]) == "3" and _revision(back.json["rolledBackTo"]) == "1"
    assert _revision(deployer.service()["taskDefinition"]) == "1"

    # 3 → 1 reverted the deployment before it: a second run changes nothing (and says where the service is).
    again = _cli(deployer, "rollback", "--output", "json")
    assert again.code == 0, again.stderr
    assert again.json["serviceAction"] == "unchanged" and again.json["rolledBackFrom"] is None
    assert _revision(again.json["rolledBackTo"]) == "1"
    assert _revision(deployer.service()["taskDefinition"]) == "1"


def test_rollback_looks_past_a_forced_redeploy_and_is_idempotent(deployer: Deployer) -> None:
    """1, 2, then a forced new deployment of 2: what ran before 2 is 1 (the redeploy kept 2). Before: the same
    answer by revision numbers; kept here so the history walk cannot stop at the redeploy."""
    assert deployer.run(deployer.config(), "--image", IMAGES[0]).code == 0
    assert deployer.run(deployer.config(), "--image", IMAGES[1]).code == 0
    assert deployer.run(deployer.config(), "--image", IMAGES[1], "--force-new-deployment").code == 0
    back = _cli(deployer, "rollback", "--output", "json", "--no-verify")
    assert back.code == 0, back.stderr
    assert _revision(back.json["rolledBackTo"]) == "1" and back.json["serviceAction"] == "updated"
    again = _cli(deployer, "rollback", "--output", "json", env={"CI_ECS_VERIFY": "false"})
    assert again.code == 0 and again.json["serviceAction"] == "unchanged", again.stderr
    assert _revision(deployer.service()["taskDefinition"]) == "1"
