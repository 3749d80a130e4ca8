"""The release: one version, pins that match it, a publishing workflow without stored tokens, the wheel check."""

from __future__ import annotations

import subprocess
import sys

import tomllib
import yaml
from packaging.requirements import Requirement

from ci_ecs import __version__

from .conftest import REPO


def test_version_comes_from_one_place() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "ci_ecs.__version__"}
    assert {"build", "twine"} <= {Requirement(r).name for r in project["project"]["optional-dependencies"]["dev"]}


def test_wrapper_pins_match_this_version_and_the_dependencies() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "wrappers" / "constraints.py"), "--check"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    pins = dict(line.split("==", 1) for line in (REPO / "wrappers" / "constraints.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    for dependency in map(Requirement, project["project"]["dependencies"]):
        name = dependency.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned"
        assert dependency.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {dependency.specifier}"
    assert f"ci-ecs {__version__}:" in (REPO / "wrappers" / "constraints.txt").read_text()


def test_release_workflow_uses_trusted_publishing() -> None:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "release.yml").read_text())
    assert workflow[True]["push"]["tags"] == ["v*.*.*"]  # YAML 1.1 reads the key `on` as True
    assert workflow["permissions"] == {"contents": "read"}
    publish = workflow["jobs"]["pypi"]
    assert publish["permissions"] == {"id-token": "write"}
    (step,) = [s for s in publish["steps"] if s.get("uses", "").startswith("pypa/gh-action-pypi-publish@")]
    assert "with" not in step  # no password/token input: trusted publishing only
    build = "\n".join(s.get("run", "") for s in workflow["jobs"]["build"]["steps"])
    assert "make wheel-check" in build and "__version__" in build
    assert "gh release" in "\n".join(s.get("run", "") for s in workflow["jobs"]["github-release"]["steps"])


def test_ci_runs_the_wheel_check() -> None:
    run = (REPO / ".ci" / "run").read_text()
    assert "make wheel-check" in run
    makefile = (REPO / "Makefile").read_text()
    assert "python -m build" in makefile and "twine check" in makefile and "wheel_check.sh dist" in makefile
