from __future__ import annotations

from pathlib import Path

import pytest

from policies import PolicySet

EXAMPLES = Path(__file__).resolve().parents[2] / "policies" / "examples"


@pytest.fixture(scope="session")
def default_policy() -> PolicySet:
    return PolicySet.load([("org", EXAMPLES / "default.yaml")])
