"""`ci-ecs jenkins setup|run`, the real command driving jenkinsapi against a STAND-IN Jenkins controller.

The controller (tests/jenkins/controller.py) is not Jenkins: it is written from Jenkins' documented REST API
and implements exactly the endpoints jenkinsapi calls for these two commands (job list, crumb, createItem,
config.xml, buildWithParameters, queue item, build, progressive console, stop, scriptText). What it covers for
real: a triggered build runs the job's generated Jenkinsfile, whose `deployToEcs` call runs in
jenkins/test/harness.groovy with the library cloned from a git repository at the version `setup` set, and that
step runs the real ci-ecs against the real sandbox; its output is the console `run` streams. The script console
runs the Groovy `setup` sends against stand-in classes of the Jenkins library API (tests/jenkins/stubs/).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
import requests

from tests.wrappers.conftest import CONFIG_YAML, SandboxProcess, write_config

from .conftest import LIBRARY_VERSION, TOKEN, USER, ci_ecs
from .controller import Job, StandInJenkins

pytestmark = pytest.mark.wrappers


def setup_job(jenkins: StandInJenkins, config: Path, job: str, library_repo: str, *extra: str) -> dict:
    run = ci_ecs("jenkins", "setup", "-c", str(config), "--job", job, "--library-repo", library_repo,
                 "--credentials-id", "aws-deploy", "--install", "", "--output", "json", *extra, jenkins=jenkins)
    assert run.code == 0, run.stderr
    assert TOKEN not in run.stdout + run.stderr
    return run.json


def test_setup_twice_second_unchanged(controller: StandInJenkins, library_repo: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, "jenkins-setup", "setup-web")
    first = setup_job(controller, config, "deploy-web", library_repo)
    assert (first["library"], first["jobAction"]) == ("created", "created")
    (library,) = controller.libraries()
    assert library == {"name": "ci-ecs", "defaultVersion": LIBRARY_VERSION, "remote": library_repo,
                       "credentialsId": "aws-deploy", "libraryPath": "jenkins/", "implicit": False,
                       "allowVersionOverride": True, "includeInChangesets": True}
    job = controller.jobs["deploy-web"]
    script = ET.fromstring(job.config_xml).findtext("definition/script") or ""
    assert "@Library('ci-ecs') _" in script
    assert "cluster: 'jenkins-setup'" in script and "service: 'setup-web'" in script
    assert "credentialsId: 'aws-deploy'" in script and "tag: params.TAG ?: null" in script
    assert f"repository: '{library_repo}'" in script  # the step's default install comes from the library's repo
    posts_before = [r for r in controller.requests if r[0] == "POST"]

    second = setup_job(controller, config, "deploy-web", library_repo)
    assert (second["library"], second["jobAction"]) == ("unchanged", "unchanged")
    posts = [r for r in controller.requests if r[0] == "POST"][len(posts_before):]
    assert posts == [("POST", "/scriptText")]  # the library check only: no createItem, no config.xml

    # A property added in Jenkins by hand survives an update; only the managed elements change.
    root = ET.fromstring(job.config_xml)
    ET.SubElement(root.find("properties"), "jenkins.model.BuildDiscarderProperty").text = "keep"
    job.config_xml = ET.tostring(root, encoding="unicode")
    third = setup_job(controller, config, "deploy-web", library_repo, "--credentials-id", "aws-other")
    assert (third["library"], third["jobAction"], third["changed"]) == ("updated", "updated", ["definition"])
    assert "<jenkins.model.BuildDiscarderProperty>keep<" in controller.jobs["deploy-web"].config_xml
    assert controller.libraries()[0]["credentialsId"] == "aws-other"


# A Jenkins that already has the library, saved as Jenkins saves it (XStream; element names are the fields of
# pipeline-groovy-lib's and the Git plugin's classes), with every field set away from its default, and a second
# library ci-ecs has nothing to do with.
EXISTING_LIBRARIES = """\
<?xml version='1.1' encoding='UTF-8'?>
<org.jenkinsci.plugins.workflow.libs.GlobalLibraries>
  <libraries>
    <org.jenkinsci.plugins.workflow.libs.LibraryConfiguration>
      <name>ci-ecs</name>
      <retriever class="org.jenkinsci.plugins.workflow.libs.SCMSourceRetriever">
        <clone>true</clone>
        <libraryPath>jenkins/</libraryPath>
        <scm class="jenkins.plugins.git.GitSCMSource">
          <id>4d2b5a1e-7f3c-4f0e-9a53-0c1f2e6b7a10</id>
          <remote>{remote}</remote>
          <credentialsId>old-credentials</credentialsId>
          <traits>
            <jenkins.plugins.git.traits.BranchDiscoveryTrait/>
            <jenkins.plugins.git.traits.CloneOptionTrait>
              <extension class="hudson.plugins.git.extensions.impl.CloneOption">
                <shallow>true</shallow>
                <noTags>true</noTags>
                <reference>/var/cache/git/ci-ecs.git</reference>
                <timeout>20</timeout>
                <depth>3</depth>
                <honorRefspec>true</honorRefspec>
              </extension>
            </jenkins.plugins.git.traits.CloneOptionTrait>
          </traits>
        </scm>
      </retriever>
      <defaultVersion>v0.0.9</defaultVersion>
      <implicit>true</implicit>
      <allowVersionOverride>false</allowVersionOverride>
      <allowBRANCH_NAME>true</allowBRANCH_NAME>
      <allowBRANCH_NAME_PR>true</allowBRANCH_NAME_PR>
      <traceBRANCH_NAME>true</traceBRANCH_NAME>
      <includeInChangesets>false</includeInChangesets>
      <cachingConfiguration>
        <refreshTimeMinutes>60</refreshTimeMinutes>
        <excludedVersionsStr>main</excludedVersionsStr>
        <includedVersionsStr>v0.1.0</includedVersionsStr>
      </cachingConfiguration>
    </org.jenkinsci.plugins.workflow.libs.LibraryConfiguration>
    <org.jenkinsci.plugins.workflow.libs.LibraryConfiguration>
      <name>team-steps</name>
      <retriever class="org.jenkinsci.plugins.workflow.libs.SCMSourceRetriever">
        <clone>false</clone>
        <scm class="jenkins.plugins.git.GitSCMSource">
          <id>team</id>
          <remote>https://git.example.com/team/steps.git</remote>
          <traits/>
        </scm>
      </retriever>
      <defaultVersion>main</defaultVersion>
      <implicit>true</implicit>
      <allowVersionOverride>true</allowVersionOverride>
      <allowBRANCH_NAME>false</allowBRANCH_NAME>
      <allowBRANCH_NAME_PR>false</allowBRANCH_NAME_PR>
      <traceBRANCH_NAME>false</traceBRANCH_NAME>
      <includeInChangesets>true</includeInChangesets>
    </org.jenkinsci.plugins.workflow.libs.LibraryConfiguration>
  </libraries>
</org.jenkinsci.plugins.workflow.libs.GlobalLibraries>
"""
# The elements `setup` manages (under the library `ci-ecs`, the first one).
LIBRARY = "libraries/org.jenkinsci.plugins.workflow.libs.LibraryConfiguration[0]"
MANAGED = {f"{LIBRARY}/defaultVersion", f"{LIBRARY}/retriever/libraryPath", f"{LIBRARY}/retriever/scm/credentialsId"}


def _leaves(xml: str) -> dict[str, str]:
    """path -> text of every element without children (`a/b[1]/c`; siblings of one name are numbered)."""
    found: dict[str, str] = {}

    def walk(node: ET.Element, path: str) -> None:
        children = list(node)
        if not children:
            found[path] = (node.text or "").strip()
        counts: dict[str, int] = {}
        for child in children:
            same = [c for c in children if c.tag == child.tag]
            index = counts.get(child.tag, 0)
            counts[child.tag] = index + 1
            walk(child, f"{path}/{child.tag}[{index}]" if len(same) > 1 else f"{path}/{child.tag}")

    walk(ET.fromstring(xml), "")
    return {path.lstrip("/"): text for path, text in found.items()}


def test_setup_changes_only_the_fields_it_manages(controller: StandInJenkins, library_repo: str,
                                                  tmp_path: Path) -> None:
    """Issue 23: an existing library keeps every field `setup` does not manage (implicit, caching, clone, the
    source's id and clone options, flags of plugin versions ci-ecs has never heard of, other libraries)."""
    controller.libraries_file.write_text(EXISTING_LIBRARIES.format(remote=library_repo))
    before = _leaves(controller.libraries_file.read_text())
    config = write_config(tmp_path, "jenkins-keep", "keep-web")
    assert setup_job(controller, config, "deploy-keep", library_repo)["library"] == "updated"
    after = _leaves(controller.libraries_file.read_text())
    assert {k: v for k, v in after.items() if k not in MANAGED} == {k: v for k, v in before.items()
                                                                      if k not in MANAGED}
    assert (after[f"{LIBRARY}/defaultVersion"], after[f"{LIBRARY}/retriever/scm/credentialsId"]) == \
        (LIBRARY_VERSION, "aws-deploy")

    # Another repository: new source and retriever objects (their constructors take it), the rest copied over.
    moved = f"{library_repo}-moved"
    run = ci_ecs("jenkins", "setup", "-c", str(config), "--job", "deploy-keep", "--library-repo", moved,
                 "--credentials-id", "aws-deploy", "--install", "", "--output", "json", jenkins=controller)
    assert run.code == 0 and run.json["library"] == "updated", run.stderr
    moved_leaves = _leaves(controller.libraries_file.read_text())
    remote = f"{LIBRARY}/retriever/scm/remote"
    assert moved_leaves[remote] == moved
    assert {k: v for k, v in moved_leaves.items() if k != remote} == {k: v for k, v in after.items() if k != remote}


def test_print_and_dry_run_change_nothing(controller: StandInJenkins, library_repo: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, "jenkins-print", "print-web")
    printed = ci_ecs("jenkins", "setup", "-c", str(config), "--job", "deploy-print", "--library-repo",
                     library_repo, "--print")  # no Jenkins connection at all
    assert printed.code == 0, printed.stderr
    assert printed.stdout.startswith("// Generated by `ci-ecs jenkins setup`")
    assert "writeFile(file: 'ci-ecs.yml', text: '''region: us-east-1\n" in printed.stdout

    dry = ci_ecs("jenkins", "setup", "-c", str(config), "--job", "deploy-print", "--library-repo", library_repo,
                 "--folder", "team", "--dry-run", "--output", "json", jenkins=controller)
    assert dry.code == 0, dry.stderr
    assert (dry.json["library"], dry.json["jobAction"], dry.json["dryRun"]) == ("created", "created", True)
    assert dry.json["jobUrl"].endswith("/job/team/job/deploy-print")
    assert controller.libraries() == [] and controller.jobs == {}
    assert [r for r in controller.requests if r[0] == "POST"] == [("POST", "/scriptText")]

    missing = ci_ecs("jenkins", "setup", "-c", str(config), "--job", "x", "--library-repo", library_repo,
                     "--folder", "nope", jenkins=controller)
    assert missing.code == 2
    assert missing.stderr.strip().splitlines() == [
        "error: --folder: folder nope does not exist in Jenkins: create it, or leave out --folder"]


def test_job_installs_ci_ecs_from_the_library_repository(tmp_path: Path, sandbox: SandboxProcess) -> None:
    """Without --install, the job's deployToEcs installs git+<library repo>@v<version>: no CI_ECS_REPOSITORY needed."""
    from tests.wrappers.conftest import copy_repo

    from .conftest import start_controller

    repo = copy_repo(tmp_path / "ci-ecs")  # the whole project: the library (jenkins/) and the package
    subprocess.run(["git", "tag", LIBRARY_VERSION], cwd=repo, check=True)
    jenkins = start_controller(tmp_path / "controller", sandbox)
    try:
        config = write_config(tmp_path, "jenkins-library", "library-web")
        setup = ci_ecs("jenkins", "setup", "-c", str(config), "--job", "deploy-library", "--library-repo",
                       f"file://{repo}", "--credentials-id", "aws-deploy", "--output", "json", jenkins=jenkins)
        assert setup.code == 0, setup.stderr
        run = ci_ecs("jenkins", "run", "--job", "deploy-library", "--output", "json", "--poll-interval", "0.2",
                     jenkins=jenkins, timeout=600)
        assert run.code == 0, run.stderr[-4000:]
        assert f"deployToEcs: installing git+file://{repo}@{LIBRARY_VERSION} into" in run.stderr
        assert run.json["result"] == "SUCCESS" and run.json["deploy"]["publicIps"]
    finally:
        jenkins.stop()


@pytest.fixture(scope="module")
def deploy_jobs(tmp_path_factory: pytest.TempPathFactory, sandbox: SandboxProcess,
                library_repo: str) -> tuple[StandInJenkins, str]:
    """A controller with two jobs set up by `ci-ecs jenkins setup`: deploy-web (works), deploy-broken (its
    image was never pushed: the tasks cannot start)."""
    from .conftest import start_controller

    root = tmp_path_factory.mktemp("run")
    jenkins = start_controller(root / "controller", sandbox)
    good = write_config(root, "jenkins-run", "run-web")
    setup_job(jenkins, good, "deploy-web", library_repo)
    broken = root / "broken.yml"
    broken.write_text(CONFIG_YAML.format(cluster="jenkins-run", service="run-broken").replace(
        "public.ecr.aws/nginx/nginx:1.27", sandbox.missing_image("jenkins-missing")))
    setup_job(jenkins, broken, "deploy-broken", library_repo)
    yield jenkins, library_repo
    jenkins.stop()


def test_run_to_success(deploy_jobs: tuple[StandInJenkins, str]) -> None:
    jenkins, _ = deploy_jobs
    text = ci_ecs("jenkins", "run", "--job", "deploy-web", "--param", "TAG=", "--poll-interval", "0.2",
                  jenkins=jenkins)
    assert text.code == 0, text.stdout + text.stderr
    # The console, streamed to stdout: the pipeline, the real ci-ecs deploy, the step's result line.
    assert "[Pipeline] { (Deploy to Amazon ECS)" in text.stdout
    assert "ci-ecs: deployed arn:aws:ecs:us-east-1:" in text.stdout
    result_line = next(line for line in text.stdout.splitlines() if line.startswith("ci-ecs-result="))
    ips = json.loads(result_line.split("=", 1)[1])["publicIps"]
    assert len(ips) == 2 and all(ip.startswith("203.0.113.") for ip in ips)
    assert text.stdout.rstrip().endswith("Finished: SUCCESS")
    assert "ci-ecs: build #1 SUCCESS: " in text.stderr
    assert TOKEN not in text.stdout + text.stderr

    as_json = ci_ecs("jenkins", "run", "--job", "deploy-web", "--output", "json", "--poll-interval", "0.2",
                     jenkins=jenkins)
    assert as_json.code == 0, as_json.stderr
    out = as_json.json
    assert (out["job"], out["number"], out["result"]) == ("deploy-web", 2, "SUCCESS")
    assert out["url"] == f"{jenkins.url}job/deploy-web/2/"
    assert out["durationSeconds"] > 0
    assert out["deploy"]["serviceAction"] == "unchanged" and sorted(out["deploy"]["publicIps"]) == sorted(ips)
    assert "Finished: SUCCESS" in as_json.stderr  # the console goes to stderr with --output json


def test_failing_deploy_ends_failure_exit_1(deploy_jobs: tuple[StandInJenkins, str]) -> None:
    jenkins, _ = deploy_jobs
    run = ci_ecs("jenkins", "run", "--job", "deploy-broken", "--output", "json", "--poll-interval", "0.2",
                 jenkins=jenkins)
    assert run.code == 1, run.stderr
    out = run.json
    assert out["result"] == "FAILURE"
    assert "CannotPullContainerError" in run.stderr
    assert out["deploy"]["error"] and out["deploy"]["service"] == "run-broken"
    assert out["error"].startswith("build #1 of deploy-broken finished FAILURE: ")
    assert jenkins.jobs["deploy-broken"].builds[0].result == "FAILURE"


def test_timeout_exits_4_and_the_build_keeps_running(deploy_jobs: tuple[StandInJenkins, str]) -> None:
    jenkins, _ = deploy_jobs
    run = ci_ecs("jenkins", "run", "--job", "deploy-web", "--timeout", "1", "--output", "json",
                 "--poll-interval", "0.2", jenkins=jenkins)
    assert run.code == 4, run.stderr
    assert "keeps running" in run.json["error"] or "still in the queue" in run.json["error"]
    job = jenkins.jobs["deploy-web"]
    build = job.builds[-1]
    assert build.result is None  # not aborted
    deadline = time.monotonic() + 120
    while build.result is None and time.monotonic() < deadline:
        time.sleep(0.3)
    assert build.result == "SUCCESS"


def test_sigterm_aborts_the_build_exit_143(deploy_jobs: tuple[StandInJenkins, str]) -> None:
    jenkins, _ = deploy_jobs
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "JENKINS_"))}
    env.update({"JENKINS_URL": jenkins.url, "JENKINS_USER": USER, "JENKINS_API_TOKEN": TOKEN,
                "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"})
    proc = subprocess.Popen(["ci-ecs", "jenkins", "run", "--job", "deploy-web", "--poll-interval", "0.2"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    job = jenkins.jobs["deploy-web"]
    count = len(job.builds)
    deadline = time.monotonic() + 30
    while (len(job.builds) == count or not job.builds[-1].log) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert f"aborted build #{len(job.builds)} of deploy-web" in stderr
    build = job.builds[-1]
    deadline = time.monotonic() + 30
    while build.result is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert build.result == "ABORTED"
    assert ("POST", f"/job/deploy-web/{build.number}/stop") in jenkins.requests


def test_wrong_token_exit_3(deploy_jobs: tuple[StandInJenkins, str]) -> None:
    jenkins, _ = deploy_jobs
    wrong = "0123456789abcdef-wrong-token"
    builds = len(jenkins.jobs["deploy-web"].builds)
    run = ci_ecs("jenkins", "run", "--job", "deploy-web", jenkins=jenkins, token=wrong)
    assert run.code == 3
    assert run.stderr.strip().splitlines() == [
        "error: Jenkins refused the credentials (HTTP 401 on /api/python): check --user and the API token "
        "(JENKINS_API_TOKEN)"]
    assert wrong not in run.stdout + run.stderr
    assert len(jenkins.jobs["deploy-web"].builds) == builds  # nothing was triggered


def test_unreachable_url_exit_1_one_line() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = ci_ecs("jenkins", "run", "--job", "deploy-web", url=f"http://127.0.0.1:{port}/")
    assert run.code == 1
    assert run.stderr.strip().splitlines() == [
        f"error: cannot reach Jenkins at http://127.0.0.1:{port}/: Connection refused"]
    assert run.stdout == ""


def test_bad_usage_exit_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, "c", "s")
    no_url = ci_ecs("jenkins", "run", "--job", "x")
    assert no_url.code == 2 and no_url.stderr.strip() == \
        "error: --url: the Jenkins URL is required (--url or JENKINS_URL)"
    bad_param = ci_ecs("jenkins", "run", "--job", "x", "--param", "TAG", url="http://127.0.0.1:9/")
    assert bad_param.code == 2 and "--param: must be NAME=VALUE" in bad_param.stderr
    bad_job = ci_ecs("jenkins", "setup", "-c", str(config), "--job", "a/b", "--library-repo", "r", "--print")
    assert bad_job.code == 2 and "--job: 'a/b' is not a Jenkins item name" in bad_job.stderr
    build = tmp_path / "build.yml"
    build.write_text(config.read_text() + "repository: {name: web}\nimage: {tag: '1', build: {context: .}}\n")
    refused = ci_ecs("jenkins", "setup", "-c", str(build), "--job", "j", "--library-repo", "r", "--print")
    assert refused.code == 2 and "image.build: the Jenkins job has no checkout" in refused.stderr


def _add_job(jenkins: StandInJenkins, name: str, steps: str) -> None:
    """A Pipeline job whose one stage runs `steps` (loads the library like the deploy jobs, deploys nothing)."""
    script = ("@Library('ci-ecs') _\n\npipeline {\n    agent any\n    stages {\n        stage('Check') {\n"
              f"            steps {{\n                {steps}\n            }}\n        }}\n    }}\n}}\n")
    config = ("<?xml version='1.1' encoding='UTF-8'?>\n<flow-definition><description>checks</description>"
              "<properties/><definition class='org.jenkinsci.plugins.workflow.cps.CpsFlowDefinition'>"
              f"<script>{escape(script)}</script><sandbox>true</sandbox></definition></flow-definition>")
    with jenkins.lock:
        jenkins.jobs.setdefault(name, Job(name, config))


@pytest.mark.parametrize(("steps", "result", "meaning"), [
    ("unstable('smoke test: 1 of 3 checks failed')", "UNSTABLE", "a step marked the build unstable"),
    ("script { currentBuild.result = 'NOT_BUILT' }", "NOT_BUILT", "Jenkins did not run the build's steps"),
], ids=["unstable", "not-built"])
def test_unstable_and_not_built_exit_1_saying_what_they_mean(deploy_jobs: tuple[StandInJenkins, str], steps: str,
                                                             result: str, meaning: str) -> None:
    jenkins, _ = deploy_jobs
    name = f"check-{result.lower()}"
    _add_job(jenkins, name, steps)
    run = ci_ecs("jenkins", "run", "--job", name, "--output", "json", "--poll-interval", "0.2", jenkins=jenkins)
    assert run.code == 1, run.stderr
    assert run.json["result"] == result and jenkins.jobs[name].builds[-1].result == result
    number = run.json["number"]
    assert run.json["error"] == (f"build #{number} of {name} finished {result}: {meaning}"
                                 f"{RESULT_DETAIL[result]}; the deploy step did not report a result "
                                 f"({jenkins.url}job/{name}/{number}/)")
    assert f"Finished: {result}" in run.stderr


RESULT_DETAIL = {"UNSTABLE": " (e.g. failing tests or the `unstable` step); treated as a failure",
                 "NOT_BUILT": " (e.g. skipped, or superseded by a newer build)"}


def test_queue_item_forgotten_after_it_left_is_found_by_its_build(deploy_jobs: tuple[StandInJenkins, str]) -> None:
    """Jenkins forgets a left queue item (404) after a while: `run` finds the build by its queueId."""
    jenkins, _ = deploy_jobs
    _add_job(jenkins, "check-ok", "echo 'all good'")
    jenkins.left_item_seconds = 0  # forgotten the moment it leaves (Jenkins: 5 minutes)
    try:
        run = ci_ecs("jenkins", "run", "--job", "check-ok", "--output", "json", "--poll-interval", "0.8",
                     jenkins=jenkins)
    finally:
        jenkins.left_item_seconds = 300
    assert run.code == 0, run.stderr
    assert run.json["result"] == "SUCCESS" and "all good" in run.stderr
    assert any(path == "/queue/item/{}/api/json".format(jenkins.jobs["check-ok"].builds[-1].queue_id)
               for _, path in jenkins.requests)


def _run_in_background(jenkins: StandInJenkins, job: str, poll: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "JENKINS_"))}
    env.update({"JENKINS_URL": jenkins.url, "JENKINS_USER": USER, "JENKINS_API_TOKEN": TOKEN,
                "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"})
    return subprocess.Popen(["ci-ecs", "jenkins", "run", "--job", job, "--poll-interval", poll], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _queued(jenkins: StandInJenkins, job: str, before: set[int]) -> object:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with jenkins.lock:
            items = [i for i in jenkins.queue.values() if i.job == job and i.id not in before]
        if items:
            time.sleep(0.5)  # `run` has read it once
            return items[0]
        time.sleep(0.1)
    pytest.fail(f"{job} was never queued")


def test_queue_item_cancelled_in_jenkins_exit_1(deploy_jobs: tuple[StandInJenkins, str]) -> None:
    jenkins, _ = deploy_jobs
    _add_job(jenkins, "check-ok", "echo 'all good'")
    jenkins.quiet_period = 30
    try:
        before = set(jenkins.queue)
        proc = _run_in_background(jenkins, "check-ok", "0.2")
        item = _queued(jenkins, "check-ok", before)
        auth = (USER, TOKEN)
        crumb = requests.get(f"{jenkins.url}crumbIssuer/api/json", auth=auth, timeout=10).json()["crumb"]
        cancel = requests.post(f"{jenkins.url}queue/cancelItem", params={"id": item.id},  # type: ignore[attr-defined]
                               auth=auth, headers={"Jenkins-Crumb": crumb}, timeout=10)
        assert cancel.status_code == 204  # Queue.doCancelItem
        again = requests.post(f"{jenkins.url}queue/cancelItem", params={"id": item.id},  # type: ignore[attr-defined]
                              auth=auth, headers={"Jenkins-Crumb": crumb}, timeout=10)
        assert again.status_code == 500  # a LeftItem cannot be cancelled
        _, stderr = proc.communicate(timeout=60)
    finally:
        jenkins.quiet_period = 0.3
    assert proc.returncode == 1, stderr
    assert "error: the queue item of check-ok was cancelled in Jenkins before it started" in stderr


def test_sigterm_as_the_item_leaves_the_queue_stops_its_build(deploy_jobs: tuple[StandInJenkins, str]) -> None:
    """The cancel meets an item that has just become a build (cancelItem: 500): the build is stopped instead."""
    jenkins, _ = deploy_jobs
    _add_job(jenkins, "check-slow", "script { Thread.sleep(30000) }")
    jenkins.quiet_period = 60
    try:
        before = set(jenkins.queue)
        proc = _run_in_background(jenkins, "check-slow", "20")  # reads the queue once, then sleeps
        item = _queued(jenkins, "check-slow", before)
        jenkins._start(item)  # type: ignore[arg-type]  # an executor takes it while `run` sleeps
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        jenkins.quiet_period = 0.3
    assert proc.returncode == 143, stderr
    build = jenkins.jobs["check-slow"].builds[-1]
    assert f"aborted build #{build.number} of check-slow (it had just left the queue)" in stderr
    deadline = time.monotonic() + 30
    while build.result is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert build.result == "ABORTED"
