"""Real-container fixtures: the image is built (or found) once per test session."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from policies import FsRead, FsWrite
from sandbox import Sandbox, SandboxLimits, SandboxSpec
from sandbox.image_build import build_image
from sandbox.policy_bridge import spec_from_policy


@dataclass
class FakeDecision:
    decision: str


@dataclass
class FakeLimits:
    cpus: float = 1.0
    memory: str = "256m"
    pids: int = 64
    timeout_s: float = 20.0
    output_bytes: int = 100_000


@dataclass
class FakePolicy:
    """Glob-based stand-in for `policies.PolicySet` (read/write deny lists only)."""

    read_deny: list[str] = field(default_factory=lambda: [".env", "*.pem", "**/*.pem", "secrets"])
    write_deny: list[str] = field(default_factory=lambda: [".git/*", ".git/**"])
    limits: FakeLimits = field(default_factory=FakeLimits)
    network_allow: list[str] = field(default_factory=list)
    network_deny: list[str] = field(default_factory=list)
    env_passthrough: list[str] = field(default_factory=list)

    def evaluate(self, action: FsRead | FsWrite) -> FakeDecision:
        globs = self.read_deny if isinstance(action, FsRead) else self.write_deny
        hit = any(fnmatch.fnmatchcase(action.path, g) for g in globs)
        return FakeDecision("deny" if hit else "allow")


def make_workspace(root: Path) -> Path:
    ws = root / "ws"
    ws.mkdir()
    (ws / "README.md").write_text("hello\n")
    (ws / ".env").write_text("API_KEY=topsecret\n")
    (ws / "certs").mkdir()
    (ws / "certs" / "server.pem").write_text("-----BEGIN PRIVATE KEY-----\nsecret\n")
    (ws / "secrets").mkdir()
    (ws / "secrets" / "db.txt").write_text("password\n")
    (ws / ".git").mkdir()
    (ws / ".git" / "config").write_text("[core]\n")
    (ws / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (ws / ".rempart").mkdir()
    (ws / ".rempart" / "policy.yaml").write_text("version: 1\n")
    os.link(ws / ".env", ws / "env-hardlink")
    for path in [ws, *ws.rglob("*")]:
        os.chown(path, 1000, 1000, follow_symlinks=False)
    return ws


@pytest.fixture(scope="session")
def image() -> str:
    return build_image(progress=lambda line: None)


def policy_spec(ws: Path, image: str, **policy: object) -> SandboxSpec:
    spec = spec_from_policy(FakePolicy(**policy), ws, image=image)  # type: ignore[arg-type]
    limits = spec.limits.model_dump() | {"tmp_size": "16m", "home_size": "16m"}
    return spec.model_copy(update={"limits": SandboxLimits(**limits)})


SpecFactory = Callable[..., SandboxSpec]


@pytest.fixture(scope="session")
def make_spec() -> SpecFactory:
    """`make_spec(workspace, image, **FakePolicy fields)`."""
    return policy_spec


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("sandbox"))


@pytest.fixture(scope="module")
def spec(workspace: Path, image: str) -> SandboxSpec:
    return policy_spec(workspace, image)


@pytest.fixture(scope="module")
def sb(spec: SandboxSpec) -> Iterator[Sandbox]:
    with Sandbox(spec) as box:
        yield box
