"""One `Settings` model for the whole program: every field documented, env prefix `REMPART_`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ToolCallMode = Literal["auto", "required", "native", "text"]


def _repo_deploy_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "deploy"


class Settings(BaseSettings):
    """Rempart's configuration. Safe defaults: local model only, no proxy from the environment."""

    model_config = SettingsConfigDict(env_prefix="REMPART_", extra="forbid", frozen=True)

    data_dir: Path = Field(
        default_factory=lambda: platformdirs.user_data_path("rempart"),
        description="Sessions, audit log, models, the vLLM virtualenv and caches live here.",
    )
    config_dir: Path = Field(
        default_factory=lambda: platformdirs.user_config_path("rempart"),
        description="The user policy layer (policy.yaml) and trusted project policies.",
    )
    org_policy_dir: Path = Field(
        default=Path("/etc/rempart/policy.d"),
        description="The organisation policy layer: every *.yaml here, in name order.",
    )
    deploy_dir: Path = Field(
        default_factory=_repo_deploy_dir,
        description="Serving profiles and chat templates (the repository's deploy/ folder).",
    )
    model_base_url: str = Field(
        default="http://127.0.0.1:8011/v1",
        description="OpenAI-compatible endpoint (vLLM, llama.cpp server...).",
    )
    model_name: str = Field(
        default="", description="Model id on the server; empty: the first one it lists."
    )
    model_api_key: str = Field(default="rempart-local", description="Sent as the bearer token.")
    model_timeout_s: float = Field(default=300.0, gt=0, description="Per request.")
    model_retries: int = Field(default=2, ge=0, le=10, description="Retries with backoff.")
    tool_call_mode: ToolCallMode = Field(
        default="auto",
        description="auto: probe the server; required: tool_choice=required; "
        "native: tool_choice=auto; text: prompted format parsed from the text.",
    )
    port: int = Field(default=8011, ge=1, le=65535, description="Port for `rempart model serve`.")
    sandbox_image: str = Field(default="", description="Sandbox image; empty: the built one.")
    aids: bool = Field(
        default=True,
        description="Aids for small models: a project map at start, read_file without a "
        "gutter, pasted gutters and whitespace slips repaired, finish refused while the "
        "project's check fails, loops steered. `REMPART_AIDS=off` turns them off (the "
        "benchmark's comparison); the check still runs once at finish, for the record.",
    )

    @property
    def sessions_db(self) -> Path:
        return self.data_dir / "sessions.sqlite3"

    @property
    def audit_log(self) -> Path:
        return self.data_dir / "audit.jsonl"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def vllm_venv(self) -> Path:
        return self.data_dir / "vllm-venv"
