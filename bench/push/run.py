"""Push benchmark: ci-ecs next to `docker push` and `skopeo copy`, cold and warm, to the same registry.

    python bench/push/run.py            # 5 runs of each, ~50 MB image; writes bench/push/results.md
    python bench/push/run.py --quick    # 2 runs, ~12 MB image (or BENCH_QUICK=1); writes bench/push/quick/

What is measured (wall time of the command a CI job would run, process start included):
- docker push:  `docker push REG/bench:1` (the CLI; the engine uploads).
- skopeo copy:  `skopeo copy docker-daemon:bench:1 docker://REG/bench:1` (engine export, then upload).
- ci-ecs push:  `ci-ecs push -c CONFIG --output json` itself (the CLI next to this Python):
                DescribeRepositories, DescribeImages (+ BatchGetImage), then the push through the engine
                with an in-memory ECR token.
- ci-ecs (push_image call): `bench/push/ci_ecs_push.py` in another fresh sandbox, timing the library call
                from before the boto3 session, the ECR client and the Docker SDK are created.
- start-up, measured in every run: `python -c pass`, and the imports `ci-ecs push` needs before the call
  (`import ci_ecs.cli, ci_ecs.config, ci_ecs.deploy, ci_ecs.image, ci_ecs.aws`) less that.
Cold = a registry that has none of the image's blobs (a fresh registry for every cold run); warm =
the same push again right after. Every registry is Debian's docker-registry on 127.0.0.1 with its
access log on; blob upload requests (POST/PUT/PATCH .../blobs/uploads/) are counted from it.
ci-ecs's registry is the sandbox's ECR data plane (same program). Ratios are ci-ecs ÷ peer within one
run, then the median over runs. Setup (engine, image build, sandbox start) is not measured.

Needs: dockerd, docker (CLI), docker-registry, skopeo, the `sandbox` extra. Runs as root (dockerd).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))
_UPLOAD = re.compile(r'"(?:POST|PUT|PATCH) /v2/\S+/blobs/uploads/')
LIBRARY = "ci-ecs (push_image call)"
TOOLS = ("ci-ecs", LIBRARY, "docker push", "skopeo copy")
PEERS = ("docker push", "skopeo copy")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Registry:
    """docker-registry with its access log on, storage in `root`."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log_path = root / "registry.log"
        (root / "config.yml").write_text(
            "version: 0.1\nlog:\n  level: info\n"
            f"storage:\n  filesystem:\n    rootdirectory: {root / 'storage'}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.address}\n"
        )
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            ["docker-registry", "serve", str(root / "config.yml")],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError as exc:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"docker-registry did not start: {self.log_path.read_text()[-500:]}"
                    ) from exc
                time.sleep(0.05)

    def uploads(self) -> int:
        """Blob upload requests served so far."""
        text = self.log_path.read_text(errors="replace")
        return sum(1 for line in text.splitlines() if _UPLOAD.search(line))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self._log.close()


@contextmanager
def dockerd(root: Path) -> Iterator[dict[str, str]]:
    """A private engine (vfs, no networking of its own), as testing.md starts it."""
    sock = root / "d.sock"
    log = open(root / "dockerd.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        ["dockerd", "--iptables=false", "--bridge=none", "--storage-driver=vfs", "--data-root",
         str(root / "data"), "--exec-root", str(root / "exec"), "--pidfile", str(root / "d.pid"),
         "-H", f"unix://{sock}"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    env = {**os.environ, "DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": str(root / "client"),
           "DOCKER_BUILDKIT": "0", "CI": "true"}  # fmt: skip
    try:
        deadline = time.monotonic() + 40
        while subprocess.run(["docker", "version"], env=env, capture_output=True).returncode != 0:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not start: {(root / 'dockerd.log').read_text()[-1000:]}")
            time.sleep(0.3)
        yield env
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def build_image(env: dict[str, str], workdir: Path, megabytes: int) -> str:
    """A FROM scratch image of three layers of random (incompressible) data, `megabytes` in all."""
    context = workdir / "context"
    context.mkdir()
    lines = ["FROM scratch"]
    for index in range(3):
        (context / f"part{index}.bin").write_bytes(os.urandom(megabytes * 1_000_000 // 3))
        lines.append(f"COPY part{index}.bin /data/part{index}.bin")
    (context / "Dockerfile").write_text("\n".join(lines) + "\n")
    subprocess.run(["docker", "build", "-q", "-t", "bench:1", str(context)], env=env, check=True,
                   capture_output=True)  # fmt: skip
    return "bench:1"


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Seconds the command took, and its stdout; raises with its output when it fails."""
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed ({done.returncode}): {done.stderr[-1500:]}")
    return elapsed, done.stdout


def ci_ecs_command(config: Path, library: bool = False) -> list[str]:
    """`ci-ecs push` itself; with `library`, the driver timing the `image.push_image` call (clients included)."""
    if library:
        return [sys.executable, str(HERE / "ci_ecs_push.py"), str(config)]
    cli = Path(sys.executable).parent / "ci-ecs"
    return [str(cli) if cli.exists() else "ci-ecs", "push", "-c", str(config), "--output", "json"]


@dataclass
class Sample:
    tool: str
    phase: str
    seconds: float
    uploads: int


@dataclass
class Results:
    runs: int
    megabytes: int
    samples: list[Sample] = field(default_factory=list)
    startup: list[dict[str, float]] = field(default_factory=list)  # per run: interpreter, imports


# What `ci-ecs push` imports before it calls image.push_image (ci_ecs/cli/publish.py's push command).
PUSH_IMPORTS = "import ci_ecs.cli, ci_ecs.config, ci_ecs.deploy, ci_ecs.image, ci_ecs.aws"


def measure_startup(env: dict[str, str], results: Results) -> None:
    """The fixed start-up a whole-process run pays, measured: an empty interpreter, then the push path's imports
    beyond it (the docker SDK and botocore are imported later, inside the push_image call)."""
    empty, _ = timed([sys.executable, "-c", "pass"], env)
    loaded, _ = timed([sys.executable, "-c", PUSH_IMPORTS], env)
    results.startup.append({"interpreter": empty, "imports": loaded - empty})


def run_ci_ecs(env: dict[str, str], workdir: Path, run: int, results: Results) -> None:
    """Cold then warm `ci-ecs push` into a fresh sandbox; then the library call, cold and warm, into another."""
    _run_ci_ecs(env, workdir, run, results, library=False)
    _run_ci_ecs(env, workdir, run, results, library=True)


def _run_ci_ecs(env: dict[str, str], workdir: Path, run: int, results: Results, *, library: bool) -> None:
    """Cold then warm push into a fresh sandbox (its ECR registry has an access log)."""
    from ci_ecs.sandbox import Sandbox
    from ci_ecs.sandbox.registry import RegistryClient

    root = workdir / f"ecr-{run}{'-library' if library else ''}"

    class LoggingSandbox(Sandbox):
        # The sandbox's own registry runs without an access log; the upload count needs one.
        bench_registry: Registry

        def _start_registry(self) -> RegistryClient:
            self.bench_registry = Registry(root)
            self._registry_process = self.bench_registry  # type: ignore[assignment]
            self.registry_port = self.bench_registry.port
            return RegistryClient(self.bench_registry.address)

    config = workdir / f"ci-ecs-{run}{'-library' if library else ''}.yml"
    config.write_text(json.dumps({
        "region": "us-east-1", "cluster": "bench",
        "repository": {"name": "bench", "tag_mutability": "IMMUTABLE"},
        "image": {"local": "bench:1", "tag": "1"},
        "task": {"family": "bench", "containers": [{"name": "web"}]}, "service": {"name": "bench"},
    }))  # fmt: skip
    argv = ci_ecs_command(config, library)
    with LoggingSandbox(port=0, task_start_seconds=0.3) as sandbox:
        sb: Any = sandbox
        child = {**env, **sb.env(), "HOME": str(workdir / "home")}
        for phase in ("cold", "warm"):
            before = sb.bench_registry.uploads()
            seconds, stdout = timed(argv, child)
            uploads = sb.bench_registry.uploads() - before
            if library:
                results.samples.append(Sample(LIBRARY, phase, float(json.loads(stdout)["seconds"]), uploads))
            else:
                results.samples.append(Sample("ci-ecs", phase, seconds, uploads))


def run_peer(tool: str, env: dict[str, str], workdir: Path, run: int, results: Results) -> None:
    """Cold then warm push of bench:1 with `docker push` or `skopeo copy` into a fresh registry."""
    registry = Registry(workdir / f"{tool.split()[0]}-{run}")
    try:
        target = f"{registry.address}/bench:1"
        if tool == "docker push":
            subprocess.run(["docker", "tag", "bench:1", target], env=env, check=True)
            argv = ["docker", "push", "-q", target]
        else:
            # skopeo's docker-daemon transport ignores DOCKER_HOST: it is told the engine's socket.
            daemon = ["--src-daemon-host", env["DOCKER_HOST"]]
            argv = ["skopeo", "copy", "-q", *daemon, "--dest-tls-verify=false", "docker-daemon:bench:1",
                    f"docker://{target}"]  # fmt: skip
        for phase in ("cold", "warm"):
            before = registry.uploads()
            seconds, _ = timed(argv, env)
            results.samples.append(Sample(tool, phase, seconds, registry.uploads() - before))
    finally:
        registry.stop()


def summarise(results: Results) -> dict[str, Any]:
    """Medians per tool and phase; ratios (ci-ecs ÷ peer) taken within each run, then their median."""
    table: dict[str, Any] = {}
    for phase in ("cold", "warm"):
        for tool in TOOLS:
            values = [s for s in results.samples if s.tool == tool and s.phase == phase]
            table[f"{phase}/{tool}"] = {
                "median": statistics.median(s.seconds for s in values),
                "min": min(s.seconds for s in values),
                "max": max(s.seconds for s in values),
                "uploads": max(s.uploads for s in values),
            }
        for mine_tool in ("ci-ecs", LIBRARY):
            mine = [s.seconds for s in results.samples if s.tool == mine_tool and s.phase == phase]
            for peer in PEERS:
                theirs = [s.seconds for s in results.samples if s.tool == peer and s.phase == phase]
                ratios = [a / b for a, b in zip(mine, theirs, strict=True)]
                table[f"{phase}/{mine_tool} vs {peer}"] = statistics.median(ratios)
    return table


def _engine_version() -> str:
    """`dockerd --version`'s line (measured, not written in)."""
    done = subprocess.run(["dockerd", "--version"], capture_output=True, text=True)
    return (done.stdout.strip() or "dockerd").replace("Docker version", "dockerd")


def write_report(results: Results, table: dict[str, Any], out: Path) -> None:
    """bench/push/results.md (and results.json with every sample)."""
    lines = [
        "# Push benchmark: ci-ecs vs docker push vs skopeo copy",
        "",
        f"{results.megabytes} MB image in 3 layers of random data (FROM scratch), {results.runs} runs per "
        f"tool and phase, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. Registry: Debian docker-registry on 127.0.0.1 (for ci-ecs the "
        f"sandbox's ECR data plane, the same program). Engine: {_engine_version()} with vfs. Produced by "
        "`python bench/push/run.py" + (" --quick" if results.runs <= 2 else "") + "`.",
        "",
        "`ci-ecs` is `ci-ecs push -c CONFIG --output json` itself, the whole process (Python start, imports, "
        "config, ECR calls, push); `ci-ecs (push_image call)` is `image.push_image` alone, run by "
        "`bench/push/ci_ecs_push.py` against its own fresh sandbox, with the clock started once the config is "
        "loaded and before the boto3 session, the ECR client and the Docker SDK are created (what a push costs "
        "beyond the start-up of a Python process and the CLI's imports).",
        "",
        "| phase | tool | median s | min s | max s | blob upload requests | ÷ docker push | ÷ skopeo copy |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for phase in ("cold", "warm"):
        for tool in TOOLS:
            row = table[f"{phase}/{tool}"]
            ratios = ["", ""]
            if tool in ("ci-ecs", LIBRARY):
                ratios = [f"{table[f'{phase}/{tool} vs {peer}']:.2f}" for peer in PEERS]
            lines.append(f"| {phase} | {tool} | {row['median']:.2f} | {row['min']:.2f} | {row['max']:.2f} | "
                         f"{row['uploads']} | {ratios[0]} | {ratios[1]} |")  # fmt: skip
    cold, warm = table["cold/ci-ecs vs docker push"], table["warm/ci-ecs vs docker push"]
    cold_lib, warm_lib = table[f"cold/{LIBRARY} vs docker push"], table[f"warm/{LIBRARY} vs docker push"]
    warm_uploads = table["warm/ci-ecs"]["uploads"]
    overhead = table["cold/ci-ecs"]["median"] - table[f"cold/{LIBRARY}"]["median"]
    warm_overhead = table["warm/ci-ecs"]["median"] - table[f"warm/{LIBRARY}"]["median"]
    startup = {key: statistics.median(row[key] for row in results.startup) for key in ("interpreter", "imports")}
    lines += [
        "",
        "Targets (issue 4), whole process / push_image call:",
        f"- cold ≤ 1.1 × docker push: **{'met' if cold <= 1.1 else 'missed'}** ({cold:.2f}) / "
        f"**{'met' if cold_lib <= 1.1 else 'missed'}** ({cold_lib:.2f})",
        f"- warm: zero blob bytes — **{'met' if warm_uploads == 0 else 'missed'}** ({warm_uploads} upload "
        f"requests); ≤ 1.0 × docker push: **{'met' if warm <= 1.0 else 'missed'}** ({warm:.2f}) / "
        f"**{'met' if warm_lib <= 1.0 else 'missed'}** ({warm_lib:.2f})",
        "",
        "Reading it: the push itself is the engine's (the Docker SDK asks dockerd for the same push as "
        "`docker push`), so the cold push_image call is docker push plus a few ECR calls and, since its clock "
        "starts before them, creating the ECR client and importing and connecting the Docker SDK (warm, "
        f"with nothing to send, the call took {table['warm/' + LIBRARY]['median']:.2f} s: that is about what "
        "those cost). The whole process adds a fixed cost on top "
        f"({overhead:.2f} s cold, {warm_overhead:.2f} s warm: whole-process median minus call median), of "
        f"which measured here: starting Python {startup['interpreter']:.2f} s and the imports `ci-ecs push` "
        f"makes before the call {startup['imports']:.2f} s (`{PUSH_IMPORTS}` less `python -c pass`, "
        "medians); the rest is loading the config and the CLI's own work. `docker push` is a Go binary that "
        "starts in milliseconds. Against a local registry that fixed cost dominates; against ECR over a "
        "network, where pushing 50 MB takes seconds to minutes, it does not. Warm, ci-ecs sends nothing: it "
        "compares the image with what ECR's tag holds (DescribeImages, and the manifest's config digest "
        "from BatchGetImage when the engine has no RepoDigest for the repository) and skips the push; "
        "`docker push` asks the registry about every layer (its own cache answers most of it) and "
        "re-puts the manifest; `skopeo copy docker-daemon:` exports the image from the engine first.",
        "",
        "Raw samples (seconds, blob upload requests):",
        "",
    ]
    for sample in results.samples:
        lines.append(f"- {sample.phase} {sample.tool}: {sample.seconds:.3f} s, {sample.uploads}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text("\n".join(lines) + "\n")
    summary = {"runs": results.runs, "megabytes": results.megabytes, "table": table, "startup": results.startup}
    (out / "results.json").write_text(
        json.dumps({"summary": summary, "samples": [s.__dict__ for s in results.samples]}, indent=2)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("BENCH_QUICK")),
                        help="2 runs of a ~12 MB image (also BENCH_QUICK=1)")  # fmt: skip
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--megabytes", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    runs = args.runs or (2 if args.quick else 5)
    megabytes = args.megabytes or (12 if args.quick else 50)
    out = args.out or (HERE / "quick" if args.quick else HERE)
    for program in ("dockerd", "docker", "docker-registry", "skopeo"):
        if not shutil.which(program):
            print(f"bench/push: {program} is not installed", file=sys.stderr)
            return 2
    results = Results(runs=runs, megabytes=megabytes)
    with tempfile.TemporaryDirectory(prefix="ci-ecs-bench-push-") as tmp:
        workdir = Path(tmp)
        (workdir / "engine").mkdir()
        (workdir / "home").mkdir()
        with dockerd(workdir / "engine") as env:
            build_image(env, workdir, megabytes)
            for run in range(runs):
                # Turns within a run, so every ratio compares pushes made seconds apart.
                run_ci_ecs(env, workdir, run, results)
                measure_startup(env, results)
                run_peer("docker push", env, workdir, run, results)
                run_peer("skopeo copy", env, workdir, run, results)
                done = [s for s in results.samples if s.phase == "cold"][-4:]
                print(f"run {run + 1}/{runs}: " + ", ".join(f"{s.tool} {s.seconds:.2f}s" for s in done),
                      file=sys.stderr)  # fmt: skip
    table = summarise(results)
    write_report(results, table, out)
    print((out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
