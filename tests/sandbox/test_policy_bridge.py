"""The policy -> sandbox bridge: masks, read-only paths and the walk cap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from policies import PolicySet
from sandbox import WorkspaceError, policy_bridge
from sandbox.policy_bridge import compute_masks
from tests.sandbox.conftest import real_policy


def test_denied_files_folders_and_hard_links_are_masked(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("x")
    os.link(tmp_path / ".env", tmp_path / "innocent")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "a").write_text("x")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "k.pem").write_text("x")
    masks = compute_masks(real_policy(), tmp_path)
    assert sorted(masks.files) == [".env", "innocent", "src/k.pem"]
    assert masks.dirs == ["secrets"]


def test_a_folder_whose_every_entry_is_write_denied_is_one_read_only_mount(tmp_path: Path) -> None:
    (tmp_path / ".git" / "refs").mkdir(parents=True)
    (tmp_path / ".git" / "HEAD").write_text("x")
    (tmp_path / ".git" / "refs" / "main").write_text("x")
    (tmp_path / ".rempart").mkdir()
    (tmp_path / "a.txt").write_text("x")
    masks = compute_masks(real_policy(), tmp_path)
    assert masks.read_only == [".git", ".rempart"]


def test_walk_is_capped_with_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy_bridge, "WALK_CAP", 10)
    for i in range(11):
        (tmp_path / f"f{i}").write_text("x")
    with pytest.raises(WorkspaceError, match="more than 10 entries"):
        compute_masks(real_policy(), tmp_path)


def test_real_policy_set_drives_the_masks(tmp_path: Path) -> None:
    text = (
        'version: 1\nname: t\ndefault: ask\nfiles:\n  read: {allow: ["**"], deny: [".env", '
        '"**/*.pem"]}\n  write: {allow: ["**"], deny: [".git/**"]}\nnetwork:\n  allow: '
        '["pypi.org:443"]\nlimits: {cpus: 1, memory: 512m, pids: 128, timeout_s: 30, '
        "output_bytes: 100000}\n"
    )
    policy = PolicySet.from_texts([("project", "t.yaml", text)])
    (tmp_path / ".env").write_text("x")
    (tmp_path / "k.pem").write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("x")
    spec = policy_bridge.spec_from_policy(policy, tmp_path, image="rempart-sandbox:latest")
    assert set(spec.masked_files) == {".env", "k.pem"}
    assert spec.read_only_paths == (".git",)
    assert spec.network_allow == ("pypi.org:443",)
    assert spec.limits.pids == 128
