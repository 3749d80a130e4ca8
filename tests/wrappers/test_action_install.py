"""The GitHub action's install step (github-actions/deploy-to-ecs/action.yml, step `install`), run by bash as the
runner runs it: the virtualenv goes to the runner's tool cache, a later job reuses it, and a checkout whose files
differ at the same version gets an install of its own (a self-hosted runner keeps its tool cache between jobs, so a
reused install of other files would run the wrong ci-ecs).

The package installed is a small stand-in named ci-ecs (one module, no dependencies), so each install takes seconds:
the real ci-ecs goes through the same step, for real, in every act run (test_github.py's `act_run` asserts that its
first job installs and the later jobs reuse that install). pip, venv and the interpreter are real.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import REPO

pytestmark = pytest.mark.wrappers

ACTION = REPO / "github-actions" / "deploy-to-ecs" / "action.yml"

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "ci-ecs"
version = "0.1.0"
dependencies = []

[project.scripts]
ci-ecs = "ci_ecs.cli:main"

[tool.setuptools]
packages = ["ci_ecs"]
"""


def _install_step() -> str:
    action = yaml.safe_load(ACTION.read_text())
    (step,) = [s for s in action["runs"]["steps"] if s.get("id") == "install"]
    assert step["shell"] == "bash" and step["env"] == {"INPUT_PYTHON": "${{ inputs.python }}"}
    return str(step["run"])


def _checkout(root: Path, says: str) -> Path:
    """A checkout laid out like ci-ecs's: the action's folder, ci_ecs/, pyproject.toml, wrappers/constraints.txt."""
    (root / "github-actions" / "deploy-to-ecs").mkdir(parents=True)
    (root / "ci_ecs").mkdir()
    (root / "ci_ecs" / "__init__.py").write_text('__version__ = "0.1.0"\n')
    (root / "ci_ecs" / "cli.py").write_text(f"def main() -> None:\n    print({says!r})\n")
    (root / "wrappers").mkdir()
    (root / "wrappers" / "constraints.txt").write_text("# nothing to pin: the stand-in has no dependencies\n")
    (root / "pyproject.toml").write_text(PYPROJECT)
    return root


def _run_step(checkout: Path, tmp_path: Path, name: str, tool_cache: Path) -> tuple[str, str]:
    """The step's output and the `bin` it wrote to GITHUB_OUTPUT, with a fresh RUNNER_TEMP as every job has."""
    script = tmp_path / "install.sh"
    script.write_text(_install_step())
    runner_temp = tmp_path / f"temp-{name}"
    runner_temp.mkdir()
    output = runner_temp / "github-output"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_", "INPUT_"))}
    env.update(GITHUB_ACTION_PATH=str(checkout / "github-actions" / "deploy-to-ecs"), GITHUB_OUTPUT=str(output),
               RUNNER_TEMP=str(runner_temp), RUNNER_TOOL_CACHE=str(tool_cache), INPUT_PYTHON=sys.executable)
    # The runner's own invocation of a `shell: bash` step.
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=checkout,
                          env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (line,) = [line for line in output.read_text().splitlines() if line.startswith("bin=")]
    return proc.stdout, line.removeprefix("bin=")


def test_the_install_is_reused_from_the_tool_cache_until_the_checkout_changes(tmp_path: Path) -> None:
    tool_cache = tmp_path / "tool-cache"
    checkout = _checkout(tmp_path / "checkout", "first checkout")

    first, first_bin = _run_step(checkout, tmp_path, "1", tool_cache)
    assert "ci-ecs: installing into " in first and first.rstrip().endswith("first checkout"), first
    venv = Path(first_bin).parents[1]
    assert venv.parent == tool_cache / "ci-ecs" and venv.name.startswith("0.1.0-"), venv
    marker = (venv / ".complete").stat().st_mtime_ns

    again, again_bin = _run_step(checkout, tmp_path, "2", tool_cache)
    assert f"ci-ecs: reusing the install in {venv}" in again and again.rstrip().endswith("first checkout"), again
    assert again_bin == first_bin and (venv / ".complete").stat().st_mtime_ns == marker  # pip did not run again

    # A virtualenv without the step's completion marker (a job cancelled during pip) is installed again.
    (venv / ".complete").unlink()
    redone, redone_bin = _run_step(checkout, tmp_path, "halfway", tool_cache)
    assert f"ci-ecs: installing into {venv}" in redone and redone_bin == first_bin, redone
    assert (venv / ".complete").exists()

    # Same version, another file's contents: the cached install is not this checkout's.
    (checkout / "ci_ecs" / "cli.py").write_text("def main() -> None:\n    print('changed checkout')\n")
    changed, changed_bin = _run_step(checkout, tmp_path, "3", tool_cache)
    assert "ci-ecs: installing into " in changed and changed.rstrip().endswith("changed checkout"), changed
    assert Path(changed_bin).parents[1] != venv and Path(changed_bin).parents[1].parent == tool_cache / "ci-ecs"
    assert subprocess.run([first_bin], capture_output=True, text=True).stdout == "first checkout\n"  # kept

