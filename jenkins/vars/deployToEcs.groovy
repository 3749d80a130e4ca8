// deployToEcs: publish an image to Amazon ECS with `ci-ecs deploy` and return its JSON result as a Map.
//
//   def result = deployToEcs(cluster: 'web', service: 'api', tag: env.GIT_COMMIT, credentialsId: 'aws-deploy')
//   echo "deployed ${result.taskDefinitionArn} to ${result.publicIps}"
//
// The step only maps its parameters onto `ci-ecs deploy` (the CI_ECS_* variables it reads); running it is
// ciEcsInternal's, shared with runEcsTask. Values reach the shell only as environment variables (withEnv) of a
// fixed, single-quoted script: no parameter is ever pasted into shell text, so quotes, `$(...)` and backticks in
// a value are just characters. AWS keys come from a Jenkins credential through withCredentials and so are
// masked in the log.
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
    // Full image reference to deploy as is, e.g. '123456789012.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:...';
    // or a Map of container name -> image, for several containers: [app: '...:1.2', nginx: '...:1.25'].
    image: null,
    // Image tag in the config's ECR repository, e.g. env.GIT_COMMIT (CI_ECS_IMAGE_TAG).
    tag: null,
    // Number of tasks to run (an integer).
    desiredCount: null,
    // Container(s) that get the deployed image: a name or a list of names (default: the config's).
    containerName: null,
    // Instead of the config's task section: a task definition file in the workspace (JSON/YAML), a family in ECS
    // (its latest ACTIVE revision is the base: image and env applied), or 'family:revision' / an ARN (as is).
    taskDefinition: null,
    // The family whose latest ACTIVE revision is the base (aws-actions render's name; same as a family above).
    taskDefinitionFamily: null,
    // Environment variables set on the image container(s), replacing the same names: a Map, e.g. [LOG_LEVEL: 'info'].
    env: null,
    // Keep null values in a task definition file (true/false; default false drops them, as aws-actions does).
    keepNullValueKeys: null,
    // Wait until the deployment completes (true/false; ci-ecs default: true).
    wait: null,
    // Seconds to wait for the deployment before failing with exit code 4 (ci-ecs default: 900).
    timeout: null,
    // Blue/green, canary, linear: 'completed' (wait until SUCCESSFUL, ci-ecs default) or 'traffic-shifted'.
    waitUntil: null,
    // Roll back to the previous task definition when the deployment fails (true/false).
    rollback: null,
    // Start a new deployment even when nothing changed (true/false).
    forceNewDeployment: null,
    // Create the service when it does not exist although the config has no service section (true/false).
    create: null,
    // Describe and diff only; write nothing to AWS (true/false).
    dryRun: null,
    // Probe the deployed service over HTTP after the deployment (true/false; default: the config's `verify`).
    verify: null,
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

// Parameter -> the CI_ECS_* variable `ci-ecs deploy` reads it from (ci_ecs/cli/options.py).
@Field final Map ENV_NAMES = [
    config: 'CI_ECS_CONFIG',
    cluster: 'CI_ECS_CLUSTER',
    service: 'CI_ECS_SERVICE',
    image: 'CI_ECS_IMAGE',
    tag: 'CI_ECS_IMAGE_TAG',
    desiredCount: 'CI_ECS_DESIRED_COUNT',
    containerName: 'CI_ECS_CONTAINER_NAME',
    taskDefinition: 'CI_ECS_TASK_DEFINITION',
    taskDefinitionFamily: 'CI_ECS_TASK_DEFINITION_FAMILY',
    env: 'CI_ECS_ENV',
    keepNullValueKeys: 'CI_ECS_KEEP_NULL_VALUE_KEYS',
    wait: 'CI_ECS_WAIT',
    timeout: 'CI_ECS_TIMEOUT',
    waitUntil: 'CI_ECS_WAIT_UNTIL',
    rollback: 'CI_ECS_ROLLBACK',
    forceNewDeployment: 'CI_ECS_FORCE_NEW_DEPLOYMENT',
    create: 'CI_ECS_CREATE',
    dryRun: 'CI_ECS_DRY_RUN',
    verify: 'CI_ECS_VERIFY',
    region: 'CI_ECS_REGION',
    profile: 'CI_ECS_PROFILE',
    endpointUrl: 'CI_ECS_ENDPOINT_URL',
    assumeRoleArn: 'CI_ECS_ASSUME_ROLE_ARN',
    debug: 'CI_ECS_DEBUG',
    install: 'CI_ECS_INSTALL',
    python: 'CI_ECS_PYTHON',
]

// What ci-ecs deploy's own exit codes mean (design.md, "Interfaces"); 2 and 3 are ciEcsInternal's.
@Field final Map EXIT_CODES = [
    1: 'the deployment failed',
    4: 'timed out waiting for the deployment',
]

/** Deploys with `ci-ecs deploy`; returns its JSON result (publicIps, taskDefinitionArn, imageUri, ...) as a Map. */
Map call(Map params = [:]) {
    return ciEcsInternal.runCiEcs(step: 'deployToEcs', command: 'deploy', params: params, defaults: DEFAULTS,
                                  envNames: ENV_NAMES, exitCodes: EXIT_CODES, printResult: true)
}
