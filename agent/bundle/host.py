"""The Debian packages Rempart installs on a host, with their whole dependency closure.

Closure: apt resolves the packages against an *empty* dpkg status (as if nothing were
installed), downloading into the bundle's `debs/`; so the bundle installs on a minimal
Debian of the same release. apt checks each .deb against the signed archive index as it
downloads, and skips one already present with the right hash (a rerun resumes). On the
site, `dpkg -i --skip-same-version --refuse-downgrade` installs what is missing or older
and leaves newer packages alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from agent.bundle.errors import BundleError
from sandbox.progress import Reporter, follow

# scripts/engine.sh (the engine), scripts/install.sh (the image build, compose validation,
# workspace ACLs), a virtualenv for the install, ssh-keygen for the signature.
HOST_PACKAGES = (
    "docker.io",
    "debootstrap",
    "docker-compose",
    "acl",
    "python3-venv",
    "openssh-client",
)
TIMEOUT_S = 1800.0
# what is missing or older is installed; the same version is skipped, a newer one is kept
DPKG_INSTALL = ("dpkg", "--install", "--skip-same-version", "--refuse-downgrade")


def download_closure(packages: tuple[str, ...], dest: Path, progress: Reporter) -> list[Path]:
    """Download `packages` and everything they depend on into `dest`; returns the .debs."""
    if shutil.which("apt-get") is None:
        raise BundleError(
            "apt-get is not available: the host packages are Debian's",
            hint="make the bundle on Debian, or pass --no-host-packages",
        )
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "partial").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rempart-apt-") as tmp:
        status = Path(tmp) / "status"
        status.write_text("")
        cmd = ["apt-get", "install", "--download-only", "--yes", "--quiet"]
        cmd += ["-o", f"Dir::State::status={status}", "-o", f"Dir::Cache::archives={dest}"]
        cmd += ["-o", "Debug::NoLocking=1", *packages]
        os.environ.setdefault("DEBIAN_FRONTEND", "noninteractive")
        with progress.track("debian packages", total=None, unit="packages") as bar:

            def on_line(line: str) -> None:
                if line.startswith("Get:"):
                    bar.advance(1)

            code, tail = follow(cmd, TIMEOUT_S, on_line)
        if code == 0:  # the empty status file is still there for the simulation
            _drop_stale(dest, _closure(cmd))
    shutil.rmtree(dest / "partial", ignore_errors=True)
    (dest / "lock").unlink(missing_ok=True)
    if code != 0:
        raise BundleError(
            "apt-get could not download the host packages: " + "\n".join(tail)[-600:],
            hint="run `apt-get update` first (a rerun keeps what was downloaded)",
        )
    return sorted(dest.glob("*.deb"))


def _closure(download_cmd: list[str]) -> set[str]:
    """`name_version_` of every package in the closure (apt's simulation of the same
    install), as the .debs are named (an epoch's `:` is `%3a` there)."""
    cmd = [word for word in download_cmd if word != "--download-only"]
    done = subprocess.run(
        [*cmd, "--simulate"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "LC_ALL": "C"},  # "Inst" lines, untranslated
    )
    if done.returncode != 0:
        raise BundleError(f"apt-get could not resolve the host packages: {done.stderr[-600:]}")
    names = set()
    for line in done.stdout.splitlines():
        if line.startswith("Inst "):
            name, version = line.split()[1], line.split()[2].lstrip("(")
            names.add(f"{name}_{version.replace(':', '%3a')}_")
    if not names:  # never "nothing is needed": that would drop every .deb
        raise BundleError(f"apt-get's simulation listed no package: {done.stdout[-400:]}")
    return names


def _drop_stale(dest: Path, closure: set[str]) -> None:
    """.debs an earlier run left that this closure does not hold (another package list,
    an older version): not carried."""
    for deb in dest.glob("*.deb"):
        if not any(deb.name.startswith(prefix) for prefix in closure):
            deb.unlink()


def install_debs(debs: list[Path], progress: Reporter) -> None:
    """Install the bundle's .debs (root only): missing or older ones; newer are kept."""
    if not debs:
        return
    if os.geteuid() != 0:
        raise BundleError(
            "installing the host packages needs root",
            hint="run it with sudo, or pass --no-host-packages if they are installed",
        )
    cmd = list(DPKG_INSTALL)
    progress(f"dpkg --install {len(debs)} packages (same or newer versions are kept)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(
        [*cmd, *map(str, debs)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise BundleError(
            "dpkg could not install the host packages: " + done.stderr.strip()[-800:],
            hint="read dpkg's message above; `dpkg --audit` shows what is half-installed",
        )
