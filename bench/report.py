"""bench/results.md and results.png from the runs bench/run.py measured.

    python bench/report.py [DIR]    # re-render DIR/results.md (+ .png) from DIR/results.json
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

TOOLS = ("ci-ecs", "ecs-deploy", "aws-cli")
PEERS = ("ecs-deploy", "aws-cli")
TITLES = {
    1: "1. First deploy (cluster, task definition, service)",
    2: "2. No-op redeploy",
    3: "3. Image change, followed to COMPLETED",
    4: "4. Failing image, to the failure being reported",
    5: "5. CLI start-up",
    6: "6. Many services",
    7: "7. Image change with verify, on the docker runtime",
}
Run = dict[str, Any]


def spread(values: Iterable[float], digits: int = 2) -> str:
    """'median (min–max)' of the values, or '–' when there are none."""
    vals = [v for v in values if v is not None]
    if not vals:
        return "–"
    med = statistics.median(vals)
    if min(vals) == max(vals):
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} ({min(vals):.{digits}f}–{max(vals):.{digits}f})"


def ints(values: Iterable[float]) -> str:
    vals = list(values)
    if not vals:
        return "–"
    med = statistics.median(vals)
    text = f"{med:g}"
    return text if min(vals) == max(vals) else f"{text} ({min(vals):g}–{max(vals):g})"


def median(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def pick(runs: list[Run], scenario: int, tool: str, kind: str | None = None) -> list[Run]:
    return [r for r in runs if r["scenario"] == scenario and r["tool"] == tool
            and (kind is None or r["extra"].get("kind") == kind)]


def ratios(runs: list[Run], scenario: int, peer: str, metric: Callable[[Run], float | None],
           kind: str | None = None) -> list[float]:
    """ci-ecs ÷ peer, iteration by iteration (runs made seconds apart on the same sandbox)."""
    mine = {r["iteration"]: metric(r) for r in pick(runs, scenario, "ci-ecs", kind)}
    out = []
    for r in pick(runs, scenario, peer, kind):
        a, b = mine.get(r["iteration"]), metric(r)
        if a is not None and b:
            out.append(a / b)
    return out


def wall(r: Run) -> float:
    return float(r["wall"])


def calls(r: Run) -> float:
    return float(r["calls"])


def scenario_table(runs: list[Run], scenario: int, kind: str | None = None) -> list[str]:
    extra_cols: list[tuple[str, Callable[[list[Run]], str]]] = []
    if scenario == 3:
        extra_cols = [
            ("sandbox rollout s", lambda rs: spread(r["extra"].get("rollout") for r in rs)),
            ("tool overhead s (wall − rollout)", lambda rs: spread(r["extra"].get("overhead") for r in rs)),
            ("start → UpdateService s", lambda rs: spread(r["extra"].get("before_deployment") for r in rs)),
            ("COMPLETED → exit s", lambda rs: spread(r["extra"].get("after_completed") for r in rs)),
        ]
    if scenario == 4:
        extra_cols = [
            ("FAILED → failure reported s", lambda rs: spread(r["extra"].get("detect") for r in rs)),
            ("reported failure", lambda rs: f"{sum(bool(r['extra'].get('reported_failure')) for r in rs)}/{len(rs)}"),
        ]
    if scenario == 7:
        extra_cols = [
            ("access verified by the tool", lambda rs: "yes" if all(r["extra"].get("verified") for r in rs)
             else ("no: cannot verify" if all(r["extra"].get("verified") is None for r in rs) else "FAILED")),
            ("tasks serving the new page at exit", lambda rs: ", ".join(str(r["extra"].get("answering")) for r in rs)),
        ]
    head = ["tool", "runs", "wall s", "ci-ecs ÷ tool, wall", "API calls", "ci-ecs ÷ tool, calls", "writes",
            "revisions", "peak RSS MB", "exit", *[c for c, _ in extra_cols]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for tool in TOOLS:
        rs = pick(runs, scenario, tool, kind)
        if not rs:
            continue
        if tool == "ci-ecs":
            wall_ratio = calls_ratio = "1"
        else:
            wall_ratio = spread(ratios(runs, scenario, tool, wall, kind))
            calls_ratio = spread(ratios(runs, scenario, tool, calls, kind)) if scenario != 5 else "–"
        codes = sorted({r["code"] for r in rs})
        row = [tool, str(len(rs)), spread(wall(r) for r in rs), wall_ratio, ints(r["calls"] for r in rs),
               calls_ratio, ints(r["writes"] for r in rs), ints(r["revisions"] for r in rs),
               ints(round(r["peak_rss_kb"] / 1024) for r in rs), ",".join(map(str, codes)),
               *[fn(rs) for _, fn in extra_cols]]
        lines.append("| " + " | ".join(row) + " |")
    ops = []
    for tool in TOOLS:
        rs = pick(runs, scenario, tool, kind)
        if rs and rs[0]["operations"]:
            listed = ", ".join(f"{k.split(':', 1)[1]}×{v}" if v > 1 else k.split(":", 1)[1]
                               for k, v in rs[0]["operations"].items())
            ops.append(f"- {tool} (run 1): {listed}")
    if ops:
        lines += ["", "Calls, as the sandbox logged them:", *ops]
    return lines


# --------------------------------------------------------------------------- targets


def targets(runs: list[Run], meta: dict[str, Any]) -> list[list[str]]:
    """[target, measured, verdict, reason / what would close it] rows."""
    rows: list[list[str]] = []

    noop = pick(runs, 2, "ci-ecs")
    if noop:
        writes = max(r["writes"] for r in noop)
        revs = max(r["revisions"] for r in noop)
        most = max(r["calls"] for r in noop)
        ok = writes == 0 and revs == 0 and most <= 10
        peer = pick(runs, 2, "ecs-deploy")
        contrast = (f"ecs-deploy: {ints(r['writes'] for r in peer)} writes, "
                    f"{ints(r['revisions'] for r in peer)} new revision per run") if peer else ""
        rows.append(["No-op redeploy: 0 writes, 0 new revisions, ≤ 10 API calls (IP lookup included)",
                     f"{writes} writes, {revs} revisions, at most {most} calls", verdict(ok),
                     contrast if ok else "a write or a revision on an unchanged deploy is a ci-ecs bug"])

    change = pick(runs, 3, "ci-ecs")
    overheads = [r["extra"]["overhead"] for r in change if "overhead" in r["extra"]]
    if overheads:
        med = statistics.median(overheads)
        within = sum(1 for o in overheads if o <= 1.0)
        before = median(r["extra"].get("before_deployment") for r in change)
        after = median(r["extra"].get("after_completed") for r in change)
        startup = median(wall(r) for r in pick(runs, 5, "ci-ecs"))
        why = ""
        if med > 1.0 and before is not None and after is not None:
            peer = pick(runs, 3, "ecs-deploy")
            pb = median(r["extra"].get("before_deployment") for r in peer)
            pa = median(r["extra"].get("after_completed") for r in peer)
            vs = f" (ecs-deploy: {pb:.2f} s and {pa:.2f} s)" if pb is not None and pa is not None else ""
            why = (f"median {before:.2f} s from process start to the deployment existing and {after:.2f} s from "
                   f"COMPLETED to exit{vs}. Before: interpreter, pydantic config model (~0.2 s of imports), "
                   "boto3, 4 calls before UpdateService. After: the first poll comes 1 s after UpdateService "
                   "and then every ~1 s (`MIN_POLL_SECONDS` in ci_ecs/wait.py), so COMPLETED is seen ~0.5 s "
                   "late on average, then ListTasks/DescribeTasks/DescribeNetworkInterfaces for the IPs. To "
                   "close it: poll every 0.25 s for the first ~5 s of a wait (≈ +12 DescribeServices per deploy) — "
                   "which breaks issue 6's budget of at most one call per second while waiting, so that "
                   "trade-off is left as it is — and keep pydantic out of the import path until a config "
                   "is loaded")
        rows.append(["Image change: wall ≤ the sandbox's own rollout + 1 s",
                     f"overhead (wall − rollout) median {med:.2f} s, {within}/{len(overheads)} runs ≤ 1 s",
                     verdict(med <= 1.0), why])

    failing = pick(runs, 4, "ci-ecs")
    detects = [r["extra"]["detect"] for r in failing if "detect" in r["extra"]]
    if detects:
        med = statistics.median(detects)
        aws = pick(runs, 4, "aws-cli")
        cap = meta.get("mode_settings", {}).get("aws_wait_cap")
        note = (f"aws-CLI: {sum(r['extra'].get('timed_out', False) for r in aws)}/{len(aws)} runs ran the "
                f"waiter into the {cap} s cap (exit 124); its own limit is 10 min") if aws else ""
        if med > 2.0:
            note = ("ci-ecs polls at up to its poll interval, then describes the stopped tasks and prints the "
                    "events before exiting; poll faster while tasks are failing. " + note)
        rows.append(["Failing image: failure reported ≤ 2 s after the sandbox marks the deployment FAILED",
                     f"median {med:.2f} s (max {max(detects):.2f} s)", verdict(med <= 2.0), note])

    startup = pick(runs, 5, "ci-ecs")
    if startup:
        med = statistics.median(wall(r) for r in startup)
        ratio = ratios(runs, 5, "ecs-deploy", wall)
        rmed = statistics.median(ratio) if ratio else None
        ok = med <= 0.15 and (rmed is not None and rmed <= 0.5)
        why = "" if ok else ("`ci-ecs --help` must not import boto3, pydantic or the docker SDK: import them inside "
                             "the commands that use them")
        rows.append(["Start-up: `ci-ecs --help` ≤ 0.15 s median and ≤ 0.5 × `ecs --help`",
                     f"{med:.3f} s median; {rmed:.2f} × `ecs --help` (run by run)" if rmed is not None
                     else f"{med:.3f} s", verdict(ok), why])

    singles = {r["iteration"]: wall(r) for r in pick(runs, 6, "ci-ecs", "single")}
    batches = pick(runs, 6, "ci-ecs", "batch")
    if singles and batches:
        rs = [wall(r) / singles[r["iteration"]] for r in batches if r["iteration"] in singles]
        med = statistics.median(rs)
        n = batches[0]["extra"].get("services")
        why = ""
        if med > 2.0:
            why = (f"one ci-ecs process deploys the {n} services of a `services:` list at once, but each "
                   "service's wait polls on its own thread; polling all deployments with one DescribeServices "
                   "per 10 services would cut the calls and the CPU contention")
        rows.append([f"Many services ({n}): total ≤ 2 × one service's time",
                     f"{spread(rs)} × one service", verdict(med <= 2.0), why])
    return rows


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


# --------------------------------------------------------------------------- chart


def chart(runs: list[Run], path: Path) -> str | None:
    """Grouped bars of ci-ecs ÷ peer (median, min–max whiskers) per scenario; None when no matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no chart (pip install matplotlib)"
    labels = {1: "first\ndeploy", 2: "no-op\nredeploy", 3: "image\nchange", 4: "failing\nimage", 5: "start-up",
              6: "many\nservices", 7: "verify on\ndocker"}
    scenarios = sorted({r["scenario"] for r in runs})
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (metric, name) in zip(axes, ((wall, "wall time"), (calls, "AWS API calls")), strict=True):
        shown = [s for s in scenarios if not (metric is calls and s == 5)]
        for k, peer in enumerate(PEERS):
            meds, lo, hi = [], [], []
            for s in shown:
                kind = "batch" if s == 6 else None
                rs = ratios(runs, s, peer, metric, kind) or [float("nan")]
                m = statistics.median(rs)
                meds.append(m)
                lo.append(m - min(rs))
                hi.append(max(rs) - m)
            xs = [i + (k - 0.5) * 0.38 for i in range(len(shown))]
            bars = ax.bar(xs, meds, width=0.36, yerr=[lo, hi], capsize=3, label=f"vs {peer}",
                          color=("#4c72b0", "#dd8452")[k])
            for bar, m in zip(bars, meds, strict=True):
                if m == m:  # not NaN
                    ax.annotate(f"{m:.2f}", (bar.get_x() + bar.get_width() / 2, m), ha="center", va="bottom",
                                fontsize=7, xytext=(0, 2), textcoords="offset points")
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
        ax.set_xticks(range(len(shown)), [labels[s] for s in shown], fontsize=8)
        ax.set_title(f"ci-ecs {name} ÷ peer's (run by run; < 1: ci-ecs better)", fontsize=9)
        ax.set_ylim(0, max(1.6, ax.get_ylim()[1]))
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


# --------------------------------------------------------------------------- document


def write_report(out: Path, meta: dict[str, Any], runs: list[Run]) -> None:
    settings = meta.get("mode_settings", {})
    versions = meta.get("versions", {})
    n = settings.get("runs", {})
    chart_note = chart(runs, out / "results.png")
    lines = [
        "# Benchmarks: ci-ecs, fabfuel/ecs-deploy and an aws-CLI script on the sandbox",
        "",
        f"Generated by `python bench/run.py{' --quick' if meta['mode'] == 'quick' else ''}` "
        f"({meta['mode']} mode) on {meta['date']}, {meta.get('total_seconds', '?')} s in all. "
        f"Raw runs: [results.json](results.json). Method and scenarios: [README.md](README.md).",
        "",
        f"- Tools: ci-ecs {versions.get('ci-ecs')}, fabfuel/ecs-deploy {versions.get('ecs-deploy')} (`ecs deploy "
        f"CLUSTER SERVICE --image web IMAGE --timeout 120`), `{versions.get('aws --version')}` with "
        f"{versions.get('jq')} in [peers/aws-cli-deploy.sh](peers/aws-cli-deploy.sh); Python "
        f"{versions.get('python')}, moto {versions.get('moto')}, {versions.get('cpus')} CPUs "
        f"(load average {meta.get('loadavg_start')} at start, {meta.get('loadavg_end')} at end: other work shared "
        "the machine).",
        f"- Sandbox: one per scenario, in its own process; task start delay **{meta['task_start_seconds']} s** "
        "(PROVISIONING → RUNNING; stopping takes half), scheduler tick 0.1 s. Every service: Fargate, desired "
        f"count {meta['desired_count']}, awsvpc with a public IP, minimum/maximum 100/200 %, circuit breaker on "
        "without rollback.",
        "- The tools take turns, run by run, each on its own cluster; ratios are ci-ecs ÷ peer within each "
        "iteration, then median (min–max) over iterations. API calls, writes (every call but Describe*/List*/"
        "Get*/BatchGet*) and revisions (RegisterTaskDefinition calls) are the sandbox's request log for the run. "
        "Peak RSS: the largest process of the run (GNU time `%M`).",
        f"- Runs per tool: {', '.join(f'scenario {k}: {v}' for k, v in n.items())}.",
    ]
    if meta.get("errors"):
        lines += ["", "**Scenarios that failed:** " + "; ".join(f"{k}: {v}" for k, v in meta["errors"].items())]
    lines += ["", "![ci-ecs ÷ peer, wall time and API calls](results.png)" if chart_note is None else chart_note, ""]
    lines += ["## Targets (issue 7)", "", "| target | measured | verdict | reason / what would close it |",
              "|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in targets(runs, meta)]
    cap = settings.get("aws_wait_cap")
    notes = {
        1: "ci-ecs creates the cluster, task definition and service itself. The peers cannot: their pipeline runs "
           "[peers/aws-cli-create.sh](peers/aws-cli-create.sh) (create-cluster, register-task-definition, "
           "create-service) and then its usual deploy, both counted — so each registers a second, identical "
           "revision and starts a second deployment.",
        2: "The service already runs the image (set up beforehand, not counted); each tool deploys it again.",
        3: "A new image tag every iteration. *Sandbox rollout*: the deployment's createdAt to its 'deployment "
           "completed' event (2 new tasks start, then 2 old ones stop). *Overhead*: wall − rollout, split into "
           "process start → the deployment existing, and COMPLETED → exit. The aws CLI waiter polls every 15 s: "
           "if its first poll comes before COMPLETED it sleeps 15 s.",
        4: f"A fresh service per iteration, then an image in the sandbox's ECR that is not there: tasks stop with "
           f"CannotPullContainerError and, after 3 failed tasks, the circuit breaker marks the deployment FAILED "
           f"(no rollback configured). *FAILED → failure reported*: the sandbox's 'deployment failed' event to the "
           f"tool's exit. ci-ecs runs with `--no-rollback` (the peers do not roll back either). The aws-CLI "
           f"waiter never sees 'stable' (two deployments) and runs until the benchmark's cap of **{cap} s** "
           f"(`timeout {cap}`, exit 124) — without the cap it would wait 10 minutes and exit 255.",
        5: "`ci-ecs --help` vs `ecs --help` vs `aws --version`; no sandbox, no AWS calls.",
        6: f"ci-ecs deploys a config with a `services:` list of all **{settings.get('services')}** services in "
           f"one process (`deploy.parallelism: {settings.get('services')}`), against the peers "
           f"deploying the same {settings.get('services')} services one after another, as a pipeline would. Each "
           "service changes image. Rows are the whole batch; *one service* is one deploy of the first service "
           "just before, in the same sandbox.",
        7: "The sandbox's docker runtime: every task is a container (busybox httpd, FROM scratch) answering on a "
           "loopback public IP. Each iteration builds a new page image and pushes it to the sandbox's ECR. ci-ecs "
           "deploys with `verify:` — after COMPLETED it fetches the page from every task's public IP and fails "
           "(and rolls back) if one does not answer. fabfuel/ecs-deploy and the aws CLI have no such check: "
           "**they cannot verify access**, they report the rollout only. *Tasks serving the new page at exit*: "
           "counted by the benchmark itself right after each tool exits (not part of the measured run).",
    }
    for scenario, said in sorted((meta.get("notes") or {}).items()):
        lines += ["", f"## {TITLES[int(scenario)]}", "", *said]
    for scenario in sorted({r["scenario"] for r in runs}):
        lines += ["", f"## {TITLES[scenario]}", "", notes[scenario], ""]
        if scenario == 6:
            lines += ["**One service**", "", *scenario_table(runs, 6, "single"), "",
                      f"**All {settings.get('services')} services**", "", *scenario_table(runs, 6, "batch")]
            for tool in TOOLS:
                singles = {r["iteration"]: wall(r) for r in pick(runs, 6, tool, "single")}
                rs = [wall(r) / singles[r["iteration"]] for r in pick(runs, 6, tool, "batch")
                      if r["iteration"] in singles]
                if rs:
                    lines.append(f"- {tool}: all services ÷ one service = {spread(rs)}")
        else:
            lines += scenario_table(runs, scenario)
    (out / "results.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else Path(__file__).resolve().parent
    data = json.loads((out / "results.json").read_text())
    write_report(out, data["meta"], data["runs"])
    print(f"wrote {out / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
