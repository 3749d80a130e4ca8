// deployToEcs: publish an image to Amazon ECS with `ci-ecs deploy` and return its JSON result as a Map.
//
//   def result = deployToEcs(cluster: 'web', service: 'api', tag: env.GIT_COMMIT, credentialsId: 'aws-deploy')
//   echo "deployed ${result.taskDefinitionArn} to ${result.publicIps}"
//
// The step only maps its parameters onto `ci-ecs deploy` (the CI_ECS_* variables it reads). Values reach the
// shell only as environment variables (withEnv) of a fixed, single-quoted script: no parameter is ever pasted
// into shell text, so quotes, `$(...)` and backticks in a value are just characters. AWS keys come from a
// Jenkins credential through withCredentials and so are masked in the log.
import groovy.json.JsonSlurperClassic
import groovy.transform.Field

// Every parameter deployToEcs takes, with its default. null means "not given": ci-ecs then uses the config
// file's value or its own default (precedence: parameter > config file > ci-ecs default).
@Field final Map DEFAULTS = [
    // Path of the ci-ecs config file, relative to the current directory (the workspace).
    config: 'ci-ecs.yml',
    // ECS cluster name (CI_ECS_CLUSTER).
    cluster: null,
    // ECS service name (CI_ECS_SERVICE).
    service: null,
    // Full image reference to deploy as is, e.g. '123456789012.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:...'.
    image: null,
    // Image tag in the config's ECR repository, e.g. env.GIT_COMMIT (CI_ECS_IMAGE_TAG).
    tag: null,
    // Number of tasks to run (an integer).
    desiredCount: null,
    // Container(s) that get the deployed image: a name or a list of names (default: the config's).
    containerName: null,
    // Wait until the deployment completes (true/false; ci-ecs default: true).
    wait: null,
    // Seconds to wait for the deployment before failing with exit code 4 (ci-ecs default: 900).
    timeout: null,
    // Roll back to the previous task definition when the deployment fails (true/false).
    rollback: null,
    // Start a new deployment even when nothing changed (true/false).
    forceNewDeployment: null,
    // Describe and diff only; write nothing to AWS (true/false).
    dryRun: null,
    // AWS region, e.g. 'eu-west-1' (else the config file's, then AWS_REGION on the agent).
    region: null,
    // AWS profile on the agent (for agents with ~/.aws/config; usually leave null).
    profile: null,
    // AWS endpoint URL, e.g. a local sandbox (usually null).
    endpointUrl: null,
    // IAM role ARN ci-ecs assumes before deploying (with the credentials below or the agent's own).
    assumeRoleArn: null,
    // Jenkins credential id of kind "AWS Credentials" (CloudBees AWS Credentials plugin), bound with
    // withCredentials to AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; null = the agent's own (instance role, env).
    credentialsId: null,
    // What to pip-install into a virtualenv in the workspace's tmp dir (a requirement such as 'ci-ecs==0.1.0'
    // once released, a git URL, a wheel path, a directory); null = the ci-ecs version of this library
    // (resources/ci-ecs/version.txt) from `repository`; '' = use the `ci-ecs` already on the agent's PATH.
    install: null,
    // Git URL of the ci-ecs repository this library is loaded from, for the default `install`
    // (git+URL@v<version>); null = env.CI_ECS_REPOSITORY (set it once in the global properties).
    repository: null,
    // Python interpreter that creates the virtualenv (needs the venv module: apt install python3-venv).
    python: 'python3',
    // Show tracebacks and every AWS call (true/false).
    debug: null,
]

// Parameter -> the CI_ECS_* variable `ci-ecs deploy` reads it from (ci_ecs/cli.py).
@Field final Map ENV_NAMES = [
    config: 'CI_ECS_CONFIG',
    cluster: 'CI_ECS_CLUSTER',
    service: 'CI_ECS_SERVICE',
    image: 'CI_ECS_IMAGE',
    tag: 'CI_ECS_IMAGE_TAG',
    desiredCount: 'CI_ECS_DESIRED_COUNT',
    containerName: 'CI_ECS_CONTAINER_NAME',
    wait: 'CI_ECS_WAIT',
    timeout: 'CI_ECS_TIMEOUT',
    rollback: 'CI_ECS_ROLLBACK',
    forceNewDeployment: 'CI_ECS_FORCE_NEW_DEPLOYMENT',
    dryRun: 'CI_ECS_DRY_RUN',
    region: 'CI_ECS_REGION',
    profile: 'CI_ECS_PROFILE',
    endpointUrl: 'CI_ECS_ENDPOINT_URL',
    assumeRoleArn: 'CI_ECS_ASSUME_ROLE_ARN',
    debug: 'CI_ECS_DEBUG',
    install: 'CI_ECS_INSTALL',
    python: 'CI_ECS_PYTHON',
]

// What ci-ecs' exit codes mean (design.md, "Interfaces").
@Field final Map EXIT_CODES = [
    1: 'the deployment failed',
    2: 'bad usage or configuration (nothing was written to AWS)',
    3: 'AWS credentials or permissions',
    4: 'timed out waiting for the deployment',
]

// The one shell script this step runs. Single-quoted: Groovy interpolates nothing, every value arrives
// through the environment. POSIX sh (Jenkins runs `sh -xe`); `set +x` keeps values out of the trace.
// stdout carries only ci-ecs' JSON result and a last line with its exit code; everything else goes to stderr.
@Field final String DEPLOY_SCRIPT = '''set +x
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
        shown="$(printf '%s' "$CI_ECS_INSTALL" | sed -E 's#://[^/@ ]*@#://***@#g')"  # no URL password in the log
        echo "deployToEcs: installing $shown into $venv" >&2
        rm -rf "$venv"
        set -f
        # unquoted on purpose: `install` may hold several pip arguments; set -f stops globbing
        set -- --disable-pip-version-check --no-input --constraint "$CI_ECS_CONSTRAINTS"
        if ! install_ci_ecs "$@" >"$work/pip.log" 2>&1; then
            sed -E 's#://[^/@ ]*@#://***@#g' "$work/pip.log" >&2
            reason="$(grep -E '^(ERROR|error):' "$work/pip.log" | tail -n 1 | sed -E 's#://[^/@ ]*@#://***@#g')"
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
    "$ci_ecs" deploy --output json || status=$?
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

/** Deploys with `ci-ecs deploy`; returns its JSON result (publicIps, taskDefinitionArn, imageUri, ...) as a Map. */
Map call(Map params = [:]) {
    List unknown = []
    for (String key in params.keySet()) {
        if (!DEFAULTS.containsKey(key)) {
            unknown << key
        }
    }
    if (unknown) {
        String separator = ', '
        error("deployToEcs: unknown parameter(s): ${unknown.sort().join(separator)} " +
              "(known: ${DEFAULTS.keySet().sort().join(separator)})")
    }
    Map options = [:]
    options.putAll(DEFAULTS)
    for (String key in params.keySet()) {
        if (params[key] != null) {
            options[key] = params[key]
        }
    }
    if (!isUnix()) {
        error('deployToEcs: needs a Unix agent (it runs a POSIX sh script)')
    }

    // The ci-ecs version this library belongs to, and its dependencies' pins, shipped in resources/.
    String version = libraryResource('ci-ecs/version.txt').trim()
    if (options.install == null) {
        String repository = options.repository ?: env.CI_ECS_REPOSITORY
        if (!repository) {
            error('deployToEcs: set `repository` (or env.CI_ECS_REPOSITORY) to the git URL of the ci-ecs library, ' +
                  "or `install` to what to pip-install (e.g. 'ci-ecs==${version}' once released)")
        }
        options.install = "git+${repository}@v${version}".toString()
    }
    String tmp = pwd(tmp: true)
    String constraints = "${tmp}/ci-ecs-constraints-${version}.txt"
    writeFile(file: constraints, text: libraryResource('ci-ecs/constraints.txt'))
    List environment = ["CI_ECS_VENV=${tmp}/ci-ecs-venv".toString(), "CI_ECS_TMP=${tmp}".toString(),
                        "CI_ECS_CONSTRAINTS=${constraints}".toString()]
    for (String key in ENV_NAMES.keySet()) {
        String value = envValue(options[key])
        if (value != null) {
            environment << "${ENV_NAMES[key]}=${value}".toString()
        }
    }

    Map shOptions = [script: DEPLOY_SCRIPT, returnStdout: true, label: 'ci-ecs deploy']
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
    return handleResult(stdout)
}

/** A parameter as the string ci-ecs reads from the environment; null when not given. */
private String envValue(Object value) {
    if (value == null) {
        return null
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

/** Parses the script's stdout: ci-ecs' JSON object, a reason line, then `ci-ecs-exit-code=N`. Fails unless N is 0. */
private Map handleResult(String stdout) {
    List lines = (stdout ?: '').readLines()
    String last = lines ? lines[-1].trim() : ''
    if (!last.startsWith(EXIT_CODE_PREFIX)) {
        error('deployToEcs: ci-ecs did not finish (no exit code in its output); see the log above')
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
        error("deployToEcs: installing ci-ecs failed: ${installFailed}")
    }
    String json = jsonLines.join('\n').trim()
    Map result = json ? (Map) new JsonSlurperClassic().parseText(json) : [:]
    echo('ci-ecs-result=' + groovy.json.JsonOutput.toJson(result))  // one line `ci-ecs jenkins run` reads
    if (exitCode != 0) {
        String why = result.error ?: reason ?: EXIT_CODES.get(exitCode, 'see the log above')
        error("deployToEcs: ci-ecs deploy failed (exit code ${exitCode}): ${why}")
    }
    return result
}
