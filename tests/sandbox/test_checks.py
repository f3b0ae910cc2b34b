"""`rempart doctor` sandbox checks pass on a healthy engine."""

from __future__ import annotations

import pytest

from sandbox.checks import run_checks

pytestmark = pytest.mark.docker


def test_every_required_doctor_check_passes_here(image: str) -> None:
    checks = run_checks(image)
    names = {c.name for c in checks}
    assert {
        "docker engine reachable",
        "seccomp filter active",
        "runc safe from CVE-2024-21626",
    } <= names
    failed = [c for c in checks if c.required and not c.ok]
    assert failed == []


def test_doctor_reports_runsc_its_version_and_a_booted_gvisor_kernel(image: str) -> None:
    from sandbox.engine import docker_client

    if "runsc" not in (docker_client().info().get("Runtimes") or {}):
        pytest.skip("the engine has no runsc runtime: run scripts/gvisor.sh")
    (gvisor,) = [c for c in run_checks(image, gvisor_required=True) if c.name.startswith("gVisor")]
    assert gvisor.ok and gvisor.required
    assert "runsc version" in gvisor.detail and "boots gVisor's kernel" in gvisor.detail
    assert "--network=none" in gvisor.detail  # what scripts/gvisor.sh registers it with
