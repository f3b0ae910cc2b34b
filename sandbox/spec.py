"""What a sandbox is made of: a pydantic `SandboxSpec`, independent of how it was derived.

`spec_from_policy` (in `sandbox.policy_bridge`) turns a policy into one; tests and the pool
can also build one directly.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policies.model import RuntimeKind
from policies.netrules import NetRules

# RFC 5737 documentation ranges are never routed on the public internet, so they cannot
# name a real internal service; some sites (this one) use them for their package gateway.
# Set `egress_allow_cidrs=[]` for the strictest proxy.
# Rempart's own files in a workspace (project policy): never writable from the sandbox.
PROTECTED_PATHS = (".rempart",)

DOCUMENTATION_CIDRS = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")


class SandboxLimits(BaseModel):
    """Resource limits; mirrors `policies.Limits`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpus: float = Field(default=2.0, gt=0)
    memory: str = Field(default="2g", pattern=r"^[0-9]+(\.[0-9]+)?[bkmgtBKMGT]?$")
    pids: int = Field(default=256, ge=1)
    timeout_s: float = Field(default=120.0, gt=0)
    output_bytes: int = Field(default=1_000_000, ge=1)
    disk: str = Field(default="1g", pattern=r"^[0-9]+(\.[0-9]+)?[bkmgtBKMGT]?$")
    tmp_size: str = Field(default="512m", pattern=r"^[0-9]+[kmgKMG]?$")
    home_size: str = Field(default="256m", pattern=r"^[0-9]+[kmgKMG]?$")

    def memory_bytes(self) -> int:
        return size_bytes(self.memory)

    def disk_bytes(self) -> int:
        return size_bytes(self.disk)


def size_bytes(text: str) -> int:
    """`512m`, `1.5g`, `4096` -> bytes."""
    units = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
    text = text.lower()
    if text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(float(text))


class SandboxSpec(BaseModel):
    """Everything that decides what a sandbox container looks like."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workspace: Path
    image: str = "rempart-sandbox:latest"
    # the policy's network table (`PolicySet.network_table()`, JSON): the egress proxy
    # evaluates it with `policies.netrules`, as `rempart policy eval` does; "" = no network
    network_rules: str = ""
    network_allow: tuple[str, ...] = ()  # the allow patterns, for display only
    egress_allow_cidrs: tuple[str, ...] = DOCUMENTATION_CIDRS
    limits: SandboxLimits = SandboxLimits()
    env: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    # the container (and its egress proxy) stops after this long, whatever happens
    lifetime_s: float = Field(default=86400.0, gt=0)
    # `gvisor`: the sandbox container runs under runsc (its own user-space kernel); the
    # egress proxy stays runc (trusted code, it needs the network)
    runtime: RuntimeKind = "runc"

    @field_validator("workspace")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @model_validator(mode="after")
    def _network(self) -> SandboxSpec:
        if self.network_rules:
            NetRules(json.loads(self.network_rules))  # raises ValueError when malformed
        elif self.network_allow:
            raise ValueError("network_allow is descriptive: give network_rules (the table)")
        return self

    def spec_hash(self) -> str:
        """Stable hash of the spec (the warm pool keys on it)."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


def pool_key(spec: SandboxSpec) -> str:
    """The hash of what hardens a sandbox: the spec minus what is per session (workspace,
    labels). A warm pool's sandbox serves only a session whose spec has the same key."""
    hardening = spec.model_dump_json(exclude={"workspace", "labels"})
    return hashlib.sha256(hardening.encode()).hexdigest()[:16]
