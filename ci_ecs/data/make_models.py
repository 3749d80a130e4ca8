"""Regenerate the trimmed EC2 model ci-ecs loads instead of botocore's full one (see ci_ecs/data/README.md).

    python -m ci_ecs.data.make_models

botocore's EC2 model describes ~700 operations; building a client from it costs ~24 MB of memory and
~0.15 s, for the two operations ci-ecs calls. This writes ci_ecs/data/ec2/<api version>/service-2.json and
paginators-1.json with only those operations and the shapes they reach, documentation dropped, everything
else exactly as botocore has it (tests/core/test_trimmed_models.py checks that).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# The EC2 operations ci-ecs calls (ci_ecs/network.py): default subnets and the tasks' public IPs.
EC2_OPERATIONS = ("DescribeNetworkInterfaces", "DescribeSubnets")


def _strip_docs(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_docs(v) for k, v in value.items() if k not in ("documentation", "documentationUrl")}
    if isinstance(value, list):
        return [_strip_docs(v) for v in value]
    return value


def _reached(shapes: dict[str, Any], roots: list[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        shape = shapes[name]
        refs = [m["shape"] for m in shape.get("members", {}).values()]
        refs += [shape[k]["shape"] for k in ("member", "key", "value") if k in shape]
        todo.extend(refs)
    return seen


def trimmed(service: str, operations: tuple[str, ...]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(api version, service model, paginators) of `service` with only `operations`."""
    import botocore.session

    loader = botocore.session.get_session().get_component("data_loader")
    version = loader.determine_latest_version(service, "service-2")
    model = loader.load_service_model(service, "service-2", version)
    paginators = loader.load_service_model(service, "paginators-1", version)
    ops = {name: model["operations"][name] for name in operations}
    roots = [op[k]["shape"] for op in ops.values() for k in ("input", "output") if k in op]
    roots += [e["shape"] for op in ops.values() for e in op.get("errors", [])]
    shapes = {name: model["shapes"][name] for name in sorted(_reached(model["shapes"], roots))}
    out = _strip_docs({**{k: v for k, v in model.items() if k not in ("operations", "shapes")},
                       "operations": ops, "shapes": shapes})
    pages = {"pagination": {k: v for k, v in paginators["pagination"].items() if k in operations}}
    return version, out, pages


def main() -> int:
    version, model, pages = trimmed("ec2", EC2_OPERATIONS)
    folder = HERE / "ec2" / version
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "service-2.json").write_text(json.dumps(model, separators=(",", ":"), sort_keys=True) + "\n")
    (folder / "paginators-1.json").write_text(json.dumps(pages, indent=1, sort_keys=True) + "\n")
    print(f"wrote {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
