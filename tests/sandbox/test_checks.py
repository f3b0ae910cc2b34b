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
