"""Regenerate the trimmed botocore data ci-ecs loads instead of botocore's own (see ci_ecs/data/README.md).

    python -m ci_ecs.data.make_models

- The service models of the services ci-ecs calls, without their documentation (most of a model's size:
  ~5 MB of memory for ECS's alone). EC2's is also cut to the operations ci-ecs calls and the shapes they
  reach: building a client from the full EC2 model costs ~24 MB and ~0.15 s.
- endpoints.json with only those services (every partition kept): botocore's holds every service's
  endpoints, ~8 MB once loaded.

Everything else is exactly as botocore has it; tests/core/test_trimmed_models.py checks the files against
the installed botocore.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# The services ci-ecs makes clients for (ClientFactory.client); a test checks the code names no other.
SERVICES = ("ecs", "ec2", "ecr", "ecr-public", "elbv2", "logs", "sts")
# The EC2 operations ci-ecs calls: default subnets and the tasks' public IPs (ci_ecs/network.py); the subnets and
# security groups a service names, checked before anything is written (ci_ecs/preflight/references.py).
EC2_OPERATIONS = ("DescribeNetworkInterfaces", "DescribeSecurityGroups", "DescribeSubnets")


def _strip_docs(value: Any) -> Any:
    if isinstance(value, dict):
        # Only documentation text: a structure member may itself be named "documentation" (a dict, kept).
        return {k: _strip_docs(v) for k, v in value.items()
                if not (k in ("documentation", "documentationUrl") and isinstance(v, str))}
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


def trimmed(service: str, operations: tuple[str, ...] | None = None
            ) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    """(api version, service model, paginators) of `service` without documentation; with `operations`, only
    those (and their paginators; otherwise None: botocore's own paginators are used)."""
    import botocore.session

    loader = botocore.session.get_session().get_component("data_loader")
    version = loader.determine_latest_version(service, "service-2")
    model = loader.load_service_model(service, "service-2", version)
    if operations is None:
        return version, _strip_docs(model), None
    paginators = loader.load_service_model(service, "paginators-1", version)
    ops = {name: model["operations"][name] for name in operations}
    roots = [op[k]["shape"] for op in ops.values() for k in ("input", "output") if k in op]
    roots += [e["shape"] for op in ops.values() for e in op.get("errors", [])]
    shapes = {name: model["shapes"][name] for name in sorted(_reached(model["shapes"], roots))}
    out = _strip_docs({**{k: v for k, v in model.items() if k not in ("operations", "shapes")},
                       "operations": ops, "shapes": shapes})
    pages = {"pagination": {k: v for k, v in paginators["pagination"].items() if k in operations}}
    return version, out, pages


def endpoints(services: tuple[str, ...] = SERVICES) -> dict[str, Any]:
    """botocore's endpoints.json with only `services` (by their endpoint prefix) in every partition."""
    import botocore.session

    loader = botocore.session.get_session().get_component("data_loader")
    prefixes = {str(loader.load_service_model(s, "service-2")["metadata"]["endpointPrefix"]) for s in services}
    data = loader.load_data("endpoints")
    return {**data, "partitions": [{**p, "services": {k: v for k, v in p.get("services", {}).items()
                                                      if k in prefixes}} for p in data["partitions"]]}


def main() -> int:
    for service in SERVICES:
        version, model, pages = trimmed(service, EC2_OPERATIONS if service == "ec2" else None)
        folder = HERE / service / version
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "service-2.json").write_text(json.dumps(model, separators=(",", ":"), sort_keys=True) + "\n")
        if pages is not None:
            (folder / "paginators-1.json").write_text(json.dumps(pages, indent=1, sort_keys=True) + "\n")
        print(f"wrote {folder}")
    (HERE / "endpoints.json").write_text(json.dumps(endpoints(), separators=(",", ":"), sort_keys=True) + "\n")
    print(f"wrote {HERE / 'endpoints.json'}")
    import botocore

    # ci_ecs/aws.py uses these files only with this botocore release.
    (HERE / "BOTOCORE_VERSION").write_text(botocore.__version__ + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
