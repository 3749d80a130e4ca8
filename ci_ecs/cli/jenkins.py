"""`ci-ecs jenkins setup|run` (extra `jenkins`): the library code is ci_ecs/jenkins/; these only parse and print."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from ci_ecs import __version__
from ci_ecs.cli.options import config_option, debug_option, dry_run_option, output_option, stack
from ci_ecs.cli.runner import command_scope


def jenkins_connection_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--url/--user/--token (JENKINS_URL, JENKINS_USER, JENKINS_API_TOKEN), --output and --debug."""
    return stack(
        click.option("--url", envvar="JENKINS_URL",
                     help="Jenkins URL, e.g. https://jenkins.example.com/ (JENKINS_URL)."),
        click.option("--user", envvar="JENKINS_USER", help="Jenkins user the API token belongs to (JENKINS_USER)."),
        click.option("--token", envvar="JENKINS_API_TOKEN", show_envvar=False,
                     help="Jenkins API token; prefer JENKINS_API_TOKEN (arguments are visible to other users)."),
        output_option(("text", "json"), from_env=False,
                      help="json: one JSON object on stdout (console and progress on stderr)."),
        debug_option("Show tracebacks."),
    )(func)


def _jenkins_connection(url: str | None, user: str | None, token: str | None) -> Any:
    from ci_ecs.errors import ConfigError
    from ci_ecs.jenkins.connection import Connection
    from ci_ecs.redact import register_secret

    register_secret(token)
    if not url:
        raise ConfigError("the Jenkins URL is required (--url or JENKINS_URL)", key="--url")
    return Connection(url=url, user=user or None, token=token or None)


@click.group("jenkins")
def jenkins_group() -> None:
    """Put the deployToEcs library and a deploy job into Jenkins, run it, follow it (extra: jenkins)."""


@jenkins_group.command("setup")
@config_option("The ci-ecs config the job deploys with (embedded in the job's Jenkinsfile).")
@click.option("--job", required=True, help="Name of the Pipeline job to create or update.")
@click.option("--folder", help="Folder the job lives in (must exist), e.g. team/apps.")
@click.option("--library-repo", required=True, help="Git URL of the repository holding jenkins/vars/deployToEcs.")
@click.option("--library-version", default=f"v{__version__}", show_default=True,
              help="Branch, tag or commit of the library (its default version in Jenkins).")
@click.option("--credentials-id", help="Jenkins credentials id: AWS keys for the step, and the library's checkout.")
@click.option("--install", default=None,
              help="The step's `install` parameter (what to pip-install on the agent; '' = ci-ecs on its PATH).")
@click.option("--print", "print_only", is_flag=True,
              help="Print the generated Jenkinsfile and stop (no Jenkins needed).")
@dry_run_option("Report what would change; change nothing.", from_env=False)
@jenkins_connection_options
def jenkins_setup(config_path: str, job: str, folder: str | None, library_repo: str, library_version: str,
                  credentials_id: str | None, install: str | None, print_only: bool, dry_run: bool, url: str | None,
                  user: str | None, token: str | None, output_format: str, debug: bool) -> None:
    """Make the global library `ci-ecs` point at the repository and version, and create or update a Pipeline
    job that deploys the config with deployToEcs (a TAG parameter picks the image tag). Safe to re-run."""
    with command_scope(output_format, debug):
        import json

        from ci_ecs.jenkins.setup import build_request, run_setup

        request = build_request(config_path=config_path, job=job, folder=folder, library_repo=library_repo,
                                library_version=library_version, credentials_id=credentials_id, install=install)
        if print_only:
            from ci_ecs.jenkins.jenkinsfile import render_jenkinsfile

            click.echo(render_jenkinsfile(request.pipeline), nl=False)
            return
        from ci_ecs.jenkins.connection import connect

        jenkins = connect(_jenkins_connection(url, user, token))
        result = run_setup(jenkins, request, dry_run=dry_run, echo=lambda line: click.echo(
            line, err=output_format == "json"))
        if output_format == "json":
            click.echo(json.dumps(result))


@jenkins_group.command("run")
@click.option("--job", required=True, help="Job to build (folder/name for a job in a folder).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Build parameter (repeatable).")
@click.option("--follow/--no-follow", default=True, show_default=True,
              help="Stream the console and wait for the result; --no-follow returns once the build started.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds to wait (queue + build) before exiting 4; the build keeps running.")
@click.option("--poll-interval", type=click.FloatRange(min=0.05), default=1.0, show_default=True, hidden=True)
@jenkins_connection_options
def jenkins_run(job: str, params: tuple[str, ...], follow: bool, timeout: float | None, poll_interval: float,
                url: str | None, user: str | None, token: str | None, output_format: str, debug: bool) -> None:
    """Trigger JOB, stream its console, and exit 0 for SUCCESS, 1 for FAILURE, UNSTABLE, NOT_BUILT or ABORTED
    in Jenkins, 4 on --timeout, 130/143 when cancelled (the build is aborted)."""
    with command_scope(output_format, debug):
        import json

        from ci_ecs.jenkins.connection import connect
        from ci_ecs.jenkins.run import parse_params, run_job

        build_params = parse_params(params)
        jenkins = connect(_jenkins_connection(url, user, token))
        console = sys.stderr if output_format == "json" else sys.stdout

        def write(text: str) -> None:
            console.write(text)
            console.flush()

        state = run_job(jenkins, job, build_params, follow=follow, timeout=timeout, write=write,
                        echo=lambda line: click.echo(f"ci-ecs: {line}", err=True), poll=poll_interval)
        if output_format == "json":
            click.echo(json.dumps(state.as_json()))
        else:
            click.echo(f"ci-ecs: build #{state.number} {state.result or 'started'}: {state.url}", err=True)
