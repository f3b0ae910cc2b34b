"""`rempart doctor` reports every check by behaviour, as text and as JSON, with fix hints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from agent.testing import ScriptedModelServer

pytestmark = pytest.mark.docker
EXPECTED = {
    "python",
    "disk",
    "docker engine reachable",
    "sandbox image present",
    "model endpoint",
    "policy",
}


def doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "rempart", "doctor", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def test_doctor_json_reports_each_check_and_passes_with_a_model_server(
    tmp_path: Path, image: str
) -> None:
    with ScriptedModelServer([]) as server:
        env = {
            **os.environ,
            "REMPART_DATA_DIR": str(tmp_path),
            "REMPART_CONFIG_DIR": str(tmp_path),
            "REMPART_ORG_POLICY_DIR": str(tmp_path / "org"),
            "REMPART_MODEL_BASE_URL": server.base_url,
            "REMPART_SANDBOX_IMAGE": image,
        }
        done = doctor(env, "--json")
    report = json.loads(done.stdout)
    names = {check["name"] for check in report["checks"]}
    assert names >= EXPECTED
    assert any("CVE-2024-21626" in name for name in names)
    assert all(
        set(check) >= {"name", "ok", "detail", "hint", "required"} for check in report["checks"]
    )
    assert report["ok"] and done.returncode == 0, [c for c in report["checks"] if not c["ok"]]
    version = report["version"]
    assert version["policy_format"] == 1 and version["sandbox_image"] == image
    assert version["rempart"] == metadata.version("rempart")
    shown = subprocess.run([sys.executable, "-m", "rempart", "--version"], capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    assert shown.stdout.startswith(f"rempart {version['rempart']} (policy format 1, ")
    assert image in shown.stdout


def test_doctor_fails_with_a_hint_when_the_model_server_is_down(tmp_path: Path, image: str) -> None:
    env = {
        **os.environ,
        "REMPART_DATA_DIR": str(tmp_path),
        "REMPART_CONFIG_DIR": str(tmp_path),
        "REMPART_ORG_POLICY_DIR": str(tmp_path / "org"),
        "REMPART_MODEL_BASE_URL": "http://127.0.0.1:9/v1",
        "REMPART_SANDBOX_IMAGE": image,
    }
    done = doctor(env)
    assert done.returncode == 1
    assert "FAIL model endpoint" in done.stdout and "rempart model serve" in done.stdout


def test_doctor_fails_on_a_broken_org_policy(tmp_path: Path, image: str) -> None:
    org = tmp_path / "org"
    org.mkdir()
    (org / "00-base.yaml").write_text("version: 1\nname: x\ndefault: maybe\n")
    with ScriptedModelServer([]) as server:
        env = {
            **os.environ,
            "REMPART_DATA_DIR": str(tmp_path),
            "REMPART_CONFIG_DIR": str(tmp_path),
            "REMPART_ORG_POLICY_DIR": str(org),
            "REMPART_MODEL_BASE_URL": server.base_url,
            "REMPART_SANDBOX_IMAGE": image,
        }
        done = doctor(env, "--json")
    policy = next(c for c in json.loads(done.stdout)["checks"] if c["name"] == "policy")
    assert done.returncode == 1 and not policy["ok"] and "00-base.yaml:3" in policy["detail"]
