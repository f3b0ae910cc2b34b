"""Decisions and the value types every other package reads: the evaluator's output contract."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

DecisionKind = Literal["allow", "ask", "deny"]
# The container runtime of the sandbox: `gvisor` (runsc, a user-space kernel between the
# sandbox and the host's) is stricter than `runc`; layers merge to the strictest asked.
RuntimeKind = Literal["runc", "gvisor"]
RUNTIME_RANK: dict[str, int] = {"runc": 0, "gvisor": 1}

RANK: dict[str, int] = {"allow": 0, "ask": 1, "deny": 2}


def stricter(a: DecisionKind, b: DecisionKind) -> DecisionKind:
    """The stricter of two decisions (`allow < ask < deny`)."""
    return a if RANK[a] >= RANK[b] else b


class Limits(BaseModel):
    """Resource limits for the sandbox; layers merge to the strictest value of each field."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    cpus: float = 1.0
    memory: str = "2g"
    pids: int = 256
    timeout_s: float = 120
    output_bytes: int = 200_000
    disk: str = "1g"  # what the sandbox may add to its copy of the workspace


class RuntimeChoice(BaseModel):
    """The sandbox runtime the layers settle on, who asked for it, and who was overruled."""

    model_config = ConfigDict(frozen=True)

    runtime: RuntimeKind = "runc"
    layer: str | None = None  # None: no layer set it (built-in runc)
    source: str | None = None  # file:line of the winning `sandbox.runtime`
    overruled: list[str] = []  # lower asks, each with its layer and file:line

    def describe(self) -> str:
        where = f"{self.layer} layer, {self.source}" if self.layer else "built in"
        text = f"{self.runtime} ({where})"
        if self.overruled:
            text += "; overruled: " + "; ".join(self.overruled)
        return text


class LayerInfo(BaseModel):
    """One loaded policy layer, for display: its name, where it came from, and its hash."""

    model_config = ConfigDict(frozen=True)

    name: str
    path: str
    sha256: str


class SegmentDecision(BaseModel):
    """The decision for one simple command of an exec action (wrapped commands get their own)."""

    model_config = ConfigDict(frozen=True)

    command: str
    argv: list[str]
    decision: DecisionKind
    rule: str | None
    layer: str | None
    source: str | None
    reason: str


class Decision(BaseModel):
    """The evaluator's answer: what to do, which rule said so, from which file and line, and why.

    Frozen: the evaluator may hand the same instance to several callers (exec cache).
    """

    model_config = ConfigDict(frozen=True)

    decision: DecisionKind
    rule: str | None
    layer: str | None
    source: str | None
    reason: str
    segments: list[SegmentDecision] = []
