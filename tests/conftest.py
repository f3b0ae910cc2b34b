"""Fixtures shared by the test packages (the sandbox tests keep their own `image`)."""

from __future__ import annotations

import pytest


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
