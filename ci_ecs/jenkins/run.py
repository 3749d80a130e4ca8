"""`ci-ecs jenkins run`: trigger a job, wait for its queue item to become a build, stream the console, exit
with the build's result.

Jenkins' REST API: POST job/NAME/buildWithParameters answers 201 with the queue item's URL (Location);
queue/item/N/api/json gets `executable` (the build's number and URL) once an executor takes it; the build's
logText/progressiveText?start=OFFSET returns the console from a byte offset, with X-Text-Size (the next offset)
and X-More-Data while the build runs; POST job/NAME/N/stop aborts it. Jenkins forgets a queue item 5 minutes
after it left the queue (Queue.leftItems; then 404): the build is then found by its `queueId` among the job's
builds. POST queue/cancelItem?id=N answers 204 for a waiting item, 500 for one that has already left the queue
(its build is stopped instead) and 404 for an unknown one (Queue.doCancelItem).

A build ends SUCCESS (exit 0), or UNSTABLE, FAILURE, NOT_BUILT or ABORTED (by someone else; exit 1 with a line
saying what the result means for the deploy); see RESULT_MEANINGS.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ci_ecs.errors import ConfigError, DeployCancelledError, escape_control
from ci_ecs.jenkins import RESULT_PREFIX
from ci_ecs.jenkins.connection import (
    JenkinsError,
    JenkinsTimeoutError,
    check_response,
    jenkins_errors,
)
from ci_ecs.redact import redact

# What each result other than SUCCESS says about the deploy (hudson.model.Result), for the one-line error.
RESULT_MEANINGS = {
    "UNSTABLE": "a step marked the build unstable (e.g. failing tests or the `unstable` step); treated as a failure",
    "FAILURE": "a step failed",
    "NOT_BUILT": "Jenkins did not run the build's steps (e.g. skipped, or superseded by a newer build)",
    "ABORTED": "the build was aborted in Jenkins (by a user, a timeout step or a newer build)",
}


@dataclass
class RunState:
    """What is known about the build so far (the --output json object is made from it)."""

    job: str
    queue_url: str | None = None
    number: int | None = None
    url: str | None = None
    result: str | None = None
    duration_seconds: float | None = None
    deploy: dict[str, Any] | None = None
    console_lines: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"job": self.job, "number": self.number, "url": self.url, "result": self.result,
                "durationSeconds": self.duration_seconds, "deploy": self.deploy}


def parse_params(values: tuple[str, ...]) -> dict[str, str]:
    """`("TAG=1.2.3", "X=a=b")` -> {"TAG": "1.2.3", "X": "a=b"}; a value without `=` is bad usage (exit 2)."""
    params: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name.strip():
            raise ConfigError("must be NAME=VALUE (a value without '=' was given)", key="--param")
        params[name.strip()] = rest
    return params


def find_deploy_result(lines: list[str]) -> dict[str, Any] | None:
    """The last `deployToEcs` result Map in the console (`ci-ecs-result={...}`), or None."""
    for line in reversed(lines):
        text = line.strip()
        if text.startswith(RESULT_PREFIX):
            try:
                value = json.loads(text[len(RESULT_PREFIX):])
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None


class _Deadline:
    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self.end = None if timeout is None else time.monotonic() + timeout

    def expired(self) -> bool:
        return self.end is not None and time.monotonic() >= self.end


def _build_number_for(jenkins: Any, job: Any, queue_id: int) -> int | None:
    """The number of the job's build that queue item `queue_id` became (its `queueId`), or None."""
    url = f"{job.baseurl.rstrip('/')}/api/json"
    with jenkins_errors(url, "list the job's builds"):
        response = jenkins.requester.get_url(url, params={"tree": "builds[number,queueId]"})
    check_response(response, url, "list the job's builds")
    for row in response.json().get("builds") or []:
        if row.get("queueId") == queue_id:
            return int(row["number"])
    return None


def _attach_build(job: Any, number: int, state: RunState) -> Any:
    with jenkins_errors(job.baseurl, f"read build #{number}"):
        build = job.get_build(number)
    state.number = number
    state.url = build.get_build_url() if build._data else build.baseurl
    return build


def _wait_for_build(jenkins: Any, job: Any, queue_item: Any, state: RunState, deadline: _Deadline,
                    poll: float) -> Any:
    url = f"{queue_item.baseurl.rstrip('/')}/api/json"
    why = "unknown"
    while True:
        with jenkins_errors(url, "read the queue item"):
            response = jenkins.requester.get_url(url)
        if response.status_code == 404:
            # Left the queue longer ago than Jenkins remembers (5 minutes): the build says which item it was.
            number = _build_number_for(jenkins, job, queue_item.queue_id)
            if number is None:
                raise JenkinsError(f"the queue item of {state.job} is gone from Jenkins' queue and no build of "
                                   f"{state.job} came from it (queue id {queue_item.queue_id})")
            return _attach_build(job, number, state)
        check_response(response, url, "read the queue item")
        data = response.json()
        if data.get("cancelled"):
            raise JenkinsError(f"the queue item of {state.job} was cancelled in Jenkins before it started")
        executable = data.get("executable") or {}
        if executable.get("number") is not None:
            return _attach_build(job, int(executable["number"]), state)
        why = data.get("why") or why
        if deadline.expired():
            state.result = None
            raise JenkinsTimeoutError(f"{state.job} was still in the queue after {deadline.timeout:g}s "
                                      f"(why: {escape_control(str(why))}); it stays queued")
        time.sleep(poll)


def _follow(jenkins: Any, build: Any, state: RunState, deadline: _Deadline, poll: float,
            write: Callable[[str], None]) -> None:
    url = f"{build.baseurl}/logText/progressiveText"
    offset = "0"
    pending = ""
    while True:
        with jenkins_errors(url, "read the console"):
            response = jenkins.requester.get_url(url, params={"start": offset})
        check_response(response, url, "read the console")
        text = response.content.decode(response.encoding or "utf-8", errors="replace")
        if text:
            pending += text
            *complete, pending = pending.split("\n")
            for line in complete:
                state.console_lines.append(line)
                write(escape_control(redact(line)) + "\n")
        offset = response.headers.get("X-Text-Size", offset)
        if not response.headers.get("X-More-Data"):
            break
        if deadline.expired():
            raise JenkinsTimeoutError(f"build #{state.number} of {state.job} was still running after "
                                      f"{deadline.timeout:g}s; it keeps running: {state.url}")
        if not text:
            time.sleep(poll)
    if pending:
        state.console_lines.append(pending)
        write(escape_control(redact(pending)) + "\n")


def _finish(build: Any, state: RunState, deadline: _Deadline, poll: float) -> None:
    """Wait for the build's result (it follows the end of the console by a moment)."""
    while True:
        with jenkins_errors(build.baseurl, "read the build"):
            data = build.poll()
        if not data.get("building") and data.get("result"):
            state.result = data["result"]
            state.duration_seconds = round((data.get("duration") or 0) / 1000.0, 3)
            state.url = data.get("url") or state.url
            return
        if deadline.expired():
            raise JenkinsTimeoutError(f"build #{state.number} of {state.job} was still running after "
                                      f"{deadline.timeout:g}s; it keeps running: {state.url}")
        time.sleep(poll)


def _stop(jenkins: Any, build_url: str, state: RunState) -> str:
    url = f"{build_url.rstrip('/')}/stop"
    response = jenkins.requester.post_url(url, data="", allow_redirects=False)
    check_response(response, url, "abort the build", ok=(200, 302, 303))
    return f"aborted build #{state.number} of {state.job}"


def _abort(jenkins: Any, job: Any, queue_item: Any, build: Any, state: RunState) -> str:
    """Abort what this run started: the build (POST stop) or, still queued, the queue item (cancelItem); an item
    that left the queue meanwhile (500, or 404 once forgotten) has become a build, which is stopped."""
    try:
        if build is not None:
            return _stop(jenkins, build.baseurl, state)
        if queue_item is not None:
            url = f"{jenkins.baseurl}/queue/cancelItem"
            response = jenkins.requester.post_url(url, params={"id": queue_item.queue_id}, data="",
                                                  allow_redirects=False)
            if response.status_code in (404, 500):
                for _ in range(10):  # the build appears in the job's list a moment after the item left
                    number = _build_number_for(jenkins, job, queue_item.queue_id)
                    if number is not None:
                        state.number = number
                        state.url = f"{job.baseurl.rstrip('/')}/{number}/"
                        return _stop(jenkins, state.url, state) + " (it had just left the queue)"
                    time.sleep(0.2)
            check_response(response, url, "cancel the queue item", ok=(200, 204, 302, 303))
            return f"cancelled the queued build of {state.job}"
    except Exception as exc:  # the cancel itself must be reported, whatever stops the abort
        return f"could not abort the build of {state.job}: {escape_control(redact(str(exc)))[:200]}"
    return f"nothing of {state.job} had started"


def run_job(jenkins: Any, job_name: str, params: dict[str, str], *, follow: bool, timeout: float | None,
            write: Callable[[str], None], echo: Callable[[str], None], poll: float = 1.0) -> RunState:
    """Trigger `job_name` with `params`, wait for the build, stream its console through `write` (follow), and
    return its state. Raises JenkinsError (exit 1) when the build does not succeed, JenkinsTimeoutError (4),
    DeployCancelledError (130/143, after aborting the build) on SIGINT/SIGTERM."""
    from jenkinsapi.custom_exceptions import UnknownJob

    state = RunState(job=job_name)
    deadline = _Deadline(timeout)
    with jenkins_errors(jenkins.baseurl, f"look up job {job_name}"):
        try:
            job = jenkins.get_job(job_name)
        except UnknownJob:
            raise ConfigError(f"Jenkins has no job {job_name}", key="--job") from None
        known = job.get_params_list()
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ConfigError(f"job {job_name} has no parameter {', '.join(unknown)} "
                          f"(it has: {', '.join(known) or 'none'})", key="--param")
    queue_item = build = None
    try:
        with jenkins_errors(job.url, f"trigger {job_name}"):
            queue_item = job.invoke(build_params=params)
        state.queue_url = queue_item.baseurl
        echo(f"queued {job_name}: {queue_item.baseurl}")
        build = _wait_for_build(jenkins, job, queue_item, state, deadline, poll)
        echo(f"started build #{state.number}: {state.url}")
        if not follow:
            return state
        _follow(jenkins, build, state, deadline, poll, write)
        _finish(build, state, deadline, poll)
    except JenkinsTimeoutError as exc:
        exc.result = state.as_json()
        raise
    except (KeyboardInterrupt, DeployCancelledError) as exc:
        code = exc.exit_code if isinstance(exc, DeployCancelledError) else 130
        signal_name = "SIGTERM" if code == 143 else "SIGINT"
        done = _abort(jenkins, job, queue_item, build, state)
        state.result = "ABORTED" if build is not None or state.number is not None else None
        error = DeployCancelledError(f"cancelled ({signal_name}): {done}", code)
        error.result = state.as_json()
        raise error from None
    state.deploy = find_deploy_result(state.console_lines)
    if state.result != "SUCCESS":
        reason = (state.deploy or {}).get("error")
        if not reason:
            meaning = RESULT_MEANINGS.get(str(state.result), "Jenkins reported it")
            deployed = (state.deploy or {}).get("taskDefinitionArn")
            reason = meaning + (f"; the deploy step finished ({deployed})" if deployed else
                                "; the deploy step did not report a result" if state.deploy is None else "")
        failed = JenkinsError(f"build #{state.number} of {job_name} finished {state.result}: {reason} "
                              f"({state.url})")
        failed.result = state.as_json()
        raise failed
    return state
