"""A STAND-IN for a Jenkins controller, for the `ci-ecs jenkins` tests. It is not Jenkins.

No Jenkins controller can be installed here (not in Debian, PyPI or npm). This module is written from
Jenkins' documented REST API (the Remote Access API page: api/json and api/python with `tree`, "Submitting
jobs" with buildWithParameters and the queue item in Location, createItem and job/NAME/config.xml; CSRF
protection with /crumbIssuer; the script console's /scriptText; the progressive console text with its
X-Text-Size and X-More-Data headers; job/NAME/N/stop and queue/cancelItem) and implements exactly the
endpoints jenkinsapi calls for `ci-ecs jenkins setup` and `ci-ecs jenkins run`:

    GET  /api/python|json                       the job list (folders are the rows without `color`)
    GET  /job/F/api/python|json                 a folder's jobs, or a job (builds, parameter definitions)
    GET  /crumbIssuer/api/python|json           a crumb; every POST must carry it (stricter than Jenkins,
                                                which exempts API-token requests: jenkinsapi's crumb use is tested)
    POST /createItem?name=N, /job/F/createItem  a job from config.xml (400 when the name is taken)
    GET/POST /job/X/config.xml                  the job's config, kept as posted (Jenkins re-serialises it)
    POST /job/X/buildWithParameters, /build     201 + Location: /queue/item/N/
    GET  /queue/item/N/api/python|json          WaitingItem, then LeftItem with `executable` (or `cancelled`),
                                                404 once Jenkins forgets the left item (Queue.leftItems: 5 minutes)
    POST /queue/cancelItem?id=N                 Queue.doCancelItem: 204 for a waiting item, 500 "Could not cancel
                                                run" for one that has left the queue, 404 for an unknown id
    GET  /job/X/N/api/python|json               the build: building, result (SUCCESS, UNSTABLE, FAILURE,
                                                NOT_BUILT, ABORTED), duration, url, queueId
    GET  /job/X/N/logText/progressiveText       the console from ?start=, X-Text-Size, X-More-Data
    POST /job/X/N/stop                          aborts the build (302 to it)
    POST /scriptText                            runs the posted script (see below)

Authentication is HTTP basic with the user's API token: a wrong token is 401, no credentials 403 (anonymous
has no Overall/Read). A triggered build RUNS FOR REAL: the job's Jenkinsfile (from its config.xml) loads the
global library it names, cloned with git from the repository and version the library is set to, and runs
under tests/jenkins/pipeline.groovy, whose library steps (deployToEcs) run in jenkins/test/harness.groovy:
`sh` runs the real ci-ecs against the sandbox, and that output is the console. The script console runs the
posted Groovy with `groovy` against stand-in classes of the Jenkins API it uses (tests/jenkins/stubs/:
pipeline-groovy-lib's GlobalLibraries, LibraryConfiguration, LibraryCachingConfiguration, SCMSourceRetriever,
the Git plugin's GitSCMSource with its traits and clone options), each with the fields its plugin's source
defines, saved as Jenkins saves them (XStream, org.jenkinsci.plugins.workflow.libs.GlobalLibraries.xml); like
Jenkins it answers 200 with the script's output, a failure's stack trace included.
Not covered: anything else Jenkins does (views, nodes, plugins, SCM jobs, permissions beyond the token).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RUNNER = HERE / "pipeline.groovy"
HARNESS = REPO / "jenkins" / "test" / "harness.groovy"
STUBS = HERE / "stubs"
JOB_CLASS = "org.jenkinsci.plugins.workflow.job.WorkflowJob"
RUN_CLASS = "org.jenkinsci.plugins.workflow.job.WorkflowRun"
FOLDER_CLASS = "com.cloudbees.hudson.plugins.folder.Folder"
CRUMB_FIELD = "Jenkins-Crumb"
QUIET_PERIOD = 0.3  # seconds a queue item waits before an executor takes it (the client must poll the queue)
LEFT_ITEM_SECONDS = 300.0  # Jenkins' Queue.leftItems cache: a left item answers for 5 minutes after it left
# pipeline.groovy's exit code -> the build's result (what currentBuild.result and `unstable` made it).
RESULTS = {0: "SUCCESS", 1: "FAILURE", 2: "UNSTABLE", 3: "NOT_BUILT"}


_compiled_stubs: dict[str, Path] = {}
_compile_lock = threading.Lock()


def compiled_stubs(groovy: str, java_home: str) -> Path:
    """The stub classes compiled once per test process (groovyc), so a script console call only starts a JVM."""
    with _compile_lock:
        if groovy not in _compiled_stubs:
            target = Path(tempfile.mkdtemp(prefix="jenkins-stubs-"))
            atexit.register(shutil.rmtree, target, True)
            groovyc = str(Path(groovy).with_name("groovyc"))
            sources = sorted(str(path) for path in STUBS.rglob("*.groovy"))
            subprocess.run([groovyc, "-d", str(target), *sources], check=True, capture_output=True, timeout=300,
                           env={**os.environ, "JAVA_HOME": java_home})
            _compiled_stubs[groovy] = target
        return _compiled_stubs[groovy]


def python_literal(value: Any) -> str:
    """Jenkins' api/python format: a Python literal (True/False/None), strings as JSON strings."""
    if value is True:
        return "True"
    if value is False:
        return "False"
    if value is None:
        return "None"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{python_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(python_literal(v) for v in value) + "]"
    return json.dumps(value)


def parse_tree(spec: str) -> dict[str, Any]:
    """`jobs[name,color],building` -> {"jobs": {"name": None, "color": None}, "building": None}."""
    pos = 0

    def parse_level() -> dict[str, Any]:
        nonlocal pos
        out: dict[str, Any] = {}
        name = ""
        while pos < len(spec):
            char = spec[pos]
            pos += 1
            if char == "[":
                out[name.strip()] = parse_level()
                name = ""
            elif char == "]":
                break
            elif char == ",":
                if name.strip():
                    out[name.strip()] = None
                name = ""
            else:
                name += char
        if name.strip():
            out[name.strip()] = None
        return out

    return parse_level()


def apply_tree(data: Any, tree: dict[str, Any] | None) -> Any:
    """`data` cut down to `tree` (Jenkins keeps `_class` on every object)."""
    if tree is None:
        return data
    if isinstance(data, list):
        return [apply_tree(item, tree) for item in data]
    if isinstance(data, dict):
        out = {"_class": data["_class"]} if "_class" in data else {}
        for key, sub in tree.items():
            if key in data:
                out[key] = apply_tree(data[key], sub)
        return out
    return data


@dataclass
class Build:
    number: int
    queue_id: int
    params: dict[str, str]
    started: float = field(default_factory=time.time)
    log: bytearray = field(default_factory=bytearray)
    result: str | None = None
    duration_ms: int = 0
    process: subprocess.Popen[bytes] | None = None
    aborted: bool = False

    @property
    def building(self) -> bool:
        return self.result is None


@dataclass
class Job:
    name: str  # full name, folder/name
    config_xml: str
    builds: list[Build] = field(default_factory=list)
    next_number: int = 1


@dataclass
class QueueItem:
    id: int
    job: str
    params: dict[str, str]
    since: float = field(default_factory=time.time)
    build: int | None = None
    cancelled: bool = False
    left: float | None = None  # when it left the queue (started or cancelled)


class StandInJenkins:
    """The stand-in controller: `start()`, then point jenkinsapi (or `ci-ecs jenkins`) at `url`."""

    def __init__(self, root: Path, *, user: str, token: str, agent_env: dict[str, str],
                 credentials: dict[str, dict[str, str]] | None = None, folders: tuple[str, ...] = (),
                 groovy: str = "groovy", java_home: str = "/usr/lib/jvm/java-17-openjdk-amd64") -> None:
        self.root = root
        self.user, self.token = user, token
        self.agent_env = agent_env
        self.credentials = credentials or {}
        self.folders = set(folders)
        self.groovy, self.java_home = groovy, java_home
        self.crumb = secrets.token_hex(16)
        self.jobs: dict[str, Job] = {}
        self.queue: dict[int, QueueItem] = {}
        self.next_queue_id = 1
        self.lock = threading.RLock()
        self.libraries_file = root / "org.jenkinsci.plugins.workflow.libs.GlobalLibraries.xml"
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, for the tests
        self.script_outputs: list[str] = []
        self.server: ThreadingHTTPServer | None = None
        self.url = ""
        self.quiet_period = QUIET_PERIOD
        self.left_item_seconds = LEFT_ITEM_SECONDS

    # -- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> StandInJenkins:
        compiled_stubs(self.groovy, self.java_home)  # before the first request: a script call only runs
        controller = self

        class Handler(_Handler):
            jenkins = controller

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        with self.lock:
            running = [b for job in self.jobs.values() for b in job.builds if b.process and b.building]
        for build in running:
            self._kill(build)
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    # -- model --------------------------------------------------------------------------------------------
    def job_url(self, name: str) -> str:
        return self.url + "".join(f"job/{quote(part)}/" for part in name.split("/"))

    def _row(self, name: str) -> dict[str, Any]:
        job = self.jobs[name]
        last = job.builds[-1] if job.builds else None
        if last is None:
            color = "notbuilt"
        else:
            finished = next((b for b in reversed(job.builds) if not b.building), None)
            base = {"SUCCESS": "blue", "FAILURE": "red", "UNSTABLE": "yellow", "ABORTED": "aborted",
                    "NOT_BUILT": "notbuilt"}.get(
                finished.result if finished and finished.result else "", "notbuilt")
            color = base + ("_anime" if last.building else "")
        return {"_class": JOB_CLASS, "name": name.split("/")[-1], "url": self.job_url(name), "color": color}

    def _children(self, folder: str) -> list[dict[str, Any]]:
        prefix = f"{folder}/" if folder else ""
        rows = []
        for name in sorted(self.folders):
            if name.startswith(prefix) and "/" not in name[len(prefix):]:
                rows.append({"_class": FOLDER_CLASS, "name": name.split("/")[-1], "url": self.job_url(name)})
        for name in sorted(self.jobs):
            if name.startswith(prefix) and "/" not in name[len(prefix):]:
                rows.append(self._row(name))
        return rows

    def parameter_definitions(self, job: Job) -> list[dict[str, Any]]:
        root = ET.fromstring(job.config_xml)
        out = []
        for node in root.findall("properties/hudson.model.ParametersDefinitionProperty/parameterDefinitions/*"):
            name = node.findtext("name") or ""
            default = node.findtext("defaultValue") or ""
            kind = node.tag.rsplit(".", 1)[-1]
            out.append({"_class": node.tag, "name": name, "type": kind, "description": node.findtext("description"),
                        "defaultParameterValue": {"_class": "hudson.model.StringParameterValue", "name": name,
                                                  "value": default}})
        return out

    def _build_ref(self, job: Job, build: Build | None) -> dict[str, Any] | None:
        if build is None:
            return None
        return {"_class": RUN_CLASS, "number": build.number, "url": f"{self.job_url(job.name)}{build.number}/"}

    def job_data(self, job: Job, deep: bool = False) -> dict[str, Any]:
        """The job; `deep` (a `tree` asked for): its builds as whole objects, so a tree can reach their fields."""
        definitions = self.parameter_definitions(job)
        prop = {"_class": "hudson.model.ParametersDefinitionProperty", "parameterDefinitions": definitions}
        builds = list(reversed(job.builds))  # newest first, as Jenkins lists them
        completed = [b for b in builds if not b.building]
        queued = [q for q in self.queue.values() if q.job == job.name and q.build is None and not q.cancelled]
        root = ET.fromstring(job.config_xml)
        return {
            **self._row(job.name), "fullName": job.name, "displayName": job.name.split("/")[-1],
            "fullDisplayName": job.name.replace("/", " » "), "description": root.findtext("description"),
            "buildable": True, "concurrentBuild": True, "nextBuildNumber": job.next_number,
            "actions": [prop] if definitions else [{}], "property": [prop] if definitions else [],
            "builds": [self.build_data(job, b) if deep else self._build_ref(job, b) for b in builds],
            "firstBuild": self._build_ref(job, job.builds[0] if job.builds else None),
            "lastBuild": self._build_ref(job, builds[0] if builds else None),
            "lastCompletedBuild": self._build_ref(job, completed[0] if completed else None),
            "inQueue": bool(queued),
            "queueItem": {"_class": "hudson.model.Queue$WaitingItem", "id": queued[0].id,
                          "url": f"queue/item/{queued[0].id}/"} if queued else None,
        }

    def _parameters_action(self, params: dict[str, str]) -> dict[str, Any]:
        return {"_class": "hudson.model.ParametersAction",
                "parameters": [{"_class": "hudson.model.StringParameterValue", "name": k, "value": v}
                               for k, v in params.items()]}

    def _cause(self) -> dict[str, Any]:
        return {"_class": "hudson.model.CauseAction",
                "causes": [{"_class": "hudson.model.Cause$UserIdCause",
                            "shortDescription": f"Started by user {self.user}", "userId": self.user}]}

    def queue_data(self, item: QueueItem) -> dict[str, Any]:
        job = self.jobs[item.job]
        common = {"actions": [self._parameters_action(item.params), self._cause()], "blocked": False,
                  "id": item.id, "inQueueSince": int(item.since * 1000), "stuck": False,
                  "params": "".join(f"\n{k}={v}" for k, v in item.params.items()),
                  "task": {"_class": JOB_CLASS, "name": item.job.split("/")[-1], "url": self.job_url(job.name),
                           "color": self._row(job.name)["color"]},
                  "url": f"queue/item/{item.id}/"}
        if item.build is None:
            return {"_class": "hudson.model.Queue$LeftItem" if item.cancelled else "hudson.model.Queue$WaitingItem",
                    **common, "buildable": False, "cancelled": item.cancelled, "executable": None,
                    "why": None if item.cancelled else "In the quiet period."}
        return {"_class": "hudson.model.Queue$LeftItem", **common, "buildable": False, "cancelled": False,
                "why": None, "executable": self._build_ref(job, self._find_build(job, item.build))}

    @staticmethod
    def _find_build(job: Job, number: int) -> Build | None:
        return next((b for b in job.builds if b.number == number), None)

    def build_data(self, job: Job, build: Build) -> dict[str, Any]:
        duration = build.duration_ms if not build.building else 0
        return {"_class": RUN_CLASS, "actions": [self._parameters_action(build.params), self._cause()],
                "building": build.building, "description": None, "displayName": f"#{build.number}",
                "duration": duration, "estimatedDuration": -1, "executor": None,
                "fullDisplayName": f"{job.name.replace('/', ' » ')} #{build.number}", "id": str(build.number),
                "keepLog": False, "number": build.number, "queueId": build.queue_id, "result": build.result,
                "timestamp": int(build.started * 1000), "url": f"{self.job_url(job.name)}{build.number}/",
                "changeSets": [], "culprits": [], "nextBuild": None, "previousBuild": None}

    # -- actions ------------------------------------------------------------------------------------------
    def enqueue(self, job: Job, params: dict[str, str]) -> QueueItem:
        defaults = {d["name"]: d["defaultParameterValue"]["value"] for d in self.parameter_definitions(job)}
        values = {name: params.get(name, default) for name, default in defaults.items()}
        item = QueueItem(self.next_queue_id, job.name, values)
        self.next_queue_id += 1
        self.queue[item.id] = item
        threading.Timer(self.quiet_period, self._start, args=(item,)).start()
        return item

    def _start(self, item: QueueItem) -> None:
        with self.lock:
            if item.cancelled or item.build is not None:  # cancelled, or started already
                return
            job = self.jobs[item.job]
            build = Build(job.next_number, item.id, dict(item.params))
            job.next_number += 1
            job.builds.append(build)
            item.build = build.number
            item.left = time.time()
        threading.Thread(target=self._run, args=(job, build), daemon=True).start()

    def _append(self, build: Build, text: str | bytes) -> None:
        with self.lock:
            build.log += text.encode() if isinstance(text, str) else text

    def _library_vars(self, job: Job, build: Build, script: str, scratch: Path) -> Path | None:
        """Check out the library the Jenkinsfile names (its default version) like Jenkins' LibraryAdder."""
        match = re.search(r"^\s*@Library\('([^'@]+)'\)\s*_\s*$", script, re.MULTILINE)
        if not match:
            self._append(build, "ERROR: the stand-in runs Jenkinsfiles that load one library with @Library\n")
            return None
        name = match.group(1)
        library = next((lib for lib in self.libraries() if lib["name"] == name), None)
        if library is None:
            self._append(build, f"ERROR: No library named {name} found\n")
            return None
        version = library["defaultVersion"]
        self._append(build, f"Loading library {name}@{version}\n")
        checkout = scratch / "libs" / name
        proc = subprocess.run(["git", "-c", "advice.detachedHead=false", "clone", "-q", "--depth", "1",
                               "--branch", version, library["remote"], str(checkout)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            self._append(build, f"ERROR: Checking out {name}@{version} failed: {proc.stderr.strip()}\n")
            return None
        return checkout / (library.get("libraryPath") or "") / "vars"

    def _run(self, job: Job, build: Build) -> None:
        self._append(build, f"Started by user {self.user}\n")
        scratch = Path(tempfile.mkdtemp(prefix=f"build-{build.number}-", dir=self.root))
        result = "FAILURE"
        try:
            script = ET.fromstring(job.config_xml).findtext("definition/script") or ""
            vars_dir = self._library_vars(job, build, script, scratch)
            if vars_dir is not None:
                workspace = self.root / "workspace" / job.name.replace("/", "_")
                jenkinsfile = scratch / "Jenkinsfile"
                jenkinsfile.write_text(script)
                env = {**self.agent_env, "BUILD_NUMBER": str(build.number), "JOB_NAME": job.name,
                       "BUILD_URL": f"{self.job_url(job.name)}{build.number}/", "JENKINS_URL": self.url,
                       "WORKSPACE": str(workspace)}
                scenario = scratch / "scenario.json"
                scenario.write_text(json.dumps({
                    "jenkinsfile": str(jenkinsfile), "vars": str(vars_dir), "harness": str(HARNESS),
                    "workspace": str(workspace), "params": build.params, "env": env,
                    "credentials": self.credentials}))
                process = subprocess.Popen([self.groovy, str(RUNNER), str(scenario)], stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                           env={**os.environ, "JAVA_HOME": self.java_home},
                                           start_new_session=True)
                with self.lock:
                    build.process = process
                assert process.stdout is not None
                for line in process.stdout:
                    self._append(build, line)
                code = process.wait()
                result = "ABORTED" if build.aborted else RESULTS.get(code, "FAILURE")
        finally:
            if build.aborted:
                result = "ABORTED"
                self._append(build, "Aborted by " + self.user + "\n")
            self._append(build, f"Finished: {result}\n")
            with self.lock:
                build.duration_ms = int((time.time() - build.started) * 1000)
                build.result = result
            shutil.rmtree(scratch, ignore_errors=True)

    def _kill(self, build: Build) -> None:
        build.aborted = True
        if build.process and build.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(build.process.pid, signal.SIGTERM)

    def run_script(self, script: str) -> str:
        scratch = Path(tempfile.mkdtemp(prefix="script-", dir=self.root))
        try:
            path = scratch / "script.groovy"
            path.write_text(script)
            classes = compiled_stubs(self.groovy, self.java_home)
            proc = subprocess.run([self.groovy, "-cp", str(classes), str(path)], capture_output=True, text=True,
                                  env={**os.environ, "JAVA_HOME": self.java_home,
                                       "JAVA_OPTS": f"-Dstandin.libraries={self.libraries_file}"}, timeout=120)
            output = proc.stdout + proc.stderr
            self.script_outputs.append(output)
            return output
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def queue_item(self, item_id: int) -> QueueItem | None:
        """The item, while Jenkins still knows it: waiting, or left less than left_item_seconds ago."""
        item = self.queue.get(item_id)
        if item is None or (item.left is not None and time.time() - item.left >= self.left_item_seconds):
            return None
        return item

    def libraries(self) -> list[dict[str, Any]]:
        """The global libraries as the script console left them: what a build needs to load one, and the flags."""
        if not self.libraries_file.exists():
            return []
        found = []
        for node in ET.fromstring(self.libraries_file.read_text()).findall(
                "libraries/org.jenkinsci.plugins.workflow.libs.LibraryConfiguration"):
            def flag(name: str, default: bool, node: ET.Element = node) -> bool:
                return (node.findtext(name) or str(default).lower()) == "true"

            found.append({"name": node.findtext("name"), "defaultVersion": node.findtext("defaultVersion"),
                          "remote": node.findtext("retriever/scm/remote"),
                          "credentialsId": node.findtext("retriever/scm/credentialsId"),
                          "libraryPath": node.findtext("retriever/libraryPath"),
                          "implicit": flag("implicit", False),
                          "allowVersionOverride": flag("allowVersionOverride", True),
                          "includeInChangesets": flag("includeInChangesets", True)})
        return found


class _Handler(BaseHTTPRequestHandler):
    jenkins: StandInJenkins
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    # -- plumbing -----------------------------------------------------------------------------------------
    def _send(self, status: int, body: str | bytes = b"", content_type: str = "text/plain;charset=UTF-8",
              headers: dict[str, str] | None = None) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _api(self, data: Any, kind: str, query: dict[str, list[str]]) -> None:
        tree = query.get("tree", [None])[0]
        data = apply_tree(data, parse_tree(tree) if tree else None)
        if kind == "python":
            self._send(200, python_literal(data), "text/x-python;charset=UTF-8")
        else:
            self._send(200, json.dumps(data), "application/json;charset=UTF-8")

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            self._send(403, "Authentication required")
            return False
        user, _, token = base64.b64decode(header[6:]).decode().partition(":")
        if (user, token) != (self.jenkins.user, self.jenkins.token):
            self._send(401, f"Invalid password/token for user: {user}",
                       headers={"WWW-Authenticate": 'Basic realm="Jenkins"'})
            return False
        return True

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    @staticmethod
    def _split(path: str) -> tuple[str, list[str]]:
        """`/job/a/job/b/3/api/json` -> ("a/b", ["3", "api", "json"])."""
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        names = []
        while len(parts) >= 2 and parts[0] == "job":
            names.append(parts[1])
            parts = parts[2:]
        return "/".join(names), parts

    # -- GET ----------------------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        self.jenkins.requests.append(("GET", url.path))
        if not self._authorised():
            return
        jenkins = self.jenkins
        name, rest = self._split(url.path)
        with jenkins.lock:
            if not name:
                if rest in (["api", "python"], ["api", "json"]):
                    return self._api({"_class": "hudson.model.Hudson", "jobs": jenkins._children(""),
                                      "quietingDown": False, "url": jenkins.url}, rest[1], query)
                if rest[:1] == ["crumbIssuer"] and rest[1:2] == ["api"]:
                    return self._api({"_class": "hudson.security.csrf.DefaultCrumbIssuer", "crumb": jenkins.crumb,
                                      "crumbRequestField": CRUMB_FIELD}, rest[2], query)
                if rest[:2] == ["queue", "item"] and len(rest) == 5 and rest[3] == "api":
                    item = jenkins.queue_item(int(rest[2]))
                    if item is None:
                        return self._send(404, "Not Found")
                    return self._api(jenkins.queue_data(item), rest[4], query)
                return self._send(404, "Not Found")
            if name in jenkins.folders and rest[:1] == ["api"]:
                return self._api({"_class": FOLDER_CLASS, "name": name.split("/")[-1], "fullName": name,
                                  "url": jenkins.job_url(name), "jobs": jenkins._children(name)}, rest[1], query)
            job = jenkins.jobs.get(name)
            if job is None:
                return self._send(404, "Not Found")
            if rest[:1] == ["api"]:
                return self._api(jenkins.job_data(job, deep="tree" in query), rest[1], query)
            if rest == ["config.xml"]:
                return self._send(200, job.config_xml, "application/xml")
            if rest and rest[0].isdigit():
                build = jenkins._find_build(job, int(rest[0]))
                if build is None:
                    return self._send(404, "Not Found")
                if rest[1:2] == ["api"]:
                    return self._api(jenkins.build_data(job, build), rest[2], query)
                if rest[1:] == ["logText", "progressiveText"]:
                    start = int(query.get("start", ["0"])[0])
                    chunk = bytes(build.log[start:])
                    headers = {"X-Text-Size": str(len(build.log))}
                    if build.building:
                        headers["X-More-Data"] = "true"
                    return self._send(200, chunk, headers=headers)
                if rest[1:] == []:
                    return self._send(200, f"<html>build #{build.number}</html>", "text/html")
        return self._send(404, "Not Found")

    # -- POST ---------------------------------------------------------------------------------------------
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        self.jenkins.requests.append(("POST", url.path))
        body = self._body()
        if not self._authorised():
            return
        jenkins = self.jenkins
        if self.headers.get(CRUMB_FIELD) != jenkins.crumb:
            return self._send(403, "No valid crumb was included in the request")
        name, rest = self._split(url.path)
        if not name and rest == ["scriptText"]:
            script = parse_qs(body.decode()).get("script", [""])[0]
            return self._send(200, jenkins.run_script(script))
        with jenkins.lock:
            if rest == ["createItem"] and (not name or name in jenkins.folders):
                new = query.get("name", [""])[0]
                full = f"{name}/{new}" if name else new
                if not new or full in jenkins.jobs or full in jenkins.folders:
                    return self._send(400, f"A job already exists with the name '{new}'")
                try:
                    root = ET.fromstring(body)
                except ET.ParseError as exc:
                    return self._send(400, f"Failed to parse config.xml: {exc}")
                if root.tag != "flow-definition":
                    return self._send(400, "the stand-in only creates Pipeline jobs")
                jenkins.jobs[full] = Job(full, body.decode())
                return self._send(200)
            if not name and rest == ["queue", "cancelItem"]:
                item_id = int(query.get("id", ["0"])[0])
                item = jenkins.queue_item(item_id)
                if item is None:
                    return self._send(404, f"Provided id ({item_id}) not found")
                if item.left is not None:  # a LeftItem: Item.cancel returns false
                    return self._send(500, f"Could not cancel run for id {item_id}")
                item.cancelled = True
                item.left = time.time()
                return self._send(204)
            job = jenkins.jobs.get(name)
            if job is None:
                return self._send(404, "Not Found")
            if rest == ["config.xml"]:
                try:
                    ET.fromstring(body)
                except ET.ParseError as exc:
                    return self._send(500, f"Failed to parse config.xml: {exc}")
                job.config_xml = body.decode()
                return self._send(200)
            if rest in (["buildWithParameters"], ["build"]):
                form = {k: v[0] for k, v in parse_qs(body.decode()).items() if k != "json"}
                item = jenkins.enqueue(job, form)
                return self._send(201, headers={"Location": f"{jenkins.url}queue/item/{item.id}/"})
            if len(rest) == 2 and rest[0].isdigit() and rest[1] == "stop":
                build = jenkins._find_build(job, int(rest[0]))
                if build is None:
                    return self._send(404, "Not Found")
                jenkins._kill(build)
                return self._send(302, headers={"Location": f"{jenkins.job_url(job.name)}{build.number}/"})
        return self._send(404, "Not Found")
