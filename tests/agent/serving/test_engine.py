"""The model-server probe and `rempart model status` against a real HTTP endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from agent.serving.engine import probe_models
from agent.testing import ScriptedModelServer


def test_the_probe_sends_the_api_key_and_reports_a_refusal_as_unreachable() -> None:
    with ScriptedModelServer([], model="m1", api_key="sekret") as server:
        assert probe_models(server.base_url, "sekret") == ["m1"]
        assert probe_models(server.base_url, "wrong") is None
    assert probe_models("http://127.0.0.1:9/v1", "sekret") is None


def _status(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "rempart", "model", "status", "--json"]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)


def test_model_status_reports_the_endpoint_and_its_models(tmp_path: Path) -> None:
    with ScriptedModelServer([], model="served-one", api_key="k") as server:
        env = {
            **os.environ,
            "REMPART_DATA_DIR": str(tmp_path),
            "REMPART_MODEL_BASE_URL": server.base_url,
            "REMPART_MODEL_API_KEY": "k",
        }
        done = _status(env)
    report = json.loads(done.stdout)
    assert done.returncode == 0
    assert report["reachable"] and report["models"] == ["served-one"]
    assert report["endpoint"] == server.base_url and report["managed"] is False


def test_model_status_exits_1_when_nothing_answers(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "REMPART_DATA_DIR": str(tmp_path),
        "REMPART_MODEL_BASE_URL": "http://127.0.0.1:9/v1",
    }
    done = _status(env)
    assert done.returncode == 1 and json.loads(done.stdout)["reachable"] is False
