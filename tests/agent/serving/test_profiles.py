"""Serving profiles load, pick the right flags per family, and the compose file validates."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from agent.errors import ProfileError
from agent.serving.engine import serve_command
from agent.serving.profiles import load_profiles, profile_for, shipped_deploy_dir
from agent.settings import Settings

DEPLOY = shipped_deploy_dir()
COMPOSE = Path(__file__).resolve().parents[3] / "deploy" / "compose.yaml"


def test_every_family_the_operator_guide_names_has_a_profile() -> None:
    profiles = load_profiles(DEPLOY)
    assert {"qwen2.5-coder", "qwen3-coder", "gpt-oss", "devstral", "llama", "lucie"} <= set(
        profiles
    )
    assert profiles["lucie"].tool_call_mode == "text"
    assert profiles["qwen2.5-coder"].tool_call_mode == "required"


@pytest.mark.parametrize(
    ("model", "profile"),
    [
        ("qwen2.5-coder-1.5b-instruct", "qwen2.5-coder"),
        ("Qwen3-Coder-30B-A3B-Instruct", "qwen3-coder"),
        ("gpt-oss-120b", "gpt-oss"),
        ("Devstral-Small-2507", "devstral"),
        ("Llama-3.3-70B-Instruct", "llama"),
        ("Lucie-7B-Instruct-v1.1", "lucie"),
    ],
)
def test_a_model_name_picks_its_family_profile(model: str, profile: str) -> None:
    assert profile_for(DEPLOY, model).name == profile


def test_an_unknown_model_asks_for_a_profile_by_name() -> None:
    with pytest.raises(ProfileError, match="no serving profile"):
        profile_for(DEPLOY, "mystery-model")


def test_the_embedded_serve_command_uses_our_chat_template_and_the_hermes_parser(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path)
    profile = profile_for(DEPLOY, "qwen2.5-coder")
    cmd = serve_command(Path("/venv/bin/python"), Path("/m"), "m", profile, settings, 8011)
    assert "--tool-call-parser=hermes" in cmd and "--enable-auto-tool-choice" in cmd
    template = Path(cmd[cmd.index("--chat-template") + 1])
    assert template.is_file() and "<tool_call>" in template.read_text()
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"


def test_the_compose_file_validates(tmp_path: Path) -> None:
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.skip("docker-compose is not installed (scripts/install.sh installs it)")
    env = {"MODEL_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [compose, "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "internal: true" in done.stdout and "pull_policy: never" in done.stdout
    missing = subprocess.run(
        [compose, "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert missing.returncode != 0 and "MODEL_DIR" in missing.stderr
