"""`ci-ecs jenkins setup`: the global library and the deploy job, each created, updated or left unchanged."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ci_ecs.errors import ConfigError, escape_control
from ci_ecs.jenkins.connection import JenkinsError, check_response, jenkins_errors
from ci_ecs.jenkins.jenkinsfile import PipelineSpec, render_jenkinsfile
from ci_ecs.jenkins.jobconfig import JobSpec, differences, merge_config, render_config
from ci_ecs.jenkins.library import LibrarySpec, library_script, parse_library_output
from ci_ecs.redact import redact

_JOB_NAME_FORBIDDEN = set('/\\?*%!@#$^&|<>[]:;')


@dataclass(frozen=True)
class SetupRequest:
    """Everything `setup` needs, checked before any request."""

    job: str
    folder: str | None
    library: LibrarySpec
    pipeline: PipelineSpec
    tag_default: str

    @property
    def full_name(self) -> str:
        return f"{self.folder.strip('/')}/{self.job}" if self.folder else self.job

    def job_spec(self) -> JobSpec:
        return JobSpec(description=f"Deploys {self.pipeline.service or 'the service'} to Amazon ECS with "
                                   "ci-ecs. Managed by `ci-ecs jenkins setup`: changes made here are replaced "
                                   "when it runs again.",
                       script=render_jenkinsfile(self.pipeline), tag_default=self.tag_default)


def _check_name(value: str, option: str) -> None:
    if not value or value != value.strip() or not value.isprintable() or set(value) & _JOB_NAME_FORBIDDEN \
            or value in (".", ".."):
        raise ConfigError(f"{value!r} is not a Jenkins item name (none of /\\?*%!@#$^&|<>[]:; and not empty)",
                          key=option)


def build_request(*, config_path: str, job: str, folder: str | None, library_repo: str, library_version: str,
                  credentials_id: str | None, install: str | None) -> SetupRequest:
    """Read the ci-ecs config and check the names; ConfigError (exit 2) for anything wrong, before any request.

    The job runs without a checkout: the config is embedded in the Jenkinsfile, so configs that need files next
    to them (image.build, task.file) are refused.
    """
    from ci_ecs.config import load_config

    _check_name(job, "--job")
    if folder is not None:
        for part in folder.strip("/").split("/"):
            _check_name(part, "--folder")
    if not library_repo.strip():
        raise ConfigError("the library repository URL is empty", key="--library-repo")
    config = load_config(config_path, require_file=True)
    if config.image.build is not None:
        raise ConfigError("the Jenkins job has no checkout, so it cannot build the image: deploy a pushed tag "
                          "(leave image.build out of the config the job uses)", key="image.build")
    if config.task is not None and config.task.file is not None:
        raise ConfigError("the Jenkins job has no checkout, so it cannot read task.file: use containers in the "
                          "config the job uses", key="task.file")
    path = Path(config_path)
    text = path.read_text(encoding="utf-8")
    pipeline = PipelineSpec(config_name="ci-ecs.yml", config_text=text, cluster=config.cluster,
                            service=config.service.name, credentials_id=credentials_id or None, install=install,
                            repository=library_repo.strip())
    library = LibrarySpec(remote=library_repo.strip(), version=library_version, credentials_id=credentials_id or None)
    return SetupRequest(job=job, folder=folder.strip("/") if folder else None, library=library,
                        pipeline=pipeline, tag_default=config.image.tag or "")


def _library(jenkins: Any, request: SetupRequest, dry_run: bool) -> str:
    with jenkins_errors(jenkins.baseurl, "set the global pipeline library"):
        output = jenkins.run_groovy_script(library_script(request.library, apply=not dry_run))
    action = parse_library_output(output)
    if action is None:
        first = next((line for line in output.splitlines() if line.strip()), "(no output)")
        raise JenkinsError("set the global pipeline library: the script console did not confirm it (are the "
                           "Pipeline: Groovy Libraries and Git plugins installed?): "
                           f"{escape_control(redact(first[:300]))}")
    return action


def _folder_exists(jenkins: Any, folder: str) -> bool:
    url = jenkins.baseurl + "".join(f"/job/{quote(part)}" for part in folder.split("/")) + "/api/json"
    with jenkins_errors(url, f"look up folder {folder}"):
        response = jenkins.requester.get_url(url, params={"tree": "name"})
    if response.status_code == 404:
        return False
    check_response(response, url, f"look up folder {folder}")
    return True


def _job(jenkins: Any, request: SetupRequest, dry_run: bool) -> tuple[str, str, list[str]]:
    """(created|updated|unchanged, job URL, changed fields)."""
    spec = request.job_spec()
    name = request.full_name
    if request.folder and not _folder_exists(jenkins, request.folder):
        raise ConfigError(f"folder {request.folder} does not exist in Jenkins: create it, or leave out --folder",
                          key="--folder")
    with jenkins_errors(jenkins.baseurl, f"look up job {name}"):
        exists = jenkins.has_job(name)
    if not exists:
        url = jenkins.baseurl + "".join(f"/job/{quote(part)}" for part in name.split("/"))
        if not dry_run:
            # create_job returns an existing job silently; it was just checked not to exist.
            with jenkins_errors(jenkins.baseurl, f"create job {name}"):
                jenkins.create_job(name, render_config(spec))
        return "created", url, ["description", "tag", "definition"]
    with jenkins_errors(jenkins.baseurl, f"read job {name}"):
        job = jenkins.get_job(name)
        current = job.get_config()
    changed = differences(current, spec, name)
    if not changed:
        return "unchanged", job.url, []
    if not dry_run:
        with jenkins_errors(job.url, f"update job {name}"):
            response = job.update_config(merge_config(current, spec, name), full_response=True)
        check_response(response, job.get_config_xml_url(), f"update job {name}")
    return "updated", job.url, changed


def run_setup(jenkins: Any, request: SetupRequest, *, dry_run: bool,
              echo: Callable[[str], None]) -> dict[str, Any]:
    """Make the library and the job match `request` (or report what would change); the result for --output json."""
    library = _library(jenkins, request, dry_run)
    would = "would be " if dry_run else ""
    echo(f"library {request.library.name}: {would}{library} ({request.library.remote} @ {request.library.version})")
    job_action, url, changed = _job(jenkins, request, dry_run)
    detail = f" ({', '.join(changed)})" if job_action == "updated" else ""
    echo(f"job {request.full_name}: {would}{job_action}{detail} {url}")
    return {"library": library, "libraryRepository": request.library.remote,
            "libraryVersion": request.library.version, "job": request.full_name, "jobAction": job_action,
            "jobUrl": url, "changed": changed, "dryRun": dry_run}
