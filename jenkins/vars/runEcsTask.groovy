// runEcsTask: run the config's task once with `ci-ecs run-task` (a database migration before deployToEcs) and
// return its JSON result as a Map; the build fails unless every essential container exited 0.
//
//   def run = runEcsTask(config: 'ci-ecs.yml', tag: env.GIT_COMMIT, command: 'python manage.py migrate --noinput',
//                        credentialsId: 'aws-deploy')
//   echo "migration ${run.taskArn} exited ${run.exitCode}"
//
// The step only maps its parameters onto `ci-ecs run-task` (the CI_ECS_* variables it reads); running it is
// ciEcsInternal's, shared with deployToEcs, with the same rules: values reach the shell only as environment
// variables (withEnv) of a fixed, single-quoted script, never as shell text (`command` is split like a shell
// splits words, by ci-ecs, and never evaluated); AWS keys come from withCredentials and are masked in the log.
import groovy.transform.Field

// Every parameter runEcsTask takes, with its default. null means "not given": ci-ecs then uses the config
// file's value or its own default (precedence: parameter > config file > ci-ecs default).
@Field final Map DEFAULTS = [
    // Path of the ci-ecs config file, relative to the current directory (the workspace).
    config: 'ci-ecs.yml',
    // ECS cluster name (CI_ECS_CLUSTER).
    cluster: null,
    // ECS service whose network configuration and launch type the task runs with (CI_ECS_SERVICE).
    service: null,
    // Full image reference to run as is; or a Map of container name -> image, for several containers.
    image: null,
    // Image tag in the config's ECR repository, e.g. env.GIT_COMMIT (CI_ECS_IMAGE_TAG).
    tag: null,
    // Instead of the config's task section: a task definition file in the workspace, a family in ECS, or
    // 'family:revision' / an ARN (run as is).
    taskDefinition: null,
    // The family whose latest ACTIVE revision is the base (aws-actions render's name; same as a family above).
    taskDefinitionFamily: null,
    // Keep null values in a task definition file (true/false; default false drops them).
    keepNullValueKeys: null,
    // The command for the container, one string split like a shell splits words (never evaluated), e.g.
    // 'python manage.py migrate --noinput' (default: the image's own command).
    command: null,
    // The container the command and env go to (default: the image container).
    containerName: null,
    // Environment variables for that container, for this run only: a Map, e.g. [DJANGO_SETTINGS: 'prod'].
    env: null,
    // Number of tasks to run (1 to 10; ci-ecs default 1).
    count: null,
    // Follow the task to STOPPED and fail unless every essential container exited 0 (true/false; default true).
    wait: null,
    // Seconds to wait for the task to stop before failing with exit code 4 (ci-ecs default: the config's, 900).
    timeout: null,
    // AWS region, e.g. 'eu-west-1' (else the config file's, then AWS_REGION on the agent).
    region: null,
    // AWS profile on the agent (for agents with ~/.aws/config; usually leave null).
    profile: null,
    // AWS endpoint URL, e.g. a local sandbox (usually null).
    endpointUrl: null,
    // IAM role ARN ci-ecs assumes before running the task (with the credentials below or the agent's own).
    assumeRoleArn: null,
    // Jenkins credential id of kind "AWS Credentials", bound with withCredentials to AWS_ACCESS_KEY_ID and
    // AWS_SECRET_ACCESS_KEY; null = the agent's own (instance role, env).
    credentialsId: null,
    // What to pip-install into the workspace's virtualenv (as deployToEcs; the two steps share it); null = the
    // ci-ecs version of this library from `repository`; '' = the `ci-ecs` already on the agent's PATH.
    install: null,
    // Git URL of the ci-ecs repository this library is loaded from, for the default `install`
    // (git+URL@v<version>); null = env.CI_ECS_REPOSITORY.
    repository: null,
    // Python interpreter that creates the virtualenv (needs the venv module: apt install python3-venv).
    python: 'python3',
    // Show tracebacks and every AWS call (true/false).
    debug: null,
]

// Parameter -> the CI_ECS_* variable `ci-ecs run-task` reads it from (ci_ecs/cli/options.py, ci_ecs/cli/run_task.py).
@Field final Map ENV_NAMES = [
    config: 'CI_ECS_CONFIG',
    cluster: 'CI_ECS_CLUSTER',
    service: 'CI_ECS_SERVICE',
    image: 'CI_ECS_IMAGE',
    tag: 'CI_ECS_IMAGE_TAG',
    taskDefinition: 'CI_ECS_TASK_DEFINITION',
    taskDefinitionFamily: 'CI_ECS_TASK_DEFINITION_FAMILY',
    keepNullValueKeys: 'CI_ECS_KEEP_NULL_VALUE_KEYS',
    command: 'CI_ECS_COMMAND',
    containerName: 'CI_ECS_CONTAINER_NAME',
    env: 'CI_ECS_ENV',
    count: 'CI_ECS_COUNT',
    wait: 'CI_ECS_WAIT',
    timeout: 'CI_ECS_TIMEOUT',
    region: 'CI_ECS_REGION',
    profile: 'CI_ECS_PROFILE',
    endpointUrl: 'CI_ECS_ENDPOINT_URL',
    assumeRoleArn: 'CI_ECS_ASSUME_ROLE_ARN',
    debug: 'CI_ECS_DEBUG',
    install: 'CI_ECS_INSTALL',
    python: 'CI_ECS_PYTHON',
]

// What ci-ecs run-task's own exit codes mean (README, "After the deploy"); 2 and 3 are ciEcsInternal's.
@Field final Map EXIT_CODES = [
    1: 'an essential container exited non-zero, or the task did not start',
    4: 'timed out waiting for the task to stop',
]

/** Runs the task once with `ci-ecs run-task`; returns its JSON result (taskArn, exitCode, containers, ...). */
Map call(Map params = [:]) {
    return ciEcsInternal.runCiEcs(step: 'runEcsTask', command: 'run-task', params: params, defaults: DEFAULTS,
                                  envNames: ENV_NAMES, exitCodes: EXIT_CODES, printResult: false)
}
