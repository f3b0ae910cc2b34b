"""`rempart doctor --airgap`: each phone-home check, in a controlled environment."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from agent.airgap import (
    HUB_FLAGS,
    PYPI_DEFAULT,
    USAGE_FLAGS,
    dns_check,
    endpoint_check,
    flags_check,
    hub_endpoint_check,
    pip_check,
    pip_config_files,
    process_env,
)
from agent.serving.engine import server_env
from policies.exitcodes import Exit
from rempart.cli import main


def pip_conf(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pip.conf"
    path.write_text(text)
    return path


def test_pip_with_no_index_configured_would_fetch_from_pypi(tmp_path: Path) -> None:
    check = pip_check({}, files=[tmp_path / "absent.conf"])
    assert not check.ok
    assert PYPI_DEFAULT in check.detail and "PIP_NO_INDEX=1" in check.hint


def test_pip_no_index_from_the_environment_or_a_config_file_passes(tmp_path: Path) -> None:
    assert pip_check({"PIP_NO_INDEX": "1"}, files=[]).ok
    conf = pip_conf(tmp_path, "[install]\nno-index = true\n")
    check = pip_check({}, files=[conf])
    assert check.ok and str(conf) in check.detail


def test_a_remote_index_in_a_config_file_fails_naming_the_file(tmp_path: Path) -> None:
    conf = pip_conf(tmp_path, "[global]\nindex-url = https://mirror.example.com/simple\n")
    check = pip_check({}, files=[conf])
    assert not check.ok
    assert f"https://mirror.example.com/simple ({conf} [global] index-url)" in check.detail
    assert PYPI_DEFAULT not in check.detail  # index-url replaces pip's default


def test_local_and_private_indexes_pass_but_one_remote_extra_index_fails(tmp_path: Path) -> None:
    conf = pip_conf(tmp_path, "[global]\nindex-url = file:///srv/wheels/simple\n")
    assert pip_check({}, files=[conf]).ok
    assert pip_check({"PIP_INDEX_URL": "http://10.1.2.3/simple"}, files=[]).ok
    env = {"PIP_INDEX_URL": "http://127.0.0.1:3141/simple", "PIP_EXTRA_INDEX_URL": PYPI_DEFAULT}
    check = pip_check(env, files=[])
    assert not check.ok and f"{PYPI_DEFAULT} (PIP_EXTRA_INDEX_URL)" in check.detail


def test_an_unreadable_pip_config_fails_clearly(tmp_path: Path) -> None:
    conf = pip_conf(tmp_path, "index-url = no section header\n")
    check = pip_check({"PIP_NO_INDEX": "1"}, files=[conf])
    assert not check.ok and str(conf) in check.detail


def test_pip_config_files_follow_pip_and_devnull_reads_none(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "x")}
    files = pip_config_files(env | {"PIP_CONFIG_FILE": str(tmp_path / "own.conf")})
    assert Path("/etc/pip.conf") in files
    assert tmp_path / "x" / "pip" / "pip.conf" in files
    assert tmp_path / ".pip" / "pip.conf" in files and files[-1] == tmp_path / "own.conf"
    assert pip_config_files(env | {"PIP_CONFIG_FILE": os.devnull}) == []


def test_hub_and_usage_flags_must_be_set_here_and_for_the_model_server() -> None:
    served = server_env("vllm-cpu")  # what `rempart model serve` gives vLLM
    for flags in (HUB_FLAGS, USAGE_FLAGS):
        assert flags_check("x", flags, dict(flags), served, None).ok
        check = flags_check("x", flags, {}, served, None)
        assert not check.ok and check.detail.startswith("this environment: ")
        assert all(name in check.detail for name in flags)
        assert "`rempart model serve`" not in check.detail


def test_a_running_server_started_without_the_flags_is_named_by_pid() -> None:
    env = {k: v for k, v in os.environ.items() if k not in HUB_FLAGS}
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], env=env, stdin=subprocess.PIPE
    )
    try:
        seen = process_env(child.pid)
        assert seen is not None and "HF_HUB_OFFLINE" not in seen
        check = flags_check("x", HUB_FLAGS, HUB_FLAGS, server_env("vllm-cpu"), (child.pid, seen))
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=10)
    assert not check.ok
    assert f"the running model server (pid {child.pid}): HF_HUB_OFFLINE" in check.detail


def test_a_remote_hub_endpoint_fails_a_local_one_passes() -> None:
    assert hub_endpoint_check({}).ok
    assert hub_endpoint_check({"HF_ENDPOINT": "http://127.0.0.1:5000"}).ok
    check = hub_endpoint_check({"HF_ENDPOINT": "https://huggingface.co"})
    assert not check.ok and "HF_ENDPOINT=https://huggingface.co" in check.detail


def test_the_model_endpoint_must_be_on_this_host() -> None:
    assert endpoint_check("http://127.0.0.1:8011/v1").ok
    assert endpoint_check("http://localhost:8000/v1").ok
    check = endpoint_check("http://gpu-box.corp.example:8000/v1")
    assert not check.ok and "another host" in check.detail


def test_dns_fails_when_an_external_name_resolves_and_passes_when_none_does() -> None:
    assert dns_check(("rempart-airgap-test.invalid", "localhost")).ok
    try:
        socket.getaddrinfo("pypi.org", 443)
    except OSError:
        pytest.skip("this host resolves no external name")
    check = dns_check(("pypi.org",))
    assert not check.ok and check.detail.startswith("resolves pypi.org -> ")


def test_doctor_airgap_reports_every_check_and_exits_failed_on_any(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in ("HF_ENDPOINT", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {**HUB_FLAGS, **USAGE_FLAGS, "PIP_NO_INDEX": "1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("REMPART_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("REMPART_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("REMPART_MODEL_BASE_URL", "http://model.example.com/v1")
    assert main(["doctor", "--airgap", "--json"]) == Exit.FAILED
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert sorted(checks) == [
        "airgap: DNS",
        "airgap: hub downloads",
        "airgap: hub endpoint",
        "airgap: model endpoint",
        "airgap: pip index",
        "airgap: vLLM usage stats",
    ]
    failed = {name for name, c in checks.items() if not c["ok"]}
    assert failed - {"airgap: DNS"} == {"airgap: model endpoint"}
