"""What this Rempart is: its version, the policy format it reads, the sandbox image it needs.

Shown by `rempart --version` and in `rempart doctor --json`, so a bug report or an
inventory script names all three.
"""

from __future__ import annotations

import sys
from importlib import metadata

from pydantic import BaseModel

from policies.schema import POLICY_FORMAT_VERSION
from sandbox.image_build import image_tag


class About(BaseModel):
    rempart: str
    policy_format: int
    sandbox_image: str
    python: str


def rempart_version() -> str:
    try:
        return metadata.version("rempart")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "unknown (not installed)"


def about() -> About:
    return About(
        rempart=rempart_version(),
        policy_format=POLICY_FORMAT_VERSION,
        sandbox_image=image_tag(),
        python=".".join(str(part) for part in sys.version_info[:3]),
    )


def version_line() -> str:
    info = about()
    return (
        f"rempart {info.rempart} (policy format {info.policy_format}, "
        f"sandbox image {info.sandbox_image}, Python {info.python})"
    )
