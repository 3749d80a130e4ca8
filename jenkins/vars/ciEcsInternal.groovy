// ciEcsInternal: what the ci-ecs steps (deployToEcs, runEcsTask, ecsPreview) share. Not a step of its own:
// each step declares its parameters and the CI_ECS_* variable each maps onto, and calls
//
//   ciEcsInternal.runCiEcs(step: 'runEcsTask', command: 'run-task', params: params, defaults: DEFAULTS,
//                          envNames: ENV_NAMES, exitCodes: EXIT_CODES)
//
// which checks the parameters, installs ci-ecs (the library's own version, with its pins), runs
// `ci-ecs COMMAND --output json` and returns the JSON result as a Map, or fails the build with ci-ecs' reason.
// Values reach the shell only as environment variables (withEnv) of one fixed, single-quoted script: no
// parameter is ever pasted into shell text, so quotes, `$(...)` and backticks in a value are just characters.
// AWS keys come from a Jenkins credential through withCredentials and so are masked in the log.
import groovy.json.JsonOutput
import groovy.json.JsonSlurperClassic
import groovy.transform.Field

// What ci-ecs' exit codes mean for every command (design.md, "Interfaces"); a step adds its own 1 and 4.
@Field final Map EXIT_CODES = [
    2: 'bad usage or configuration (nothing was written to AWS)',
    3: 'AWS credentials or permissions',
    5: 'AWS unreachable or failing after retries (endpoint, DNS/TLS, throttling, HTTP 5xx)',
]

// The one shell script the steps run. Single-quoted: Groovy interpolates nothing, every value arrives
// through the environment (CI_ECS_STEP and CI_ECS_SUBCOMMAND are set by the library, never from a parameter).
// POSIX sh (Jenkins runs `sh -xe`); `set +x` keeps values out of the trace. stdout carries only ci-ecs'
// JSON result and a last line with its exit code; everything else goes to stderr.
@Field final String CI_ECS_SCRIPT = '''set +x
set -eu
work="$(mktemp -d "$CI_ECS_TMP/ci-ecs.XXXXXX")"
trap 'rm -rf "$work"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
install_ci_ecs() {
    "$CI_ECS_PYTHON" -m venv "$venv" && "$venv/bin/python" -m pip install "$@" $CI_ECS_INSTALL
}
if [ -n "${CI_ECS_INSTALL:-}" ]; then
    venv="$CI_ECS_VENV"
    # Reused only while the install spec, the constraints and the interpreter are the same.
    python_id="$("$CI_ECS_PYTHON" -c 'import sys; print(sys.executable, sys.version)')"
    key="$( { echo "$CI_ECS_INSTALL"; echo "$python_id"; cat "$CI_ECS_CONSTRAINTS"; } | sha256sum | cut -d' ' -f1)"
    if [ ! -x "$venv/bin/ci-ecs" ] || [ "$(cat "$venv/.ci-ecs-key" 2>/dev/null || true)" != "$key" ]; then
        # no URL password in the log: from `://` to the *last* `@` before the path (RFC 3986 3.2: the userinfo ends
        # at the authority's last `@`, as pip reads it), so a password holding `@` is masked whole.
        shown="$(printf '%s' "$CI_ECS_INSTALL" | sed -E 's|://[^/[:space:]]*@|://***@|g')"
        echo "$CI_ECS_STEP: installing $shown into $venv" >&2
        rm -rf "$venv"
        set -f
        # unquoted on purpose: `install` may hold several pip arguments; set -f stops globbing
        set -- --disable-pip-version-check --no-input --constraint "$CI_ECS_CONSTRAINTS"
        if ! install_ci_ecs "$@" >"$work/pip.log" 2>&1; then
            sed -E 's|://[^/[:space:]]*@|://***@|g' "$work/pip.log" >&2
            reason="$(grep -E '^(ERROR|error):' "$work/pip.log" | tail -n 1 | sed -E 's|://[^/[:space:]]*@|://***@|g')"
            echo "ci-ecs-install-failed=${reason:-see the pip output above}"
            echo "ci-ecs-exit-code=2"
            exit 0
        fi
        set +f
        printf '%s' "$key" > "$venv/.ci-ecs-key"
    fi
    ci_ecs="$venv/bin/ci-ecs"
elif command -v ci-ecs >/dev/null 2>&1; then
    ci_ecs="$(command -v ci-ecs)"
else
    echo "ci-ecs-install-failed=install is empty and there is no ci-ecs on the PATH"
    echo "ci-ecs-exit-code=2"
    exit 0
fi
"$ci_ecs" --version >&2
# stdout (the JSON result) as is; stderr shown and kept for its `error:` line, the reason of a failure.
run_ci_ecs() {
    status=0
    # ecsPreview: `ci-ecs preview up|down --id ID` (CI_ECS_PREVIEW_ACTION is checked by the step: up or down).
    set -- "$CI_ECS_SUBCOMMAND"
    if [ "$CI_ECS_SUBCOMMAND" = preview ]; then
        set -- preview "$CI_ECS_PREVIEW_ACTION" --id "$CI_ECS_PREVIEW_ID"
    fi
    "$ci_ecs" "$@" --output json || status=$?
    echo "$status" > "$work/status"
}
{ run_ci_ecs 2>&1 1>&3 3>&- | tee "$work/stderr" 1>&2 3>&-; } 3>&1
reason="$(grep -E '^(error|Error): ' "$work/stderr" | tail -n 1 | sed -E 's/^(error|Error): //')"
if [ -n "$reason" ]; then
    echo "ci-ecs-reason=$reason"
fi
echo "ci-ecs-exit-code=$(cat "$work/status")"
'''

// The line the script ends its stdout with: ci-ecs' exit code.
@Field final String EXIT_CODE_PREFIX = 'ci-ecs-exit-code='
// Lines before it: ci-ecs' one-line reason (its last `error:` line), or why the install failed.
@Field final String REASON_PREFIX = 'ci-ecs-reason='
@Field final String INSTALL_FAILED_PREFIX = 'ci-ecs-install-failed='
// The line deployToEcs prints with its result (`ci-ecs jenkins run` reads the last one in the console).
@Field final String RESULT_PREFIX = 'ci-ecs-result='
@Field final String NEWLINE = '\n'

/**
 * Runs `ci-ecs COMMAND --output json` for a step; returns its JSON result as a Map.
 *
 * spec: step (its name, for messages), command (the ci-ecs command), params (what the pipeline passed),
 * defaults (every parameter the step takes, with its default), envNames (parameter -> CI_ECS_* variable),
 * exitCodes (exit code -> what it means for this command), printResult (print the ci-ecs-result= line).
 */
Map runCiEcs(Map spec) {
    String step = spec.step
    Map options = checkParams(step, (Map) spec.params, (Map) spec.defaults)
    if (!isUnix()) {
        error("${step}: needs a Unix agent (it runs a POSIX sh script)")
    }
    List environment = environmentOf(step, options, (Map) spec.envNames)

    // The ci-ecs version this library belongs to, and its dependencies' pins, shipped in resources/.
    String version = libraryResource('ci-ecs/version.txt').trim()
    if (options.install == null) {
        String repository = options.repository ?: env.CI_ECS_REPOSITORY
        if (!repository) {
            error("${step}: set `repository` (or env.CI_ECS_REPOSITORY) to the git URL of the ci-ecs library, " +
                  "or `install` to what to pip-install (e.g. 'ci-ecs==${version}' once released)")
        }
        options.install = "git+${repository}@v${version}".toString()
        environment << "CI_ECS_INSTALL=${options.install}".toString()
    }
    String tmp = pwd(tmp: true)
    String constraints = "${tmp}/ci-ecs-constraints-${version}.txt"
    writeFile(file: constraints, text: libraryResource('ci-ecs/constraints.txt'))
    environment.addAll(["CI_ECS_VENV=${tmp}/ci-ecs-venv".toString(), "CI_ECS_TMP=${tmp}".toString(),
                        "CI_ECS_CONSTRAINTS=${constraints}".toString(), "CI_ECS_STEP=${step}".toString(),
                        "CI_ECS_SUBCOMMAND=${spec.command}".toString()])

    Map shOptions = [script: CI_ECS_SCRIPT, returnStdout: true, label: "ci-ecs ${spec.command}".toString()]
    String stdout = null
    withEnv(environment) {
        if (options.credentialsId) {
            withCredentials([[$class: 'AmazonWebServicesCredentialsBinding',
                              credentialsId: options.credentialsId.toString(),
                              accessKeyVariable: 'AWS_ACCESS_KEY_ID',
                              secretKeyVariable: 'AWS_SECRET_ACCESS_KEY']]) {
                stdout = sh(shOptions)
            }
        } else {
            stdout = sh(shOptions)
        }
    }
    Map exitCodes = [:]
    exitCodes.putAll(EXIT_CODES)
    exitCodes.putAll((Map) (spec.exitCodes ?: [:]))
    return handleResult(spec, stdout, exitCodes)
}

/** The step's options: its defaults, overridden by the non-null parameters; fails naming unknown parameters. */
private Map checkParams(String step, Map params, Map defaults) {
    List unknown = []
    for (String key in params.keySet()) {
        if (!defaults.containsKey(key)) {
            unknown << key
        }
    }
    if (unknown) {
        String separator = ', '
        error("${step}: unknown parameter(s): ${unknown.sort().join(separator)} " +
              "(known: ${defaults.keySet().sort().join(separator)})")
    }
    Map options = [:]
    options.putAll(defaults)
    for (String key in params.keySet()) {
        if (params[key] != null) {
            options[key] = params[key]
        }
    }
    return options
}

/** NAME=value for withEnv, for every option that maps onto a CI_ECS_* variable and is given. */
private List environmentOf(String step, Map options, Map envNames) {
    List environment = []
    for (String key in envNames.keySet()) {
        String value = envValue(step, key, options[key])
        if (value != null) {
            environment << "${envNames[key]}=${value}".toString()
        }
    }
    return environment
}

/** A parameter as the string ci-ecs reads from the environment; null when not given. */
private String envValue(String step, String key, Object value) {
    if (value == null) {
        return null
    }
    if (value instanceof Map) {
        // env: [GREETING: 'hi'] / image: [web: 'repo:tag']: one NAME=VALUE per line (CI_ECS_ENV, CI_ECS_IMAGE).
        // A line break inside a name or value would start a line of its own, a variable nobody passed: refused.
        List lines = []
        Map entries = (Map) value
        for (Object item in new ArrayList(entries.keySet())) {  // a List: CPS-safe to iterate
            String name = item
            String text = entries[item] == null ? '' : entries[item].toString()
            if (!name || name.contains('=') || hasLineBreak(name)) {
                error("${step}: ${key}: ${JsonOutput.toJson(name)} is not a name (empty, or has '=' or a line break)")
            }
            if (hasLineBreak(text)) {
                error("${step}: ${key}: the value of ${name} has a line break (each value must be one line)")
            }
            lines << "${name}=${text}".toString()
        }
        return lines.join(NEWLINE)
    }
    if (value instanceof Collection) {
        // CI_ECS_CONTAINER_NAME: click splits a multiple option's variable on whitespace.
        List names = []
        for (Object item in value) {
            names << item.toString()
        }
        return names.join(' ')
    }
    return value.toString()
}

private boolean hasLineBreak(String text) {
    return text.contains(NEWLINE) || text.contains('\r')
}

/** Parses the script's stdout: ci-ecs' JSON object, a reason line, then `ci-ecs-exit-code=N`. Fails unless N is 0. */
private Map handleResult(Map spec, String stdout, Map exitCodes) {
    String step = spec.step
    List lines = (stdout ?: '').readLines()
    String last = lines ? lines[-1].trim() : ''
    if (!last.startsWith(EXIT_CODE_PREFIX)) {
        error("${step}: ci-ecs did not finish (no exit code in its output); see the log above")
    }
    int exitCode = last.substring(EXIT_CODE_PREFIX.length()).toInteger()
    String reason = null
    String installFailed = null
    List jsonLines = []
    for (String line in (lines.size() > 1 ? lines[0..-2] : [])) {
        if (line.startsWith(REASON_PREFIX)) {
            reason = line.substring(REASON_PREFIX.length())
        } else if (line.startsWith(INSTALL_FAILED_PREFIX)) {
            installFailed = line.substring(INSTALL_FAILED_PREFIX.length())
        } else {
            jsonLines << line
        }
    }
    if (installFailed != null) {
        error("${step}: installing ci-ecs failed: ${installFailed}")
    }
    String json = jsonLines.join(NEWLINE).trim()
    Map result = json ? (Map) new JsonSlurperClassic().parseText(json) : [:]
    if (spec.printResult) {
        echo(RESULT_PREFIX + JsonOutput.toJson(result))
    }
    if (exitCode != 0) {
        String why = result.error ?: reason ?: exitCodes.get(exitCode, 'see the log above')
        error("${step}: ci-ecs ${spec.command} failed (exit code ${exitCode}): ${why}")
    }
    return result
}
