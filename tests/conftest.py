"""Fixtures shared by the test packages (the sandbox tests keep their own `image`)."""

from __future__ import annotations

import pytest

from agent.testing import isolated_env


@pytest.fixture(autouse=True)
def rempart_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test (and every process it starts) keeps its config, data, cache, logs and pid
    files in a temporary folder, never the person's own; a test may still set its own."""
    root = tmp_path_factory.mktemp("rempart-home")
    for name, value in isolated_env(root).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REMPART_LOG_LEVEL", raising=False)


@pytest.fixture(scope="session")
def image() -> str:
    """The sandbox image, built if its inputs changed; skips when no Docker engine answers."""
    docker = pytest.importorskip("docker")
    try:
        docker.from_env(timeout=10).ping()
    except docker.errors.DockerException as exc:
        pytest.skip(f"no Docker engine: {exc}")
    from sandbox.image_build import ensure_image

    return ensure_image(build=True)
