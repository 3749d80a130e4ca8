"""Property: any input to the config loader gives a valid config or a one-line ConfigError — never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ci_ecs.config import Config, load_config
from ci_ecs.errors import ConfigError
from tests.core.helpers import BASE_CONFIG

KEYS = ["region", "cluster", "task", "service", "deploy", "repository", "image", "family", "containers", "name",
        "image", "cpu", "memory", "desired_count", "port_mappings", "container_port", "environment", "file",
        "network_mode", "requires_compatibilities", "launch_type", "subnets", "timeout", "wait", "tag", "build",
        "load_balancers", "circuit_breaker", "enable", "extra", "secrets", "assign_public_ip"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=20), st.sampled_from(["256", "512", "FARGATE", "awsvpc", "nginx:1", "0.5GB"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5)),
    max_leaves=25)


def _mutate(data: Any, path: list[str], value: Any) -> dict[str, Any]:
    import copy

    out = copy.deepcopy(BASE_CONFIG)
    target: Any = out
    for key in path[:-1]:
        if not isinstance(target, dict):
            break
        target = target.setdefault(key, {})
    if isinstance(target, dict) and path:
        target[path[-1]] = value
    return out


def _check(tmp_path: Path, text: str) -> None:
    path = tmp_path / "ci-ecs.yml"
    path.write_text(text)
    try:
        assert isinstance(load_config(path, require_file=True), Config)
    except ConfigError as exc:
        message = str(exc)
        assert message and "\n" not in message and "Traceback" not in message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=values)
def test_any_document(tmp_path: Path, value: Any) -> None:
    _check(tmp_path, yaml.safe_dump(value))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.lists(st.sampled_from(KEYS), min_size=1, max_size=4), value=values)
def test_any_change_to_a_good_config(tmp_path: Path, path: list[str], value: Any) -> None:
    _check(tmp_path, yaml.safe_dump(_mutate(BASE_CONFIG, path, value)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_any_text(tmp_path: Path, text: str) -> None:
    _check(tmp_path, text)
