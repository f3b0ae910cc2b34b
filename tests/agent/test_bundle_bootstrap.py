"""install.sh, the bundle's bootstrap, on a small signed bundle (no Docker, no network):
a stub `python3` first on PATH stops it right after its checks, or swaps a file the way
an attacker holding the medium would, and then runs the real `python3 -m venv`."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from agent.bundle import install, manifest, signing
from agent.bundle.errors import BundleError
from sandbox.progress import PlainReporter

QUIET = PlainReporter(io.StringIO())
INSTALL_SH = Path(__file__).resolve().parents[2] / "agent" / "bundle" / "install.sh"
WHEEL = "wheels/rempart-0.0.1-py3-none-any.whl"
STOP = '#!/bin/sh\necho "REACHED python3 $*"; exit 3\n'


def fake_wheel(path: Path, says: str, version: str = "0.0.1") -> None:
    """A wheel named rempart whose `rempart` command prints `says`."""
    info = f"rempart-{version}.dist-info"
    files = {
        "rempart_fake/__init__.py": f"def main():\n    print({says!r})\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: rempart\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: t\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
        f"{info}/entry_points.txt": "[console_scripts]\nrempart = rempart_fake:main\n",
    }
    record = []
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            data = text.encode()
            archive.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{name},sha256={digest.decode()},{len(data)}")
        record.append(f"{info}/RECORD,,")
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    private = tmp_path_factory.mktemp("key") / "bundle-key"
    signing.keygen(private)
    return private


def sign_bundle(root: Path, key: Path) -> None:
    for old in (root / manifest.SUMS, root / manifest.SIGNATURE):
        old.unlink(missing_ok=True)
    signing.sign(key, manifest.write_sums(root, manifest.digest_tree(root, QUIET)))


@pytest.fixture
def bundle(tmp_path: Path, key: Path) -> Path:
    root = tmp_path / "medium"
    for folder in ("wheels", "requirements", "policies"):
        (root / folder).mkdir(parents=True)
    fake_wheel(root / WHEEL, "GOOD rempart")
    for lock in ("build.lock", "runtime.lock"):
        (root / "requirements" / lock).write_text("# nothing pinned\n")
    (root / "policies" / "default.yaml").write_text("version: 1\n")
    (root / "bundle.json").write_text(json.dumps({"rempart_version": "0.0.1"}))
    shutil.copyfile(INSTALL_SH, root / "install.sh")
    sign_bundle(root, key)
    return root


def run_install(
    bundle: Path, python3: str, *args: str, tmp: Path
) -> subprocess.CompletedProcess[str]:
    shim = tmp / "shim"
    shim.mkdir(exist_ok=True)
    (shim / "python3").write_text(python3)
    (shim / "python3").chmod(0o755)
    env = {**os.environ, "PATH": f"{shim}:{os.environ['PATH']}", "REAL_PYTHON": sys.executable}
    return subprocess.run(
        ["bash", str(bundle / "install.sh"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


def checks_only(bundle: Path, key: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    options = args or ("--pubkey", f"{key}.pub", "--prefix", str(tmp / "prefix"))
    return run_install(bundle, STOP, *options, tmp=tmp)


def test_a_well_signed_bundle_passes_every_check(bundle: Path, key: Path, tmp_path: Path) -> None:
    done = checks_only(bundle, key, tmp_path)
    assert "REACHED python3 -m venv" in done.stdout, done.stderr


def test_a_listed_file_replaced_by_a_symlink_to_the_same_bytes_is_refused(
    bundle: Path, key: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("version: 1\n")
    (bundle / "policies" / "default.yaml").unlink()
    (bundle / "policies" / "default.yaml").symlink_to(outside)
    done = checks_only(bundle, key, tmp_path)
    assert done.returncode == 8 and "REACHED" not in done.stdout
    assert "policies/default.yaml" in done.stderr


def test_a_symlinked_folder_and_a_fifo_are_refused(bundle: Path, key: Path, tmp_path: Path) -> None:
    os.mkfifo(bundle / "wheels" / "pipe")
    done = checks_only(bundle, key, tmp_path)
    assert done.returncode == 8 and "wheels/pipe" in done.stderr
    (bundle / "wheels" / "pipe").unlink()
    elsewhere = tmp_path / "elsewhere"
    shutil.move(bundle / "policies", elsewhere)
    (bundle / "policies").symlink_to(elsewhere)
    done = checks_only(bundle, key, tmp_path)
    assert done.returncode == 8 and "REACHED" not in done.stdout


def test_an_extra_file_named_SHA256SUMS_in_a_subfolder_is_refused(
    bundle: Path, key: Path, tmp_path: Path
) -> None:
    (bundle / "wheels" / "SHA256SUMS").write_text("anything\n")
    done = checks_only(bundle, key, tmp_path)
    assert done.returncode == 8 and "wheels/SHA256SUMS" in done.stderr


def test_a_file_name_with_a_newline_is_refused(bundle: Path, key: Path, tmp_path: Path) -> None:
    (bundle / "policies" / "odd\nname.yaml").write_text("version: 1\n")
    sign_bundle(bundle, key)  # even listed and signed
    done = checks_only(bundle, key, tmp_path)
    assert done.returncode == 8 and "odd names" in done.stderr


def test_relative_pubkey_and_prefix_paths_are_taken_from_where_it_was_run(
    bundle: Path, key: Path, tmp_path: Path
) -> None:
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "python3").write_text(STOP)
    (shim / "python3").chmod(0o755)
    done = subprocess.run(
        ["bash", str(bundle / "install.sh"), "--pubkey", f"{key.name}.pub", "--prefix", "pfx"],
        cwd=key.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PATH": f"{shim}:{os.environ['PATH']}"},
    )
    assert f"REACHED python3 -m venv {key.parent / 'pfx'}" in done.stdout, done.stderr


def test_an_extra_folder_that_holds_no_listed_file_is_refused(
    bundle: Path, key: Path, tmp_path: Path
) -> None:
    (bundle / "wheels" / "rempart-9.9.9-py3-none-any.whl").mkdir()
    done = checks_only(bundle, key, tmp_path)
    assert done.returncode == 8 and "rempart-9.9.9" in done.stderr


def test_the_equals_forms_of_the_options_are_honoured(
    bundle: Path, key: Path, tmp_path: Path
) -> None:
    prefix = tmp_path / "elsewhere-prefix"
    done = checks_only(bundle, key, tmp_path, f"--pubkey={key}.pub", f"--prefix={prefix}")
    assert f"REACHED python3 -m venv {prefix}" in done.stdout, done.stderr
    other = tmp_path / "other-key"
    signing.keygen(other)
    done = checks_only(bundle, key, tmp_path, f"--pubkey={other}.pub", f"--prefix={prefix}")
    assert done.returncode == 8 and "not a valid signature" in done.stderr


def test_insecure_with_a_pubkey_and_an_unknown_option_are_refused_loudly(
    bundle: Path, key: Path, tmp_path: Path
) -> None:
    done = checks_only(bundle, key, tmp_path, "--insecure", "--pubkey", f"{key}.pub")
    assert done.returncode == 8 and "--insecure" in done.stderr
    done = checks_only(bundle, key, tmp_path, "--pubkey", f"{key}.pub", "--prefx=/tmp/x")
    assert done.returncode == 8 and "unknown option --prefx" in done.stderr


SWAP_ON_MEDIUM = """#!/bin/sh
# the attacker's moment: every check has passed, pip is next
cp "$EVIL" "$MEDIUM_WHEEL"
exec "$REAL_PYTHON" -m venv --without-pip --system-site-packages "$3"
"""


def test_a_wheel_swapped_on_the_medium_after_the_checks_is_not_the_one_installed(
    bundle: Path, key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evil = tmp_path / "evil.whl"
    fake_wheel(evil, "EVIL rempart")
    monkeypatch.setenv("EVIL", str(evil))
    monkeypatch.setenv("MEDIUM_WHEEL", str(bundle / WHEEL))
    prefix = tmp_path / "prefix"
    done = run_install(
        bundle, SWAP_ON_MEDIUM, "--pubkey", f"{key}.pub", "--prefix", str(prefix), tmp=tmp_path
    )
    assert (bundle / WHEEL).read_bytes() == evil.read_bytes()  # the swap did happen
    assert "GOOD rempart" in done.stdout, done.stderr
    assert "EVIL" not in done.stdout


SWAP_IN_STAGE = """#!/bin/sh
for stage in "$STAGE_BASE"/rempart-bundle.*; do cp "$EVIL" "$stage/$WHEEL"; done
exec "$REAL_PYTHON" -m venv --without-pip --system-site-packages "$3"
"""


def test_a_wheel_changed_in_the_staging_copy_is_refused_by_its_pinned_hash(
    bundle: Path, key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evil = tmp_path / "evil.whl"
    fake_wheel(evil, "EVIL rempart")
    prefix = tmp_path / "p" / "prefix"
    prefix.parent.mkdir()
    monkeypatch.setenv("EVIL", str(evil))
    monkeypatch.setenv("WHEEL", WHEEL)
    monkeypatch.setenv("STAGE_BASE", str(prefix.parent))
    done = run_install(
        bundle, SWAP_IN_STAGE, "--pubkey", f"{key}.pub", "--prefix", str(prefix), tmp=tmp_path
    )
    assert done.returncode != 0 and "EVIL" not in done.stdout
    assert "hash" in done.stderr.lower(), done.stderr
    assert not list(prefix.parent.glob("rempart-bundle.*"))  # the copy is removed


def by_hand(bundle: Path, commands: list[str]) -> list[subprocess.CompletedProcess[str]]:
    return [
        subprocess.run(
            ["bash", "-c", command],
            cwd=bundle,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        for command in commands
    ]


def test_keygen_gives_an_allowed_signers_line_and_commands_that_check_a_bundle_by_hand(
    bundle: Path, key: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "rempart", "bundle", "keygen", str(site / "maker")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    signers = site / "maker.allowed_signers"
    assert signers.read_text() in done.stdout
    commands = [line.strip() for line in done.stdout.splitlines() if line.startswith("  ")][1:]
    assert commands[0].startswith("ssh-keygen -Y verify -f /etc/rempart/maker.allowed_signers")
    commands = [c.replace("/etc/rempart/", f"{site}/") for c in commands]
    sign_bundle(bundle, site / "maker")
    assert [(r.returncode, r.stdout.strip()) for r in by_hand(bundle, commands)][1:] == [
        (0, "")
    ] * 3
    # the same commands catch another signer, a changed file, a symlink and an extra file
    assert by_hand(bundle, commands)[0].returncode == 0
    sign_bundle(bundle, key)
    assert by_hand(bundle, commands)[0].returncode != 0
    sign_bundle(bundle, site / "maker")
    (bundle / "policies" / "default.yaml").write_text("version: 2\n")
    assert by_hand(bundle, commands)[1].returncode != 0
    (bundle / "policies" / "default.yaml").write_text("version: 1\n")
    (bundle / "policies" / "link.yaml").symlink_to("default.yaml")
    assert "policies/link.yaml" in by_hand(bundle, commands)[2].stdout
    (bundle / "policies" / "link.yaml").unlink()
    (bundle / "wheels" / "extra-1.0-py3-none-any.whl").write_bytes(b"PK")
    assert by_hand(bundle, commands)[3].stdout == "wheels/extra-1.0-py3-none-any.whl\n"


def venv_with_rempart(prefix: Path, version: str, tmp: Path) -> None:
    """A virtualenv at `prefix` (this Python's packages visible, pip among them) with a
    fake Rempart `version` installed."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(prefix)],
        check=True,
        timeout=120,
    )
    wheel = tmp / f"rempart-{version}-py3-none-any.whl"
    fake_wheel(wheel, f"rempart {version}", version)
    subprocess.run(
        [str(prefix / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", str(wheel)],
        check=True,
        timeout=120,
        capture_output=True,
    )


def test_an_older_bundle_is_refused_over_a_newer_install_unless_downgrade_is_allowed(
    bundle: Path, key: Path, tmp_path: Path
) -> None:
    prefix = tmp_path / "prefix"
    venv_with_rempart(prefix, "0.0.2", tmp_path)
    options = ("--pubkey", f"{key}.pub", "--prefix", str(prefix))
    done = checks_only(bundle, key, tmp_path, *options)
    assert done.returncode == 8 and "older than the installed 0.0.2" in done.stderr
    with pytest.raises(BundleError, match=r"older than the 0\.0\.2"):
        install.refuse_downgrade(prefix, "0.0.1")
    install.refuse_downgrade(prefix, "0.0.2")
    done = checks_only(bundle, key, tmp_path, *options, "--allow-downgrade")
    assert "REACHED python3 -m venv" in done.stdout, done.stderr


def test_python_install_stages_a_private_copy_and_refuses_symlinks(
    bundle: Path, tmp_path: Path
) -> None:
    prefix = tmp_path / "site" / "prefix"
    prefix.parent.mkdir()
    staged = install.stage(bundle, prefix, QUIET)
    assert staged.parent == prefix.parent and staged.stat().st_mode & 0o777 == 0o700
    (bundle / "policies" / "default.yaml").write_text("changed on the medium\n")
    assert (staged / "policies" / "default.yaml").read_text() == "version: 1\n"
    (bundle / "policies" / "link.yaml").symlink_to("default.yaml")
    with pytest.raises(BundleError, match="not plain files"):
        install.stage(bundle, prefix, QUIET)
    with pytest.raises(BundleError, match="not a private staging copy"):
        install.install(
            install.InstallOptions(bundle=bundle, prefix=prefix, pubkey=None, staged=True),
            settings=None,  # type: ignore[arg-type]  # refused before it is read
            progress=QUIET,
        )


def test_python_install_refuses_a_rempart_wheel_that_does_not_match_its_signed_hash(
    bundle: Path, tmp_path: Path
) -> None:
    prefix = tmp_path / "prefix"
    venv_with_rempart(prefix, "0.0.0", tmp_path)
    digests = manifest.parse_sums((bundle / manifest.SUMS).read_text(), "SHA256SUMS")
    good = (bundle / WHEEL).read_bytes()
    fake_wheel(bundle / WHEEL, "EVIL rempart")  # swapped after the sums were read
    with pytest.raises(BundleError, match=r"(?i)hash"):
        install.install_rempart(bundle, prefix, digests, QUIET)
    (bundle / WHEEL).write_bytes(good)
    install.install_rempart(bundle, prefix, digests, QUIET)
    ran = subprocess.run(
        [str(prefix / "bin" / "rempart")], capture_output=True, text=True, timeout=60, check=False
    )
    assert ran.stdout.strip() == "GOOD rempart"
