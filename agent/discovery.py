"""Which policy files are in force: org, trusted project, user, then `--policy` files.

The project layer lives inside the agent's writable workspace, so it is read only once the
user has trusted that exact file: its sha256 is recorded, and a changed file must be trusted
again. With no file at all, the shipped `policies/examples/default.yaml` applies.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from agent.errors import UntrustedProjectPolicy
from agent.settings import Settings
from policies import PolicySet
from policies.shipped import shipped_policy

PROJECT_POLICY = Path(".rempart") / "policy.yaml"


class Layer(BaseModel):
    name: str
    path: Path


def default_policy_path() -> Path:
    return shipped_policy("default")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _trust_store(settings: Settings) -> Path:
    return settings.config_dir / "trusted-projects.json"


def _trusted(settings: Settings) -> dict[str, str]:
    store = _trust_store(settings)
    if not store.exists():
        return {}
    data = json.loads(store.read_text())
    return {str(key): str(value) for key, value in data.items()}


def trusted_files(settings: Settings) -> dict[str, str]:
    """Every trusted project file (resolved path -> the sha256 that was trusted)."""
    return _trusted(settings)


def trust_file(settings: Settings, path: Path) -> str:
    """Record one project file (a policy, an MCP configuration) as trusted; its sha256."""
    path = path.resolve()
    digest = _sha256(path)
    trusted = _trusted(settings)
    trusted[str(path)] = digest
    _trust_store(settings).parent.mkdir(parents=True, exist_ok=True)
    _trust_store(settings).write_text(json.dumps(trusted, indent=2, sort_keys=True))
    return digest


def trust_project_policy(settings: Settings, workspace: Path) -> str:
    """Record the current project policy file as trusted; returns its sha256."""
    path = (workspace / PROJECT_POLICY).resolve()
    digest = _sha256(path)
    trusted = _trusted(settings)
    trusted[str(path)] = digest
    _trust_store(settings).parent.mkdir(parents=True, exist_ok=True)
    _trust_store(settings).write_text(json.dumps(trusted, indent=2, sort_keys=True))
    return digest


def project_layer(settings: Settings, workspace: Path) -> Layer | None:
    path = (workspace / PROJECT_POLICY).resolve()
    if not path.exists():
        return None
    recorded = _trusted(settings).get(str(path))
    if recorded is None or recorded != _sha256(path):
        state = "has changed since you trusted it" if recorded else "is not trusted yet"
        raise UntrustedProjectPolicy(
            f"{path} {state}",
            hint="read it, then run `rempart policy trust --workspace "
            f"{workspace}` (or pass --ignore-project-policy)",
        )
    return Layer(name="project", path=path)


def discover_layers(
    settings: Settings,
    workspace: Path | None,
    extra: Sequence[Path],
    *,
    ignore_project: bool = False,
) -> list[Layer]:
    layers = [
        Layer(name=f"org:{path.name}", path=path)
        for path in sorted(settings.org_policy_dir.glob("*.yaml"))
    ]
    if workspace is not None and not ignore_project:
        project = project_layer(settings, workspace)
        if project is not None:
            layers.append(project)
    user = settings.config_dir / "policy.yaml"
    if user.exists():
        layers.append(Layer(name="user", path=user))
    layers += [Layer(name=f"cli:{path.name}", path=path.resolve()) for path in extra]
    if not layers:
        layers.append(Layer(name="default", path=default_policy_path()))
    approved = settings.config_dir / "approved.yaml"
    if approved.exists():  # "allow always" answers: only ever after the base layers
        layers.append(Layer(name="approved", path=approved))
    return layers


def load_policy_set(layers: Sequence[Layer]) -> PolicySet:
    """Load every layer; any failure is a `PolicyLoadError` and no session starts."""
    return PolicySet.load([(layer.name, layer.path) for layer in layers])
