#!/usr/bin/env bash
# The sandbox's moto patches against the LOWEST moto the `sandbox` extra allows (pyproject.toml):
# a virtualenv of its own with that moto, then tests/sandbox (without the Docker-engine tests).
# Usage: tests/sandbox/lower_bound.sh [pytest args]   (CI: .ci/run, after `make test`, with -n 4: pytest-xdist)
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
# The neutral-client tests drive fabfuel's `ecs` and the aws CLI against the sandbox: same pins as the dev extra.
"$venv/bin/python" -m pip install -q -e ".[sandbox]" "moto[server]==$lower" "pytest>=8" "pytest-timeout>=2.3" \
    "pytest-xdist>=3.8" "ecs-deploy>=1.15" "awscli>=1.33"
"$venv/bin/python" - "$lower" <<'PY'
import sys
from importlib.metadata import version

found = version("moto")
if found != sys.argv[1]:
    sys.exit(f"lower_bound.sh: expected moto {sys.argv[1]}, the venv has {found}")
print(f"tests/sandbox on moto {found} (the sandbox extra's lower bound)")
PY
PATH="$(cd "$venv/bin" && pwd):$PATH" exec "$venv/bin/python" -m pytest tests/sandbox -q -p no:cacheprovider -m "not docker" "$@"
