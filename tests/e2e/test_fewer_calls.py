"""Issue 17: what a deploy asks ECS, counted at the sandbox (the calls are the contract, not their timing)."""

from __future__ import annotations

from tests.e2e.conftest import Deployer

GOOD_IMAGE = "public.ecr.aws/nginx/nginx:1.27"
READS = ("Describe", "List", "Get", "BatchGet")


def test_no_op_redeploy_makes_five_reads_and_describes_the_service_once(deployer: Deployer) -> None:
    assert deployer.run(deployer.config(), "--image", GOOD_IMAGE).code == 0
    deployer.sandbox.clear_request_log()
    run = deployer.run(deployer.config(), "--image", GOOD_IMAGE)
    assert run.code == 0, run.stderr
    assert run.json["serviceAction"] == "unchanged" and len(run.json["publicIps"]) == 2
    operations = [c.operation for c in deployer.sandbox.request_log]
    # The service's own description says its cluster exists; a public registry needs no ECR token.
    assert sorted(operations) == sorted(["DescribeServices", "DescribeTaskDefinition", "ListTasks",
                                         "DescribeTasks", "DescribeNetworkInterfaces"]), operations


def test_a_missing_cluster_is_created_from_describe_services_answer(deployer: Deployer) -> None:
    run = deployer.run(deployer.config(), "--image", GOOD_IMAGE)
    assert run.code == 0, run.stderr
    operations = [c.operation for c in deployer.sandbox.request_log]
    assert "CreateCluster" in operations and "DescribeClusters" not in operations


def test_image_change_describes_the_service_once_before_updating_it(deployer: Deployer) -> None:
    assert deployer.run(deployer.config(), "--image", GOOD_IMAGE).code == 0
    deployer.sandbox.clear_request_log()
    run = deployer.run(deployer.config(), "--image", "public.ecr.aws/nginx/nginx:1.28")
    assert run.code == 0, run.stderr
    operations = [c.operation for c in deployer.sandbox.request_log]
    before = operations[:operations.index("UpdateService")]
    assert sorted(before) == ["DescribeServices", "DescribeTaskDefinition", "RegisterTaskDefinition"], before
    # After COMPLETED the stable window ends with one ListTasks(STOPPED) at least (issue 10): still there.
    assert operations.count("ListTasks") >= 2 and operations[-1] in ("ListTasks", "DescribeServices", "DescribeTasks")
