"""Issue 17: what a deploy asks ECS, counted at the sandbox (the calls are the contract, not their timing)."""

from __future__ import annotations

from typing import Any

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


def test_image_change_with_no_stable_window_makes_at_most_twelve_calls(deployer: Deployer) -> None:
    """Issue 27: an image change followed to COMPLETED with `deploy.stable_seconds: 0` (the check off): the stopped
    tasks are listed when a poll's counts say a task may have stopped, and once at the end, not at the first poll
    (UpdateService's answer gave the counts it starts from); no re-check after the address lookup."""
    config = deployer.config()
    config["deploy"]["stable_seconds"] = 0
    assert deployer.run(config, "--image", GOOD_IMAGE).code == 0
    deployer.sandbox.clear_request_log()
    run = deployer.run(config, "--image", "public.ecr.aws/nginx/nginx:1.28")
    assert run.code == 0, run.stderr
    assert run.json["rolloutState"] == "COMPLETED" and len(run.json["publicIps"]) == 2
    operations = [c.operation for c in deployer.sandbox.request_log]
    # ListTasks: the stopped tasks when the deployment ends and the running ones for their addresses, both after the
    # last poll: the address lookup runs alongside the verdict's reads (ci_ecs.follow.prefetch), so the two
    # interleave.
    assert operations.count("ListTasks") == 2, operations
    last_poll = len(operations) - 1 - operations[::-1].index("DescribeServiceDeployments")
    after = operations[last_poll + 1:]
    assert after.count("ListTasks") == 2 and after.count("DescribeNetworkInterfaces") == 1, operations
    assert "DescribeServices" in after, operations
    polls = operations.count("DescribeServiceDeployments")
    # 3 reads + 2 writes before the polls, DescribeTasks of the stopped tasks, DescribeServices once complete, then
    # the three address calls: 10 besides the polls, 12 with the two a 0.4 s task start takes (more under load).
    assert len(operations) - polls <= 10, operations


def _services_config(deployer: Deployer, count: int) -> dict[str, Any]:
    base = deployer.config()
    entries = [{"task": {**base["task"], "family": f"{deployer.cluster}-s{i}"},
                "service": {**base["service"], "name": f"s{i}", "desired_count": 1}} for i in range(count)]
    return {"cluster": deployer.cluster, "services": entries, "deploy": {"timeout": 60, "parallelism": count}}


def test_services_poll_on_one_schedule_with_one_batched_call_per_poll(deployer: Deployer) -> None:
    """Issue 17: the waits of a `services:` deploy poll on one schedule. Eight services changing image make
    about as many DescribeServiceDeployments and DescribeServices calls as one service does (each call
    describes every service still waiting: ≤ 20 service deployments, ≤ 10 services a call), not eight times
    as many."""
    one = _services_config(deployer, 1)
    one["services"][0]["service"]["name"] = "solo"
    one["services"][0]["task"]["family"] = f"{deployer.cluster}-solo"
    eight = _services_config(deployer, 8)
    for config in (one, eight):
        assert deployer.run(config, "--image", GOOD_IMAGE).code == 0
    counts = []
    for config in (one, eight):
        deployer.sandbox.clear_request_log()
        run = deployer.run(config, "--image", "public.ecr.aws/nginx/nginx:1.28")
        assert run.code == 0, run.stderr
        operations = [c.operation for c in deployer.sandbox.request_log]
        counts.append((operations.count("DescribeServiceDeployments"), operations.count("DescribeServices")))
    (solo_polls, solo_describes), (polls, describes) = counts
    assert solo_polls >= 1 and solo_describes >= 1
    # One poll round of all eight is one call; a call per service would be eight (a round or two may split
    # when the eight updates straddle a second of the shared schedule).
    assert polls <= solo_polls + 2 and describes <= solo_describes + 2, counts
