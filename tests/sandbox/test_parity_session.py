"""Parity during a session: random renames, links, copies, writes and deletions made
inside a real sandbox, command after command, against `policy eval` on the host.

After every command the host is compared with what it held before, independently of
Rempart's own code (names are found by walking the host tree through its symlinks):
- a file whose content changed, that is new, or that disappeared must be write-allowed
  under every name it has (had) on the host;
- no command's output may carry the content of a file any name of which is read-denied.
"""

from __future__ import annotations

import hashlib
import random
import shlex
from pathlib import Path

import pytest

from policies import FsRead, FsWrite
from tests.sandbox.conftest import SandboxFactory
from tests.sandbox.test_parity_files import layout_policy, make_layout, names_of_files, rules

pytestmark = [pytest.mark.docker, pytest.mark.slow]

LAYOUTS = 8
OPS = 30


def snapshot(root: Path) -> tuple[dict[str, str], dict[str, list[str]], dict[str, str]]:
    """name -> identity, identity -> names, identity -> content digest."""
    names = names_of_files(root)
    by_id: dict[str, list[str]] = {}
    digest: dict[str, str] = {}
    for name, ident in names.items():
        try:
            data = (root / name).read_bytes()
        except OSError:  # a name through a link loop the session made (ELOOP): no new file
            continue
        by_id.setdefault(ident, []).append(name)
        digest.setdefault(ident, hashlib.sha1(data).hexdigest())
    return names, by_id, digest


def operation(rng: random.Random, names: list[str], k: int) -> str:
    a = shlex.quote(rng.choice(names))
    b = rng.choice(names)
    folder = str(Path(b).parent)
    new = shlex.quote(f"{folder}/n{k}.py" if folder != "." else f"n{k}.py")
    up = shlex.quote(folder)
    return rng.choice(
        [
            f"mv {a} {new}",
            f"mv {up} {up}_r{k} 2>/dev/null; mkdir -p {up}; echo W{k} > {shlex.quote(b)}",
            f"ln -s {shlex.quote(str(Path(a.strip(chr(39))).parent))} lk{k}; "
            f"echo W{k} > lk{k}/{shlex.quote(Path(a.strip(chr(39))).name)}",
            f"cp {a} {new}",
            f"echo W{k} > {a}",
            f"rm -f {a}",
            f"cat {a} lk*/* 2>/dev/null | head -c 20000",
        ]
    )


def test_renames_links_and_writes_during_a_session_agree_with_policy_eval(
    tmp_path: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    checks = 0
    disagreements: list[str] = []
    for i in range(LAYOUTS):
        rng = random.Random(7000 + i)
        root = tmp_path / f"s{i}"
        root.mkdir()
        files = make_layout(root, rng)
        read_deny, write_deny = rules(rng, files)
        pol = layout_policy(read_deny, write_deny)
        names, by_id, digest = snapshot(root)
        secrets = {
            (root / by_id[ident][0]).read_text()
            for ident in by_id
            if any(pol.evaluate(FsRead(path=n)).decision == "deny" for n in by_id[ident])
        }
        with make_sandbox(root, image, policy=pol) as box:
            for k in range(OPS):
                command = operation(rng, sorted(names) or ["x"], k)
                result = box.run(command)
                output = result.stdout + result.stderr
                checks += 1
                leaked = [s for s in secrets if s in output]
                if leaked:
                    disagreements.append(f"s{i} `{command}` printed denied content {leaked[0]!r}")
                after, after_by_id, after_digest = snapshot(root)
                for ident in set(digest) | set(after_digest):
                    checks += 1
                    if digest.get(ident) == after_digest.get(ident):
                        continue
                    every = set(by_id.get(ident, [])) | set(after_by_id.get(ident, []))
                    denied = [n for n in every if pol.evaluate(FsWrite(path=n)).decision == "deny"]
                    if denied:
                        disagreements.append(
                            f"s{i} `{command}` changed a file named {denied[0]!r} (write-denied)"
                        )
                names, by_id, digest = after, after_by_id, after_digest
    assert disagreements == []
    assert checks >= 2000, checks
