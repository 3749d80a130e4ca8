"""Property: any input to the config loader gives a valid config or a one-line ConfigError — never a traceback."""

from __future__ import annotations

import re
import time
import unicodedata
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
    started = time.monotonic()
    try:
        assert isinstance(load_config(path, require_file=True), Config)
    except ConfigError as exc:
        message = str(exc)
        assert message and "Traceback" not in message
        # One line that cannot drive a terminal, whatever the input quoted: control characters are escaped.
        assert not any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in message), repr(message)
    assert time.monotonic() - started < 2  # a bound, not a benchmark: hostile input never runs away


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


# Real and hostile YAML alike: anchors (maybe on a collection that refers to itself), aliases (maybe
# undefined), merge keys, repeated keys, escapes that make control characters. Whatever the mix, the
# loader gives a config or one ConfigError line, quickly.
_ANCHOR = st.sampled_from(["", "", "&a ", "&b ", "&c "])
_LEAF = st.sampled_from(["x", "1", "true", "null", "demo", "*a", "*b", "*c", '"\\e[31m"', '"a\\nb"', '"\\0"'])


def _collections(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    sequence = st.lists(inner, max_size=5).map(lambda items: "[" + ", ".join(items) + "]")
    mapping = st.lists(st.tuples(st.sampled_from(["cluster", "name", "desired_count", "x", "<<"]), inner),
                       max_size=4).map(lambda pairs: "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}")
    return st.tuples(_ANCHOR, st.one_of(sequence, mapping)).map("".join)




def _number_anchors(text: str) -> str:
    """Give every anchor a name of its own (PyYAML refuses a repeated one) and point each alias at the
    latest anchor of its letter, open or closed: so aliases share, nest (bombs) and self-refer."""
    latest: dict[str, int] = {}

    def rename(match: re.Match[str]) -> str:
        sigil, letter = match.group(1), match.group(2)
        if sigil == "&":
            latest[letter] = latest.get(letter, 0) + 1
        return f"{sigil}{letter}{latest.get(letter, 0)}"

    return re.sub(r"([&*])([abc])\b", rename, text)


_DOCUMENT = st.lists(st.tuples(st.sampled_from(["region", "cluster", "service", "task", "deploy", "x"]),
                               st.recursive(_LEAF, _collections, max_leaves=30)),
                     min_size=1, max_size=5, unique_by=lambda line: line[0]).map(
    lambda lines: _number_anchors("".join(f"{k}: {v}\n" for k, v in lines)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_DOCUMENT)
def test_any_yaml_with_anchors_and_aliases(tmp_path: Path, text: str) -> None:
    _check(tmp_path, text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(["cluster", "region", "service.name", "task.family", "image.tag"]),
       value=st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=20))
def test_any_string_value_gives_a_one_line_error(tmp_path: Path, key: str, value: str) -> None:
    data = _mutate(BASE_CONFIG, key.split("."), value)
    _check(tmp_path, yaml.safe_dump(data, allow_unicode=True))
