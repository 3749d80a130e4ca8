"""GitHub glue for preview environments: which pull request, whether to deploy at all, and the one comment.

The GitHub action (github-actions/deploy-to-ecs) runs this module twice around `ci-ecs preview up|down`:

    python -m ci_ecs.github_preview prepare   # before: the preview id, and whether to deploy (fork check)
    python -m ci_ecs.github_preview comment   # after: create or update the pull request's comment

Everything comes from the environment the runner sets (GITHUB_EVENT_PATH, GITHUB_REPOSITORY, GITHUB_API_URL,
GITHUB_OUTPUT) and the action's `INPUT_*`/`CI_ECS_*` variables; the token only ever from CI_ECS_GITHUB_TOKEN,
never from an argument. The REST calls are behind `PullRequestComments`, which takes its HTTP session.
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter, Retry

from ci_ecs.errors import escape_control
from ci_ecs.redact import redact, register_secret

# GitHub's REST API: "Create an issue comment" (POST /repos/{owner}/{repo}/issues/{issue_number}/comments),
# "List issue comments" (GET, same path; paginated with a Link header, per_page at most 100) and "Update an issue
# comment" (PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}); a pull request is an issue for these calls.
# https://docs.github.com/en/rest/issues/comments
API_VERSION = "2022-11-28"
DEFAULT_API_URL = "https://api.github.com"
TIMEOUT_SECONDS = 30
PREVIEW_ACTIONS = ("up", "down")


class PreviewInputError(Exception):
    """An input of the action that cannot work (named in the message); exit code 2, nothing deployed."""


@dataclass(frozen=True)
class Comment:
    """A pull request comment: its id and text."""

    id: int
    body: str


class PullRequestComments:
    """The comments of one repository's pull requests, through GitHub's REST API (an injected session)."""

    def __init__(self, session: requests.Session, api_url: str, repository: str, token: str) -> None:
        self._session = session
        self._base = api_url.rstrip("/")
        self._repository = repository
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                         "X-GitHub-Api-Version": API_VERSION}

    def _call(self, method: str, url: str, what: str, body: dict[str, Any] | None = None) -> requests.Response:
        try:
            response = self._session.request(method, url, headers=self._headers, json=body, timeout=TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            raise CommentError(f"{what}: {type(exc).__name__}") from None
        if response.status_code >= 400:
            try:
                message = str(response.json().get("message", ""))
            except ValueError:
                message = ""
            raise CommentError(f"{what}: HTTP {response.status_code} {message}".rstrip())
        return response

    def find(self, number: int, marker: str) -> Comment | None:
        """The first comment on pull request `number` whose text holds `marker`, following every page."""
        url: str | None = f"{self._base}/repos/{self._repository}/issues/{number}/comments?per_page=100"
        while url:
            response = self._call("GET", url, f"list the comments of #{number}")
            for item in response.json():
                if marker in (item.get("body") or ""):
                    return Comment(int(item["id"]), item["body"])
            url = response.links.get("next", {}).get("url")
        return None

    def create(self, number: int, body: str) -> Comment:
        """Post a new comment on pull request `number`."""
        response = self._call("POST", f"{self._base}/repos/{self._repository}/issues/{number}/comments",
                              f"comment on #{number}", {"body": body})
        return Comment(int(response.json()["id"]), body)

    def update(self, comment_id: int, body: str) -> Comment:
        """Replace the text of comment `comment_id`."""
        self._call("PATCH", f"{self._base}/repos/{self._repository}/issues/comments/{comment_id}",
                   f"update comment {comment_id}", {"body": body})
        return Comment(comment_id, body)


class CommentError(Exception):
    """A GitHub API call that failed (the message names the call and the HTTP status, never the token)."""


def session() -> requests.Session:
    """An HTTP session that retries the idempotent calls (GET, PATCH) on connection errors and 5xx/429;
    a POST is never retried, so a lost answer cannot post the comment twice."""
    retry = Retry(total=3, backoff_factor=1, status_forcelist=(429, 500, 502, 503, 504),
                  allowed_methods=frozenset({"GET", "PATCH"}), raise_on_status=False)
    http = requests.Session()
    http.mount("https://", HTTPAdapter(max_retries=retry))
    http.mount("http://", HTTPAdapter(max_retries=retry))
    return http


def marker(key: str) -> str:
    """The hidden line that finds this preview's comment again: one comment per pull request and config.

    >>> marker("deploy/ci-ecs.yml")
    '<!-- ci-ecs preview: deploy/ci-ecs.yml -->'
    >>> marker("a -->b")
    '<!-- ci-ecs preview: a_--_b -->'
    """
    return f"<!-- ci-ecs preview: {re.sub(r'[^A-Za-z0-9._/-]', '_', key).replace('-->', '--_')} -->"


def comment_body(action: str, preview_id: str, url: str, key: str, sha: str = "") -> str:
    """The comment's Markdown for `up` (the URL) or `down` (removed).

    >>> print(comment_body("up", "12", "http://pr-12.example.com", "ci-ecs.yml", "0123456789abcdef"))
    <!-- ci-ecs preview: ci-ecs.yml -->
    **Preview `12`** (ci-ecs.yml) is up at http://pr-12.example.com (commit 0123456).
    """
    head = f"{marker(key)}\n**Preview `{preview_id}`** ({_inline(key)})"
    if action == "down":
        return f"{head} was removed."
    commit = f" (commit {sha[:7]})" if sha else ""
    where = f"is up at {_inline(url)}" if url else "is up (it has no URL: no load balancer rule and no public IP)"
    return f"{head} {where}{commit}."


def _inline(text: str) -> str:
    # One line of Markdown: no line breaks, no HTML (a config path or URL cannot add markup or a second marker).
    return escape_control(text).replace("<", "&lt;").replace(">", "&gt;")


def upsert(comments: PullRequestComments, number: int, key: str, body: str, *,
           create: bool = True) -> tuple[str, int | None]:
    """Create the comment, or update the one that has this key's marker: ("created"|"updated"|"unchanged", id);
    without `create`, only an existing comment is updated (("none", None) when there is none)."""
    found = comments.find(number, marker(key))
    if found is None:
        if not create:
            return "none", None
        return "created", comments.create(number, body).id
    if found.body == body:
        return "unchanged", found.id
    return "updated", comments.update(found.id, body).id


def pull_request_number(event: Mapping[str, Any]) -> int | None:
    """The pull request of a `pull_request`/`pull_request_target` event, else None.

    >>> pull_request_number({"pull_request": {"number": 7}, "number": 7})
    7
    >>> pull_request_number({"ref": "refs/heads/main"}) is None
    True
    """
    number = (event.get("pull_request") or {}).get("number") or event.get("number")
    return int(number) if number else None


def is_fork(event: Mapping[str, Any]) -> bool:
    """Whether the event's pull request comes from another repository (its head repository differs).

    >>> is_fork({"pull_request": {"head": {"repo": {"full_name": "me/app"}}}, "repository": {"full_name": "org/app"}})
    True
    """
    head = ((event.get("pull_request") or {}).get("head") or {}).get("repo") or {}
    base = event.get("repository") or {}
    return bool(head.get("full_name")) and head.get("full_name") != base.get("full_name")


def aws_credentials_found() -> bool:
    """Whether boto3's credential chain finds any credentials (environment, profile, web identity, ...)."""
    import botocore.session

    try:
        return botocore.session.Session().get_credentials() is not None
    except Exception:  # a broken profile is "none usable" here: the deploy itself would report it
        return False


def _event(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH")
    if not path or not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        loaded = json.load(handle)
    return loaded if isinstance(loaded, dict) else {}


def _write_outputs(env: Mapping[str, str], values: dict[str, str]) -> None:
    # GitHub's multi-line syntax with a random delimiter, as ci_ecs.output does: no value can write another output.
    if not env.get("GITHUB_OUTPUT"):
        return
    with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as handle:
        for name, value in values.items():
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
            handle.write(f"{name}<<{delimiter}\n{escape_control(value)}\n{delimiter}\n")


def prepare(env: Mapping[str, str]) -> dict[str, str]:
    """The preview step's plan: `id` and `deploy` (true/false); raises PreviewInputError for a bad input.

    A fork's pull request without AWS credentials (GitHub gives such runs no secrets and no OIDC token) is
    skipped with a warning: the contributor's workflow passes, and nothing is deployed."""
    action = env.get("INPUT_PREVIEW", "")
    if action not in PREVIEW_ACTIONS:
        raise PreviewInputError(f"preview: must be up or down (or empty for a normal deploy), not {action!r}")
    event = _event(env)
    preview_id = env.get("INPUT_PREVIEW_ID", "")
    if not preview_id:
        number = pull_request_number(event)
        if number is None:
            raise PreviewInputError("preview-id: empty, and this event has no pull request to take its number from")
        preview_id = str(number)
    if is_fork(event) and not aws_credentials_found():
        print(f"::warning title=ci-ecs preview skipped::pull request #{pull_request_number(event)} comes from a fork "
              "and this run has no AWS credentials (GitHub gives forks' runs no secrets): preview "
              f"{escape_control(preview_id)} was not {'deployed' if action == 'up' else 'removed'}")
        return {"id": preview_id, "deploy": "false"}
    return {"id": preview_id, "deploy": "true"}


def comment(env: Mapping[str, str], comments: PullRequestComments | None = None) -> str:
    """Create or update the pull request's comment for this preview; returns what was done (a log line)."""
    number = pull_request_number(_event(env))
    if number is None:
        return "no pull request in this event: no comment"
    action = env.get("INPUT_PREVIEW", "")
    key = env.get("INPUT_CONFIG") or env.get("CI_ECS_CONFIG") or "ci-ecs.yml"
    body = comment_body(action, env.get("PREVIEW_ID", ""), env.get("PREVIEW_URL", ""), key, env.get("GITHUB_SHA", ""))
    if comments is None:
        comments = PullRequestComments(session(), env.get("GITHUB_API_URL") or DEFAULT_API_URL,
                                       env["GITHUB_REPOSITORY"], env["CI_ECS_GITHUB_TOKEN"])
    # down edits the comment up wrote; a pull request that never had a preview gets no "removed" comment.
    done, comment_id = upsert(comments, number, key, body, create=action != "down")
    if comment_id is None:
        return f"no preview comment on pull request #{number} to update"
    return f"{done} comment {comment_id} on pull request #{number}"


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """`prepare` or `comment` (see the module's docstring); exit 0, or 2 for a bad input."""
    env = os.environ if env is None else env
    args = sys.argv[1:] if argv is None else argv
    token = env.get("CI_ECS_GITHUB_TOKEN", "")
    if token:
        register_secret(token)
    if args == ["prepare"]:
        try:
            plan = prepare(env)
        except PreviewInputError as exc:
            print(f"::error title=ci-ecs preview::{escape_control(str(exc))}")
            return 2
        _write_outputs(env, plan)
        return 0
    if args == ["comment"]:
        if not token:
            print("ci-ecs preview: no github-token: no comment on the pull request")
            return 0
        try:
            print(f"ci-ecs preview: {comment(env)}")
        except CommentError as exc:
            # The preview itself worked: a comment that cannot be written is a warning (e.g. a token without
            # `pull-requests: write`, or a fork's read-only token), not a failed deploy.
            print(f"::warning title=ci-ecs preview comment::{escape_control(redact(str(exc)))} "
                  "(the token needs pull-requests: write)")
        return 0
    print("usage: python -m ci_ecs.github_preview prepare|comment", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
