"""Every result channel: one line per value, nothing forged, no credential (stdout, $GITHUB_OUTPUT, summary, dotenv)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from ci_ecs.output import emit, write_dotenv, write_github
from ci_ecs.redact import redact, register_environment_secrets

FORGING = "web\n::set-output name=public-ips::6.6.6.6\npublic-ips=6.6.6.6\nCI_ECS_PUBLIC_IPS=6.6.6.6\r\x1b[2K"
RESULT = {"cluster": "c", "service": FORGING, "publicIps": ["203.0.113.4"], "error": f"bad: {FORGING}"}


def read_github_output(text: str) -> dict[str, str]:
    """$GITHUB_OUTPUT as the runner reads it: `name=value` lines and `name<<DELIMITER` blocks."""
    values: dict[str, str] = {}
    lines = iter(text.split("\n"))
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            for item in lines:
                if item == delimiter:
                    break
                body.append(item)
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
    return values


def test_github_output_cannot_be_forged(tmp_path: Path) -> None:
    env = {"GITHUB_OUTPUT": str(tmp_path / "out"), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")}
    write_github(RESULT, env)
    values = read_github_output((tmp_path / "out").read_text())
    assert values["public-ips"] == "203.0.113.4"
    assert values["service"] == "web\\n::set-output name=public-ips::6.6.6.6\\npublic-ips=6.6.6.6" \
                                "\\nCI_ECS_PUBLIC_IPS=6.6.6.6\\r\\x1b[2K"
    summary = (tmp_path / "summary").read_text()
    assert not any(line.startswith(("::", "public-ips=")) for line in summary.splitlines())
    assert "\x1b" not in summary and "\r" not in summary


def test_dotenv_one_line_per_output(tmp_path: Path) -> None:
    write_dotenv(RESULT, tmp_path / "ci-ecs.env")
    lines = (tmp_path / "ci-ecs.env").read_text().split("\n")[:-1]
    assert all(re.fullmatch(r"CI_ECS_[A-Z_]+=[^\n\r\x1b]*", line) for line in lines)
    assert dict(line.split("=", 1) for line in lines)["CI_ECS_PUBLIC_IPS"] == "203.0.113.4"


def test_stdout_summary_is_escaped_and_masked(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaS1lY3MifQ.c2lnbmF0dXJl"
    stdout = io.StringIO()
    emit({**RESULT, "imageUri": f"repo:{token}"}, "text", stdout=stdout)
    text = stdout.getvalue()
    assert token not in text and "6.6.6.6\n" not in text
    assert not any(line.startswith("::") for line in text.splitlines())
    stdout = io.StringIO()
    emit({**RESULT, "imageUri": f"repo:{token}"}, "json", stdout=stdout)
    assert token not in stdout.getvalue() and json.loads(stdout.getvalue())["service"] == FORGING


def test_debug_log_shapes_are_masked(tmp_path: Path) -> None:
    # botocore's request log (botocore.endpoint at DEBUG) as it prints the signed headers.
    line = ("headers={'Authorization': b'AWS4-HMAC-SHA256 Credential=AKIAZQ3DT5EXAMPLE742/20240101/us-east-1/ecs/"
            "aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd', 'X-Amz-Security-Token': b'IQoJb3Jp'}")
    masked = redact(line)
    assert "AKIAZQ3DT5EXAMPLE742" not in masked and "Credential=***/20240101/us-east-1/ecs/aws4_request" in masked
    assert "IQoJb3Jp" not in masked and "0123abcd" not in masked
    assert redact("AccessKeyId: ASIAZQ3DT5EXAMPLE742") == "AccessKeyId: ***"
    token_file = tmp_path / "token"
    token_file.write_text("opaque-oidc-token-value-123456")
    register_environment_secrets({"AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file)})
    assert redact("WebIdentity opaque-oidc-token-value-123456 used") == "WebIdentity *** used"
