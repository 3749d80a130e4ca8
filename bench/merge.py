"""Put one scenario's runs, measured on their own (`python bench/run.py --scenarios N --out DIR`), into a full
results.json and re-render results.md and results.png: a scenario added later gets its figures without re-running
the whole benchmark.

    python bench/merge.py DIR [N] [--into bench]
    python bench/merge.py DIR N --phases     # only ci-ecs's phases of scenario N, beside the runs already there

`--phases` keeps the full results' runs (and so every figure and target) as they are, and adds only where ci-ecs's
time went in DIR's runs of scenario N (its `phases`, issue 27), shown as measured apart, with DIR's date and load.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="the directory the scenario's run wrote")
    parser.add_argument("scenario", type=int, nargs="?", default=8, help="the scenario to take from DIR (8: default)")
    parser.add_argument("--into", type=Path, default=HERE, help="the full results' directory (default: bench/)")
    parser.add_argument("--phases", action="store_true", help="add only ci-ecs's phases of scenario N")
    args = parser.parse_args(argv)
    source = json.loads((args.source / "results.json").read_text())
    target = json.loads((args.into / "results.json").read_text())
    n = args.scenario
    if args.phases:
        return _phases_only(args, source, target, n)
    runs = [r for r in target["runs"] if r["scenario"] != n] + [r for r in source["runs"] if r["scenario"] == n]
    meta = target["meta"]
    settings, theirs = meta.setdefault("mode_settings", {}), source["meta"].get("mode_settings", {})
    settings.setdefault("runs", {})[str(n)] = theirs.get("runs", {}).get(str(n))
    if n in (8, 10):
        settings["throttled"] = theirs.get("throttled")
    if n in (9, 10):  # the ECS-like profile's durations and clock, as that run had them
        meta["ecs_timing"] = source["meta"].get("ecs_timing")
        settings["ecs_minute_seconds"] = theirs.get("ecs_minute_seconds")
    meta[f"scenario_{n}_measured"] = (
        f"Measured on its own (`python bench/run.py --scenarios {n}`, {source['meta']['mode']} mode) on "
        f"{source['meta']['date']} in {source['meta'].get('total_seconds')} s; load average "
        f"{source['meta'].get('loadavg_start')} at start, {source['meta'].get('loadavg_end')} at end, on a shared "
        f"{source['meta'].get('versions', {}).get('cpus', '?')}-core machine.")
    (args.into / "results.json").write_text(json.dumps({"meta": meta, "runs": runs}, indent=1))
    sys.path.insert(0, str(HERE))
    from report import write_report

    write_report(args.into, meta, runs)
    return 0


def _phases_only(args: argparse.Namespace, source: dict[str, Any], target: dict[str, Any], n: int) -> int:
    """Keep the runs; put the phases of `source`'s ci-ecs runs of scenario `n` into meta["phase_runs"]."""
    meta = target["meta"]
    kept = [r for r in meta.get("phase_runs", []) if r["scenario"] != n]
    taken = [{"scenario": r["scenario"], "tool": r["tool"], "iteration": r["iteration"],
              "extra": {k: v for k, v in r["extra"].items()
                        if k in ("phases", "outside_phases", "service_phases", "kind")}}
             for r in source["runs"] if r["scenario"] == n and r["extra"].get("phases")]
    meta["phase_runs"] = kept + taken
    meta.setdefault("phase_runs_measured", {})[str(n)] = (
        f"Measured apart from the runs above (`python bench/run.py --scenarios {n}`, {source['meta']['mode']} "
        f"mode, {source['meta']['date']}, load average {source['meta'].get('loadavg_start')} at start, "
        f"{source['meta'].get('loadavg_end')} at end, on a shared 2-core machine): those runs carry no phases.")
    (args.into / "results.json").write_text(json.dumps({"meta": meta, "runs": target["runs"]}, indent=1))
    sys.path.insert(0, str(HERE))
    from report import write_report

    write_report(args.into, meta, target["runs"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
