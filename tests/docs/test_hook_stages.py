"""Lifecycle hook stages come from botocore's ECS model at run time (issue 22): a stage ECS lists is accepted
(PRE_PRODUCTION_TRAFFIC_SHIFT was refused by a hand-written list), one it does not is exit 2 naming the key, and
a stage a newer model adds is accepted with no change to ci-ecs (shown with a model on AWS_DATA_PATH)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import botocore.session
import pytest

from ci_ecs.config import lifecycle_hook_stages, load_config
from ci_ecs.errors import ConfigError

CONFIG = """\
cluster: demo
task: {family: hello, cpu: "256", memory: "512", network_mode: awsvpc, requires_compatibilities: [FARGATE],
       containers: [{name: web, image: public.ecr.aws/nginx/nginx:1.27}]}
service:
  name: hello
  strategy: BLUE_GREEN
  bake_time_minutes: 5
  lifecycle_hooks:
    - {stages: [%s]}
"""


@pytest.fixture(autouse=True)
def _fresh_stages() -> Iterator[None]:
    lifecycle_hook_stages.cache_clear()
    yield
    lifecycle_hook_stages.cache_clear()


def _load(tmp_path: Path, stage: str) -> object:
    path = tmp_path / "ci-ecs.yml"
    path.write_text(CONFIG % stage)
    return load_config(str(path), {})


def test_every_stage_of_the_model_is_accepted(tmp_path: Path) -> None:
    model = botocore.session.get_session().get_service_model("ecs")
    stages = model.shape_for("DeploymentLifecycleHookStage").enum
    assert "PRE_PRODUCTION_TRAFFIC_SHIFT" in stages
    assert lifecycle_hook_stages() == tuple(stages)
    for stage in stages:
        _load(tmp_path, stage)


def test_unknown_stage_is_refused_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, "PRE_PRODUCTION_TRAFIC_SHIFT")
    assert "service.lifecycle_hooks[0].stages" in str(caught.value)
    assert "'PRE_PRODUCTION_TRAFIC_SHIFT' is not a lifecycle stage ECS knows" in str(caught.value)


def test_a_stage_a_newer_model_adds_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore reads models from AWS_DATA_PATH first: a copy of its ECS model with one more stage."""
    loader = botocore.session.get_session().get_component("data_loader")
    version = loader.determine_latest_version("ecs", "service-2")
    model = loader.load_service_model("ecs", "service-2", version)
    model["shapes"]["DeploymentLifecycleHookStage"]["enum"].append("POST_FUTURE_SHIFT")
    folder = tmp_path / "models" / "ecs" / version
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(model))
    with pytest.raises(ConfigError):
        _load(tmp_path, "POST_FUTURE_SHIFT")
    lifecycle_hook_stages.cache_clear()
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path / "models"))
    _load(tmp_path, "POST_FUTURE_SHIFT")
