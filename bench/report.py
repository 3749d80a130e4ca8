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
# Scenario 3's extra row: ci-ecs with deploy.stable_seconds 0, ecs-deploy's guarantee (success at COMPLETED).
CI_W0 = "ci-ecs (stable window 0)"
CI_TOOLS = ("ci-ecs", CI_W0)
ROWS = ("ci-ecs", CI_W0, "ecs-deploy", "aws-cli")
# A poll: DescribeServices (the peers; ci-ecs before UpdateService) or DescribeServiceDeployments (ci-ecs's waits).
POLLS = ("DescribeServices", "DescribeServiceDeployments")
# Items one call takes (API reference): DescribeServices 10 services, DescribeServiceDeployments 20 ARNs.
POLL_BATCH = {"DescribeServices": 10, "DescribeServiceDeployments": 20}
TITLES = {
    1: "1. First deploy (cluster, task definition, service)",
    2: "2. No-op redeploy",
    3: "3. Image change, followed to COMPLETED",
    4: "4. Failing image, to the failure being reported",
    5: "5. CLI start-up",
    6: "6. Many services",
    7: "7. Image change with verify, on the docker runtime",
    8: "8. Throttled scale: ECS's documented request throttling (`--rate-limits aws`)",
    9: "9. Image change, followed to COMPLETED, on ECS-like timings (`--timing ecs`)",
    10: "10. Throttled scale on ECS-like timings (`--timing ecs --rate-limits aws`, unscaled)",
}
# The image-change scenario on each timing profile: 3 on the fast one (1 s task starts, no load balancer), 9 on the
# ECS-like one (ci_ecs/sandbox/timing.py, behind a target group with ELB's 300 s deregistration delay).
PROFILES = ((3, "fast"), (9, "ECS-like"))
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
           kind: str | None = None, me: str = "ci-ecs") -> list[float]:
    """`me` (ci-ecs) ÷ peer, iteration by iteration (runs made seconds apart on the same sandbox)."""
    # The peers' concurrent row is compared with ci-ecs's one-process batch (ci-ecs has no concurrent row).
    mine_kind = "batch" if kind == "concurrent" else kind
    mine = {r["iteration"]: metric(r) for r in pick(runs, scenario, me, mine_kind)}
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


def polls(r: Run) -> int:
    """The run's poll calls, of either kind."""
    return sum(r["operations"].get(f"ecs:{op}", 0) for op in POLLS)


def scenario_table(runs: list[Run], scenario: int, kind: str | None = None) -> list[str]:
    extra_cols: list[tuple[str, Callable[[list[Run]], str]]] = []
    if scenario in (3, 9):
        extra_cols = [
            ("sandbox rollout s", lambda rs: spread(r["extra"].get("rollout") for r in rs)),
            ("wall − rollout s", lambda rs: spread(r["extra"].get("overhead") for r in rs)),
            ("stable window after COMPLETED s", lambda rs: spread(r["extra"].get("window_after_completed")
                                                                  for r in rs)),
            ("overhead s (wall − rollout − window)", lambda rs: spread(
                r["extra"].get("overhead_net", r["extra"].get("overhead")) for r in rs)),
            ("start → UpdateService s", lambda rs: spread(r["extra"].get("before_deployment") for r in rs)),
            ("calls before UpdateService", lambda rs: ints(r["extra"]["calls_before_update"] for r in rs
                                                           if "calls_before_update" in r["extra"])),
            ("COMPLETED → next poll s", lambda rs: spread(r["extra"].get("completed_seen") for r in rs)),
            ("poll gap s", lambda rs: spread(r["extra"].get("poll_gap") for r in rs)),
            ("COMPLETED → exit s", lambda rs: spread(r["extra"].get("after_completed") for r in rs)),
            ("last call → exit s", lambda rs: spread(r["extra"].get("last_call_to_exit") for r in rs)),
        ]
    if scenario == 5:
        extra_cols = [
            ("deploy-path imports s", lambda rs: spread([r["extra"].get("deploy_imports") for r in rs], 3)),
            ("their RSS MB", lambda rs: ints(round(r["extra"]["deploy_imports_rss_kb"] / 1024) for r in rs
                                             if "deploy_imports_rss_kb" in r["extra"])),
        ]
    if scenario == 4:
        extra_cols = [
            ("FAILED → next poll s", lambda rs: spread(r["extra"].get("failed_seen") for r in rs)),
            ("poll gap s", lambda rs: spread(r["extra"].get("poll_gap") for r in rs)),
            ("FAILED → failure reported s", lambda rs: spread(r["extra"].get("detect") for r in rs)),
            ("reported failure", lambda rs: f"{sum(bool(r['extra'].get('reported_failure')) for r in rs)}/{len(rs)}"),
        ]
    if scenario == 7:
        extra_cols = [
            ("access verified by the tool", lambda rs: "yes" if all(r["extra"].get("verified") for r in rs)
             else ("no: cannot verify" if all(r["extra"].get("verified") is None for r in rs) else "FAILED")),
            ("tasks serving the new page at exit", lambda rs: ", ".join(str(r["extra"].get("answering")) for r in rs)),
        ]
    w0 = bool(pick(runs, scenario, CI_W0, kind))
    if w0:  # the like-for-like comparison: ci-ecs without the stable window ÷ each tool
        extra_cols.insert(0, ("ci-ecs (stable window 0) ÷ tool, wall",
                              lambda rs: "1" if rs[0]["tool"] == CI_W0 else spread(
                                  ratios(runs, scenario, rs[0]["tool"], wall, kind, me=CI_W0))))
    head = ["tool", "runs", "wall s", "ci-ecs ÷ tool, wall", "API calls", "ci-ecs ÷ tool, calls", "writes",
            "revisions", "peak RSS MB", "exit", *[c for c, _ in extra_cols]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for tool in ROWS:
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
    for tool in ROWS:
        rs = pick(runs, scenario, tool, kind)
        if rs and rs[0]["operations"]:
            listed = ", ".join(f"{k.split(':', 1)[1]}×{v}" if v > 1 else k.split(":", 1)[1]
                               for k, v in rs[0]["operations"].items())
            ops.append(f"- {tool} (run 1): {listed}")
    if ops:
        lines += ["", "Calls, as the sandbox logged them:", *ops]
    return lines


def _label(phase: dict[str, Any]) -> str:
    return f"{phase['name']} {phase['stage']}" if phase.get("stage") else str(phase["name"])


def phase_table(runs: list[Run], scenario: int, kind: str | None = None,
                meta: dict[str, Any] | None = None) -> list[str]:
    """Where ci-ecs's time went, as ci-ecs measured it (the `phases` of its JSON result, issue 27): per phase the
    median seconds over the runs that had it, and what it waited on (from the first run that says); then the
    time outside the deploy's phases (wall − durationSeconds: interpreter start, imports, config, output). A
    `services:` deploy adds each service's own phases (median over its services, then over runs). [] when no
    run carries phases (results measured before issue 27) and `meta` has none measured apart (bench/merge.py
    --phases: meta["phase_runs"])."""
    tables: list[str] = []
    apart = (meta or {}).get("phase_runs") or []
    for tool in CI_TOOLS:
        rs = [r for r in pick(runs, scenario, tool, kind) if r["extra"].get("phases")]
        if not rs and [r for r in pick(apart, scenario, tool, kind) if r["extra"].get("phases")]:
            rs = [r for r in pick(apart, scenario, tool, kind) if r["extra"].get("phases")]
            note = str((meta or {}).get("phase_runs_measured", {}).get(str(scenario), "Measured apart."))
            tables += [] if note in tables else [note, ""]
        if not rs:
            continue
        seconds: dict[str, list[float]] = {}
        waited: dict[str, str] = {}
        for r in rs:
            for phase in r["extra"]["phases"]:
                label = _label(phase)
                seconds.setdefault(label, []).append(float(phase["seconds"]))
                waited.setdefault(label, str(phase.get("waitedOn") or ""))
        rows = [(label, spread(v), f"{len(v)}/{len(rs)}", waited[label]) for label, v in seconds.items()]
        rows.append(("(outside the phases: process start, imports, config, output)",
                     spread(r["extra"].get("outside_phases") for r in rs), f"{len(rs)}/{len(rs)}", ""))
        for label in (rs[0]["extra"].get("service_phases") or {}):
            values = [x["extra"]["service_phases"][label] for x in rs if label in x["extra"].get("service_phases", {})]
            rows.append((f"each service: {label}", spread(values), f"{len(values)}/{len(rs)}",
                         "median over the services"))
        tables += [f"**Where {tool}'s time went** (its own `phases`, read from its JSON result; median (min–max) "
                   "seconds)", "", "| phase | s | runs with it | waited on (first run) |", "|---|---|---|---|",
                   *[f"| {label} | {value} | {count} | {what.replace('|', '/')} |" for label, value, count, what
                     in rows], ""]
    return tables


# --------------------------------------------------------------------------- targets


def _med_ratio(runs: list[Run], scenario: int, peer: str, metric: Callable[[Run], float | None],
               kind: str | None = None, me: str = "ci-ecs") -> float | None:
    return median(ratios(runs, scenario, peer, metric, kind, me))


def rss(r: Run) -> float:
    return float(r["peak_rss_kb"])


def _issue_27_rows(runs: list[Run], overheads: list[tuple[str, float, list[float]]]) -> list[list[str]]:
    """Issue 27's image-change targets: ≤ 12 API calls like for like, and the default settings' overhead beyond
    the sandbox's rollout and the crash window (deploy.stable_seconds, from when each task was first seen HEALTHY:
    its startedAt here, no container health checks) ≤ 0.3 s."""
    rows: list[list[str]] = []
    like = pick(runs, 3, CI_W0)
    if like:
        most = max(r["calls"] for r in like)
        fab = [r["calls"] for r in pick(runs, 3, "ecs-deploy")]
        ops = ", ".join(f"{k.split(':', 1)[1]}×{n}" if n > 1 else k.split(":", 1)[1]
                        for k, n in like[0]["operations"].items())
        rows.append(["Image change, like for like (`deploy.stable_seconds: 0`): ≤ 12 API calls (issue 27)",
                     f"at most {most} calls ({ints(r['calls'] for r in like)}); ecs-deploy "
                     f"{ints(fab) if fab else '–'}", verdict(most <= 12), f"calls (run 1): {ops}"])
    default = next(((med, over) for tool, med, over in overheads if tool == "ci-ecs"), None)
    if default is not None:
        rows.append(_default_overhead_row(runs, 3, *default))
    ecs_like = [r["extra"]["overhead_net"] for r in pick(runs, 9, "ci-ecs") if "overhead_net" in r["extra"]]
    if ecs_like:
        rows.append(_default_overhead_row(runs, 9, statistics.median(ecs_like), ecs_like))
    for scenario, name in PROFILES:
        cost = crash_window_cost(runs, scenario)
        if cost:
            rows.append([f"What the crash window (`deploy.stable_seconds`, {STABLE_WINDOW_NOTE}) costs, {name} "
                         "timings (issue 27; measured, no target)", cost[0], "measured", cost[1]])
    return rows


STABLE_WINDOW_NOTE = "default 5 s"


def crash_window_cost(runs: list[Run], scenario: int) -> tuple[str, str] | None:
    """(measured, how) for the crash window on one profile: ci-ecs's wall less ci-ecs (stable window 0)'s, run by
    run in the same turns, and the part of the window left after the sandbox's COMPLETED (the rest overlapped the
    rollout, e.g. old tasks draining)."""
    zero = {r["iteration"]: wall(r) for r in pick(runs, scenario, CI_W0)}
    mine = pick(runs, scenario, "ci-ecs")
    extra = [wall(r) - zero[r["iteration"]] for r in mine if r["iteration"] in zero]
    left = [r["extra"]["window_after_completed"] for r in mine if "window_after_completed" in r["extra"]]
    if not extra:
        return None
    rollout = median(r["extra"].get("rollout") for r in mine)
    wall_med = median(wall(r) for r in mine)
    share = f"; {statistics.median(extra) / wall_med:.0%} of ci-ecs's wall" if wall_med else ""
    return (f"{statistics.median(extra):+.2f} s ({spread(extra)}) a deploy{share}",
            f"ci-ecs − ci-ecs (stable window 0), wall, run by run ({len(extra)} runs); window left after COMPLETED "
            f"{spread(left)} s (the rest of it ran while the rollout was still going: new tasks' checks, old tasks "
            f"draining); sandbox rollout {'–' if rollout is None else f'{rollout:.2f}'} s")


def profiles_side_by_side(runs: list[Run]) -> list[str]:
    """Scenario 3 (fast timings) and 9 (ECS-like) next to each other, tool by tool: wall, the sandbox's rollout, the
    tool's overhead beyond it (ci-ecs: beyond the rollout and the window left after COMPLETED), and ÷ ecs-deploy."""
    if not pick(runs, 3, "ci-ecs") or not pick(runs, 9, "ci-ecs"):
        return []
    head = ["tool"]
    for _, name in PROFILES:
        head += [f"{name}: wall s", f"{name}: rollout s", f"{name}: overhead s", f"{name}: ÷ ecs-deploy, wall"]
    lines = ["**Both timing profiles side by side** (medians (min–max); scenario 3: fast, scenario 9: ECS-like)", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for tool in ROWS:
        row = [tool]
        for scenario, _ in PROFILES:
            rs = pick(runs, scenario, tool)
            ratio = "1" if tool == "ecs-deploy" else spread(
                1 / x for x in ratios(runs, scenario, tool, wall, me="ecs-deploy") if x)
            row += [spread(wall(r) for r in rs), spread(r["extra"].get("rollout") for r in rs),
                    spread(r["extra"].get("overhead_net", r["extra"].get("overhead")) for r in rs), ratio]
        lines.append("| " + " | ".join(row) + " |")
    for scenario, name in PROFILES:
        cost = crash_window_cost(runs, scenario)
        if cost:
            lines.append(f"- Crash window, {name} timings: {cost[0]} ({cost[1]}).")
    return lines


def _default_overhead_row(runs: list[Run], scenario: int, med: float, over: list[float]) -> list[str]:
    """Issue 27's 'default settings' target on one profile: ci-ecs's overhead beyond the sandbox's rollout and the
    crash window (from HEALTHY) ≤ 0.3 s, with the measured reason for a miss."""
    rs = pick(runs, scenario, "ci-ecs")
    start = median(r["extra"].get("before_deployment") for r in rs)
    end = median(r["extra"]["after_completed"] - r["extra"].get("window_after_completed", 0) for r in rs
                 if "after_completed" in r["extra"])
    why = ""
    if med > 0.3 and start is not None and end is not None:
        seen = median(r["extra"].get("completed_seen") for r in rs)
        gap = median(r["extra"].get("poll_gap") for r in rs)
        late = ("" if seen is None or gap is None else
                f"; COMPLETED → ci-ecs's next poll {seen:.2f} s of it (its polls {gap:.2f} s apart)")
        why = (f"start → UpdateService {start:.2f} s (imports, config, pre-flight, 3 reads and the "
               f"registration) + after the window {end:.2f} s (the window's last reads and exit{late})"
               + (": the start alone is over 0.3 s" if start > 0.3 else ""))
    name = dict(PROFILES)[scenario]
    return [f"Image change, default settings: overhead beyond the sandbox's rollout and the crash window "
            f"(from HEALTHY) ≤ 0.3 s (issue 27) — {name} timings (scenario {scenario})",
            f"median {med:.2f} s ({spread(over)})", verdict(med <= 0.3), why]


def targets(runs: list[Run], meta: dict[str, Any]) -> list[list[str]]:
    """[target, measured, verdict, reason] rows for issue 17's targets, every figure from the runs."""
    rows: list[list[str]] = []

    fab = pick(runs, 3, "ecs-deploy")
    fab_wall = median(wall(r) for r in fab)
    fab_roll = median(r["extra"].get("rollout") for r in fab)
    fab_over = median(r["extra"].get("overhead") for r in fab)
    fab_seen = median(r["extra"].get("completed_seen") for r in fab)
    overheads: list[tuple[str, float, list[float]]] = []
    for tool in CI_TOOLS:
        change = pick(runs, 3, tool)
        ratio = _med_ratio(runs, 3, "ecs-deploy", wall, me=tool)
        if not change or ratio is None or fab_wall is None:
            continue
        x = {key: median(r["extra"].get(key) for r in change) for key in (
            "rollout", "window_after_completed", "overhead_net", "before_deployment", "completed_seen",
            "after_completed", "last_call_to_exit", "poll_gap")}
        ci_wall = statistics.median(wall(r) for r in change)
        stable = change[0]["extra"].get("stable_seconds", meta.get("stable_seconds"))
        bound = 0.9 * fab_wall
        parts = []
        rollout, window, net = x["rollout"], x["window_after_completed"], x["overhead_net"]
        if rollout is not None and window is not None and net is not None:
            parts.append(f"ci-ecs's wall {ci_wall:.2f} s = rollout {rollout:.2f} + stable window left after "
                         f"COMPLETED {window:.2f} + overhead {net:.2f} s; "
                         f"ecs-deploy's {fab_wall:.2f} s = rollout {fab_roll or 0:.2f} + overhead "
                         f"{fab_over or 0:.2f} s (medians); ≤ 0.9× needs ≤ {bound:.2f} s")
            floor = rollout + window
            if tool == "ci-ecs" and ratio > 0.9 and floor > bound:
                parts.append(f"the rollout and the window alone ({floor:.2f} s) are over that bound: deploy."
                             f"stable_seconds ({stable:g} s, issue 10: the newest task must run that long before "
                             "success; ecs-deploy has no window after COMPLETED) makes the target unreachable "
                             "with the default, by design. The row below is the like-for-like comparison")
            elif ratio > 0.9:
                parts.append(f"{ci_wall - bound:.2f} s over it")
        if x["completed_seen"] is not None and x["after_completed"] is not None:
            parts.append(f"COMPLETED → next poll {x['completed_seen']:.2f} s (ecs-deploy "
                         f"{'–' if fab_seen is None else f'{fab_seen:.2f}'} s), COMPLETED → exit "
                         f"{x['after_completed']:.2f} s")
        if x["before_deployment"] is not None:
            pb = median(r["extra"].get("before_deployment") for r in fab)
            parts.append(f"start → UpdateService {x['before_deployment']:.2f} s (ecs-deploy "
                         f"{'–' if pb is None else f'{pb:.2f}'} s)")
        label = ("default stable window" if tool == "ci-ecs" else "`deploy.stable_seconds: 0`, ecs-deploy's "
                 "guarantee (like for like)")
        rows.append([f"Image change to COMPLETED, IPs reported: ≤ 0.9 × ecs-deploy's wall (median, run by run) — "
                     f"{tool}, {label}",
                     f"{ratio:.2f} × ({spread(ratios(runs, 3, 'ecs-deploy', wall, me=tool))}; {len(change)} runs)",
                     verdict(ratio <= 0.9), "; ".join(parts)])
        over = [r["extra"]["overhead_net"] for r in change if "overhead_net" in r["extra"]]
        if over:
            overheads.append((tool, statistics.median(over), over))
    if overheads:
        ci_runs = pick(runs, 3, "ci-ecs")
        imports = median(r["extra"].get("deploy_imports") for r in pick(runs, 5, "ci-ecs"))
        calls_before = median(r["extra"].get("calls_before_update") for r in ci_runs)
        tail = median(r["extra"].get("last_call_to_exit") for r in ci_runs)
        # overhead = (start → UpdateService) + (COMPLETED → exit − window left after COMPLETED), run by run.
        split = []
        for tool, _, _ in overheads:
            rs = pick(runs, 3, tool)
            start = median(r["extra"].get("before_deployment") for r in rs)
            end = median(r["extra"]["after_completed"] - r["extra"].get("window_after_completed", 0) for r in rs
                         if "after_completed" in r["extra"])
            if start is not None and end is not None:
                split.append(f"{tool}: start → UpdateService {start:.2f} s + COMPLETED → exit less the window "
                             f"{end:.2f} s")
        parts = ["; ".join(split), f"{calls_before:g} calls before UpdateService" if calls_before is not None else "",
                 f"deploy-path imports {imports:.2f} s (scenario 5)" if imports is not None else "",
                 f"last call → exit {tail:.2f} s" if tail is not None else "",
                 f"ecs-deploy's overhead {fab_over:.2f} s" if fab_over is not None else "",
                 # scenario 3 measured apart (bench/merge.py): its own run's load
                 str(meta.get("scenario_3_measured") or load_note(meta))]
        rows.append(["Image change: tool overhead (wall − sandbox rollout − stable window after COMPLETED) ≤ 0.7 s",
                     "; ".join(f"{tool}: median {med:.2f} s ({spread(over)})" for tool, med, over in overheads),
                     verdict(all(med <= 0.7 for _, med, _ in overheads)), "; ".join(p for p in parts if p)])

    rows.extend(_issue_27_rows(runs, overheads))

    failing = pick(runs, 4, "ci-ecs")
    detects = [r["extra"]["detect"] for r in failing if "detect" in r["extra"]]
    if detects:
        med = statistics.median(detects)
        peer = median(r["extra"].get("detect") for r in pick(runs, 4, "ecs-deploy"))
        seen = median(r["extra"].get("failed_seen") for r in failing)
        ok = med <= 1.0 and (peer is None or med <= peer)
        gap = median(r["extra"].get("poll_gap") for r in failing)
        note = (f"FAILED → ci-ecs's next poll {seen:.2f} s (poll lateness; its polls came a median "
                f"{'–' if gap is None else f'{gap:.2f}'} s apart), the rest is reporting and exit"
                ) if seen is not None else ""
        rows.append(["Failing image: failure reported ≤ 1 s after FAILED, ≤ ecs-deploy",
                     f"median {med:.2f} s (max {max(detects):.2f} s); ecs-deploy "
                     f"{'–' if peer is None else f'{peer:.2f}'} s", verdict(ok), note])

    noop = pick(runs, 2, "ci-ecs")
    if noop:
        writes = max(r["writes"] for r in noop)
        most = max(r["calls"] for r in noop)
        ratio = _med_ratio(runs, 2, "ecs-deploy", wall)
        ok = writes == 0 and most <= 5 and ratio is not None and ratio <= 0.5
        ops = ", ".join(k.split(":", 1)[1] for k in noop[0]["operations"])
        rows.append(["No-op redeploy: ≤ 5 calls, 0 writes, ≤ 0.5 × ecs-deploy's wall",
                     f"at most {most} calls, {writes} writes, {'–' if ratio is None else f'{ratio:.2f}'} × wall",
                     verdict(ok), f"calls: {ops}"])

    worse = []
    measured = []
    for scenario in sorted({r["scenario"] for r in runs}):
        for kind, tool in ([(None, t) for t in CI_TOOLS] if scenario != 6 else
                           [("single", "ci-ecs"), ("batch", "ci-ecs")]):
            mine = median(rss(r) for r in pick(runs, scenario, tool, kind))
            theirs = median(rss(r) for r in pick(runs, scenario, "ecs-deploy", kind))
            if mine is None or theirs is None:
                continue
            label = f"{scenario}{'' if kind is None else ' ' + kind}{' window 0' if tool == CI_W0 else ''}"
            measured.append(f"{label}: {mine / 1024:.0f}/{theirs / 1024:.0f}")
            if mine > theirs:
                worse.append(label)
    if measured:
        imports_rss = median(r["extra"].get("deploy_imports_rss_kb") for r in pick(runs, 5, "ci-ecs"))
        fab_imports = median(r["extra"].get("deploy_imports_rss_kb") for r in pick(runs, 5, "ecs-deploy"))
        why = ""
        if worse and imports_rss is not None and fab_imports is not None:
            why = (f"higher in scenario(s) {', '.join(worse)}: the deploy path's imports alone take "
                   f"{imports_rss / 1024:.0f} MB (ecs-deploy's {fab_imports / 1024:.0f} MB, scenario 5)")
        rows.append(["Peak RSS ≤ ecs-deploy's in every scenario", "ci-ecs/ecs-deploy MB, median: " +
                     "; ".join(measured), verdict(not worse), why])

    singles = {r["iteration"]: wall(r) for r in pick(runs, 6, "ci-ecs", "single")}
    batches = pick(runs, 6, "ci-ecs", "batch")
    if singles and batches:
        per_one = [wall(r) / singles[r["iteration"]] for r in batches if r["iteration"] in singles]
        med = statistics.median(per_one)
        n = batches[0]["extra"].get("services")
        rows.append([f"Many services ({n}): ≤ 1.5 × one service", f"{spread(per_one)} × one service",
                     verdict(med <= 1.5), ""])
        if n:
            rows.append(batching(runs, int(n), batches))

    startup = pick(runs, 5, "ci-ecs")
    ratio = _med_ratio(runs, 5, "ecs-deploy", wall)
    if startup and ratio is not None:
        med = statistics.median(wall(r) for r in startup)
        rows.append(["Start-up: `ci-ecs --help` ≤ 0.3 × `ecs --help`",
                     f"{ratio:.2f} × ({med:.3f} s median)", verdict(ratio <= 0.3), ""])
    return rows


def batching(runs: list[Run], n: int, batches: list[Run]) -> list[str]:
    """The target row "one batched poll for all services instead of one per service": ci-ecs's poll calls of
    either kind in the N-service run, with the services / deployment ARNs each asked about (the sandbox logs them).

    Batched means each round of polls asks about every waiting service in ceil(N / limit) calls (limits from
    the API reference: DescribeServices 10 services a call, DescribeServiceDeployments 20 ARNs): for the
    service-polls a run made (`items`), at most ceil(items / N) × ceil(N / limit) calls; one call per service
    per poll would be `items` calls. How many rounds the services needed is compared with a lone deploy's."""
    singles = pick(runs, 6, "ci-ecs", "single")
    ok = True
    calls_seen = []
    ideal_seen = []
    unbatched_seen = []
    said, rounds = [], []
    for run in batches:
        calls = ideal = unbatched = 0
        for op in POLLS:
            asked = run["extra"].get("poll_items", {}).get(op, [])
            count = run["operations"].get(f"ecs:{op}", 0)
            items = sum(asked)
            calls += count
            unbatched += items
            ideal += -(-items // n) * -(-n // POLL_BATCH[op])
        ok = ok and calls <= ideal
        calls_seen.append(calls)
        ideal_seen.append(ideal)
        unbatched_seen.append(unbatched)
    for op in POLLS:
        per_call = [i for r in batches for i in r["extra"].get("poll_items", {}).get(op, [])]
        if not per_call:
            continue
        alone = median(r["operations"].get(f"ecs:{op}", 0) for r in singles)
        per_service = [sum(r["extra"]["poll_items"].get(op, [])) / n for r in batches if "poll_items" in r["extra"]]
        said.append(f"{op} {len(per_call) / len(batches):g} calls a run asking about {statistics.mean(per_call):.1f} "
                    f"{'services' if op == 'DescribeServices' else 'ARNs'} each on average (max {max(per_call)}, "
                    f"limit {POLL_BATCH[op]})")
        rounds.append(f"{op} {', '.join(f'{x:g}' for x in per_service)} per service (run by run) against "
                      f"{'–' if alone is None else f'{alone:g}'} for one service deployed alone")
    why = "rounds of polls: " + "; ".join(rounds) if rounds else ""
    if not ok and said:
        why = ("calls asked about fewer of the services than one call can take: the services' polls were not "
               "combined; " + why)
    return [f"Many services ({n}): one batched poll per round for all services (DescribeServices ≤ 10 a call, "
            "DescribeServiceDeployments ≤ 20), not one per service",
            f"{ints(calls_seen)} poll calls for {n} services ({'; '.join(said)}); batched rounds for these polls: "
            f"{ints(ideal_seen)}; one call per service per poll: {ints(unbatched_seen)}", verdict(ok), why]


def throttled_scale(runs: list[Run], scenario: int = 8) -> list[str]:
    """Scenario 8's (or 10's, ci-ecs alone on ECS-like timings) table (one row a tool and form) and its targets
    (issue 27, "Throttled scale")."""
    forms = {"single": "one service", "config": "one config (`services:`)", "processes": "processes at once"}
    lines = ["| tool | form | services | wall s | failed processes | throttling errors shown | throttled calls | "
             "calls a service | attempts a service | most throttled | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    rows = sorted((r for r in runs if r["scenario"] == scenario),
                  key=lambda r: (ROWS.index(r["tool"]), list(forms).index(r["extra"].get("kind", "single"))))
    for r in rows:
        e = r["extra"]
        top = ", ".join(f"{op} {k}" for op, k in list((e.get("throttled_by_operation") or {}).items())[:3]) or "–"
        lines.append(f"| {r['tool']} | {forms.get(e.get('kind'), e.get('kind'))} | {e.get('services')} | "
                     f"{r['wall']:.1f} | {e.get('failed')}/{e.get('processes')} | {e.get('throttle_errors_shown')} | "
                     f"{e.get('throttled_calls')} | {e.get('calls_per_service')} | {e.get('attempts_per_service')} | "
                     f"{top} | {r['peak_rss_kb'] // 1024} |")
    by = {(r["tool"], r["extra"].get("kind")): r for r in rows}
    single, config = by.get(("ci-ecs", "single")), by.get(("ci-ecs", "config"))
    ci_forms = [r for r in rows if r["tool"] == "ci-ecs" and r["extra"].get("kind") != "single"]
    shown = sum(r["extra"].get("throttle_errors_shown", 0) for r in ci_forms)
    failed = sum(r["extra"].get("failed", 0) for r in ci_forms)
    lines += ["", "| target (issue 27) | measured | verdict | reason |", "|---|---|---|---|"]
    throttled = {r["extra"].get("kind"): r["extra"].get("throttled_calls") for r in ci_forms}
    what = "one config" if scenario == 10 else "one config and processes at once"
    lines.append(f"| ci-ecs: no throttling error reaches the user, {what} | {shown} shown, "
                 f"{failed} failed | {verdict(shown == 0 and failed == 0)} | one config: its calls paced to ECS's "
                 f"documented buckets (ci_ecs/pacing.py), {throttled.get('config')} throttled"
                 + ("" if scenario == 10 else f"; processes at once: each process paces only itself, "
                    f"{throttled.get('processes')} throttled calls retried with botocore's jittered back-off "
                    "(`throttle_max_attempts`, no retry quota) within `--timeout`") + " |")
    if single and config:
        ratio = config["wall"] / single["wall"] if single["wall"] else float("nan")
        reg = (config["extra"].get("throttled_by_operation") or {}).get("RegisterTaskDefinition", 0)
        span = config["extra"].get("register_span")
        spent = f"the registrations took {span} s of the {config['wall']:.1f} s" if span is not None else ""
        lines.append(f"| ci-ecs, one config: wall ≤ 2 × one service | {ratio:.2f} × ({config['wall']:.1f} s ÷ "
                     f"{single['wall']:.1f} s) | {verdict(ratio <= 2)} | ECS's \"Task definition modify actions\" "
                     f"bucket (20 tokens, 1 a second) admits {config['extra'].get('services')} registrations in no "
                     f"less than {max(0, config['extra'].get('services', 0) - 20)} s, whatever the client: {spent} "
                     f"(RegisterTaskDefinition throttled {reg} times); {floor_note(config, single)} |")
    per = {(r["tool"], r["extra"].get("kind")): r["extra"].get("calls_per_service") for r in rows
           if r["extra"].get("kind") != "single"}
    if per and scenario == 8:
        best = min(per.items(), key=lambda kv: kv[1] or 1e9)
        ci_best = min((v for (t, _), v in per.items() if t == "ci-ecs" and v is not None), default=None)
        others = ", ".join(f"{t} ({k}) {v}" for (t, k), v in per.items())
        mix = ""
        if config:
            n_services = config["extra"].get("services") or 1
            ops = sorted(config["operations"].items(), key=lambda kv: -kv[1])
            mix = "; ci-ecs (config) a service, attempts: " + ", ".join(
                f"{op.split(':')[-1]} {k / n_services:.2f}" for op, k in ops)
        lines.append(f"| fewest calls a service of all tools | {others} | "
                     f"{verdict(ci_best is not None and ci_best <= (best[1] or 0))} | calls the sandbox accepted "
                     "(throttled attempts not counted) ÷ services; a peer process that failed stopped early and "
                     "made fewer calls; ci-ecs also reads the tasks' addresses and each poll's stopped tasks, which "
                     "the peers do not (one config: once per poll for every service, ci_ecs/batching.py, the waits "
                     "starting together once every service is updated; processes at once: each process reads its "
                     f"own){mix} |")
    return lines


def floor_note(config: Run, single: Run) -> str:
    """The one-config wall against its floor (issue 27): the registrations at the bucket's documented rate (20 at
    once, then 1 a second: N − 20 s) plus one service deployed alone (start-up, its registration and update, rollout
    and stable window: what the last service registered still needs after its registration)."""
    services = int(config["extra"].get("services") or 0)
    floor = max(0, services - 20) + single["wall"]
    span = config["extra"].get("register_span")
    outside = f"; outside the registrations' span: {config['wall'] - span:.1f} s" if span is not None else ""
    return (f"wall vs floor {config['wall'] / floor:.2f} × (floor {floor:.1f} s = {max(0, services - 20)} s of "
            f"registrations at the documented rate + one service alone {single['wall']:.1f} s){outside}")


def load_note(meta: dict[str, Any]) -> str:
    """A measured caveat when the machine was busier than its CPUs (other work inflates every wall time)."""
    cpus = int(meta.get("versions", {}).get("cpus") or 0)
    loads = [float(x) for key in ("loadavg_start", "loadavg_end") for x in (meta.get(key) or [])[:1]]
    if not cpus or not loads or max(loads) <= cpus:
        return ""
    return (f"1-minute load average {min(loads):.1f}–{max(loads):.1f} on {cpus} CPUs at start/end: other work "
            "shared the machine and lengthened every tool's start-up and polls")


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
              6: "many\nservices", 7: "verify on\ndocker", 9: "image change,\nECS-like"}
    scenarios = sorted({r["scenario"] for r in runs} - {8, 10})  # scenarios 8 and 10: their own tables, no ratio
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


def _ecs_like_note(meta: dict[str, Any]) -> str:
    timing = meta.get("ecs_timing") or {}
    scale = timing.get("scale")
    clock = ("unscaled (an AWS second is a second)" if scale == 1 else
             f"an AWS second lasts **{scale:g} s** (`--minute-seconds {timing.get('minute_seconds'):g}`)"
             if scale else "on the sandbox's clock")
    return (
        "Scenario 3 on the sandbox's ECS-like timing profile (`--timing ecs`, "
        "[ci_ecs/sandbox/timing.py](../ci_ecs/sandbox/timing.py), where each figure is cited): a Fargate task takes "
        f"**{timing.get('task_start', 40):g} s** from PROVISIONING to RUNNING and **{timing.get('task_stop', 5):g} s** "
        "to stop, and each tool's service is behind its own Application Load Balancer target group with ELB's "
        f"defaults: health checks every {timing.get('health_check_interval', 30)} s (a new target is healthy after "
        "one), and a deregistration delay of "
        f"**{timing.get('deregistration_delay', 300)} s**, during which the old tasks stay DEACTIVATING (draining) "
        f"before they stop: ECS completes the deployment only then. All in AWS seconds, {clock}. **The tools' own "
        "intervals are not scaled** (their poll intervals: ci-ecs's, ecs-deploy's 1 s, the aws waiter's 15 s; and "
        "ci-ecs's `deploy.stable_seconds`, 5 s): a scaled run shortens every ECS duration but not the time between "
        "a tool's polls, so it favours a tool that polls often less than real ECS would, and the crash window "
        "is a larger share of a scaled drain than of a real one ("
        f"{meta.get('stable_seconds', 5):g} s of {timing.get('deregistration_delay', 300) * (scale or 1):g} s here; "
        f"{meta.get('stable_seconds', 5):g} s of {timing.get('deregistration_delay', 300)} s on ECS). Columns as in "
        "scenario 3.")


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
        "- The tools take turns, run by run, in an order shuffled for every iteration (seeded; each run's "
        "position is in results.json), each on its own cluster; ratios are ci-ecs ÷ peer within each "
        "iteration, then median (min–max) over iterations. Call times are the sandbox's (when it received each "
        "call), so poll lateness and calls before UpdateService are measured, not estimated. "
        "API calls, writes (every call but Describe*/List*/"
        "Get*/BatchGet*) and revisions (RegisterTaskDefinition calls) are the sandbox's request log for the run. "
        "Peak RSS: the largest process of the run (GNU time `%M`).",
        f"- Runs per tool: {', '.join(f'scenario {k}: {v}' for k, v in n.items())}.",
    ]
    if meta.get("errors"):
        lines += ["", "**Scenarios that failed:** " + "; ".join(f"{k}: {v}" for k, v in meta["errors"].items())]
    lines += ["", "![ci-ecs ÷ peer, wall time and API calls](results.png)" if chart_note is None else chart_note, ""]
    lines += ["## Targets (issue 17)", "", "| target | measured | verdict | reason / what would close it |",
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
           "completed' event (2 new tasks start, then 2 old ones stop). ci-ecs then holds its verdict until its "
           f"newest task has run `deploy.stable_seconds` ({meta.get('stable_seconds', 5)} s, issue 10: a task "
           "that crashes right after starting fails the deploy); *stable window after COMPLETED* is what is "
           "left of it at COMPLETED, measured from the tasks' startedAt. *Overhead*: wall − rollout − that "
           "window (for the peers, wall − rollout). *ci-ecs (stable window 0)* is ci-ecs with "
           "`deploy.stable_seconds: 0` on its own service, shuffled into the same turns: success at COMPLETED, "
           "the guarantee ecs-deploy gives (ci-ecs's default is unchanged); its ratio column compares it with "
           "each tool like for like. *Next poll*: a tool's first DescribeServices or DescribeServiceDeployments "
           "(ci-ecs follows every deployment through ECS's service-deployment API) after COMPLETED, from the "
           "sandbox's call times; *poll gap*: the median time between a tool's polls after UpdateService. The "
           "aws CLI waiter polls every 15 s: if its first poll comes before COMPLETED it sleeps 15 s.",
        4: f"A fresh service per iteration, then an image in the sandbox's ECR that is not there: tasks stop with "
           f"CannotPullContainerError and, after 3 failed tasks, the circuit breaker marks the deployment FAILED "
           f"(no rollback configured). *FAILED → failure reported*: the sandbox's 'deployment failed' event to the "
           f"tool's exit. ci-ecs runs with `--no-rollback` (the peers do not roll back either). The aws-CLI "
           f"waiter never sees 'stable' (two deployments) and runs until the benchmark's cap of **{cap} s** "
           f"(`timeout {cap}`, exit 124) — without the cap it would wait 10 minutes and exit 255. *FAILED → next "
           "poll*: poll lateness, from the sandbox's call times (a poll: DescribeServices, or "
           "DescribeServiceDeployments, which ci-ecs's waits use); *poll gap*: the median time between a tool's "
           "polls after UpdateService, measured. ci-ecs polls at least 1.25 s apart "
           "while nothing is about to happen and every 0.25 s once the circuit breaker is one failed task away "
           "(within one poll a second on average); ecs-deploy every 1 s. The sandbox fails tasks on "
           "a 1 s grid after UpdateService (its task start delay), so the lateness here is partly the phase of "
           "that grid against each tool's polls; at a random phase it averages half the poll interval.",
        5: "`ci-ecs --help` vs `ecs --help` vs `aws --version`; no sandbox, no AWS calls. *Deploy-path imports*: "
           "`python -c 'import ci_ecs.cli, ci_ecs.config, ci_ecs.deploy, botocore.session, botocore.client'` "
           "(ci-ecs builds its clients with botocore alone, never boto3; ecs-deploy: `import ecs_deploy.cli`, "
           "which imports boto3) less `python -c pass`, measured in the same iteration; *their RSS*: that "
           "process's peak.",
        6: f"ci-ecs deploys a config with a `services:` list of all **{settings.get('services')}** services in "
           f"one process (`deploy.parallelism: {settings.get('services')}`), against the peers "
           f"deploying the same {settings.get('services')} services one after another, as a pipeline would: "
           "this compares ci-ecs's concurrency with the peers' sequential runs. *Peers at once* gives the peers "
           f"the same concurrency: {settings.get('services')} processes started together, as a pipeline matrix "
           "would (peak RSS there is the largest single process; the sum is in results.json). Each service "
           "changes image. Rows are the whole batch; *one service* is one deploy of the first service just "
           "before, in the same sandbox.",
        8: "Every tool under the sandbox's `--rate-limits aws`: ECS's documented token buckets per action category "
           "(API Reference, \"Request throttling\": e.g. RegisterTaskDefinition 20 tokens and 1 a second, "
           "UpdateService 50 and 5, DescribeServices 100 and 20) and EC2's, per account and region, answering "
           f"ThrottlingException as ECS does. **{settings.get('throttled')}** services change image: ci-ecs in one "
           "config (`services:`, `deploy.parallelism` ≤ 50) and as one process per service started together (a "
           "pipeline matrix), fabfuel/ecs-deploy and the aws-CLI script as one process per service. Set-up is "
           "unlimited and not measured; every bucket is full again before each run. *Throttled calls*: the "
           "sandbox's answers of ThrottlingException / RequestLimitExceeded (each a retry the tool had to make, "
           "or an error it gave up on); *throttling errors shown*: processes whose output named one; *calls a "
           "service*: calls the sandbox accepted ÷ services. The write buckets bound every tool alike: "
           f"{settings.get('throttled')} registrations at 1 a second after a burst of 20 take about "
           "(N − 20) s whatever the tool.",
        9: _ecs_like_note(meta),
        10: "Scenario 8's one-config case on the ECS-like timing profile **unscaled** (an AWS second is a second): "
            f"**{settings.get('throttled')}** services, each behind its own target group with ELB's defaults (300 s "
            "deregistration delay), change image under `--rate-limits aws`; ci-ecs deploys the first service alone "
            "(*one service*), then all of them in one config (`services:`, `deploy.parallelism` 50). Unscaled because "
            "ci-ecs paces its calls to the documented buckets in real seconds: on a scaled clock the sandbox's "
            "buckets would refill faster than the pacer assumes, and the registrations' span would not shrink with "
            "the rollout. ci-ecs only: the peers' processes-at-once form is scenario 8's.",
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
        if scenario != 8 and meta.get(f"scenario_{scenario}_measured"):  # measured apart (bench/merge.py)
            lines += [str(meta[f"scenario_{scenario}_measured"]), ""]
        if scenario == 6:
            lines += ["**One service**", "", *scenario_table(runs, 6, "single"), "",
                      f"**All {settings.get('services')} services**", "", *scenario_table(runs, 6, "batch"), "",
                      f"**Peers at once ({settings.get('services')} processes together)**", "",
                      *scenario_table(runs, 6, "concurrent")]
            lines += ["", *phase_table(runs, 6, "single", meta), *phase_table(runs, 6, "batch", meta)] \
                if phase_table(runs, 6, "batch", meta) else []
            for tool in TOOLS:
                singles = {r["iteration"]: wall(r) for r in pick(runs, 6, tool, "single")}
                rs = [wall(r) / singles[r["iteration"]] for r in pick(runs, 6, tool, "batch")
                      if r["iteration"] in singles]
                if rs:
                    lines.append(f"- {tool}: all services ÷ one service = {spread(rs)}")
        elif scenario == 10:
            lines += throttled_scale(runs, 10)
            lines += ["", *phase_table(runs, 10, "config", meta)] if phase_table(runs, 10, "config", meta) else []
        elif scenario == 8:
            if meta.get("scenario_8_measured"):  # measured apart from the other scenarios (bench/merge.py)
                lines += [str(meta["scenario_8_measured"]), ""]
            lines += throttled_scale(runs)
            lines += ["", *phase_table(runs, 8, "config", meta)] if phase_table(runs, 8, "config", meta) else []
        else:
            lines += scenario_table(runs, scenario)
            if scenario == 9 and profiles_side_by_side(runs):
                lines += ["", *profiles_side_by_side(runs)]
            if phase_table(runs, scenario, None, meta):
                lines += ["", *phase_table(runs, scenario, None, meta)]
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
