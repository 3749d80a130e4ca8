"""Benchmarks: ci-ecs side by side with fabfuel/ecs-deploy and an aws-CLI script, on the sandbox.

    python bench/run.py            # full: writes bench/results.md, results.json, results.png
    python bench/run.py --quick    # every scenario once for every tool, < 2 min, no assertions

Each scenario run starts ONE sandbox in a subprocess (``bench/sandbox_proc.py``) with a fixed task
start delay; the tools take turns against it (each on its own cluster), run by run, so the ratios
are computed between runs made seconds apart. AWS calls are counted at the sandbox's request log
(cleared before a run, read after it), the same way for every tool. Peak memory is the largest
``ru_maxrss`` of the tool's process tree (``os.wait4``). Setup work (services a scenario starts
from) is not counted. See bench/README.md for the method and what each scenario does.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import itertools
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

import boto3

from ci_ecs.sandbox.timing import ECS

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
BIN = Path(sys.executable).parent
TOOLS = ("ci-ecs", "ecs-deploy", "aws-cli")
PEER_TOOLS = ("ecs-deploy", "aws-cli")
# Scenario 3 also runs ci-ecs with deploy.stable_seconds: 0, the guarantee ecs-deploy gives (success at COMPLETED,
# no window after it): like for like against the peers, while ci-ecs's default (the window) stays what it is.
CI_W0 = "ci-ecs (stable window 0)"
CI_TOOLS = ("ci-ecs", CI_W0)
ALL_TOOLS = (*TOOLS, CI_W0)
SHORT = {"ci-ecs": "ci", "ecs-deploy": "fab", "aws-cli": "awscli", CI_W0: "ci0"}
# A tool's poll of its deployment: ci-ecs follows every deployment through ECS's service-deployment API
# (DescribeServiceDeployments, one a poll), the peers through DescribeServices. "The next poll" after an event is
# the first call of either kind, the same rule for every tool.
POLLS = ("DescribeServices", "DescribeServiceDeployments")
TASK_START_SECONDS = 1.0
DESIRED = 2
CONTAINER = "web"
GOOD_IMAGE = "public.ecr.aws/nginx/nginx:1.27"
READS = ("Describe", "List", "Get", "BatchGet")


def _stable_seconds() -> float:
    """ci-ecs's deploy.stable_seconds default (issue 10), which the benchmark's configs keep: read from ci-ecs."""
    from ci_ecs.config import DeploySettings

    return float(DeploySettings().stable_seconds)


STABLE_SECONDS = _stable_seconds()
SCENARIOS = {
    1: "first deploy",
    2: "no-op redeploy",
    3: "image change to COMPLETED",
    4: "failing image to detection",
    5: "CLI start-up",
    6: "many services",
    7: "image change with verify, docker runtime",
    8: "throttled scale (--rate-limits aws)",
    9: "image change to COMPLETED, ECS-like timings (--timing ecs)",
    10: "throttled scale on ECS-like timings (--timing ecs --rate-limits aws, unscaled)",
}
# Scenario 9: the sandbox's ECS-like timing profile (ci_ecs/sandbox/timing.py: Fargate task start 40 s, stop 5 s, in
# AWS seconds) behind an Application Load Balancer target group with ELB's defaults (deregistration delay 300 s,
# health checks every 30 s; a new target is healthy after one passing check), every AWS second lasting
# Mode.ecs_minute_seconds / 60 real seconds. The tools' own intervals (their polls, ci-ecs's deploy.stable_seconds)
# are not scaled.
ECS_DEREGISTRATION_DELAY = 300  # ELB's default deregistration_delay.timeout_seconds (left as is on the groups)


@dataclass(frozen=True)
class Mode:
    name: str
    runs: dict[int, int]
    services: int  # scenario 6
    parallel: int  # scenario 6 set-up: ci-ecs processes at a time
    aws_wait_cap: int  # scenario 4: seconds before the aws waiter is cut off
    jobs: int  # scenarios run at once (each with its own sandbox)
    throttled: int = 100  # scenario 8: services in one config, and processes at once, under --rate-limits aws
    # Scenario 9: seconds an AWS minute lasts on the ECS-like sandbox (60: unscaled). Full: an AWS second is 0.1 s
    # (a rollout behind the default 300 s deregistration delay takes ~40 s, not ~6 min: 3 runs of 4 tools fit in
    # ~10 min); quick: 0.02 s.
    ecs_minute_seconds: float = 6.0


# Scenario 10 runs in the full mode only (unscaled, ~15 min): the quick mode has no run of it.
FULL = Mode("full", {1: 5, 2: 5, 3: 5, 4: 3, 5: 20, 6: 2, 7: 3, 8: 1, 9: 3, 10: 1}, services=20, parallel=5,
            aws_wait_cap=60, jobs=1, throttled=100, ecs_minute_seconds=6.0)
QUICK = Mode("quick", {1: 1, 2: 1, 3: 1, 4: 1, 5: 3, 6: 1, 7: 1, 8: 1, 9: 1, 10: 0}, services=3, parallel=5,
             aws_wait_cap=20, jobs=9, throttled=10, ecs_minute_seconds=1.2)
# What a throttling error looks like in a tool's output (botocore's "ThrottlingException ... Rate exceeded", EC2's
# RequestLimitExceeded, ci-ecs's own "throttled by AWS"): the user saw one.
THROTTLE_WORDS = ("ThrottlingException", "Rate exceeded", "RequestLimitExceeded", "throttled by AWS")


class Logged(NamedTuple):
    """One call in the sandbox's log."""

    service: str
    operation: str
    at: float | None  # time.time() the sandbox logged it (None: an untimed log)
    items: int | None  # a poll's services / service deployments asked about (None: not a poll)
    fault: str | None = None  # what the sandbox answered instead ("rate-limit": --rate-limits aws throttled it)


@dataclass
class Run:
    """One measured run of one tool."""

    scenario: int
    iteration: int
    tool: str
    wall: float
    code: int
    calls: int
    writes: int
    revisions: int
    peak_rss_kb: int
    operations: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- processes


def tool_path(name: str) -> str:
    """The tool's real entry point next to this Python (not a pyenv shim, which adds ~50 ms)."""
    candidate = BIN / name
    if candidate.exists():
        return str(candidate)
    import shutil

    found = shutil.which(name)
    if not found:
        raise SystemExit(f"bench: {name} not found (pip install -e '.[dev]' installs ecs-deploy and awscli)")
    return found


@dataclass
class Proc:
    code: int
    wall: float
    ended: float  # time.time() when it exited
    peak_rss_kb: int
    stdout: str
    stderr: str
    began: float = 0.0  # time.time() when it started


TIME = "/usr/bin/time"


def run_proc(argv: Sequence[str], env: dict[str, str], timeout: float = 300) -> Proc:
    """Run a command; its wall time and the peak RSS of its process tree.

    The peak comes from GNU time (``%M``, its child's and waited-for descendants' largest
    ru_maxrss): forked straight from this process, a child's ru_maxrss would start at this
    process's own size (the pages a fork shares count until exec).
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
            tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        prefix = [TIME, "-q", "-f", "%M", "-o", rss.name] if os.access(TIME, os.X_OK) else []
        began = time.time()
        started = time.monotonic()
        proc = subprocess.Popen([*prefix, *argv], env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        timer = threading.Timer(timeout, lambda: _kill_group(proc.pid))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        ended = time.time()
        wall = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak = int(usage.ru_maxrss)
        if prefix:
            lines = [line for line in rss.read().split() if line.isdigit()]
            peak = int(lines[-1]) if lines else 0
        out.seek(0)
        err.seek(0)
        return Proc(proc.returncode, wall, ended, peak, out.read(), err.read(), began)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def run_steps(steps: Sequence[Sequence[str]], env: dict[str, str], timeout: float = 300) -> Proc:
    """Commands one after the other, stopping at the first failure: one measured run."""
    total = Proc(0, 0.0, time.time(), 0, "", "", time.time())
    for argv in steps:
        proc = run_proc(argv, env, timeout)
        total = Proc(proc.code, total.wall + proc.wall, proc.ended, max(total.peak_rss_kb, proc.peak_rss_kb),
                     total.stdout + proc.stdout, total.stderr + proc.stderr, total.began)
        if proc.code != 0:
            break
    return total


# --------------------------------------------------------------------------- sandbox


class SandboxProcess:
    """bench/sandbox_proc.py: one sandbox in a child process; its request log on demand."""

    def __init__(self, task_start_seconds: float | None, runtime: str = "simulated",
                 env: dict[str, str] | None = None, timing: str = "fast", minute_seconds: float | None = None) -> None:
        timed = ["--timing", timing]  # ecs: no --task-start-seconds (one given would win over the profile's)
        if task_start_seconds is not None:
            timed += ["--task-start-seconds", str(task_start_seconds)]
        if minute_seconds is not None:
            timed += ["--minute-seconds", str(minute_seconds)]
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "sandbox_proc.py"), *timed, "--runtime", runtime],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(HERE.parent),
            env={**os.environ, **(env or {})},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("bench: the sandbox did not start (pip install -e '.[sandbox]'?)")
        info = json.loads(line)
        self.endpoint: str = info["endpoint"]
        self.registry: str | None = info["registry"]
        self.env: dict[str, str] = info["env"]
        self.lock = threading.Lock()
        kw: dict[str, Any] = {"endpoint_url": self.endpoint, "region_name": "us-east-1",
                              "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        self.ecs = boto3.client("ecs", **kw)
        self.elbv2 = boto3.client("elbv2", **kw)
        ec2 = boto3.client("ec2", **kw)
        subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
        self.subnet: str = sorted(s["SubnetId"] for s in subnets)[0]
        self.subnets: list[str] = sorted(s["SubnetId"] for s in subnets)[:2]
        self.vpc: str = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]

    def _ask(self, command: str) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with self.lock:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
            return json.loads(self.proc.stdout.readline())

    def clear(self) -> None:
        self._ask("clear")

    def limits(self, what: str) -> None:
        """"aws" / "none": AWS's documented request throttling on or off; "reset": every bucket full again."""
        self._ask(f"limits {what}")

    def log(self) -> list[Logged]:
        """Every call since the last clear: service, operation, time.time() logged (or None) and, for a poll,
        how many services or service deployments it asked about."""
        return [Logged(*entry) for entry in self._ask("log")]

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError, ValueError, json.JSONDecodeError):
            self._ask("quit")
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------- tools


class Bench:
    """One scenario run: a sandbox, a scratch directory and the three tools pointed at it."""

    def __init__(self, scenario: int, mode: Mode, say: Callable[[str], None]) -> None:
        self.scenario = scenario
        self.mode = mode
        self.say = say
        self.tmp = Path(tempfile.mkdtemp(prefix=f"ci-ecs-bench-{scenario}-"))
        self.sb: SandboxProcess | None = None
        self.env: dict[str, str] = {}
        self.runs: list[Run] = []
        self.notes: list[str] = []
        # Scenario 7: what the container runs (native ECS keys / ci-ecs keys) and ci-ecs's `verify`.
        self.container_extra: dict[str, Any] = {}
        self.ci_container_extra: dict[str, Any] = {}
        self.ci_extra: dict[str, Any] = {}
        # The tools' order within each iteration is shuffled (seeded, so a run can be repeated); kept per run.
        self.position: dict[tuple[int, str], int] = {}
        self.last_log: list[Logged] = []
        # Scenario 9: each cluster's target group (its service is load-balanced) and the tools' wait limits, long
        # enough for an ECS-like rollout.
        self.target_groups: dict[str, str] = {}
        self.deploy_timeout = 120

    def order(self, iteration: int, tools_in: Sequence[str] = TOOLS) -> list[str]:
        """The tools in a random order for this iteration (no tool always first, or always after another)."""
        tools = list(tools_in)
        random.Random(f"{self.scenario}-{iteration}").shuffle(tools)
        for position, tool in enumerate(tools):
            self.position[(iteration, tool)] = position
        return tools

    def start_sandbox(self, runtime: str = "simulated", engine: dict[str, str] | None = None,
                      timing: str = "fast", minute_seconds: float | None = None) -> SandboxProcess:
        if timing == "ecs":  # the profile's task start, on a clock of Mode.ecs_minute_seconds a minute (or given)
            self.sb = SandboxProcess(None, runtime, engine, timing, minute_seconds or self.mode.ecs_minute_seconds)
        else:
            self.sb = SandboxProcess(TASK_START_SECONDS, runtime, engine)
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CI_ECS_"))}
        self.env = {**clean, **self.sb.env, "HOME": str(self.tmp), "AWS_PAGER": "",
                    "PATH": f"{BIN}{os.pathsep}{clean.get('PATH', '')}"}
        if engine:  # the tasks' loopback addresses are reached directly, never through a proxy
            self.env.update({"NO_PROXY": "*", "no_proxy": "*"})
        return self.sb

    def close(self) -> None:
        if self.sb is not None:
            self.sb.close()
        import shutil

        shutil.rmtree(self.tmp, ignore_errors=True)

    # names ------------------------------------------------------------------
    def names(self, tool: str, slot: str) -> tuple[str, str, str]:
        """(cluster, service, family) for a tool's service in this scenario."""
        base = f"s{self.scenario}-{SHORT[tool]}"
        # A first deploy creates its cluster too: one cluster per run there, one per tool elsewhere.
        cluster = f"{base}-{slot}" if self.scenario == 1 else base
        return cluster, f"svc-{slot}", f"{base}-{slot}"

    # commands ---------------------------------------------------------------
    def ci_config(self, cluster: str, service: str, family: str, stable_seconds: float | None = None) -> Path:
        """ci-ecs's config for one service; `stable_seconds` sets deploy.stable_seconds (None: ci-ecs's default)."""
        deploy: dict[str, Any] = {"timeout": self.deploy_timeout}
        if stable_seconds is not None:
            deploy["stable_seconds"] = stable_seconds
        config = {
            "region": "us-east-1",
            "cluster": cluster,
            "task": {"family": family, "cpu": "256", "memory": "512", "network_mode": "awsvpc",
                     "requires_compatibilities": ["FARGATE"],
                     "execution_role_arn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
                     "containers": [{"name": CONTAINER, "port_mappings": [{"container_port": 80}],
                                     **self.ci_container_extra}]},
            "service": {"name": service, "desired_count": DESIRED, "launch_type": "FARGATE",
                        "subnets": [self.subnet], "assign_public_ip": True,
                        "circuit_breaker": {"enable": True, "rollback": False},
                        "minimum_healthy_percent": 100, "maximum_percent": 200},
            "deploy": deploy,
            **self.ci_extra,
        }
        if f"{cluster}/{service}" in self.target_groups:  # scenarios 9, 10: behind a load balancer's target group
            config["service"]["load_balancers"] = [{"target_group_arn": self.target_groups[f"{cluster}/{service}"],
                                                    "container_name": CONTAINER, "container_port": 80}]
        path = self.tmp / f"{cluster}-{service}.json"  # JSON is YAML
        path.write_text(json.dumps(config))
        return path

    def ci_services_config(self, slots: Sequence[str]) -> Path:
        """One ci-ecs config with a `services:` list of the slots' task + service (as ci_config makes them),
        all deployed at once (deploy.parallelism = the number of services)."""
        entries = []
        cluster = ""
        for slot in slots:
            cluster, service, family = self.names("ci-ecs", slot)
            single = json.loads(self.ci_config(cluster, service, family).read_text())
            entries.append({"task": single["task"], "service": single["service"]})
        config = {"region": "us-east-1", "cluster": cluster, "services": entries,
                  # deploy.parallelism is at most 50 (ci-ecs's config schema): scenario 8's 100 go in two waves.
                  "deploy": {"timeout": 300, "parallelism": min(len(entries), 50)}}
        path = self.tmp / f"{cluster}-services.json"
        path.write_text(json.dumps(config))
        return path

    def taskdef_json(self, family: str, image: str) -> dict[str, Any]:
        return {"family": family, "cpu": "256", "memory": "512", "networkMode": "awsvpc",
                "requiresCompatibilities": ["FARGATE"],
                "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
                "containerDefinitions": [{"name": CONTAINER, "image": image, "essential": True,
                                          "portMappings": [{"containerPort": 80}], **self.container_extra}]}

    @property
    def subnet(self) -> str:
        assert self.sb is not None
        return self.sb.subnet

    def deploy_steps(self, tool: str, slot: str, image: str, create: bool = False,
                     ci_args: Sequence[str] = ()) -> list[list[str]]:
        """The command(s) one deploy of `image` is, for each tool. `create`: the service is new."""
        cluster, service, family = self.names(tool, slot)
        if tool in CI_TOOLS:
            path = self.ci_config(cluster, service, family, 0 if tool == CI_W0 else None)
            return [[tool_path("ci-ecs"), "deploy", "-c", str(path), "--image", image, "--output", "json", *ci_args]]
        steps: list[list[str]] = []
        if create:
            td = self.tmp / f"{family}.json"
            td.write_text(json.dumps(self.taskdef_json(family, image)))
            steps.append([str(PEERS / "aws-cli-create.sh"), cluster, service, str(td), self.subnet, str(DESIRED)])
        if tool == "ecs-deploy":
            steps.append([tool_path("ecs"), "deploy", cluster, service, "--image", CONTAINER, image,
                          "--timeout", str(self.deploy_timeout)])
        else:
            steps.append([str(PEERS / "aws-cli-deploy.sh"), cluster, service, CONTAINER, image])
        return steps

    def measure(self, iteration: int, tool: str, steps: list[list[str]], env: dict[str, str] | None = None,
                timeout: float = 300) -> tuple[Run, Proc]:
        assert self.sb is not None
        self.sb.clear()
        proc = run_steps(steps, env or self.env, timeout)
        log = self.sb.log()
        run = self.record(iteration, tool, proc, log)
        run.extra["position"] = self.position.get((iteration, tool))
        self.last_log = log
        ops = [c.operation for c in log]
        if "UpdateService" in ops:  # measured: the calls a tool makes before it starts the deployment
            run.extra["calls_before_update"] = ops.index("UpdateService")
        times = [c.at for c in log if c.at is not None]
        if times:
            run.extra["last_call_to_exit"] = round(proc.ended - max(times), 3)
        updated = next((c.at for c in log if c.operation == "UpdateService" and c.at is not None), None)
        if updated is not None:  # measured: how far apart the tool's polls came while it waited
            after = [c for c in log if c.operation in POLLS and c.at is not None and c.at > updated]
            run.extra["polls_after_update"] = len(after)
            # The wait's own poll: DescribeServiceDeployments when the tool used it (ci-ecs's waits; it also reads
            # the service once or twice more), else DescribeServices.
            kind = "DescribeServiceDeployments" if any(c.operation == "DescribeServiceDeployments" for c in after) \
                else "DescribeServices"
            poll_times = [c.at for c in after if c.operation == kind and c.at is not None]
            if poll_times:
                gaps = [b - a for a, b in itertools.pairwise(poll_times)]
                if gaps:
                    run.extra["poll_gap"] = round(statistics.median(gaps), 3)
        if self.scenario in (3, 4, 9) and times:  # the run's calls, seconds from the tool's start (raw, for reading)
            run.extra["timeline"] = [[c.operation, round(c.at - proc.began, 3)] for c in log if c.at is not None]
        if tool in CI_TOOLS:
            run.extra.update(ci_phases(proc))
        if proc.code != 0 and self.scenario != 4:
            self.say(f"  ! {tool} exit {proc.code}: {(proc.stderr or proc.stdout)[-800:]}")
        return run, proc

    def record(self, iteration: int, tool: str, proc: Proc, log: list[Logged]) -> Run:
        operations: dict[str, int] = {}
        for call in log:
            key = f"{call.service}:{call.operation}"
            operations[key] = operations.get(key, 0) + 1
        run = Run(
            scenario=self.scenario, iteration=iteration, tool=tool, wall=round(proc.wall, 3), code=proc.code,
            calls=len(log), writes=sum(1 for c in log if not c.operation.startswith(READS)),
            revisions=sum(1 for c in log if c.operation == "RegisterTaskDefinition"),
            peak_rss_kb=proc.peak_rss_kb, operations=operations,
        )
        if self.scenario == 6:  # batching, measured: how many services / deployments each poll call asked about
            run.extra["poll_items"] = {op: [c.items for c in log if c.operation == op and c.items is not None]
                                       for op in POLLS}
        self.runs.append(run)
        self.say(f"  {SCENARIOS[self.scenario]} #{iteration} {tool}: {run.wall:.2f} s, exit {run.code}, "
                 f"{run.calls} calls, {run.writes} writes, {run.revisions} revisions, {run.peak_rss_kb // 1024} MB")
        return run

    # setup (not measured) ----------------------------------------------------
    def setup(self, tool: str, slots: Sequence[str], image: str = GOOD_IMAGE) -> None:
        """Services to start from, COMPLETED on `image`: ci-ecs makes its own (so its config
        matches), the peers' come from the same calls aws-cli-create.sh makes."""
        assert self.sb is not None
        if tool in CI_TOOLS:
            def one(slot: str) -> None:
                proc = run_steps(self.deploy_steps(tool, slot, image), self.env)
                if proc.code != 0:
                    raise RuntimeError(f"setup {slot}: {proc.stderr[-800:]}")
            with concurrent.futures.ThreadPoolExecutor(self.mode.parallel) as pool:
                list(pool.map(one, slots))
            return
        ecs = self.sb.ecs
        for slot in slots:
            cluster, service, family = self.names(tool, slot)
            ecs.create_cluster(clusterName=cluster)
            arn = ecs.register_task_definition(**self.taskdef_json(family, image))["taskDefinition"][
                "taskDefinitionArn"]
            group = self.target_groups.get(f"{cluster}/{service}")
            balanced = [{"targetGroupArn": group, "containerName": CONTAINER, "containerPort": 80}] if group else []
            ecs.create_service(
                cluster=cluster, serviceName=service, taskDefinition=arn, desiredCount=DESIRED, launchType="FARGATE",
                loadBalancers=balanced,
                networkConfiguration={"awsvpcConfiguration": {"subnets": [self.subnet], "assignPublicIp": "ENABLED"}},
                deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": False},
                                         "minimumHealthyPercent": 100, "maximumPercent": 200})
        for slot in slots:
            self.wait_completed(tool, slot, self.deploy_timeout)

    def service(self, tool: str, slot: str) -> dict[str, Any]:
        assert self.sb is not None
        cluster, service, _ = self.names(tool, slot)
        return dict(self.sb.ecs.describe_services(cluster=cluster, services=[service])["services"][0])

    def wait_completed(self, tool: str, slot: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            deployments = self.service(tool, slot)["deployments"]
            if len(deployments) == 1 and deployments[0].get("rolloutState") == "COMPLETED":
                return
            time.sleep(0.1)
        raise RuntimeError(f"setup: {tool} {slot} did not complete")

    def event_time(self, tool: str, slot: str, needle: str) -> float | None:
        """time.time() of the newest service event containing `needle`."""
        for event in self.service(tool, slot)["events"]:  # newest first
            if needle in event["message"]:
                return float(event["createdAt"].timestamp())
        return None


# --------------------------------------------------------------------------- scenarios


def scenario_1(b: Bench) -> None:
    """First deploy. Peers cannot create: aws-cli-create.sh (counted) runs first, then their deploy."""
    b.start_sandbox()
    for i in range(b.mode.runs[1]):
        for tool in b.order(i):
            b.measure(i, tool, b.deploy_steps(tool, f"first{i}", GOOD_IMAGE, create=True))


def scenario_2(b: Bench) -> None:
    """No-op redeploy of the image the service already runs."""
    b.start_sandbox()
    for tool in TOOLS:
        b.setup(tool, ["noop"])
    for i in range(b.mode.runs[2]):
        for tool in b.order(i):
            b.measure(i, tool, b.deploy_steps(tool, "noop", GOOD_IMAGE))


def _rollout(b: Bench, tool: str, slot: str) -> tuple[float, float] | None:
    """(created, completed) time.time() of the service's current (COMPLETED) deployment."""
    svc = b.service(tool, slot)
    primary = next((d for d in svc["deployments"] if d["status"] == "PRIMARY"), None)
    if not primary or primary.get("rolloutState") != "COMPLETED":
        return None
    done = b.event_time(tool, slot, f"(deployment {primary['id']}) deployment completed")
    return None if done is None else (primary["createdAt"].timestamp(), done)


def scenario_3(b: Bench) -> None:
    """Image change, followed to COMPLETED; rollout = the sandbox's deployment created → completed."""
    b.start_sandbox()
    _image_changes(b)


def scenario_9(b: Bench) -> None:
    """Scenario 3 on the ECS-like timing profile (`--timing ecs`): each tool's service behind its own load balancer's
    target group (ELB's defaults: 300 s deregistration delay, 30 s health checks), so old tasks drain as on ECS."""
    b.start_sandbox(timing="ecs")
    scale = b.mode.ecs_minute_seconds / 60
    # Long enough for a rollout (40 s start, a health check, 300 s draining, 5 s stop, in AWS seconds) and more.
    b.deploy_timeout = max(120, int(3 * (40 + 30 + ECS_DEREGISTRATION_DELAY + 5) * scale) + 60)
    for tool in ALL_TOOLS:
        _load_balance(b, tool, "change")
    _image_changes(b)


def _load_balance(b: Bench, tool: str, slot: str) -> None:
    """A load balancer, a target group (ELB's defaults) and a listener for the tool's service in `slot`."""
    assert b.sb is not None
    sb = b.sb
    cluster, service, _ = b.names(tool, slot)
    name = f"{cluster}-{service}"[-28:].strip("-")
    balancer = sb.elbv2.create_load_balancer(Name=f"lb-{name}", Subnets=sb.subnets)["LoadBalancers"][0]
    group = sb.elbv2.create_target_group(Name=f"tg-{name}", Protocol="HTTP", Port=80, VpcId=sb.vpc,
                                         TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    sb.elbv2.create_listener(LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTP", Port=80,
                             DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])
    b.target_groups[f"{cluster}/{service}"] = group


def scenario_10(b: Bench) -> None:
    """Scenario 8's one-config case on the ECS-like profile, unscaled (an AWS second is a second): N services, each
    behind its own target group (ELB's defaults), change image under `--rate-limits aws`; ci-ecs deploys one of
    them alone, then all N in one config. Unscaled because ci-ecs paces its calls to the documented buckets in real
    seconds: on a scaled clock the buckets would refill faster than ci-ecs's pacer assumes."""
    sb = b.start_sandbox(timing="ecs", minute_seconds=60.0)
    n = b.mode.throttled
    slots = [f"t{k:03d}" for k in range(n)]
    b.deploy_timeout = 1800
    for slot in slots:
        _load_balance(b, "ci-ecs", slot)
    proc = run_steps([[tool_path("ci-ecs"), "deploy", "-c", str(b.ci_services_config(slots)), "--image",
                       GOOD_IMAGE, "--output", "json", "--timeout", "1800"]], b.env, 1900)
    if proc.code != 0:
        raise RuntimeError(f"setup: {proc.stderr[-800:]}")
    sb.limits("aws")
    for i in range(b.mode.runs[10]):
        for k, form in enumerate(("single", "config")):
            image = f"public.ecr.aws/nginx/nginx:1.25.{i * 10 + k + 1}"
            sb.limits("reset")
            sb.clear()
            started = time.monotonic()
            steps = b.deploy_steps("ci-ecs", slots[0], image) if form == "single" else [
                [tool_path("ci-ecs"), "deploy", "-c", str(b.ci_services_config(slots)), "--image", image, "--output",
                 "json", "--timeout", "1800"]]
            done = run_steps(steps, b.env, 1900)
            log = sb.log()
            total = Proc(done.code, time.monotonic() - started, time.time(), done.peak_rss_kb, "", done.stderr)
            if done.code != 0:
                b.say(f"  ! ci-ecs ({form}) exit {done.code}: {done.stderr[-400:]}")
            run = b.record(i, "ci-ecs", total, log)
            run.extra.update(ci_phases(done))
            services = 1 if form == "single" else n
            throttled = sum(1 for c in log if c.fault == "rate-limit")
            run.extra.update({
                "kind": form, "services": services, "processes": 1, "failed": int(done.code != 0),
                "throttle_errors_shown": int(any(word in done.stdout + done.stderr for word in THROTTLE_WORDS)),
                "throttled_calls": throttled, "accepted_calls": len(log) - throttled,
                "calls_per_service": round((len(log) - throttled) / services, 2),
                "attempts_per_service": round(len(log) / services, 2),
                "throttled_by_operation": _count(c.operation for c in log if c.fault == "rate-limit"),
                "sum_rss_kb": done.peak_rss_kb,
                "register_span": _span(c.at for c in log if c.operation == "RegisterTaskDefinition" and not c.fault),
            })


def _image_changes(b: Bench) -> None:
    """Scenario 3's (and 9's) turns: every tool changes its service's image once per iteration, to COMPLETED."""
    for tool in ALL_TOOLS:
        b.setup(tool, ["change"])
    for i in range(b.mode.runs[b.scenario]):
        image = f"public.ecr.aws/nginx/nginx:1.27.{i + 1}"
        for tool in b.order(i, ALL_TOOLS):
            run, proc = b.measure(i, tool, b.deploy_steps(tool, "change", image))
            times = _rollout(b, tool, "change")
            if times is not None:
                created, completed = times
                run.extra["rollout"] = round(completed - created, 3)
                run.extra["overhead"] = round(run.wall - (completed - created), 3)
                run.extra["before_deployment"] = round(created - proc.began, 3)  # start → UpdateService
                run.extra["after_completed"] = round(proc.ended - completed, 3)  # COMPLETED → exit
                seen = _first_after(b.last_log, POLLS, completed)
                if seen is not None:  # poll lateness: COMPLETED → the tool's next poll
                    run.extra["completed_seen"] = round(seen - completed, 3)
                if tool in CI_TOOLS:
                    # ci-ecs holds the result until its newest task has run deploy.stable_seconds (issue 10):
                    # the part of that window left after the sandbox's COMPLETED, from the tasks' startedAt (the
                    # overhead target's definition; ci-ecs's own measured phases, the stable-window among them,
                    # are run.extra["phases"], read from its result).
                    stable = 0.0 if tool == CI_W0 else STABLE_SECONDS
                    run.extra["stable_seconds"] = stable
                    newest = _newest_start(b, tool, "change")
                    if newest is not None:
                        window = max(0.0, newest + stable - completed)
                        run.extra["window_after_completed"] = round(window, 3)
                        run.extra["overhead_net"] = round(run.wall - (completed - created) - window, 3)


def scenario_4(b: Bench) -> None:
    """An image missing from the sandbox's ECR: CannotPullContainerError, circuit breaker FAILED
    (enable, no rollback). Latency = tool exit − the 'deployment failed' event."""
    sb = b.start_sandbox()
    registry = sb.registry or "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    env = {**b.env, "WAIT_TIMEOUT": str(b.mode.aws_wait_cap)}
    for i in range(b.mode.runs[4]):
        slot = f"fail{i}"
        for tool in TOOLS:
            b.setup(tool, [slot])
        image = f"{registry}/nothing-here:{i + 1}"
        for tool in b.order(i):
            extra = ["--no-rollback"] if tool == "ci-ecs" else []
            run, proc = b.measure(i, tool, b.deploy_steps(tool, slot, image, ci_args=extra), env=env)
            failed = b.event_time(tool, slot, "deployment failed")
            run.extra["reported_failure"] = proc.code != 0
            run.extra["timed_out"] = tool == "aws-cli" and proc.code == 124
            if failed is not None:
                run.extra["detect"] = round(proc.ended - failed, 3)
                seen = _first_after(b.last_log, POLLS, failed)
                if seen is not None:  # poll lateness: FAILED → the tool's next poll
                    run.extra["failed_seen"] = round(seen - failed, 3)
            if proc.code == 0:
                b.say(f"  ! {tool} reported success for a failed deployment")


def scenario_5(b: Bench) -> None:
    """CLI start-up: no sandbox, no AWS calls."""
    commands = {"ci-ecs": [tool_path("ci-ecs"), "--help"], "ecs-deploy": [tool_path("ecs"), "--help"],
                "aws-cli": [tool_path("aws"), "--version"]}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CI_ECS_"))}
    # Measured, not assumed: the imports a deploy needs (the tool's CLI, its config model, its AWS SDK), less an
    # empty interpreter's start-up, in the same iteration. ci-ecs builds its clients with botocore alone (its
    # ClientFactory: botocore.session, then botocore.client), never boto3; ecs-deploy's CLI imports boto3.
    imports = {"ci-ecs": "import ci_ecs.cli, ci_ecs.config, ci_ecs.deploy, botocore.session, botocore.client",
               "ecs-deploy": "import ecs_deploy.cli"}
    for i in range(b.mode.runs[5]):
        for tool in b.order(i):
            proc = run_proc(commands[tool], env)
            run = b.record(i, tool, proc, [])
            run.extra["position"] = b.position.get((i, tool))
            if tool in imports:
                empty = run_proc([sys.executable, "-c", "pass"], env)
                loaded = run_proc([sys.executable, "-c", imports[tool]], env)
                run.extra["deploy_imports"] = round(loaded.wall - empty.wall, 3)
                run.extra["deploy_imports_rss_kb"] = loaded.peak_rss_kb


def scenario_6(b: Bench) -> None:
    """N services: image change on each. ci-ecs: one process with a `services:` list of all N, deployed
    at once (deploy.parallelism N); the peers deploy one service after another, as a pipeline would."""
    b.start_sandbox()
    slots = [f"m{k:02d}" for k in range(b.mode.services)]
    for tool in TOOLS:
        b.setup(tool, slots)
    for i in range(b.mode.runs[6]):
        single_image = f"public.ecr.aws/nginx/nginx:1.26.{i + 1}"
        batch_image = f"public.ecr.aws/nginx/nginx:1.25.{i + 1}"
        # One service alone, for "total ≤ 2 × one service's time" (peers too in the full mode).
        for tool in b.order(i) if b.mode.name == "full" else ("ci-ecs",):
            single, _ = b.measure(i, tool, b.deploy_steps(tool, slots[0], single_image))
            single.extra["kind"] = "single"
        # ci-ecs: one process; the peers one deploy after another, and (another image) all at once, each its
        # own process, as a pipeline matrix would run them.
        # (The quick mode leaves the aws CLI out of the concurrent row: its 15 s waiter would double the scenario.)
        batches = [(tool, "batch") for tool in b.order(i)] + \
            [(tool, "concurrent") for tool in (PEER_TOOLS if b.mode.name == "full" else ("ecs-deploy",))]
        for tool, kind in batches:
            assert b.sb is not None
            image = batch_image if kind == "batch" else f"public.ecr.aws/nginx/nginx:1.24.{i + 1}"
            b.sb.clear()
            if tool == "ci-ecs":
                started = time.monotonic()
                command = [tool_path("ci-ecs"), "deploy", "-c", str(b.ci_services_config(slots)), "--image",
                           image, "--output", "json"]
                procs = [run_steps([command], b.env, 600)]
                wall = time.monotonic() - started
            elif kind == "batch":
                started = time.monotonic()
                procs = [run_steps(b.deploy_steps(tool, s, image), b.env) for s in slots]
                wall = time.monotonic() - started
            else:
                started = time.monotonic()
                with concurrent.futures.ThreadPoolExecutor(len(slots)) as pool:
                    procs = list(pool.map(lambda s, t=tool, im=image: run_steps(b.deploy_steps(t, s, im), b.env),
                                          slots))
                wall = time.monotonic() - started
            failed = [p for p in procs if p.code != 0]
            total = Proc(failed[0].code if failed else 0, wall, time.time(), max(p.peak_rss_kb for p in procs),
                         "", failed[0].stderr if failed else "")
            if failed:
                b.say(f"  ! {tool}: {len(failed)} of {len(procs)} failed: {failed[0].stderr[-600:]}")
            run = b.record(i, tool, total, b.sb.log())
            run.extra["kind"] = kind
            run.extra["position"] = b.position.get((i, tool))
            run.extra["services"] = len(slots)
            run.extra["sum_of_runs"] = round(sum(p.wall for p in procs), 3)
            run.extra["sum_rss_kb"] = sum(p.peak_rss_kb for p in procs)


def ci_phases(proc: Proc) -> dict[str, Any]:
    """What ci-ecs's own JSON result says: its API call count, its phases (where the time went, measured by ci-ecs:
    `phases`), for a `services:` deploy each phase's median over the services (`service_phases`), and the time
    outside the deploy's phases (`outside_phases`: interpreter start, imports, config, printing: wall −
    durationSeconds). {} when the output is not its JSON result."""
    try:
        result = json.loads(proc.stdout)
        out: dict[str, Any] = {"own_count": sum(result["apiCalls"].values())}
    except (ValueError, KeyError, AttributeError, TypeError):
        return {}
    phases = result.get("phases") or []
    out["phases"] = [{k: p[k] for k in ("name", "stage", "start", "seconds", "waitedOn") if k in p} for p in phases]
    out["outside_phases"] = round(proc.wall - float(result.get("durationSeconds") or 0), 3)
    own: dict[str, list[float]] = {}
    shared = len([p for p in phases if p.get("name") != "services"])
    for service in result.get("services") or []:
        for phase in (service.get("phases") or [])[shared:]:
            own.setdefault(phase_label(phase), []).append(float(phase["seconds"]))
    if own:
        out["service_phases"] = {label: round(statistics.median(v), 3) for label, v in own.items()}
    return out


def phase_label(phase: dict[str, Any]) -> str:
    """`rollout BAKE_TIME`: a phase's name with its rollout stage (as ci-ecs's text output shows it)."""
    return f"{phase['name']} {phase['stage']}" if phase.get("stage") else str(phase["name"])


def _first_after(log: list[Logged], operations: Sequence[str], when: float) -> float | None:
    """time.time() of the first call of any of `operations` logged after `when` (None: none, or untimed)."""
    later = [c.at for c in log if c.operation in operations and c.at is not None and c.at > when]
    return min(later) if later else None


def _newest_start(b: Bench, tool: str, slot: str) -> float | None:
    """The newest startedAt (epoch s) of the tasks the service's PRIMARY deployment started."""
    assert b.sb is not None
    cluster, service, _ = b.names(tool, slot)
    primary = next((d for d in b.service(tool, slot)["deployments"] if d["status"] == "PRIMARY"), None)
    arns = b.sb.ecs.list_tasks(cluster=cluster, serviceName=service)["taskArns"]
    tasks = b.sb.ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []
    starts = [t["startedAt"].timestamp() for t in tasks
              if primary and t.get("startedBy") == primary["id"] and t.get("startedAt")]
    return max(starts) if starts else None


def _public_ips(b: Bench, tool: str, slot: str) -> list[str]:
    """The running tasks' public IPs, read the ECS way (task ENI → DescribeNetworkInterfaces)."""
    assert b.sb is not None
    cluster, service, _ = b.names(tool, slot)
    arns = b.sb.ecs.list_tasks(cluster=cluster, serviceName=service)["taskArns"]
    tasks = b.sb.ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []
    enis = [d["value"] for t in tasks if t["lastStatus"] == "RUNNING" for a in t.get("attachments", [])
            for d in a["details"] if d["name"] == "networkInterfaceId"]
    if not enis:
        return []
    ec2 = boto3.client("ec2", endpoint_url=b.sb.endpoint, region_name="us-east-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    found = ec2.describe_network_interfaces(NetworkInterfaceIds=enis)["NetworkInterfaces"]
    return sorted(i["Association"]["PublicIp"] for i in found if i.get("Association", {}).get("PublicIp"))


def _answering(ips: list[str], text: str) -> int:
    """How many of the (loopback) addresses serve the page saying `text` on port 80."""
    import ipaddress
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    count = 0
    for ip in ips:
        if not ipaddress.ip_address(ip).is_loopback:  # only the docker sandbox's addresses, never anything else
            continue
        try:
            with opener.open(f"http://{ip}/", timeout=3) as answer:
                count += text in answer.read(4096).decode(errors="replace")
        except OSError:
            pass
    return count


def scenario_7(b: Bench) -> None:
    """Image change on the sandbox's docker runtime: tasks are containers answering on loopback public IPs.
    ci-ecs deploys with `verify` (every task must serve the new page); the peers have no such check. After
    each tool exits, the benchmark itself counts the tasks serving the new page (not measured)."""
    from engine import docker_engine  # bench/engine.py

    from ci_ecs.demo import static_busybox

    busybox = static_busybox()
    with docker_engine(b.tmp / "engine") as engine:
        if engine is None or busybox is None:
            missing = "a Docker engine (DOCKER_HOST, or dockerd as root)" if engine is None else \
                "a static busybox (Debian busybox-static)"
            b.notes.append(f"skipped: needs {missing}")
            b.say(f"  scenario 7 skipped: needs {missing}")
            return
        try:
            _scenario_7_runs(b, engine, busybox)
        finally:  # the sandbox's containers go before the engine does
            if b.sb is not None:
                b.sb.close()
                b.sb = None


def _scenario_7_runs(b: Bench, engine: dict[str, str], busybox: str) -> None:
    """Scenario 7's runs, with the engine up: a docker-runtime sandbox, the page images, the measured deploys."""
    import docker
    from engine import page_image  # bench/engine.py

    client = docker.DockerClient(base_url=engine["DOCKER_HOST"], timeout=300)
    sb = b.start_sandbox("docker", engine)
    if sb.registry is None:
        b.notes.append("skipped: needs docker-registry (the sandbox's ECR)")
        b.say("  scenario 7 skipped: needs docker-registry")
        return
    repository = boto3.client("ecr", endpoint_url=sb.endpoint, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing").create_repository(
        repositoryName="bench-page")["repository"]["repositoryUri"]
    httpd = ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"]
    # busybox httpd as PID 1 ignores SIGTERM: a short stopTimeout keeps old tasks from taking 30 s to go.
    b.container_extra = {"entryPoint": httpd, "stopTimeout": 2}
    b.ci_container_extra = {"entry_point": httpd, "stop_timeout": 2}
    b.ci_extra = {"verify": {"path": "/", "within": 60}}
    first = page_image(client, busybox, repository, "0", "page 0")
    for tool in TOOLS:
        b.setup(tool, ["verify"], image=first)
    for i in range(b.mode.runs[7]):
        text = f"page {i + 1}"
        image = page_image(client, busybox, repository, str(i + 1), text)
        for tool in b.order(i):
            run, proc = b.measure(i, tool, b.deploy_steps(tool, "verify", image))
            verified = None
            if tool == "ci-ecs" and proc.stdout.strip().startswith("{"):
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    verified = json.loads(proc.stdout)["verify"]["ok"]
            run.extra["verified"] = verified
            ips = _public_ips(b, tool, "verify")
            run.extra["answering"] = f"{_answering(ips, text)}/{len(ips)}"


def scenario_8(b: Bench) -> None:
    """Throttled scale (issue 27): N services changing image under the sandbox's `--rate-limits aws` (ECS's
    documented token buckets). ci-ecs: one config with a `services:` list of all N, and N processes at once (a
    pipeline matrix); fabfuel/ecs-deploy and the aws-CLI script: N processes at once. Set-up is unlimited and not
    measured; every bucket is full again before each measured run."""
    sb = b.start_sandbox()
    n = b.mode.throttled
    slots = [f"t{k:03d}" for k in range(n)]
    proc = run_steps([[tool_path("ci-ecs"), "deploy", "-c", str(b.ci_services_config(slots)), "--image",
                       GOOD_IMAGE, "--output", "json"]], b.env, 600)
    if proc.code != 0:
        raise RuntimeError(f"setup: {proc.stderr[-800:]}")
    for tool in PEER_TOOLS if b.mode.name == "full" else ("ecs-deploy",):
        b.setup(tool, slots)
    sb.limits("aws")
    for i in range(b.mode.runs[8]):
        # (The quick mode leaves the aws CLI out, as scenario 6 does: its 15 s waiter would double the scenario.)
        forms = [("ci-ecs", "single"), ("ci-ecs", "config"), ("ci-ecs", "processes")] + \
            [(tool, "processes") for tool in (PEER_TOOLS if b.mode.name == "full" else ("ecs-deploy",))]
        for k, (tool, form) in enumerate(forms):
            image = f"public.ecr.aws/nginx/nginx:1.23.{i * 10 + k + 1}"
            sb.limits("reset")
            sb.clear()
            started = time.monotonic()
            if form == "single":
                procs = [run_steps(b.deploy_steps(tool, slots[0], image), b.env, 900)]
            elif form == "config":
                procs = [run_steps([[tool_path("ci-ecs"), "deploy", "-c", str(b.ci_services_config(slots)),
                                     "--image", image, "--output", "json", "--timeout", "900"]], b.env, 900)]
            else:
                # ci-ecs's per-process deploy timeout (120 s in its benchmark config) would cut the wait for a
                # bucket: 900 s, like the config's. The peers run as their users run them.
                extra = ("--timeout", "900") if tool == "ci-ecs" else ()
                with concurrent.futures.ThreadPoolExecutor(len(slots)) as pool:
                    procs = list(pool.map(lambda s, t=tool, im=image, ex=extra: run_steps(  # type: ignore[misc]
                        b.deploy_steps(t, s, im, ci_args=ex), b.env, 900), slots))
            wall = time.monotonic() - started
            log = sb.log()
            failed = [p for p in procs if p.code != 0]
            shown = [p for p in procs if any(word in p.stdout + p.stderr for word in THROTTLE_WORDS)]
            total = Proc(failed[0].code if failed else 0, wall, time.time(), max(p.peak_rss_kb for p in procs),
                         "", failed[0].stderr if failed else "")
            if failed:
                b.say(f"  ! {tool} ({form}): {len(failed)} of {len(procs)} failed: {failed[0].stderr[-400:]}")
            run = b.record(i, tool, total, log)
            if tool == "ci-ecs" and form != "processes":
                run.extra.update(ci_phases(procs[0]))
            services = 1 if form == "single" else n
            throttled = sum(1 for c in log if c.fault == "rate-limit")
            run.extra.update({
                "kind": form, "services": services, "processes": len(procs), "failed": len(failed),
                "throttle_errors_shown": len(shown), "throttled_calls": throttled,
                "accepted_calls": len(log) - throttled,
                "calls_per_service": round((len(log) - throttled) / services, 2),
                "attempts_per_service": round(len(log) / services, 2),
                "throttled_by_operation": _count(c.operation for c in log if c.fault == "rate-limit"),
                "sum_rss_kb": sum(p.peak_rss_kb for p in procs),
                # Seconds from the first accepted registration to the last: what the "Task definition modify
                # actions" bucket (20 tokens, 1 a second) made of the wall.
                "register_span": _span(c.at for c in log if c.operation == "RegisterTaskDefinition" and not c.fault),
            })


def _span(times: Any) -> float | None:
    stamps = [t for t in times if t is not None]
    return round(max(stamps) - min(stamps), 1) if stamps else None


def _count(items: Any) -> dict[str, int]:
    counted: dict[str, int] = {}
    for item in items:
        counted[item] = counted.get(item, 0) + 1
    return dict(sorted(counted.items(), key=lambda kv: -kv[1]))


RUNNERS: dict[int, Callable[[Bench], None]] = {1: scenario_1, 2: scenario_2, 3: scenario_3, 4: scenario_4,
                                                5: scenario_5, 6: scenario_6, 7: scenario_7, 8: scenario_8,
                                                9: scenario_9, 10: scenario_10}


def run_scenario(number: int, mode: Mode, say: Callable[[str], None]) -> tuple[list[Run], float, list[str]]:
    bench = Bench(number, mode, say)
    started = time.monotonic()
    say(f"scenario {number}: {SCENARIOS[number]}")
    try:
        RUNNERS[number](bench)
    finally:
        bench.close()
    return bench.runs, time.monotonic() - started, bench.notes


# --------------------------------------------------------------------------- main


def versions() -> dict[str, str]:
    def first_line(argv: list[str]) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            return (done.stdout or done.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"

    from importlib.metadata import PackageNotFoundError, version

    def pkg(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "?"

    return {"ci-ecs": pkg("ci-ecs"), "ecs-deploy": pkg("ecs-deploy"), "awscli": pkg("awscli"),
            "aws --version": first_line([tool_path("aws"), "--version"]), "moto": pkg("moto"),
            "python": platform.python_version(), "cpus": str(os.cpu_count()),
            "jq": first_line(["jq", "--version"]), "machine": platform.platform()}


def compile_ci_ecs() -> str:
    """Compile ci-ecs's modules to bytecode once, before anything is measured: pip compiles a wheel's modules when
    it installs them (as it did the peers' and botocore's here), but this checkout is an editable install and the
    environment may set PYTHONDONTWRITEBYTECODE, so without this every measured ci-ecs run would compile its
    modules from source (0.15-0.2 s of each start) while the peers load theirs compiled."""
    import compileall

    import ci_ecs

    package = Path(ci_ecs.__file__).parent
    compileall.compile_dir(str(package), quiet=1)
    return str(package)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="every scenario once for every tool (CI)")
    parser.add_argument("--scenarios", default="1,2,3,4,5,6,7,8,9,10", help="comma-separated scenario numbers "
                        "(those the mode runs no time, e.g. 10 in the quick mode, are left out)")
    parser.add_argument("--out", type=Path, help="output directory (default: bench/ full, bench/quick/ quick)")
    parser.add_argument("--jobs", type=int, help="scenarios at once, each with its own sandbox "
                        "(default: 1 full, all quick; >1 makes timings noisier, counts stay exact)")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    if args.jobs:
        mode = Mode(**{**asdict(mode), "jobs": args.jobs})
    out = args.out or (HERE / "quick" if args.quick else HERE)
    out.mkdir(parents=True, exist_ok=True)
    wanted = [int(s) for s in args.scenarios.split(",") if s.strip() and mode.runs.get(int(s))]
    print_lock = threading.Lock()

    def say(line: str) -> None:
        with print_lock:
            print(line, flush=True)

    compiled = compile_ci_ecs()
    started = time.monotonic()
    meta = {"mode": mode.name, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "bytecode_compiled": compiled, "task_start_seconds": TASK_START_SECONDS, "desired_count": DESIRED,
            "mode_settings": asdict(mode),
            "stable_seconds": STABLE_SECONDS,
            # Scenario 9's sandbox: the ECS-like profile's durations (AWS seconds) and its clock.
            "ecs_timing": {"minute_seconds": mode.ecs_minute_seconds, "scale": round(mode.ecs_minute_seconds / 60, 4),
                           "task_start": ECS.task_start_seconds, "task_stop": ECS.task_stop_seconds,
                           "deregistration_delay": ECS_DEREGISTRATION_DELAY, "health_check_interval": 30},
            "versions": versions(), "loadavg_start": [round(x, 2) for x in os.getloadavg()]}
    runs: list[Run] = []
    durations: dict[int, float] = {}
    with concurrent.futures.ThreadPoolExecutor(max(1, mode.jobs)) as pool:
        futures = {pool.submit(run_scenario, n, mode, say): n for n in wanted}
        errors: dict[int, str] = {}
        meta["errors"] = errors
        notes: dict[int, list[str]] = {}
        meta["notes"] = notes
        for future in concurrent.futures.as_completed(futures):
            number = futures[future]
            try:
                scenario_runs, seconds, scenario_notes = future.result()
            except Exception as err:  # noqa: BLE001 - report the other scenarios anyway
                errors[number] = f"{type(err).__name__}: {err}"
                say(f"scenario {number} failed: {errors[number]}")
                continue
            runs.extend(scenario_runs)
            if scenario_notes:
                notes[number] = scenario_notes
            durations[number] = round(seconds, 1)
            meta["scenario_seconds"] = durations
            meta["total_seconds"] = round(time.monotonic() - started, 1)
            meta["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
            runs.sort(key=lambda r: (r.scenario, r.iteration, ALL_TOOLS.index(r.tool)))
            (out / "results.json").write_text(json.dumps({"meta": meta, "runs": [asdict(r) for r in runs]}, indent=1))

    meta["total_seconds"] = round(time.monotonic() - started, 1)
    from report import write_report  # bench/report.py

    write_report(out, meta, [asdict(r) for r in runs])
    say(f"bench: {mode.name} done in {meta['total_seconds']} s; wrote {out / 'results.md'}")
    return 1 if meta["errors"] else 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
