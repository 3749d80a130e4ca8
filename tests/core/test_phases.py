"""The phase recorder (ci_ecs.phases) and its renderers (text lines, the GitHub summary's Mermaid gantt chart).

Pure: a hand-driven clock stands in for time; the deploys that record real phases are in tests/e2e/test_phases.py.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from ci_ecs import phases
from ci_ecs.network import attribute_draining
from ci_ecs.output import gantt, phase_lines, text_summary, write_github
from ci_ecs.phases import DRAINING, RUNNING, STARTING, Phases, rolling_stage, rolling_waits


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _recorder() -> tuple[Phases, Clock]:
    clock = Clock()
    return Phases(clock=clock), clock


def test_phases_are_sequential_and_cover_the_time() -> None:
    recorder, clock = _recorder()
    recorder.begin("preflight")
    clock.now += 0.4
    recorder.begin("image", "push of repo:1")
    clock.now += 2.0
    recorder.note(bytes=1234)
    recorder.begin("register")
    clock.now += 0.1
    got = recorder.as_json()  # the phase under way ends now
    assert got == [
        {"name": "preflight", "start": 0.0, "end": 0.4, "seconds": 0.4},
        {"name": "image", "start": 0.4, "end": 2.4, "seconds": 2.0, "waitedOn": "push of repo:1", "bytes": 1234},
        {"name": "register", "start": 2.4, "end": 2.5, "seconds": 0.1},
    ]


def test_rollout_stages_split_the_rollout_at_the_poll_that_saw_them() -> None:
    recorder, clock = _recorder()
    recorder.begin("rollout", "deployment ecs-svc/1")
    clock.now += 1.0
    recorder.stage("SCALE_UP", "1/2 new tasks RUNNING")  # the first poll: the rollout so far is this stage's
    clock.now += 1.0
    recorder.stage("SCALE_UP", "2/2 new tasks RUNNING")  # the same stage: nothing new begins
    clock.now += 1.0
    recorder.stage("BAKE_TIME", "bake time (1 min)")
    clock.now += 60.0
    recorder.begin("addresses")
    got = recorder.as_json()
    assert [(p["name"], p.get("stage"), p["start"], p["seconds"]) for p in got] == [
        ("rollout", "SCALE_UP", 0.0, 3.0), ("rollout", "BAKE_TIME", 3.0, 60.0), ("addresses", None, 63.0, 0.0)]
    assert got[0]["waitedOn"] == "2/2 new tasks RUNNING"


def test_a_stage_outside_the_rollout_changes_nothing_and_ecs_rollback_is_a_rollback_phase() -> None:
    recorder, clock = _recorder()
    recorder.begin("rollback", "the service back on web:1")
    recorder.stage("SCALE_UP")  # ci-ecs's own rollback follows its deployment: still the rollback phase
    assert [p["name"] for p in recorder.as_json()] == ["rollback"]
    recorder.begin("rollout")
    clock.now += 1
    recorder.stage("ROLLBACK_IN_PROGRESS")
    clock.now += 2
    got = recorder.as_json()
    assert [(p["name"], p["seconds"]) for p in got][-2:] == [("rollout", 1.0), ("rollback", 2.0)]
    assert got[-1]["waitedOn"] == "ECS rolling the deployment back (ROLLBACK_IN_PROGRESS)"


def test_fork_gives_each_service_the_shared_phases_then_its_own() -> None:
    recorder, clock = _recorder()
    recorder.begin("preflight")
    clock.now += 1
    recorder.begin("image")
    clock.now += 1
    forked = recorder.fork()
    recorder.begin("services", "2 services")
    forked.begin("register")
    clock.now += 1
    assert [p["name"] for p in forked.as_json()] == ["preflight", "image", "register"]
    assert [p["name"] for p in recorder.as_json()] == ["preflight", "image", "services"]
    assert forked.as_json()[1]["end"] == 2.0


def test_module_functions_record_into_the_threads_recorder_only() -> None:
    phases.begin("nothing")  # no recorder: nothing happens, nothing fails
    recorder, _ = _recorder()
    seen: list[Any] = []
    with phases.use(recorder):
        phases.begin("preflight")
        thread = threading.Thread(target=lambda: seen.append(phases.current()))
        thread.start()
        thread.join()
    assert seen == [None] and phases.current() is None
    assert [p["name"] for p in recorder.as_json()] == ["preflight"]


def test_rolling_stage_from_the_counts() -> None:
    assert rolling_stage(1, 1, 2, 2, True) == STARTING
    assert rolling_stage(2, 0, 2, 2, True) == RUNNING
    assert rolling_stage(2, 0, 2, 0, True) == DRAINING
    assert rolling_stage(2, 0, 2, 0, False) == RUNNING


def test_draining_names_the_deregistration_delay(aws_env: None) -> None:
    """moto's ELBv2 holds the target group and its attributes; the draining phase names its delay."""
    with mock_aws():
        elbv2 = boto3.client("elbv2", region_name="us-east-1")
        ec2 = boto3.client("ec2", region_name="us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        arn = elbv2.create_target_group(Name="web-tg", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip",
                                        )["TargetGroups"][0]["TargetGroupArn"]
        elbv2.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "280"}])
        recorder, clock = _recorder()
        recorder.begin("rollout")
        recorder.stage(DRAINING, "old tasks to stop (draining)")
        clock.now += 280
        attribute_draining(recorder, elbv2, {"loadBalancers": [{"targetGroupArn": arn}]})
        got = recorder.as_json()[0]
        assert got["waitedOn"] == "old tasks deregistering: target group web-tg deregistration delay 280 s"
        assert got["deregistrationDelaySeconds"] == 280 and got["seconds"] == 280
        # A refused read is said in the phase, never a failure.
        missing = arn.replace("web-tg", "gone-tg")
        attribute_draining(recorder, elbv2, {"loadBalancers": [{"targetGroupArn": missing}]})
        assert recorder.as_json()[0]["waitedOn"].startswith(
            "old tasks deregistering from their target groups (deregistration delay not read: ")


def test_no_draining_stage_no_target_group_attribute_read() -> None:
    """Without a draining stage (or without a target group) no call is made: None stands for the client."""
    quiet, _ = _recorder()
    quiet.begin("rollout")
    quiet.stage(STARTING)
    attribute_draining(quiet, None, {"loadBalancers": [{"targetGroupArn": "arn:x"}]})
    assert "waitedOn" not in quiet.as_json()[0]


RESULT = {"cluster": "demo", "service": "web", "serviceAction": "updated", "durationSeconds": 75.5, "phases": [
    {"name": "preflight", "start": 0.0, "end": 0.4, "seconds": 0.4},
    {"name": "image", "start": 0.4, "end": 3.0, "seconds": 2.6, "waitedOn": "push of repo:1", "bytes": 2_500_000},
    {"name": "rollout", "stage": "BAKE_TIME", "start": 3.0, "end": 63.0, "seconds": 60.0,
     "waitedOn": "bake time (1 min)"},
    {"name": "stable-window", "start": 63.0, "end": 75.5, "seconds": 12.5, "waitedOn": "each new task; up 5 s: #1"},
]}


def test_text_lines_one_per_phase() -> None:
    lines = phase_lines(RESULT)
    assert lines[1] == "phase image: 2.6 s (0.4 s to 3.0 s), 2.5 MB, waited on push of repo:1"
    assert lines[2] == "phase rollout BAKE_TIME: 60.0 s (3.0 s to 63.0 s), waited on bake time (1 min)"
    assert len(lines) == 4
    assert "\n".join(lines) in text_summary(RESULT)


def test_text_lines_of_several_services_after_the_shared_ones() -> None:
    shared = RESULT["phases"][:2]
    own = {"name": "rollout", "stage": "tasks-starting", "start": 3.0, "end": 9.0, "seconds": 6.0}
    total = {**RESULT, "phases": [*shared, {"name": "services", "start": 3.0, "end": 9.0, "seconds": 6.0}],
             "services": [{"service": "a", "phases": [*shared, own]}, {"service": "b", "phases": [*shared, own]}]}
    lines = phase_lines(total)
    assert [line.split(":")[0] for line in lines] == ["phase preflight", "phase image", "phase services",
                                                      "phase a", "phase b"]
    assert lines[3].startswith("phase a: rollout tasks-starting: 6.0 s")


def test_gantt_chart_in_milliseconds_axis_in_seconds(tmp_path: Path) -> None:
    chart = gantt(RESULT)
    assert chart[0] == "```mermaid" and chart[-1] == "```"
    assert chart[1:5] == ["gantt", "    title web deployed", "    dateFormat x", "    axisFormat %s s"]
    assert chart[5] == "    section web"
    assert chart[6] == "    preflight 0.4 s :p0, 0, 400"
    assert chart[8] == "    rollout BAKE_TIME 60.0 s :p2, 3000, 63000"
    assert len(chart) == 11 and gantt({"phases": []}) == []
    env = {"GITHUB_STEP_SUMMARY": str(tmp_path / "summary")}
    write_github(RESULT, env)
    assert "\n".join(chart) in (tmp_path / "summary").read_text()


def test_gantt_names_cannot_break_the_chart() -> None:
    """`:` ends a task's name, `#`/`;` start a comment or a statement, a backtick ends the fenced block."""
    hostile = {"service": "web`:#;x", "phases": [{"name": "rollout", "stage": "A:B#C;D`E", "start": 0, "end": 1,
                                                    "seconds": 1}]}
    chart = gantt(hostile)
    body = chart[1:-1]
    assert not any(c in line for line in body[1:] for c in "#;`")
    assert body[-1] == "    rollout A B C D E 1.0 s :p0, 0, 1000"


def test_a_queued_service_waits_in_its_own_phase_and_a_thread_starts_where_the_shared_part_ended() -> None:
    recorder, clock = _recorder()
    recorder.begin("image")
    clock.now += 1
    waiting, direct = recorder.fork("a free one of 1 slots (deploy.parallelism)"), recorder.fork()
    clock.now += 0.003  # a thread starts a moment later: its first phase still starts where the shared part ended
    direct.begin("register")
    clock.now += 5
    waiting.begin("register")
    assert [(p["name"], p["start"], p["end"]) for p in waiting.as_json()] == [
        ("image", 0.0, 1.0), ("queued", 1.0, 6.003), ("register", 6.003, 6.003)]
    assert [(p["name"], p["start"]) for p in direct.as_json()] == [("image", 0.0), ("register", 1.0)]


def test_rolling_waits_say_what_each_stage_waits_on() -> None:
    assert rolling_waits(STARTING, 1, 1, 2, 2) == "new tasks to reach RUNNING (1/2 RUNNING, 1 pending)"
    assert rolling_waits(RUNNING, 2, 0, 2, 2).startswith("old tasks to be stopped (2 still RUNNING")
    # A new service has no old tasks: its tasks run, ECS has yet to call the deployment done.
    assert rolling_waits(RUNNING, 2, 0, 2, 0).startswith("ECS to mark the deployment done")
    assert rolling_waits(DRAINING, 2, 0, 2, 0) == "old tasks to stop (draining)"
