"""The one place where a policy becomes a sandbox: masks, read-only paths, network, limits.

Masking rule: every workspace path the policy denies for reading is masked (a file gets an
unreadable empty file bound over it, a folder an empty unreadable tmpfs); every existing
path it denies for writing is mounted read-only; `.rempart/` (policy files) always is.
The workspace is walked once; masked folders are not entered. A folder whose every entry
gets the same treatment is handled as one mount instead of one per file (e.g. `.git/**`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from policies import FsRead, FsWrite
from policies.netrules import NetTable
from sandbox.errors import WorkspaceError
from sandbox.spec import PROTECTED_PATHS, SandboxLimits, SandboxSpec

WALK_CAP = 50_000
MOUNT_CAP = 2_000
ALWAYS_READ_ONLY = PROTECTED_PATHS


class _Decision(Protocol):
    @property
    def decision(self) -> str: ...


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


@dataclass
class Masks:
    files: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    read_only: list[str] = field(default_factory=list)


@dataclass
class _Tally:
    """Per folder: were all entries read-denied / write-denied (and was there any)?"""

    count: int = 0
    all_read_denied: bool = True
    all_write_denied: bool = True


class _Walker:
    def __init__(self, policy: PolicyLike, root: Path) -> None:
        self.policy = policy
        self.root = root
        self.seen = 0
        self.masks = Masks()
        self.denied_inodes: set[tuple[int, int]] = set()
        self.linked: list[tuple[str, tuple[int, int]]] = []

    def denied(self, action: FsRead | FsWrite) -> bool:
        return self.policy.evaluate(action).decision == "deny"

    def walk(self, rel: str) -> _Tally:
        """Walk folder `rel` ('' = root); returns how uniform its entries were."""
        tally = _Tally()
        folder = self.root / rel if rel else self.root
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            raise WorkspaceError(f"cannot read {folder}: {exc}") from exc
        pending_files: list[str] = []
        pending_ro: list[str] = []
        child_ro_dirs: list[str] = []
        child_masked_dirs: list[str] = []
        for entry in entries:
            self.seen += 1
            if self.seen > WALK_CAP:
                raise WorkspaceError(
                    f"workspace has more than {WALK_CAP} entries; refusing to walk it",
                    hint="point --workspace at the project folder, or deny big folders for reads",
                )
            path = f"{rel}/{entry.name}" if rel else entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            tally.count += 1
            if self.denied(FsRead(path=path)):
                tally.all_write_denied &= self.denied(FsWrite(path=path))
                if is_dir:
                    child_masked_dirs.append(path)
                else:
                    pending_files.append(path)
                    st = entry.stat(follow_symlinks=False)
                    self.denied_inodes.add((st.st_dev, st.st_ino))
                continue
            tally.all_read_denied = False
            if is_dir:
                if path in ALWAYS_READ_ONLY or self.denied(FsWrite(path=path)):
                    child_ro_dirs.append(path)
                    self.walk(path)
                    continue
                sub = self.walk(path)
                if sub.count and sub.all_write_denied:
                    child_ro_dirs.append(path)
                else:
                    tally.all_write_denied = False
                continue
            st = entry.stat(follow_symlinks=False)
            if st.st_nlink > 1 and entry.is_file(follow_symlinks=False):
                self.linked.append((path, (st.st_dev, st.st_ino)))
            if self.denied(FsWrite(path=path)):
                pending_ro.append(path)
            else:
                tally.all_write_denied = False
        self.masks.files += pending_files
        self.masks.dirs += child_masked_dirs
        if not (tally.count and tally.all_write_denied):
            # this folder is not read-only as a whole: mount its denied children one by one
            self.masks.read_only += child_ro_dirs + pending_ro
        else:
            self.masks.read_only += [d for d in child_ro_dirs if d in ALWAYS_READ_ONLY]
        return tally


def compute_masks(policy: PolicyLike, workspace: Path) -> Masks:
    """Walk `workspace` once and return what to mask and what to mount read-only."""
    walker = _Walker(policy, workspace)
    top = walker.walk("")
    masks = walker.masks
    if top.count and top.all_write_denied:
        masks.read_only = ["."]
    # a hard link elsewhere in the workspace to a masked file is masked too
    for path, inode in walker.linked:
        if inode in walker.denied_inodes and path not in masks.files:
            masks.files.append(path)
    masks.read_only = _outermost(masks.read_only)
    if len(masks.files) + len(masks.dirs) + len(masks.read_only) > MOUNT_CAP:
        raise WorkspaceError(
            f"the policy needs more than {MOUNT_CAP} masks in this workspace",
            hint="deny whole folders (`dir/**` and `dir`) rather than many single files",
        )
    return masks


def _outermost(paths: list[str]) -> list[str]:
    kept: list[str] = []
    for path in sorted(set(paths)):
        if not any(path == k or path.startswith(k + "/") or k == "." for k in kept):
            kept.append(path)
    return kept


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
    masks = compute_masks(policy, workspace)
    lim = policy.limits
    env = {name: os.environ[name] for name in policy.env_passthrough if name in os.environ}
    return SandboxSpec(
        workspace=workspace,
        image=image,
        masked_files=tuple(sorted(masks.files)),
        masked_dirs=tuple(sorted(masks.dirs)),
        read_only_paths=tuple(masks.read_only),
        network_rules=_network_rules(policy),
        network_allow=tuple(policy.network_allow),
        limits=scratch_sized(
            SandboxLimits(
                cpus=lim.cpus,
                memory=lim.memory,
                pids=lim.pids,
                timeout_s=lim.timeout_s,
                output_bytes=lim.output_bytes,
            )
        ),
        env=env,
    )
