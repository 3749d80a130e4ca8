"""Put one scenario's runs, measured on their own (`python bench/run.py --scenarios N --out DIR`), into a full
results.json and re-render results.md and results.png: a scenario added later gets its figures without re-running
the whole benchmark.

    python bench/merge.py DIR [N] [--into bench]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="the directory the scenario's run wrote")
    parser.add_argument("scenario", type=int, nargs="?", default=8)
    parser.add_argument("--into", type=Path, default=HERE, help="the full results' directory (default: bench/)")
    args = parser.parse_args(argv)
    source = json.loads((args.source / "results.json").read_text())
    target = json.loads((args.into / "results.json").read_text())
    n = args.scenario
    runs = [r for r in target["runs"] if r["scenario"] != n] + [r for r in source["runs"] if r["scenario"] == n]
    meta = target["meta"]
    settings, theirs = meta.setdefault("mode_settings", {}), source["meta"].get("mode_settings", {})
    settings.setdefault("runs", {})[str(n)] = theirs.get("runs", {}).get(str(n))
    if n == 8:
        settings["throttled"] = theirs.get("throttled")
    meta[f"scenario_{n}_measured"] = (
        f"Measured on its own (`python bench/run.py --scenarios {n}`, {source['meta']['mode']} mode) on "
        f"{source['meta']['date']} in {source['meta'].get('total_seconds')} s; load average "
        f"{source['meta'].get('loadavg_start')} at start, {source['meta'].get('loadavg_end')} at end.")
    (args.into / "results.json").write_text(json.dumps({"meta": meta, "runs": runs}, indent=1))
    sys.path.insert(0, str(HERE))
    from report import write_report

    write_report(args.into, meta, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
