"""Rendering: progress lines on stderr, the result on stdout, and CI-specific outputs (GitHub, GitLab)."""

from __future__ import annotations

import json
import logging
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ci_ecs.errors import escape_control
from ci_ecs.progress import human_bytes
from ci_ecs.redact import redact

# Result key -> GitHub output name (kebab-case) and GitLab dotenv name (CI_ECS_*).
_OUTPUT_NAMES = {
    "cluster": "cluster",
    "service": "service",
    "serviceArn": "service-arn",
    "serviceAction": "service-action",
    "taskDefinitionArn": "task-definition-arn",
    "taskDefinitionRegistered": "task-definition-registered",
    "imageUri": "image-uri",
    "imageDigest": "image-digest",
    "imagePushed": "image-pushed",
    "deploymentId": "deployment-id",
    "rolloutState": "rollout-state",
    "publicIps": "public-ips",
    "privateIps": "private-ips",
    "loadBalancerDns": "load-balancer-dns",
    "serviceUrl": "service-url",
    "durationSeconds": "duration-seconds",
    "verifyOk": "verify-ok",  # from `verify.ok`: true/false, empty when nothing was probed
}

# `ci-ecs preview up`: the deploy's outputs and the preview's (GitHub `preview-url`, GitLab CI_ECS_PREVIEW_URL).
PREVIEW_OUTPUTS = {**_OUTPUT_NAMES, "previewId": "preview-id", "previewUrl": "preview-url"}


def _flat(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def service_url(result: dict[str, Any]) -> str:
    """Where a browser would reach the service: the load balancer, else the first public IP."""
    if result.get("loadBalancerDns"):
        return f"http://{result['loadBalancerDns']}"
    if result.get("publicIps"):
        port = result.get("servicePort")
        suffix = f":{port}" if port and port != 80 else ""
        return f"http://{result['publicIps'][0]}{suffix}"
    return ""


def _clean(text: str) -> str:
    """One line, no terminal escapes, no secret: what every output channel gets from a value."""
    return escape_control(redact(text))


def masked(value: Any, *, escape: bool = True) -> Any:
    r"""`value` with every string in it redacted (and, with `escape`, its control characters escaped).

    The result holds values from users and from AWS (names, paths, error messages): none of them may
    start a new line in a CI log or file, or carry a credential there.

    >>> masked({"service": "web\n::set-output name=x::y", "publicIps": ["203.0.113.4"]})
    {'service': 'web\\n::set-output name=x::y', 'publicIps': ['203.0.113.4']}
    """
    if isinstance(value, str):
        return _clean(value) if escape else redact(value)
    if isinstance(value, dict):
        return {key: masked(item, escape=escape) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [masked(item, escape=escape) for item in value]
    return value


def outputs(result: dict[str, Any], names: dict[str, str] | None = None) -> dict[str, str]:
    """The flat outputs, by kebab-case name: one line each, control characters escaped, secrets masked.

    `names` maps result keys to output names (default: deploy's; run-task passes its own)."""
    verify = result.get("verify")
    values = {**result, "serviceUrl": result.get("serviceUrl") or service_url(result),
              "verifyOk": verify.get("ok") if isinstance(verify, dict) else None}
    return {name: _clean(_flat(values.get(key))) for key, name in (names or _OUTPUT_NAMES).items()}


def _github_delimiter(value: str) -> str:
    """A heredoc delimiter for $GITHUB_OUTPUT that does not occur in `value` (as actions/toolkit makes them)."""
    while True:
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
        if delimiter not in value:
            return delimiter


def _table_cell(value: str) -> str:
    """A value inside a Markdown table cell of the job summary: a `|` would end the cell."""
    return value.replace("|", "\\|")


# Outputs whose dotenv name would be an input of the next `ci-ecs deploy`: GitLab gives dotenv variables
# priority over a later job's own variables, so a staging deploy would redirect a later production one.
_DOTENV_RENAMES = {"cluster": "deployed-cluster", "service": "deployed-service",
                   # CI_ECS_PREVIEW_ID is what `preview up|down --id` reads (and the GitLab template's input)
                   "preview-id": "deployed-preview-id"}


def dotenv_name(kebab: str) -> str:
    """`public-ips` -> `CI_ECS_PUBLIC_IPS`; `cluster` -> `CI_ECS_DEPLOYED_CLUSTER` (never an input's name)."""
    return "CI_ECS_" + _DOTENV_RENAMES.get(kebab, kebab).upper().replace("-", "_")


def write_github(result: dict[str, Any], env: dict[str, str] | os._Environ[str] = os.environ, *,
                 names: dict[str, str] | None = None) -> None:
    """Append outputs to $GITHUB_OUTPUT and a Markdown table to $GITHUB_STEP_SUMMARY (when set).

    Outputs use GitHub's multi-line syntax (`name<<DELIMITER`, value, `DELIMITER`) with a random delimiter,
    so no value can end its own output and write another one; values are single lines besides.
    """
    flat = outputs(result, names)
    if env.get("GITHUB_OUTPUT"):
        with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as handle:
            for name, value in flat.items():
                delimiter = _github_delimiter(value)
                handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    if env.get("GITHUB_STEP_SUMMARY"):
        lines = [f"### ci-ecs: {_table_cell(_clean(_summary_title(result)))}", "", "| | |", "|---|---|"]
        for name, value in flat.items():
            if value:
                code = _table_cell(value.replace("`", "'"))  # a backtick would end the code span
                lines.append(f"| {name} | `{code}` |")
        if result.get("error"):
            lines.append(f"| error | {_table_cell(_clean(str(result['error'])))} |")
        chart = gantt(result)
        if chart:
            lines += ["", "#### Where the time went", "", *chart]
        with open(env["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")


def _phase_label(phase: dict[str, Any]) -> str:
    """A phase's name with its rollout stage: `rollout BAKE_TIME`."""
    return f"{phase.get('name')}{' ' + str(phase['stage']) if phase.get('stage') else ''}"


def phase_lines(result: dict[str, Any]) -> list[str]:
    """One line per phase: name, seconds and what it waited on; a `services:` deploy's each service's own after
    the shared ones.

    >>> phase_lines({"phases": [{"name": "rollout", "stage": "BAKE_TIME", "start": 1.0, "end": 61.5,
    ...                          "seconds": 60.5, "waitedOn": "bake time (1 min)"}]})
    ['phase rollout BAKE_TIME: 60.5 s (1.0 s to 61.5 s), waited on bake time (1 min)']
    """
    lines = []
    groups = [("", result.get("phases") or [])]
    shared = len([p for p in groups[0][1] if p.get("name") != "services"])
    groups += [(f"{s.get('service')}: ", (s.get("phases") or [])[shared:]) for s in result.get("services") or []]
    for prefix, phases in groups:
        for phase in phases:
            waited = f", waited on {phase['waitedOn']}" if phase.get("waitedOn") else ""
            amount = f", {human_bytes(phase['bytes'])}" if phase.get("bytes") else ""
            lines.append(f"phase {prefix}{_phase_label(phase)}: {phase.get('seconds', 0):.1f} s "
                         f"({phase.get('start', 0):.1f} s to {phase.get('end', 0):.1f} s){amount}{waited}")
    return lines


def _gantt_text(text: str) -> str:
    """A task or section name inside a Mermaid gantt block: `:` ends a task's name, `#` and `;` start a
    comment or end a statement, a backtick would end the fenced block."""
    return "".join(" " if c in ":#;`" else c for c in text).strip() or "-"


def gantt(result: dict[str, Any]) -> list[str]:
    """The phases as a Mermaid gantt chart in a fenced block (GitHub renders ```mermaid blocks): one section for the
    deploy, and one per service of a `services:` list. Times are milliseconds from the deploy's start
    (`dateFormat x`: Mermaid's `X` refuses fractions of a second), the axis in seconds (`%s`, seconds since the
    epoch, which here is the deploy's start: no time zone moves it). [] when there are no phases."""
    phases = result.get("phases") or []
    if not phases:
        return []
    shared = len([p for p in phases if p.get("name") != "services"])
    sections = [(str(result.get("service") or "deploy"), phases)]
    sections += [(str(s.get("service")), (s.get("phases") or [])[shared:]) for s in result.get("services") or []]
    lines = ["```mermaid", "gantt", f"    title {_gantt_text(_summary_title(result))}", "    dateFormat x",
             "    axisFormat %s s"]
    count = 0
    for name, items in sections:
        lines.append(f"    section {_gantt_text(name)}")
        for phase in items:
            start, end = round(float(phase.get("start", 0)) * 1000), round(float(phase.get("end", 0)) * 1000)
            label = _gantt_text(f"{_phase_label(phase)} {phase.get('seconds', 0):.1f} s")
            lines.append(f"    {label} :p{count}, {start}, {max(start, end)}")
            count += 1
    return [*lines, "```"]


def _summary_title(result: dict[str, Any]) -> str:
    """What the job summary's heading says was done: the service deployed, else the task definition(s) registered
    (register-only has no service), as family:revision."""
    failed = bool(result.get("error"))
    if result.get("service") or "serviceAction" in result:  # a deploy (it may fail before naming its service)
        return f"{_flat(result.get('service')) or 'deploy'} {'failed' if failed else 'deployed'}"
    arns = [arn for arn in _flat(result.get("taskDefinitionArn")).split(",") if arn]
    names = ", ".join(arn.rsplit("/", 1)[-1] for arn in arns) or _flat(result.get("family"))
    if "taskArn" in result:  # run-task: the task it ran
        state = "failed" if failed else ("started" if result.get("exitCode") is None
                                         else f"exited {result['exitCode']}")
        return f"task of {names or 'the task definition'} {state}"
    if failed:
        state = "failed"
    elif not result.get("taskDefinitionRegistered"):
        state = "unchanged"
    else:
        state = "would be registered" if result.get("dryRun") else "registered"
    return f"task definition {names} {state}" if names else f"task definition {state}"


def write_dotenv(result: dict[str, Any], path: str | Path, *, names: dict[str, str] | None = None) -> None:
    """Write the outputs as a GitLab dotenv report (`CI_ECS_PUBLIC_IPS=...`), one per line.

    GitLab's dotenv values are single lines: every value is one already (control characters escaped).
    """
    flat = outputs(result, names)
    with open(path, "w", encoding="utf-8") as handle:
        for name, value in flat.items():
            handle.write(f"{dotenv_name(name)}={value}\n")


def text_summary(result: dict[str, Any]) -> str:
    """A few human lines for stdout."""
    lines = []
    action = result.get("serviceAction")
    verb = {"created": "created", "updated": "updated", "unchanged": "unchanged"}.get(str(action), str(action))
    if result.get("dryRun"):
        verb = f"would be {verb}" if verb != "unchanged" else "unchanged"
    lines.append(f"service {result.get('service')} in {result.get('cluster')}: {verb}")
    if result.get("taskDefinitionArn"):
        state = "registered" if result.get("taskDefinitionRegistered") else "unchanged"
        lines.append(f"task definition: {str(result['taskDefinitionArn']).rsplit('/', 1)[-1]} ({state})")
    if result.get("imageUri"):
        lines.append(f"image: {result['imageUri']}{' (pushed)' if result.get('imagePushed') else ''}")
    if result.get("rolloutState"):
        lines.append(f"deployment: {result.get('deploymentId')} {result['rolloutState']}")
    if result.get("publicIps"):
        lines.append(f"public IPs: {', '.join(result['publicIps'])}")
    if result.get("privateIps"):
        lines.append(f"private IPs: {', '.join(result['privateIps'])}")
    if result.get("loadBalancerDns"):
        lines.append(f"load balancer: {result['loadBalancerDns']}")
    verify = result.get("verify")
    if isinstance(verify, dict):
        checks = verify.get("checks") or []
        passed = sum(1 for check in checks if not check.get("error"))
        lines.append(f"verify: {'ok' if verify.get('ok') else 'FAILED'} ({passed} of {len(checks)} answered: "
                     + ", ".join(f"{c.get('url')} {c.get('status') or '-'}" for c in checks[:5]) + ")")
    lines.extend(phase_lines(result))
    lines.extend(f"warning: {warning}" for warning in result.get("warnings") or [])
    return "\n".join(lines)


def plan_text(result: dict[str, Any]) -> str:
    """The readable diff `ci-ecs plan` prints."""
    changes = result.get("changes") or []
    if not changes:
        return "no changes: the deploy would change nothing"
    lines = []
    for resource in dict.fromkeys(c["resource"] for c in changes):
        lines.append(f"{resource}:")
        for change in (c for c in changes if c["resource"] == resource):
            if "old" in change and "new" in change:
                lines.append(f"  ~ {change['path']}: {json.dumps(change['old'])} -> {json.dumps(change['new'])}")
            elif "new" in change:
                lines.append(f"  + {change['path']}: {json.dumps(change['new'])}")
            else:
                lines.append(f"  - {change['path']}: {json.dumps(change['old'])}")
    for operation, params in (result.get("request") or {}).items():
        # Exactly the fields deploy would send: settings the config leaves out are never among them.
        fields = ", ".join(sorted(k for k in params if k not in ("cluster", "service", "serviceName")))
        lines.append(f"{operation} would send: {fields}")
    return "\n".join(lines)


def emit(result: dict[str, Any], fmt: str, *, stdout: IO[str] | None = None, plan: bool = False,
         dotenv_path: str | None = None, lines: Callable[[dict[str, Any]], list[str]] | None = None,
         names: dict[str, str] | None = None) -> None:
    """Print the result in `fmt` (text|json|github|gitlab), writing the CI files those formats imply.

    Every command's result goes through here. A command with a result of its own gives `lines` (its text view
    of the masked result, one line each, none printed when there are none; default: the deploy's summary, or
    the plan with `plan`) and `names` (its result keys -> output names in $GITHUB_OUTPUT and the dotenv;
    default: the deploy's).
    """
    stdout = stdout or sys.stdout
    if fmt == "json":
        stdout.write(json.dumps(masked(result, escape=False), sort_keys=False, default=str) + "\n")
        return
    result = masked(result)  # stdout, $GITHUB_OUTPUT, the summary, the dotenv: one line per value, no secret
    if lines is not None:
        stdout.write("".join(f"{line}\n" for line in lines(result)))
    else:
        stdout.write((plan_text(result) if plan else text_summary(result)) + "\n")
    if fmt == "github":
        write_github(result, names=names)
    elif fmt == "gitlab":
        write_dotenv(result, dotenv_path or os.environ.get("CI_ECS_DOTENV", "ci-ecs.env"), names=names)


class ProgressHandler(logging.Handler):
    """Progress lines on stderr: plain lines in CI; on a TTY, 'live' records overwrite one status line."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__()
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty() and not os.environ.get("CI")
        self._live = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            # Service events and stopped reasons come from outside: one line each, no terminal escapes.
            message = escape_control(self.format(record))
            if record.levelno >= logging.WARNING:
                message = f"warning: {message}" if record.levelno == logging.WARNING else f"error: {message}"
            if self.tty:
                colour = "\033[33m" if record.levelno >= logging.WARNING else "\033[36m"
                if getattr(record, "live", False):
                    self.stream.write(f"\r\033[K{colour}…\033[0m {message}")
                    self._live = True
                else:
                    prefix = "\r\033[K" if self._live else ""
                    self.stream.write(f"{prefix}{colour}•\033[0m {message}\n")
                    self._live = False
            else:
                self.stream.write(f"ci-ecs: {message}\n")
            self.stream.flush()
        except Exception:  # logging must never break a deploy
            self.handleError(record)
