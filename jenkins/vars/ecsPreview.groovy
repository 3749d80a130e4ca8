// ecsPreview: a preview of the config's service per pull request, with `ci-ecs preview up|down`.
//
//   // in a multibranch pipeline: env.CHANGE_ID is the pull request's number (null on a branch build)
//   String url = ecsPreview(action: 'up', id: env.CHANGE_ID, tag: env.GIT_COMMIT, credentialsId: 'aws-deploy')
//   echo "preview: ${url}"
//   ecsPreview(action: 'down', id: env.CHANGE_ID, credentialsId: 'aws-deploy')   // when the request is closed
//
// up deploys the service as `<service>-pr-<id>` (every deployToEcs parameter works the same) and returns the
// preview's URL (null when it has none); down removes what up created and returns ci-ecs' result (a Map with
// previewId and removed), succeeding also when nothing was there. The step only maps its parameters onto the
// CI_ECS_* variables ci-ecs reads; running it is ciEcsInternal's, with deployToEcs' rules: values reach the shell
// only through withEnv of a fixed single-quoted script, AWS keys only through withCredentials.
import groovy.transform.Field

// Every parameter ecsPreview takes, with its default: action and id, then deployToEcs' own but dryRun (`ci-ecs
// preview up` has no --dry-run). null means "not given": ci-ecs then uses the config file's value or its default.
@Field final Map DEFAULTS = [
    // 'up' (deploy or update the preview) or 'down' (remove it). Required.
    action: null,
    // The preview's id: letters, digits and '-' (e.g. the pull request's number); null = env.CHANGE_ID.
    id: null,
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

// Parameter -> the CI_ECS_* variable ci-ecs reads it from (action and id are passed by ciEcsInternal as
// CI_ECS_PREVIEW_ACTION / CI_ECS_PREVIEW_ID, the arguments of `ci-ecs preview ACTION --id ID`).
@Field final Map ENV_NAMES = [
    action: 'CI_ECS_PREVIEW_ACTION',
    id: 'CI_ECS_PREVIEW_ID',
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
    verify: 'CI_ECS_VERIFY',
    region: 'CI_ECS_REGION',
    profile: 'CI_ECS_PROFILE',
    endpointUrl: 'CI_ECS_ENDPOINT_URL',
    assumeRoleArn: 'CI_ECS_ASSUME_ROLE_ARN',
    debug: 'CI_ECS_DEBUG',
    install: 'CI_ECS_INSTALL',
    python: 'CI_ECS_PYTHON',
]

// The two actions: `ci-ecs preview up` and `ci-ecs preview down`.
@Field final String UP = 'up'
@Field final List ACTIONS = [UP, 'down']

// What ci-ecs preview's own exit codes mean (as deploy's); 2 and 3 are ciEcsInternal's.
@Field final Map EXIT_CODES = [
    1: 'the deployment failed',
    4: 'timed out waiting for the deployment',
]

/** `ci-ecs preview up|down`: on up the preview's URL (a String, null when it has none); on down the result Map. */
def call(Map params = [:]) {
    Map given = [:]
    given.putAll(params)
    if (!ACTIONS.contains(given.action)) {
        error("ecsPreview: action: must be 'up' or 'down', not ${given.action == null ? 'null' : given.action}")
    }
    if (given.id == null) {
        given.id = env.CHANGE_ID
    }
    if (!given.id) {
        error('ecsPreview: id: not given, and env.CHANGE_ID is empty (this build is not for a pull request)')
    }
    Map result = ciEcsInternal.runCiEcs(step: 'ecsPreview', command: 'preview', params: given, defaults: DEFAULTS,
                                        envNames: ENV_NAMES, exitCodes: EXIT_CODES, printResult: true)
    return given.action == UP ? result.previewUrl : result
}
