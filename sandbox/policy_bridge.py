"""The one place where a policy becomes a sandbox: the read view, the write judge, the
network and the limits.

The view (`sandbox.view`) holds what every name of a path may read; the judge
(`sandbox.changes`) decides each change the sandbox makes before it reaches the host.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from policies import FsRead, FsWrite, RuntimeKind
from policies.netrules import NetTable
from sandbox.changes import Change, Judge, Verdict
from sandbox.errors import WorkspaceError
from sandbox.sandbox import Sandbox
from sandbox.spec import SandboxLimits, SandboxSpec


class _Decision(Protocol):
    @property
    def decision(self) -> str: ...
    @property
    def rule(self) -> str | None: ...
    @property
    def reason(self) -> str: ...


class _Limits(Protocol):
    @property
    def cpus(self) -> float: ...
    @property
    def memory(self) -> str: ...
    @property
    def pids(self) -> int: ...
    @property
    def timeout_s(self) -> float: ...
    @property
    def output_bytes(self) -> int: ...
    @property
    def disk(self) -> str: ...


class _Runtime(Protocol):
    @property
    def runtime(self) -> RuntimeKind: ...


class PolicyLike(Protocol):
    """What the bridge needs from `policies.PolicySet`."""

    def evaluate(self, action: FsRead | FsWrite) -> _Decision: ...
    @property
    def limits(self) -> _Limits: ...
    @property
    def network_allow(self) -> list[str]: ...
    def network_table(self) -> NetTable: ...
    @property
    def env_passthrough(self) -> list[str]: ...
    @property
    def runtime(self) -> _Runtime: ...


def readable(policy: PolicyLike) -> Callable[[str], bool]:
    """The view's read test: a path is shown unless the policy denies reading it (an
    `ask` stays readable: the file tools ask, and a person may approve)."""

    def check(path: str) -> bool:
        return policy.evaluate(FsRead(path=path)).decision != "deny"

    return check


def policy_judge(policy: PolicyLike) -> Judge:
    """Change judge with no person to ask: only `allow` goes through to the host."""

    def judge(change: Change) -> Verdict:
        decision = policy.evaluate(FsWrite(path=change.path))
        if decision.decision == "allow":
            return Verdict(allowed=True, rule=decision.rule)
        why = decision.reason or f"write {decision.decision} by the policy"
        return Verdict(allowed=False, reason=why, rule=decision.rule)

    return judge


def scratch_sized(limits: SandboxLimits) -> SandboxLimits:
    """tmpfs pages count against the memory limit: keep /tmp and home well inside it, so
    filling them ends in ENOSPC for the command, not in an OOM kill of the executor."""
    mib = limits.memory_bytes() // (1024 * 1024)
    tmp = min(512, max(16, mib // 4))
    home = min(256, max(8, mib // 8))
    return limits.model_copy(update={"tmp_size": f"{tmp}m", "home_size": f"{home}m"})


def _network_rules(policy: PolicyLike) -> str:
    """The policy's whole network table for the proxy; "" (no network at all) when no
    allow pattern survives the layers (`rempart policy layers` then says `network: none`)."""
    if not policy.network_allow:
        return ""
    return json.dumps(policy.network_table(), sort_keys=True)


def spec_from_policy(policy: PolicyLike, workspace: Path, image: str) -> SandboxSpec:
    """The sandbox that makes `policy` physically true for `workspace`."""
    workspace = workspace.expanduser().resolve()
    if not workspace.is_dir():
        raise WorkspaceError(f"workspace {workspace} is not a directory")
    lim = policy.limits
    env = {name: os.environ[name] for name in policy.env_passthrough if name in os.environ}
    return SandboxSpec(
        workspace=workspace,
        image=image,
        network_rules=_network_rules(policy),
        network_allow=tuple(policy.network_allow),
        limits=scratch_sized(
            SandboxLimits(
                cpus=lim.cpus,
                memory=lim.memory,
                pids=lim.pids,
                timeout_s=lim.timeout_s,
                output_bytes=lim.output_bytes,
                disk=lim.disk,
            )
        ),
        env=env,
        runtime=policy.runtime.runtime,
    )


def confined(
    policy: PolicyLike, workspace: Path, image: str, judge: Judge | None = None
) -> Sandbox:
    """A (not yet started) sandbox that makes `policy` true for `workspace`: its view,
    its write judge (`judge` overrides the no-person one, e.g. to ask an approver)."""
    spec = spec_from_policy(policy, workspace, image)
    return Sandbox(spec, readable=readable(policy), judge=judge or policy_judge(policy))
