"""SHA256SUMS over every file of a bundle: written once at the end of `create`, compared
file by file by `verify` (changed, missing and extra files are each named).

The format is `sha256sum`'s (`<hex>  <relative path>`, sorted), so `sha256sum -c
SHA256SUMS` checks a bundle with coreutils alone (the site does, by hand, before running
anything from the bundle; install.sh does again on its private copy). A symlink or
anything that is not a regular file is refused: a bundle is plain files only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from agent.bundle.errors import BundleError
from sandbox.progress import Reporter

SUMS = "SHA256SUMS"
SIGNATURE = "SHA256SUMS.sig"
UNLISTED = (SUMS, SIGNATURE)  # the two files that vouch for the others
_CHUNK = 8 << 20
_LINE = re.compile(r"^([0-9a-f]{64})  (\S(?:.*\S)?)$")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bundle_files(root: Path) -> list[str]:
    """Every file under `root` but SHA256SUMS and its signature, as sorted POSIX paths.
    Raises on a symlink, a socket or the like (named)."""
    found: list[str] = []
    odd: list[str] = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            odd.append(rel)
        elif path.is_file() and rel not in UNLISTED:
            found.append(rel)
    if odd:
        raise BundleError(
            f"{root}: {len(odd)} entries are not plain files or folders",
            hint="a bundle holds plain files only; remove these",
            problems=[f"not a plain file: {rel}" for rel in odd],
        )
    return found


def digest_tree(root: Path, progress: Reporter) -> dict[str, str]:
    """The SHA-256 of every file of the bundle (a bar over their bytes)."""
    names = bundle_files(root)
    total = sum((root / name).stat().st_size for name in names)
    digests: dict[str, str] = {}
    with progress.track("sha256 of every file", total=total) as bar:
        for name in names:
            digests[name] = file_sha256(root / name)
            bar.advance((root / name).stat().st_size)
    return digests


def render(digests: dict[str, str]) -> str:
    return "".join(f"{digests[name]}  {name}\n" for name in sorted(digests))


def write_sums(root: Path, digests: dict[str, str]) -> Path:
    path = root / SUMS
    partial = path.with_name(SUMS + ".partial")
    partial.write_text(render(digests))
    partial.replace(path)
    return path


def parse_sums(text: str, source: str) -> dict[str, str]:
    """The digests a SHA256SUMS text lists; a malformed or duplicated line is an error
    naming its line number (fail closed: never a partial manifest)."""
    digests: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _LINE.match(line)
        if match is None:
            raise BundleError(
                f"{source}:{number}: not a `<sha256>  <path>` line: {line[:120]!r}",
                hint="the manifest is damaged; get the bundle again",
            )
        digest, name = match.groups()
        if name in digests or name.startswith("/") or ".." in name.split("/"):
            raise BundleError(
                f"{source}:{number}: {name!r} is listed twice or leaves the bundle",
                hint="the manifest is damaged or forged; get the bundle again",
            )
        digests[name] = digest
    return digests


@dataclass
class Comparison:
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.extra)

    def lines(self) -> list[str]:
        return (
            [f"changed: {name}" for name in self.changed]
            + [f"missing: {name}" for name in self.missing]
            + [f"extra: {name}" for name in self.extra]
        )


def compare(expected: dict[str, str], actual: dict[str, str]) -> Comparison:
    result = Comparison()
    for name in sorted(expected.keys() | actual.keys()):
        if name not in actual:
            result.missing.append(name)
        elif name not in expected:
            result.extra.append(name)
        elif expected[name] != actual[name]:
            result.changed.append(name)
    return result
