"""`rempart audit egress`: every connection attempt of a session, from the audit log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.audit import AuditLog
from agent.settings import Settings
from policies.exitcodes import Exit
from rempart.cli import main


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AuditLog:
    monkeypatch.setenv("REMPART_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("REMPART_CONFIG_DIR", str(tmp_path / "config"))
    audit = AuditLog.for_settings(Settings())
    # what a session writes (agent/session.py, agent/runner.py record_egress)
    audit.append("s1", "session", note="start: fetch")
    model = {"kind": "model.connect", "url": "http://127.0.0.1:8011/v1"}
    audit.append("s1", "egress", action=model, decision="host", approver="model-client")
    allowed = {"kind": "net.connect", "host": "pypi.org", "port": 443, "method": "CONNECT"}
    allowed |= {"addr": "151.101.0.223", "conn": 1, "sandbox": "abc", "rule": "network.allow[0]"}
    audit.append("s1", "egress", action=allowed, decision="allow", approver="egress-proxy")
    denied = {"kind": "net.connect", "host": "evil.example", "port": 443, "conn": 2}
    audit.append(
        "s1",
        "egress",
        action=denied | {"sandbox": "abc"},
        decision="deny",
        approver="egress-proxy",
        note="not_allowlisted",
    )
    closed = {"kind": "net.connect", "host": "pypi.org", "port": 443, "conn": 1, "sandbox": "abc"}
    closed |= {"bytes_up": 517, "bytes_down": 40960}
    audit.append("s1", "egress", action=closed, decision="closed", approver="egress-proxy")
    audit.append("s2", "session", note="start: offline")
    return audit


def test_a_sessions_attempts_are_listed_allowed_and_denied_with_bytes(
    log: AuditLog, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "egress", "s1"]) == Exit.OK
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "session s1: 2 connection attempts through the proxy (1 allowed, 1 denied, 0 failed), "
        "517 bytes up, 40960 bytes down"
    )
    assert out[1].endswith("host   model client -> http://127.0.0.1:8011/v1")
    assert "allow  CONNECT pypi.org:443 -> 151.101.0.223 up 517 B, down 40960 B" in out[2]
    assert out[3].endswith("deny   evil.example:443 not_allowlisted")
    assert len(out) == 4


def test_json_gives_each_attempt_and_a_summary_and_a_quiet_session_shows_zero(
    log: AuditLog, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "egress", "--json"]) == Exit.OK
    report = {s["session"]: s for s in json.loads(capsys.readouterr().out)}
    assert report["s1"]["summary"] == {
        "attempts": 2,
        "allowed": 1,
        "denied": 1,
        "failed": 0,
        "bytes_up": 517,
        "bytes_down": 40960,
        "model_endpoints": ["http://127.0.0.1:8011/v1"],
    }
    assert [a["decision"] for a in report["s1"]["attempts"]] == ["host", "allow", "deny"]
    assert report["s2"]["attempts"] == [] and report["s2"]["summary"]["attempts"] == 0


def test_an_unknown_session_is_an_error_not_zero_connections(
    log: AuditLog, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "egress", "nosuch"]) == Exit.ERROR
    assert "no records of session nosuch" in capsys.readouterr().out


def test_an_allowed_connection_whose_end_was_never_logged_says_so(
    log: AuditLog, capsys: pytest.CaptureFixture[str]
) -> None:
    action = {"kind": "net.connect", "host": "files.pythonhosted.org", "port": 443, "conn": 3}
    log.append("s2", "egress", action=action | {"sandbox": "d"}, decision="allow")
    assert main(["audit", "egress", "s2"]) == Exit.OK
    assert "files.pythonhosted.org:443 (end not logged)" in capsys.readouterr().out
