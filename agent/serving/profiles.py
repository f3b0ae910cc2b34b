"""Serving profiles (profiles/*.yaml): vLLM flags and tool-call mode per model family.

They ship in the package (`agent/serving/deploy/`: profiles, chat templates, the GGUF
converter), read with importlib.resources; `REMPART_DEPLOY_DIR` names a folder of your own
profiles/ and chat_templates/ instead.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from agent.errors import ProfileError
from agent.settings import Settings


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    families: tuple[str, ...]
    tool_call_mode: Literal["required", "native", "text"]
    vllm_args: tuple[str, ...] = ()
    chat_template: str | None = None
    max_model_len: int
    gpu: str = ""
    # request parameters for this family: temperature, top_p (OpenAI's), and any other
    # sampling parameter vLLM takes (top_k, repetition_penalty, ...)
    sampling: dict[str, float] = {}


def shipped_deploy_dir() -> Path:
    """The profiles, chat templates and converter shipped in the package."""
    return Path(str(resources.files("agent.serving") / "deploy"))


def deploy_dir(settings: Settings) -> Path:
    return settings.deploy_dir or shipped_deploy_dir()


def load_profiles(deploy_dir: Path) -> dict[str, Profile]:
    profiles: dict[str, Profile] = {}
    for path in sorted((deploy_dir / "profiles").glob("*.yaml")):
        try:
            profile = Profile.model_validate(yaml.safe_load(path.read_text()))
        except (yaml.YAMLError, ValidationError) as exc:
            raise ProfileError(f"{path}: {exc}", hint="fix the profile file") from exc
        profiles[profile.name] = profile
    return profiles


def profile_for(deploy_dir: Path, name_or_model: str) -> Profile:
    """The profile called `name_or_model`, or the first whose family the model name contains."""
    profiles = load_profiles(deploy_dir)
    if name_or_model in profiles:
        return profiles[name_or_model]
    lowered = name_or_model.lower()
    for profile in profiles.values():
        if any(family in lowered for family in profile.families):
            return profile
    raise ProfileError(
        f"no serving profile matches {name_or_model!r}",
        hint=f"choose one of {', '.join(sorted(profiles))} with --profile",
    )
