"""Hostile and accidental bad input: exit 2 (or 3), exactly one stderr line, no traceback, nothing written.

YAML bombs, recursive anchors, duplicate keys, binary or non-UTF-8 files (config and task.file),
malformed endpoints and profiles, booleans where numbers belong, and control characters in what an
error message quotes. Against moto in-process, through the CLI as a user runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ci_ecs.cli import _report_error, main
from ci_ecs.config import MAX_FILE_BYTES, load_config
from ci_ecs.errors import ConfigError, DeploymentFailedError
from tests.core.helpers import config, write

ROOT = Path(__file__).resolve().parents[2]


def billion_laughs(levels: int = 9) -> str:
    """The classic: each level a list of nine aliases to the one before, 9**levels strings when expanded."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def _one_line_error(result: Any, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return str(lines[0])


def _nothing_written(moto_aws: dict[str, Any]) -> None:
    assert moto_aws["ecs"].list_clusters()["clusterArns"] == []
    assert moto_aws["ecs"].list_task_definitions()["taskDefinitionArns"] == []
    assert moto_aws["ecr"].describe_repositories()["repositories"] == []


def _good(tmp_path: Path, moto_aws: dict[str, Any], **changes: Any) -> Path:
    return write(tmp_path / "ci-ecs.yml", config(**{"service.security_groups": [moto_aws["security_group"]],
                                                    **changes}))


# --- YAML that costs more than it says -----------------------------------------------------------

# Runs the CLI and, however it ends, records the process's own peak resident memory (VmHWM: reset at
# exec, unlike wait4's ru_maxrss, which would report the forking pytest process's size).
_PEAK_WRAPPER = """
import sys
from pathlib import Path
report = Path(sys.argv.pop(1))
try:
    from ci_ecs.cli import main
    main(sys.argv[1:], prog_name="ci-ecs")
finally:
    status = Path("/proc/self/status").read_text()
    report.write_text(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])
"""


def test_yaml_bomb_is_refused_fast_with_bounded_memory(tmp_path: Path, aws_env: None) -> None:
    # Before: a few hundred bytes grew past 4 GB (the config loader walked the expanded tree). The CLI
    # runs as a process of its own, so its peak memory can be read and a runaway killed.
    path = write(tmp_path / "ci-ecs.yml", billion_laughs())
    assert len(path.read_bytes()) < 512  # half a KiB of text
    report = tmp_path / "peak-kib"
    try:
        run = subprocess.run([sys.executable, "-c", _PEAK_WRAPPER, str(report), "plan", "-c", str(path)],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("ci-ecs plan on a YAML bomb ran for a minute")
    lines = run.stderr.splitlines()
    assert run.returncode == 2, lines
    assert len(lines) == 1 and "YAML bomb" in lines[0] and "Traceback" not in lines[0], lines
    # The interpreter with click, pydantic and PyYAML loaded is well under 200 MiB.
    assert int(report.read_text()) < 200 * 1024, report.read_text()


def test_yaml_bomb_load_is_bounded_in_process(tmp_path: Path) -> None:
    # The same bound measured where it is enforced: the loader, without process start-up in the way.
    path = write(tmp_path / "ci-ecs.yml", billion_laughs())
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ConfigError, match="YAML bomb"):
            load_config(path, require_file=True)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0, elapsed
    assert peak < 20 * 1024 * 1024, peak


def test_a_few_aliases_and_merge_keys_still_work(tmp_path: Path) -> None:
    # What real configs do with anchors: share a block, merge it and override a key.
    text = (
        "region: us-east-1\ncluster: demo\nservice: {name: hello, launch_type: FARGATE}\n"
        "task:\n  family: hello\n  cpu: '256'\n  memory: '512'\n  network_mode: awsvpc\n"
        "  requires_compatibilities: [FARGATE]\n  containers:\n"
        "    - &web {name: web, image: nginx:1.27, environment: &env {A: '1'}}\n"
        "    - <<: *web\n      name: sidecar\n      image: busybox:1\n      environment: *env\n"
    )
    loaded = load_config(write(tmp_path / "ci-ecs.yml", text), require_file=True)
    assert loaded.task is not None
    web, sidecar = loaded.task.containers
    assert (web.name, web.image, sidecar.name, sidecar.image) == ("web", "nginx:1.27", "sidecar", "busybox:1")
    assert sidecar.environment == web.environment == {"A": "1"}


@pytest.mark.parametrize(("case", "text", "fragments"), [
    ("self-referencing-list", "cluster: &a [*a]\n", ["alias *a refers to a collection that contains it", ":1:"]),
    ("self-referencing-map", "region: us-east-1\ncluster: &c\n  inner: *c\n", ["alias *c", ":3:"]),
    ("duplicate-top-key", "cluster: demo\nregion: us-east-1\ncluster: other\n",
     ["duplicate key 'cluster' (first on line 1)", ":3:"]),
    ("duplicate-nested-key", "cluster: demo\nservice:\n  name: a\n  desired_count: 1\n  name: b\n",
     ["duplicate key 'name' (first on line 3)", ":5:"]),
    ("deeply-nested", "cluster: " + "[" * 5000 + "\n", ["nested deeper than"]),
    ("integer-too-long", "cluster: demo\nservice: {desired_count: " + "9" * 5000 + "}\n", ["invalid YAML"]),
])
def test_hostile_yaml_config(case: str, text: str, fragments: list[str], tmp_path: Path,
                             moto_aws: dict[str, Any]) -> None:
    path = write(tmp_path / "ci-ecs.yml", text)
    started = time.monotonic()
    line = _one_line_error(CliRunner().invoke(main, ["plan", "-c", str(path)]))
    assert time.monotonic() - started < 5
    for fragment in fragments:
        assert fragment in line, line
    _nothing_written(moto_aws)


@pytest.mark.parametrize(("case", "content", "fragment"), [
    ("latin-1", "cluster: d\xe9mo\n".encode("latin-1"), "not UTF-8 text (byte 0xe9 at offset 10"),
    ("binary", bytes(range(256)) * 4, "not UTF-8 text"),
    ("nul-bytes", b"cluster: demo\x00\x00\x00\n", "contains NUL bytes"),
    ("too-large", b"# " + b"x" * MAX_FILE_BYTES + b"\ncluster: demo\n", "larger than 1024 KiB"),
])
def test_binary_or_oversized_config_file(case: str, content: bytes, fragment: str, tmp_path: Path,
                                         moto_aws: dict[str, Any]) -> None:
    path = tmp_path / "ci-ecs.yml"
    path.write_bytes(content)
    line = _one_line_error(CliRunner().invoke(main, ["deploy", "-c", str(path)]))
    assert fragment in line and str(path) in line, line
    _nothing_written(moto_aws)


# --- task.file -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("case", "name", "content", "fragment"), [
    ("not-utf8-json", "taskdef.json", b'{"family": "h\xe9llo", "containerDefinitions": []}', "not UTF-8 text"),
    ("binary-json", "taskdef.json", bytes(range(256)), "not UTF-8 text"),
    ("nul-yaml", "taskdef.yml", b"family: hello\x00\n", "contains NUL bytes"),
    ("junk-containers-json", "taskdef.json", b'{"family": "hello", "containerDefinitions": [1, "two", null]}',
     "containerDefinitions[0]"),
    ("junk-containers-yaml", "taskdef.yml", b'family: hello\ncontainerDefinitions: [1, "two", null]\n',
     "containerDefinitions[0]"),
    ("bomb-yaml", "taskdef.yml", billion_laughs().encode() + b"family: hello\n", "YAML bomb"),
    ("duplicate-key-yaml", "taskdef.yml", b"family: hello\ncontainerDefinitions: []\nfamily: other\n",
     "duplicate key 'family'"),
    ("duplicate-key-json", "taskdef.json", b'{"family": "hello", "containerDefinitions": [], "family": "x"}',
     "key 'family' appears twice"),
    ("deep-json", "taskdef.json", b'{"containerDefinitions": ' + b"[" * 100000 + b"]" * 100000 + b"}",
     "invalid task definition"),
])
def test_hostile_task_file(case: str, name: str, content: bytes, fragment: str, tmp_path: Path,
                           moto_aws: dict[str, Any]) -> None:
    task_file = tmp_path / name
    task_file.write_bytes(content)
    path = _good(tmp_path, moto_aws, task={"file": name})
    line = _one_line_error(CliRunner().invoke(main, ["deploy", "-c", str(path)]))
    assert fragment in line and "task.file" in line and name in line, line
    _nothing_written(moto_aws)


# --- AWS settings --------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "env", "fragment"), [
    (["--endpoint-url", "notaurl"], {}, "endpoint_url: 'notaurl' is not an http(s) URL"),
    ([], {"CI_ECS_ENDPOINT_URL": "notaurl"}, "endpoint_url: 'notaurl' is not an http(s) URL"),
    ([], {"CI_ECS_ENDPOINT_URL": "ftp://127.0.0.1"}, "endpoint_url"),
    ([], {"CI_ECS_ENDPOINT_URL": "http://"}, "endpoint_url"),
    ([], {"AWS_ENDPOINT_URL": "notaurl"}, "from AWS_ENDPOINT_URL"),
    ([], {"AWS_ENDPOINT_URL_ECS": "notaurl"}, "from AWS_ENDPOINT_URL_ECS"),
    ([], {"AWS_PROFILE": "nope"}, "AWS_PROFILE: AWS profile 'nope' not found"),
    (["--profile", "nope"], {}, "profile: AWS profile 'nope' not found"),
    ([], {"CI_ECS_PROFILE": "nope"}, "profile: AWS profile 'nope' not found"),
])
def test_bad_endpoint_or_profile(args: list[str], env: dict[str, str], fragment: str, tmp_path: Path,
                                 moto_aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    path = _good(tmp_path, moto_aws)
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # botocore reads AWS_* from os.environ, not click's env
    for command in ("plan", "deploy"):
        line = _one_line_error(CliRunner().invoke(main, [command, "-c", str(path), *args]))
        assert fragment in line, line
    _nothing_written(moto_aws)


def test_push_with_unknown_profile(tmp_path: Path, moto_aws: dict[str, Any],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "ci-ecs.yml", {"repository": {"name": "hello"}, "image": {"source": "nginx:1.27",
                                                                                     "tag": "1"}})
    monkeypatch.setenv("AWS_PROFILE", "nope")
    line = _one_line_error(CliRunner().invoke(main, ["push", "-c", str(path)]))
    assert "AWS profile 'nope' not found" in line


# --- numbers and switches ------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("service.desired_count", True, "service.desired_count: must be a number, not true"),
    ("deploy.timeout", False, "deploy.timeout: must be a number, not false"),
    ("task.containers", [{"name": "web", "image": "nginx:1", "port_mappings": [{"container_port": True}]}],
     "container_port: must be a number"),
    ("deploy.max_poll_interval", True, "must be a number"),
    ("service.assign_public_ip", "yes", 'service.assign_public_ip: must be true or false (a YAML boolean), not "yes"'),
    ("service.assign_public_ip", 1, "must be true or false"),
    ("deploy.wait", "false", "deploy.wait: must be true or false"),
    ("service.circuit_breaker", {"enable": "on"}, "service.circuit_breaker.enable: must be true or false"),
])
def test_no_bool_number_mixups(key: str, value: Any, fragment: str, tmp_path: Path,
                               moto_aws: dict[str, Any]) -> None:
    path = _good(tmp_path, moto_aws, **{key: value})
    line = _one_line_error(CliRunner().invoke(main, ["deploy", "-c", str(path)]))
    assert fragment in line, line
    _nothing_written(moto_aws)


def test_numbers_as_strings_and_env_values_still_work(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    # cpu as a number or a string, counts as strings (how env values arrive), switches from the flags' env.
    path = _good(tmp_path, moto_aws, **{"task.cpu": 256, "task.memory": "512", "service.desired_count": "2"})
    result = CliRunner().invoke(main, ["plan", "-c", str(path), "--output", "json"],
                                env={"CI_ECS_DESIRED_COUNT": "3", "CI_ECS_WAIT": "false", "CI_ECS_TIMEOUT": "60"})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["changed"] is True


# --- -c given explicitly -------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "env"), [
    (["-c", "ci-ecs.yml"], {}),
    (["-c", "./ci-ecs.yml"], {}),
    (["--config=ci-ecs.yml"], {}),
    ([], {"CI_ECS_CONFIG": "ci-ecs.yml"}),
])
def test_explicit_default_name_must_exist(args: list[str], env: dict[str, str], tmp_path: Path,
                                          moto_aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: `-c ci-ecs.yml` was taken for the default and a missing file was silently ignored.
    monkeypatch.chdir(tmp_path)
    flags = ["--cluster", "c", "--service", "s", "--image", "nginx:1.27"]
    line = _one_line_error(CliRunner().invoke(main, ["plan", *args, *flags], env=env))
    assert "ci-ecs.yml: config file not found" in line, line


def test_default_name_not_given_may_be_missing(tmp_path: Path, moto_aws: dict[str, Any],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    line = _one_line_error(CliRunner().invoke(main, ["plan", "--cluster", "c", "--service", "s"]))
    # Not an error by itself (flags may describe the deploy), but named when they do not (issue 23, item 12).
    assert "config file ci-ecs.yml not found (looked for" in line and "task is required" in line, line


# --- control characters in what errors quote -----------------------------------------------------

def test_newline_in_config_path_stays_one_line(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    folder = tmp_path / "evil\nerror: fake second line\x1b[2K"
    folder.mkdir()
    path = write(folder / "ci-ecs.yml", "cluster: [demo\n")
    line = _one_line_error(CliRunner().invoke(main, ["deploy", "-c", str(path)]))
    assert "evil\\nerror: fake second line\\x1b[2K" in line, line
    assert "\x1b" not in line


@pytest.mark.parametrize(("key", "value"), [
    ("cluster", "bad\x1b]0;owned\x07name"),
    ("service.name", "a\rb"),
    ("region", "us\u2028east"),
    ("task.containers", [{"name": "we\x00b", "image": "nginx:1"}]),
])
def test_control_characters_in_values_are_escaped(key: str, value: Any, tmp_path: Path,
                                                  moto_aws: dict[str, Any]) -> None:
    path = _good(tmp_path, moto_aws, **{key: value})
    result = CliRunner().invoke(main, ["deploy", "-c", str(path), "--output", "json"])
    line = _one_line_error(result)
    assert line.isprintable() and "\\" in line, repr(line)


def test_missing_file_named_with_control_characters(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    line = _one_line_error(CliRunner().invoke(main, ["deploy", "-c", str(tmp_path / "a\nb\x1b.yml")]))
    assert "a\\nb\\x1b.yml: config file not found" in line, line


def test_stopped_reasons_and_events_print_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    # A failed deploy prints ECS's reasons and events one per line; text from a container can hold anything.
    error = DeploymentFailedError("deployment ecs-svc/1 failed\n(fake)",
                                  stopped_reasons=["Essential container exited\nerror: injected\x1b[31m"],
                                  events=["(service hello) has started 1 tasks\r\x1b[2Kspoof"])
    assert _report_error(error, "text", False) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["error: deployment ecs-svc/1 failed\\n(fake)",
                     "  stopped: Essential container exited\\nerror: injected\\x1b[31m",
                     "  event: (service hello) has started 1 tasks\\r\\x1b[2Kspoof"]


def test_progress_lines_escape_what_aws_reports() -> None:
    """Service events and stopped reasons are logged while waiting: each stays one line, no terminal escapes."""
    import io
    import logging

    from ci_ecs.output import ProgressHandler

    stream = io.StringIO()
    handler = ProgressHandler(stream)
    logger = logging.getLogger("ci_ecs.test.progress")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("event: %s", "forged\nci-ecs: deployment completed \x1b[2J")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().count("\n") == 1
    assert "\x1b" not in stream.getvalue() and "\\x1b[2J" in stream.getvalue()
