"""`ci-ecs rollback` picks from the revisions the service was deployed with (ECS's service-deployment
history, which the sandbox keeps for rolling deployments too), not from every revision of the family."""

from __future__ import annotations

import subprocess
import sys

import yaml

from tests.conftest import Run, require_tool
from tests.e2e.conftest import Deployer

IMAGES = ["public.ecr.aws/nginx/nginx:1.26", "public.ecr.aws/nginx/nginx:1.27", "public.ecr.aws/nginx/nginx:1.28"]


def _cli(deployer: Deployer, *args: str) -> Run:
    path = deployer.tmp_path / "ci-ecs.yml"
    path.write_text(yaml.safe_dump(deployer.config()))
    completed = subprocess.run([require_tool("ci-ecs"), *args, "-c", str(path)], env=deployer.env,
                               capture_output=True, text=True, timeout=120)
    sys.stderr.write(completed.stderr)
    return Run(completed.returncode, completed.stdout, completed.stderr)


def test_rollback_skips_a_revision_that_was_registered_but_never_deployed(deployer: Deployer) -> None:
    for image in IMAGES[:2]:
        assert deployer.run(deployer.config(), "--image", image).code == 0
    # Revision 3 is registered (as `run-task` or another tool would) but never deployed to the service.
    registered = _cli(deployer, "register", "--image", IMAGES[2], "--output", "json")
    assert registered.code == 0, registered.stderr
    assert registered.json["taskDefinitionArn"].endswith(":3")

    back = _cli(deployer, "rollback", "--output", "json")
    assert back.code == 0, back.stderr
    assert back.json["rolledBackTo"].endswith(":1")
    assert deployer.service()["taskDefinition"].endswith(":1")

    again = _cli(deployer, "rollback", "--output", "json")  # idempotent: already there
    assert again.code == 0, again.stderr
    assert again.json["rolledBackFrom"] is None and again.json["serviceAction"] == "unchanged"
    assert deployer.service()["taskDefinition"].endswith(":1")
