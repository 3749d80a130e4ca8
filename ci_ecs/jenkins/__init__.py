"""`ci-ecs jenkins`: put the `deployToEcs` library and a deploy job into Jenkins, run the job, follow it.

Driven through jenkinsapi (the `jenkins` extra). One module per concern: `connection` (connect, map HTTP and
network errors to ci-ecs' exit codes), `jenkinsfile` (the generated pipeline), `jobconfig` (the job's config.xml,
built and compared semantically), `library` (the global pipeline library, through the script console), `setup`
and `run` (the two commands).
"""

from __future__ import annotations

# The line `deployToEcs` prints with its result Map as JSON (jenkins/vars/deployToEcs.groovy); `run` finds it.
RESULT_PREFIX = "ci-ecs-result="
# The global pipeline library's name, as the generated Jenkinsfile loads it (`@Library('ci-ecs')`).
LIBRARY_NAME = "ci-ecs"
# Where the step lives in this repository: Jenkins' "Library Path" setting of the library.
LIBRARY_PATH = "jenkins/"
