"""`ci-ecs demo` on an install without the `sandbox` extra: one line saying how to install it, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Loaded at interpreter start (PYTHONPATH): makes `moto` unimportable, as on `pip install ci-ecs` without extras.
BLOCK_MOTO = '''
import importlib.abc, sys

class _NoMoto(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "moto" or name.startswith("moto."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NoMoto())
'''


def test_demo_without_the_sandbox_extra_says_how_to_install_it(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(BLOCK_MOTO)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    probe = subprocess.run([sys.executable, "-c", "import moto"], env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named 'moto'" in probe.stderr  # the shim works
    run = subprocess.run([sys.executable, "-m", "ci_ecs.cli", "demo"], env=env, capture_output=True, text=True,
                         cwd=tmp_path, timeout=60)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines() == [
        "error: the demo needs the sandbox extra (moto is not installed): pip install 'ci-ecs[sandbox]'"]
    assert run.stdout == ""
