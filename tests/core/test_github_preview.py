"""ci_ecs.github_preview: the preview's id, the fork check, and the one pull request comment.

GitHub's API has no real part offline: the comment tests talk to tests/wrappers/github_api.py, a recording
stand-in written from GitHub's REST reference, over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_ecs import github_preview
from tests.wrappers.github_api import fake_github

TOKEN = "ghs_PreviewCommentToken0123456789abcdefXYZ"
REPOSITORY = "my-org/app"


def _event(tmp_path: Path, number: int = 12, head: str = REPOSITORY) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps({"number": number, "pull_request": {"number": number, "head": {"repo": {
        "full_name": head}}}, "repository": {"full_name": REPOSITORY}}))
    return str(path)


def _env(tmp_path: Path, api_url: str, **extra: str) -> dict[str, str]:
    return {"GITHUB_EVENT_PATH": _event(tmp_path), "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_API_URL": api_url,
            "CI_ECS_GITHUB_TOKEN": TOKEN, "GITHUB_SHA": "0123456789abcdef", **extra}


def test_up_creates_one_comment_then_updates_it_and_down_marks_it_removed(tmp_path: Path, capsys) -> None:
    with fake_github(TOKEN) as api:
        other = api.add(REPOSITORY, 12, "LGTM")
        up = _env(tmp_path, api.url, INPUT_PREVIEW="up", PREVIEW_ID="12", PREVIEW_URL="http://pr-12.example.com")
        assert github_preview.main(["comment"], up) == 0
        assert github_preview.main(["comment"], {**up, "PREVIEW_URL": "http://pr-12.example.com/v2"}) == 0
        assert github_preview.main(["comment"], {**up, "PREVIEW_URL": "http://pr-12.example.com/v2"}) == 0
        assert github_preview.main(["comment"], {**up, "INPUT_PREVIEW": "down"}) == 0
        comments = api.comments[(REPOSITORY, 12)]
        assert [c["id"] for c in comments][0] == other and len(comments) == 2  # one of ours, never a second
        ours = comments[1]["body"]
        assert "was removed" in ours and "<!-- ci-ecs preview: ci-ecs.yml -->" in ours
        writes = api.writes()
        assert [w.method for w in writes] == ["POST", "PATCH", "PATCH"]  # the unchanged run wrote nothing
        assert "http://pr-12.example.com (commit 0123456)" in writes[0].body["body"]
        assert "http://pr-12.example.com/v2" in writes[1].body["body"]
        assert all(r.authorization == f"Bearer {TOKEN}" for r in api.requests)
    printed = capsys.readouterr().out
    assert "created comment" in printed and "updated comment" in printed and TOKEN not in printed


def test_down_without_an_earlier_comment_posts_nothing(tmp_path: Path, capsys) -> None:
    with fake_github(TOKEN) as api:
        env = _env(tmp_path, api.url, INPUT_PREVIEW="down", PREVIEW_ID="12")
        assert github_preview.main(["comment"], env) == 0
        assert api.writes() == [] and not api.comments
    assert "no preview comment on pull request #12 to update" in capsys.readouterr().out


def test_the_marker_is_found_on_a_later_page(tmp_path: Path) -> None:
    with fake_github(TOKEN, max_page_size=2) as api:
        for n in range(5):
            api.add(REPOSITORY, 12, f"comment {n}")
        env = _env(tmp_path, api.url, INPUT_PREVIEW="up", PREVIEW_ID="12", PREVIEW_URL="http://a")
        github_preview.main(["comment"], env)
        github_preview.main(["comment"], {**env, "PREVIEW_URL": "http://b"})
        assert [w.method for w in api.writes()] == ["POST", "PATCH"]
        assert sum(1 for r in api.requests if r.method == "GET") == 3 + 3  # every page (2 a page), both times
        assert len(api.comments[(REPOSITORY, 12)]) == 6


def test_one_comment_per_config(tmp_path: Path) -> None:
    with fake_github(TOKEN) as api:
        env = _env(tmp_path, api.url, INPUT_PREVIEW="up", PREVIEW_ID="12", PREVIEW_URL="http://a")
        github_preview.main(["comment"], {**env, "INPUT_CONFIG": "api.yml"})
        github_preview.main(["comment"], {**env, "INPUT_CONFIG": "web.yml"})
        github_preview.main(["comment"], {**env, "INPUT_CONFIG": "api.yml", "PREVIEW_URL": "http://c"})
        assert [w.method for w in api.writes()] == ["POST", "POST", "PATCH"]


def test_a_refused_comment_is_a_warning_without_the_token(tmp_path: Path, capsys) -> None:
    with fake_github("another-token") as api:
        env = _env(tmp_path, api.url, INPUT_PREVIEW="up", PREVIEW_ID="12", PREVIEW_URL="http://a")
        assert github_preview.main(["comment"], env) == 0
    printed = capsys.readouterr().out
    assert "::warning title=ci-ecs preview comment::list the comments of #12: HTTP 401 Bad credentials" in printed
    assert TOKEN not in printed


def test_prepare_takes_the_pull_request_number(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {"GITHUB_EVENT_PATH": _event(tmp_path, 34), "GITHUB_OUTPUT": str(out), "INPUT_PREVIEW": "up"}
    assert github_preview.main(["prepare"], env) == 0
    text = out.read_text()
    assert "\n34\n" in text and "\ntrue\n" in text
    assert github_preview.prepare({**env, "INPUT_PREVIEW_ID": "feature-x"})["id"] == "feature-x"


@pytest.mark.parametrize(("env", "message"), [
    ({"INPUT_PREVIEW": "sideways"}, "preview: must be up or down"),
    ({"INPUT_PREVIEW": "up", "GITHUB_EVENT_PATH": ""}, "preview-id: empty, and this event has no pull request"),
])
def test_prepare_refuses_bad_inputs(env: dict[str, str], message: str, capsys) -> None:
    assert github_preview.main(["prepare"], env) == 2
    assert message in capsys.readouterr().out


def test_a_forks_pull_request_without_credentials_is_skipped(tmp_path: Path, monkeypatch, capsys) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask the instance metadata address
    fork = {"GITHUB_EVENT_PATH": _event(tmp_path, 5, head="someone/app"), "INPUT_PREVIEW": "up"}
    assert github_preview.prepare(fork) == {"id": "5", "deploy": "false"}
    assert "::warning title=ci-ecs preview skipped::pull request #5 comes from a fork" in capsys.readouterr().out
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE12")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    assert github_preview.prepare(fork)["deploy"] == "true"  # a fork with credentials (e.g. pull_request_target)
