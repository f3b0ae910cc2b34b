"""SHA256SUMS and its signature on small folders (no Docker, no network): the pieces
`rempart bundle verify` is made of, with real files and the real ssh-keygen."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from agent.bundle import manifest, signing
from agent.bundle.errors import BundleError
from agent.bundle.verify import verify_bundle
from sandbox.progress import PlainReporter

QUIET = PlainReporter(io.StringIO())


def make_bundle(root: Path, key: Path | None) -> Path:
    (root / "wheels").mkdir(parents=True)
    (root / "wheels" / "a-1.0-py3-none-any.whl").write_bytes(b"wheel bytes")
    (root / "policies").mkdir()
    (root / "policies" / "default.yaml").write_text("version: 1\n")
    (root / "bundle.json").write_text("{}\n")
    sums = manifest.write_sums(root, manifest.digest_tree(root, QUIET))
    if key is not None:
        signing.sign(key, sums)
    return root


@pytest.fixture
def key(tmp_path: Path) -> Path:
    signing.keygen(tmp_path / "keys" / "maker")
    return tmp_path / "keys" / "maker"


def test_the_manifest_is_sha256sum_format_sorted_and_lists_every_file_but_itself(
    tmp_path: Path, key: Path
) -> None:
    root = make_bundle(tmp_path / "b", key)
    lines = (root / manifest.SUMS).read_text().splitlines()
    names = [line.split("  ", 1)[1] for line in lines]
    assert names == ["bundle.json", "policies/default.yaml", "wheels/a-1.0-py3-none-any.whl"]
    assert lines[2].startswith(manifest.file_sha256(root / names[2]) + "  ")


def test_a_signed_bundle_verifies_and_names_the_keys_fingerprint(tmp_path: Path, key: Path) -> None:
    root = make_bundle(tmp_path / "b", key)
    done = verify_bundle(root, key.with_name("maker.pub"), insecure=False, progress=QUIET)
    assert done.files == 3
    assert done.signed_by == signing.fingerprint(key.with_name("maker.pub"))


def test_a_symlink_in_the_bundle_is_refused_by_name(tmp_path: Path, key: Path) -> None:
    root = make_bundle(tmp_path / "b", key)
    (root / "policies" / "link.yaml").symlink_to("/etc/passwd")
    with pytest.raises(BundleError) as caught:
        verify_bundle(root, key.with_name("maker.pub"), insecure=False, progress=QUIET)
    assert caught.value.details() == ["not a plain file: policies/link.yaml"]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("0" * 64 + " one-space.txt", "not a `<sha256>  <path>` line"),
        ("0" * 63 + "  short.txt", "not a `<sha256>  <path>` line"),
        ("0" * 64 + "  ../outside", "leaves the bundle"),
        ("0" * 64 + "  /etc/passwd", "leaves the bundle"),
    ],
)
def test_a_malformed_or_escaping_manifest_line_is_an_error_with_its_line_number(
    line: str, why: str
) -> None:
    text = "a" * 64 + "  ok.txt\n" + line + "\n"
    with pytest.raises(BundleError, match=f"SUMS:2: .*{why}".replace("`", ".")):
        manifest.parse_sums(text, "SUMS")


def test_a_file_listed_twice_is_an_error() -> None:
    text = "a" * 64 + "  ok.txt\n" + "b" * 64 + "  ok.txt\n"
    with pytest.raises(BundleError, match=r"SUMS:2: 'ok\.txt' is listed twice"):
        manifest.parse_sums(text, "SUMS")


def test_a_key_is_never_overwritten(key: Path) -> None:
    with pytest.raises(BundleError, match="not overwriting a key"):
        signing.keygen(key)


def test_a_file_that_is_not_a_public_key_is_refused(tmp_path: Path, key: Path) -> None:
    root = make_bundle(tmp_path / "b", key)
    with pytest.raises(BundleError, match="not an SSH public key"):
        verify_bundle(root, key, insecure=False, progress=QUIET)  # the private key


def test_create_refuses_a_folder_with_files_that_are_not_a_bundles(tmp_path: Path) -> None:
    """Before any download: it would otherwise sign whatever the folder held."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    source = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "rempart", "bundle", "create", str(out), "--unsigned",
         "--source", str(source)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 8
    assert "not a bundle's: notes.txt" in done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_verify_reads_SHA256SUMS_once_and_checks_the_signature_of_the_bytes_it_parses(
    tmp_path: Path, key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_bundle(tmp_path / "b", key)
    reads: list[str] = []
    for method in ("open",):  # read_bytes and read_text open the file too
        original = getattr(Path, method)

        def counting(
            self: Path, *args: object, _original: object = original, **kw: object
        ) -> object:
            if self.name == manifest.SUMS:
                reads.append(str(self))
            return _original(self, *args, **kw)  # type: ignore[operator]

        monkeypatch.setattr(Path, method, counting)
    verify_bundle(root, key.with_name("maker.pub"), insecure=False, progress=QUIET)
    assert len(reads) == 1
