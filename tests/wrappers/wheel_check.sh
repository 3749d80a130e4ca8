#!/usr/bin/env bash
# The release check (make wheel-check, run by .ci/run): the wheel in DIST, installed alone into a fresh
# virtualenv outside the repository, runs `ci-ecs --version` (equal to the version in the wheel's name) and,
# with the `sandbox` extra, `ci-ecs sandbox --help`. Dependencies come from the package index as pip does.
#   tests/wrappers/wheel_check.sh [DIST]     (default: dist)
set -euo pipefail
dist="$(cd "${1:-dist}" && pwd)"
python="${PYTHON:-python3}"
shopt -s nullglob
wheels=("$dist"/ci_ecs-*.whl)
sdists=("$dist"/ci_ecs-*.tar.gz)
if [ "${#wheels[@]}" -ne 1 ] || [ "${#sdists[@]}" -ne 1 ]; then
    echo "wheel-check: expected one wheel and one sdist in $dist (make dist), found ${#wheels[@]} and ${#sdists[@]}" >&2
    exit 1
fi
wheel="${wheels[0]}"
version="$(basename "$wheel" | cut -d- -f2)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"  # nothing of the repository can be imported from here

pip_quiet() {  # pip's output only when it fails
    if ! "$work/venv/bin/python" -m pip install --disable-pip-version-check "$@" >"$work/pip.log" 2>&1; then
        cat "$work/pip.log" >&2
        echo "wheel-check: pip install $* failed" >&2
        exit 1
    fi
}

"$python" -m venv "$work/venv"
pip_quiet "$wheel"
shown="$("$work/venv/bin/ci-ecs" --version)"
case "$shown" in
    *" $version") echo "wheel-check: $shown (wheel $(basename "$wheel"))" ;;
    *) echo "wheel-check: ci-ecs --version says '$shown', the wheel is $version" >&2; exit 1 ;;
esac
if "$work/venv/bin/python" -c 'import moto' 2>/dev/null; then
    echo "wheel-check: moto came without the sandbox extra" >&2
    exit 1
fi
pip_quiet "ci-ecs[sandbox] @ file://$wheel"
"$work/venv/bin/python" -c 'import moto.server, ci_ecs.sandbox'  # the extra brings what the sandbox runs on
"$work/venv/bin/ci-ecs" sandbox --help >"$work/help.txt"
grep -q -- "--port" "$work/help.txt" || { cat "$work/help.txt" >&2; echo "wheel-check: sandbox --help lacks --port" >&2; exit 1; }
echo "wheel-check: ci-ecs sandbox --help works with the sandbox extra"
