"""`ci-ecs preview` run as other users would (issue 25's acceptance checks): configs the preview code was not
written around, hostile ids and other actors, each on the real command against the simulated sandbox."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from moto.ecs.exceptions import InvalidParameterException  # noqa: F401 - the sandbox's refusal, for readers

from tests.core.test_preview import Previews, _client, sandbox  # noqa: F401 - the module's sandbox fixture
from ci_ecs.sandbox import Sandbox


@pytest.fixture
def previews(sandbox: Sandbox, tmp_path: Path) -> Previews:  # noqa: F811
    return Previews(sandbox, tmp_path)


def test_an_id_ending_in_a_newline_is_refused_naming_id_with_nothing_written(previews: Previews) -> None:
    """`--id "$(cmd)"` keeps no newline, but `--id "$VAR"` read from a file does: `$` of the id pattern matched
    before it, and `web-pr-42\\n` went on to AWS (without a preview: section no host check caught it)."""
    config = {k: v for k, v in previews.config.items() if k != "preview"}
    previews.sandbox.clear_request_log()
    run = previews.run("up", "--id", "42\n", config=config)
    assert run.code == 2 and "--id:" in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert previews.writes() == []
