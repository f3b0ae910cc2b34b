"""Configuration: config.toml in the config folder, the environment wins, `config show`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.settings import Settings, load_settings

pytestmark = pytest.mark.smoke


def config_dir() -> Path:
    folder = Path(os.environ["REMPART_CONFIG_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def rempart(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rempart", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_a_value_in_config_toml_is_used() -> None:
    (config_dir() / "config.toml").write_text('model_name = "qwen-big"\nmodel_retries = 5\n')
    settings = Settings()
    assert (settings.model_name, settings.model_retries) == ("qwen-big", 5)


def test_the_environment_wins_over_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    (config_dir() / "config.toml").write_text('model_name = "from-file"\n')
    monkeypatch.setenv("REMPART_MODEL_NAME", "from-env")
    assert Settings().model_name == "from-env"


def test_the_file_follows_a_config_dir_given_in_code(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('tool_call_mode = "text"\n')
    assert Settings(config_dir=tmp_path).tool_call_mode == "text"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('model_nmae = "x"\n', "model_nmae"),
        ('tool_call_mode = "sometimes"\n', "tool_call_mode"),
        ('data_dir = "/elsewhere"\n', "cannot be set in the config file"),
        ("model_name = \n", "cannot read"),
    ],
)
def test_a_bad_config_file_is_a_clear_error(text: str, words: str) -> None:
    (config_dir() / "config.toml").write_text(text)
    with pytest.raises(ConfigError, match=words):
        load_settings()
    done = rempart("config", "show")
    assert done.returncode == 8 and words in done.stderr and "Traceback" not in done.stderr


def test_config_show_json_says_where_each_value_came_from() -> None:
    (config_dir() / "config.toml").write_text('model_name = "from-file"\nmodel_api_key = "s3"\n')
    done = rempart("config", "show", "--json", env={"REMPART_MODEL_RETRIES": "4"})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["settings"]["model_name"] == "from-file"
    assert report["sources"]["model_name"] == "file"
    assert report["settings"]["model_retries"] == 4 and report["sources"]["model_retries"] == "env"
    assert report["sources"]["port"] == "default"
    assert report["settings"]["model_api_key"] == "***"
    assert report["config_file"] == str(config_dir() / "config.toml")


def test_folders_follow_the_environment_and_the_xdg_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("CACHE", "STATE", "RUNTIME"):
        monkeypatch.delenv(f"REMPART_{name}_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xc"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xs"))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    settings = Settings()
    assert settings.cache_dir == tmp_path / "xc" / "rempart"
    assert settings.state_dir == tmp_path / "xs" / "rempart"
    assert settings.runtime_dir == tmp_path / "xs" / "rempart" / "run"
    assert settings.log_file == tmp_path / "xs" / "rempart" / "rempart.log"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "xr"))
    assert Settings().runtime_dir == tmp_path / "xr" / "rempart"


def test_log_level_writes_our_records_to_the_log_file() -> None:
    explain = ["policy", "explain", "--policy", "nope.yaml", "--action", "{}"]
    assert rempart(*explain).returncode == 8
    log = Settings().log_file
    quiet = log.read_text()
    assert "nope.yaml" in quiet and "(exit 8)" in quiet and " DEBUG " not in quiet
    assert rempart("--log-level", "debug", *explain).returncode == 8
    loud = log.read_text()[len(quiet) :]
    assert " DEBUG rempart.cli: rempart --log-level debug policy explain" in loud
