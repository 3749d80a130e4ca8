"""The stable window's last check reads the service and the stopped tasks at once. A task that stops between the two
reads is already out of runningCount but not yet in ListTasks(desiredStatus=STOPPED): ci-ecs lists once more, so
the verdict is the task's own stop (its reason and exit code), not only "0 of 2 tasks running" (seen in a CI run of
tests/e2e/test_verify_docker.py::test_crashing_container_fails_with_its_log_tail_and_is_rolled_back).

botocore Stubber, one client per read (they run in parallel): the interleaving cannot be produced on demand by moto
or the sandbox."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber

from ci_ecs.ecs import EcsGateway
from ci_ecs.follow.stable import verify_stable
from ci_ecs.follow.state import StoppedTasks

TASK = "arn:aws:ecs:us-east-1:123456789012:task/c/0123456789abcdef"


def _client() -> Any:
    return boto3.client("ecs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def _completed_with_none_running() -> dict[str, Any]:
    return {"serviceName": "web", "status": "ACTIVE", "desiredCount": 2, "runningCount": 0, "deployments": [
        {"id": "ecs-svc/1", "status": "PRIMARY", "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:"
         "task-definition/web:2", "desiredCount": 2, "runningCount": 0, "rolloutState": "COMPLETED"}]}


# DescribeTasks of our deployment's task whose container exited with code 7.
_CRASHED = {"tasks": [
    {"taskArn": TASK, "startedBy": "ecs-svc/1", "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
     "stopCode": "EssentialContainerExited", "stoppedReason": "Essential container in task exited",
     "containers": [{"name": "web", "exitCode": 7}]}]}


def test_a_task_stopped_between_the_two_reads_is_the_verdict() -> None:
    service = _completed_with_none_running()
    tasks_client, services_client = _client(), _client()
    with Stubber(tasks_client) as tasks_stub, Stubber(services_client) as services_stub:
        tasks_stub.add_response("list_tasks", {"taskArns": []})  # the read beside DescribeServices: not stopped yet
        tasks_stub.add_response("list_tasks", {"taskArns": [TASK]})
        tasks_stub.add_response("describe_tasks", _CRASHED)
        services_stub.add_response("describe_services", {"services": [service]})
        stopped = StoppedTasks(EcsGateway(tasks_client), "c", "web", "ecs-svc/1")
        outcome = verify_stable(EcsGateway(services_client), "c", "web", "ecs-svc/1", stable_seconds=0,
                                running_since=None, completed=service, stopped=stopped, sleep=lambda _: None)
        tasks_stub.assert_no_pending_responses()
        services_stub.assert_no_pending_responses()
    assert outcome.state == "FAILED"
    assert "1 task(s) of deployment ecs-svc/1 stopped after it completed" in outcome.reason
    assert any("web exit code 7" in reason for reason in outcome.stopped_reasons), outcome.stopped_reasons


def test_tasks_that_crashed_before_completed_explain_the_missing_tasks() -> None:
    """Under load the new tasks crashed before ci-ecs saw COMPLETED (ECS started replacements and completed the
    deployment): the stable window's baseline is after those stops, and the verdict said only "0 of 2 tasks
    running after it completed", with no stopped reason and no log tail (a clean-clone run of
    test_crashing_container_fails_with_its_log_tail_and_is_rolled_back). Their stops are the reasons."""
    service = _completed_with_none_running()
    tasks_client, services_client = _client(), _client()
    with Stubber(tasks_client) as tasks_stub, Stubber(services_client) as services_stub:
        tasks_stub.add_response("list_tasks", {"taskArns": [TASK]})  # seen during the rollout
        tasks_stub.add_response("describe_tasks", _CRASHED)
        tasks_stub.add_response("list_tasks", {"taskArns": [TASK]})  # the window's reads: nothing new
        tasks_stub.add_response("list_tasks", {"taskArns": [TASK]})
        services_stub.add_response("describe_services", {"services": [service]})
        stopped = StoppedTasks(EcsGateway(tasks_client), "c", "web", "ecs-svc/1")
        stopped.poll()
        stopped.baseline(poll=False)  # COMPLETED seen: the window counts what stops from here
        outcome = verify_stable(EcsGateway(services_client), "c", "web", "ecs-svc/1", stable_seconds=0,
                                running_since=None, completed=service, stopped=stopped, sleep=lambda _: None)
        tasks_stub.assert_no_pending_responses()
        services_stub.assert_no_pending_responses()
    assert outcome.state == "FAILED"
    assert "0 of 2 tasks running after it completed" in outcome.reason
    assert any("web exit code 7" in reason for reason in outcome.stopped_reasons), outcome.stopped_reasons


def _replaced_service() -> dict[str, Any]:
    definition = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:"
    return {"serviceName": "web", "status": "ACTIVE", "desiredCount": 2, "runningCount": 2, "deployments": [
        {"id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": definition + "3", "desiredCount": 2,
         "runningCount": 2, "rolloutState": "IN_PROGRESS"},
        # The replaced deployment keeps its desiredCount (as the sandbox reports it): no scale-in excuses the stop.
        {"id": "ecs-svc/1", "status": "ACTIVE", "taskDefinition": definition + "2", "desiredCount": 2,
         "runningCount": 0, "rolloutState": "COMPLETED"}]}


def _verdict_after_a_stop(stop_code: str, exit_code: int) -> Any:
    completed = _replaced_service()
    completed["deployments"] = [dict(completed["deployments"][1], status="PRIMARY", runningCount=2)]
    tasks_client, services_client = _client(), _client()
    with Stubber(tasks_client) as tasks_stub, Stubber(services_client) as services_stub:
        tasks_stub.add_response("list_tasks", {"taskArns": [TASK]})
        tasks_stub.add_response("describe_tasks", {"tasks": [
            {"taskArn": TASK, "startedBy": "ecs-svc/1", "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
             "stopCode": stop_code, "stoppedReason": "stopped",
             "containers": [{"name": "web", "exitCode": exit_code}]}]})
        services_stub.add_response("describe_services", {"services": [_replaced_service()]})
        stopped = StoppedTasks(EcsGateway(tasks_client), "c", "web", "ecs-svc/1")
        outcome = verify_stable(EcsGateway(services_client), "c", "web", "ecs-svc/1", stable_seconds=0,
                                running_since=None, completed=completed, stopped=stopped, sleep=lambda _: None)
        tasks_stub.assert_no_pending_responses()
        services_stub.assert_no_pending_responses()
    return outcome


def test_tasks_the_scheduler_stopped_for_a_newer_deployment_mean_superseded_not_failed() -> None:
    """Another deploy became PRIMARY while ours was watched, and the scheduler stopped our tasks to make room
    (ServiceSchedulerInitiated): the deploy was replaced, it did not fail (seen in a CI run of
    tests/e2e/test_failsafe.py::test_two_concurrent_deploys_end_in_a_defined_state under load)."""
    outcome = _verdict_after_a_stop("ServiceSchedulerInitiated", 0)
    assert outcome.state == "SUPERSEDED", outcome.reason
    assert "replaced by deployment ecs-svc/2" in outcome.reason


def test_a_crash_of_a_replaced_deployment_still_fails_it() -> None:
    outcome = _verdict_after_a_stop("EssentialContainerExited", 3)
    assert outcome.state == "FAILED", outcome.reason
    assert any("exit code 3" in reason for reason in outcome.stopped_reasons), outcome.stopped_reasons
