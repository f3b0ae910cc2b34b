"""Parity: `policy eval` against what really happens in a sandbox, on generated layouts.

Each layout is a seeded random tree (nested folders, odd names, symlinks to files and
folders, hard links) with random read and write rules. For every name that reaches a file
(its own path, paths through symlinked folders, its hard links) the test asks the real
`PolicySet` and then tries the read inside a real sandbox; for writes it writes through
every kind of name and looks at the host. The claims checked, with zero disagreements:
- a name `policy eval` denies for reading never yields the content;
- a file every name of which is allowed is readable under each name;
- a write to a name `policy eval` denies never reaches the host;
- a write to a new or existing file every name of which is allowed reaches the host.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from policies import FsRead, FsWrite, PolicySet
from tests.sandbox.conftest import SandboxFactory

pytestmark = [pytest.mark.docker, pytest.mark.slow]

LAYOUTS = 10
WORDS = ["src", "lib", "docs", "conf", "data", "pkg", "te st", "ü-dir", "-dash", "[b]", "a*b"]
EXTS = [".py", ".txt", ".json", ".env", ".pem", ""]

PROBE = """
import hashlib, json, sys
out = {}
for name in json.load(sys.stdin):
    try:
        out[name] = hashlib.sha1(open(name, "rb").read()).hexdigest()[:12]
    except OSError as exc:
        out[name] = "ERR " + type(exc).__name__
print(json.dumps(out))
"""
WRITER = """
import json, os, sys
for name, text in json.load(sys.stdin).items():
    try:
        os.makedirs(os.path.dirname(name) or ".", exist_ok=True)
        open(name, "w").write(text)
    except OSError:
        pass
"""


def make_layout(root: Path, rng: random.Random) -> list[str]:
    """A random tree under `root`; returns its real file paths."""
    folders = [""]
    for _ in range(rng.randint(4, 8)):
        parent = rng.choice(folders)
        name = rng.choice(WORDS) + str(rng.randint(0, 9))
        folders.append(f"{parent}/{name}".lstrip("/"))
    files: list[str] = []
    for i in range(rng.randint(25, 40)):
        folder = rng.choice(folders)
        name = f"{rng.choice(['f', 'test_', 'secret', 'id_rsa', 'é'])}{i}{rng.choice(EXTS)}"
        files.append(f"{folder}/{name}".lstrip("/"))
    for rel in folders:
        (root / rel).mkdir(parents=True, exist_ok=True)
    for i, rel in enumerate(files):
        (root / rel).write_text(f"CONTENT-{i}-{rel}")
    for j in range(rng.randint(1, 3)):  # symlinks to folders (never to an ancestor)
        target = rng.choice(folders[1:])
        home = rng.choice([f for f in folders if f != target and not f.startswith(target + "/")])
        link = f"{home}/ln{j}".lstrip("/")
        if not (root / link).exists():
            os.symlink(os.path.relpath(root / target, (root / link).parent), root / link)
    for j in range(rng.randint(1, 3)):  # symlinks and hard links to files
        src = rng.choice(files)
        folder = rng.choice(folders)
        os.symlink(os.path.relpath(root / src, root / folder), root / folder / f"sl{j}.lnk")
        other = rng.choice(files)
        hard = f"{rng.choice(folders)}/hl{j}.txt".lstrip("/")
        os.link(root / other, root / hard)
        files.append(hard)
    return files


def names_of_files(root: Path) -> dict[str, str]:
    """Every lexical name that reaches a file (walking through symlinked folders) -> the
    file's identity (device, inode), computed independently of Rempart's own code."""
    found: dict[str, str] = {}
    for dirpath, _dirs, filenames in os.walk(root, followlinks=True):
        for name in filenames:
            full = Path(dirpath) / name
            try:
                st = full.stat()
            except OSError:
                continue
            found[str(full.relative_to(root))] = f"{st.st_dev}:{st.st_ino}"
    return found


def names_of_folders(root: Path) -> dict[str, list[str]]:
    """Real folder -> every lexical name reaching it (through symlinked folders)."""
    found: dict[str, list[str]] = {}
    for dirpath, _dirs, _files in os.walk(root, followlinks=True):
        rel = os.path.relpath(dirpath, root)
        if rel != ".":
            found.setdefault(os.path.realpath(dirpath), []).append(rel)
    return found


def rules(rng: random.Random, files: list[str]) -> tuple[list[str], list[str]]:
    def pick() -> str:
        rel = rng.choice(files)
        parts = rel.split("/")
        return rng.choice(
            [rel, f"{parts[0]}/**" if len(parts) > 1 else rel,
             f"**/*{os.path.splitext(rel)[1] or '.txt'}", f"**/{parts[-1][:3]}*", "**/test_*"]
        )  # fmt: skip

    return [pick() for _ in range(rng.randint(1, 4))], [pick() for _ in range(rng.randint(1, 4))]


def layout_policy(read_deny: list[str], write_deny: list[str]) -> PolicySet:
    text = (
        "version: 1\nname: parity\ndefault: allow\n"
        f"files:\n  read: {{allow: ['**'], deny: {json.dumps(read_deny)}}}\n"
        f"  write: {{allow: ['**'], deny: {json.dumps(write_deny)}}}\n"
        "limits: {memory: 256m, timeout_s: 60}\n"
    )
    return PolicySet.from_texts([("org", "parity.yaml", text)])


def layouts(tmp_path: Path) -> Iterator[tuple[Path, PolicySet, list[str]]]:
    for seed in range(LAYOUTS):
        rng = random.Random(seed)
        root = tmp_path / f"layout{seed}"
        root.mkdir()
        files = make_layout(root, rng)
        read_deny, write_deny = rules(rng, files)
        yield root, layout_policy(read_deny, write_deny), files


def test_policy_eval_and_the_sandbox_agree_on_every_generated_name(
    tmp_path: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    cases = 0
    disagreements: list[str] = []
    for root, pol, _files in layouts(tmp_path):
        names = names_of_files(root)
        by_file: dict[str, list[str]] = {}
        for name, ident in names.items():
            by_file.setdefault(ident, []).append(name)
        denied = {n for n in names if pol.evaluate(FsRead(path=n)).decision == "deny"}
        content = {n: hashlib.sha1((root / n).read_bytes()).hexdigest()[:12] for n in names}
        # writes: through every existing name, plus new files in the folders (one write per
        # real file: two names of one file would overwrite each other)
        targets: dict[str, str] = {}
        reals: set[str] = set()
        for name in [*names, *(str(Path(n).parent / f"new-{i}.py") for i, n in enumerate(names))]:
            real = os.path.realpath(root / name)
            if real not in reals:
                targets[name] = real
                reals.add(real)
        writes = {t: f"WRITTEN-{i}" for i, t in enumerate(targets)}
        write_denied = {t for t in writes if pol.evaluate(FsWrite(path=t)).decision == "deny"}
        folders = names_of_folders(root)
        aliases_of: dict[str, list[str]] = {}
        for name in names:
            aliases_of.setdefault(os.path.realpath(root / name), []).append(name)
        with make_sandbox(root, image, policy=pol) as box:
            probe = box.run(["python3", "-c", PROBE], stdin=json.dumps(sorted(names)))
            seen = json.loads(probe.stdout)
            box.run(["python3", "-c", WRITER], stdin=json.dumps(writes))
        for name in names:
            cases += 1
            got = seen.get(name, "")
            every_name_allowed = not any(n in denied for n in by_file[names[name]])
            if name in denied and got == content[name]:
                disagreements.append(f"{root.name}: read of denied {name!r} gave the content")
            if every_name_allowed and got != content[name]:
                disagreements.append(f"{root.name}: allowed {name!r} unreadable: {got[:40]}")
        for target, text in writes.items():
            cases += 1
            host = root / target
            landed = host.is_file() and host.read_text() == text
            if target in write_denied and landed:
                disagreements.append(f"{root.name}: denied write to {target!r} reached the host")
            real = targets[target]
            aliases = aliases_of.get(real, [target])
            same_file = by_file[names[target]] if target in names else aliases
            hidden = any(n in denied for n in same_file) and os.path.exists(real)
            parent = str(Path(target).parent)
            while parent != "." and not hidden:  # a folder on the way hidden from the view
                folder_names = folders.get(os.path.realpath(root / parent), [parent])
                hidden = any(pol.evaluate(FsRead(path=n)).decision == "deny" for n in folder_names)
                parent = str(Path(parent).parent)
            allowed = not hidden and all(
                pol.evaluate(FsWrite(path=n)).decision != "deny" for n in {target, *aliases}
            )
            if allowed and not landed:
                disagreements.append(f"{root.name}: allowed write to {target!r} did not land")
    assert disagreements == []
    assert cases >= 2000, cases
