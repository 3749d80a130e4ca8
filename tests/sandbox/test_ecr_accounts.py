"""Only the sandbox's own account's ECR is its registry; other accounts' ECR images are pullable."""

from __future__ import annotations

import pytest

from ci_ecs.sandbox.ecr import pull_error

from .conftest import Aws, wait_for

OWN = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
FLUENT_BIT = "906394416424.dkr.ecr.us-east-1.amazonaws.com/aws-for-fluent-bit:stable"
CLOUDWATCH_AGENT = "602401143452.dkr.ecr.eu-west-1.amazonaws.com/cloudwatch-agent/cloudwatch-agent:latest"
SHARED = "111122223333.dkr.ecr.us-east-1.amazonaws.com/team/base:2024"


@pytest.mark.parametrize("image", [FLUENT_BIT, CLOUDWATCH_AGENT, SHARED])
def test_other_accounts_ecr_is_pullable(image: str) -> None:
    assert pull_error(image, "123456789012", "us-east-1", None) is None


def test_own_account_ecr_is_checked() -> None:
    error = pull_error(f"{OWN}/nowhere-{id(object())}:1", "123456789012", "us-east-1", None)
    assert error is not None and error.startswith("CannotPullContainerError")


def test_services_with_other_accounts_images_run(aws: Aws) -> None:
    cluster = aws.cluster()
    aws.service(cluster, "fluent", aws.task_definition("fluent", image=FLUENT_BIT), desired=1)
    aws.service(cluster, "shared", aws.task_definition("shared", image=SHARED), desired=1)
    aws.service(cluster, "own", aws.task_definition("own", image=f"{OWN}/never-pushed:1"), desired=1)
    assert aws.wait_stable(cluster, "fluent")["runningCount"] == 1
    assert aws.wait_stable(cluster, "shared")["runningCount"] == 1
    (task, *_) = wait_for(lambda: aws.tasks(cluster, "own", desired_status="STOPPED"), what="own ECR pull failure")
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("CannotPullContainerError")
