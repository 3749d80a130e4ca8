#!/usr/bin/env bash
# The sandbox's moto patches against the LOWEST moto the `sandbox` extra allows (pyproject.toml):
# a virtualenv of its own with that moto, then tests/sandbox (without the Docker-engine tests).
# Usage: tests/sandbox/lower_bound.sh [pytest args]   (CI: .ci/run, after `make test`)
set -euo pipefail
cd "$(dirname "$0")/../.."

lower=$(sed -n 's/^sandbox = \["moto\[server\]>=\([0-9.]*\),.*/\1/p' pyproject.toml)
if [ -z "$lower" ]; then
  echo "lower_bound.sh: no 'moto[server]>=X' lower bound in pyproject.toml's sandbox extra" >&2
  exit 2
fi
venv=${MOTO_LOWER_VENV:-.cache/moto-lower-venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -e ".[sandbox]" "moto[server]==$lower" "pytest>=8" "pytest-timeout>=2.3"
"$venv/bin/python" - "$lower" <<'PY'
import sys
from importlib.metadata import version

found = version("moto")
if found != sys.argv[1]:
    sys.exit(f"lower_bound.sh: expected moto {sys.argv[1]}, the venv has {found}")
print(f"tests/sandbox on moto {found} (the sandbox extra's lower bound)")
PY
exec "$venv/bin/python" -m pytest tests/sandbox -q -p no:cacheprovider -m "not docker" "$@"
