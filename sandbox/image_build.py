"""Build the sandbox image without a registry: debootstrap rootfs -> docker import -> Dockerfile.

The tag is a hash of every input (package list, suite, base, build files), so the same
inputs always give the same tag and a rebuild is skipped when that tag exists. The
debootstrap rootfs is cached as a tarball under the data folder, so a rebuild after an
executor change only re-runs the (seconds-long) Dockerfile step.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import docker
from docker.errors import APIError, BuildError, ImageNotFound

from sandbox.engine import data_dir, docker_client
from sandbox.errors import ImageBuildError, ImageMissing

REPOSITORY = "rempart-sandbox"
ROOTFS_REPOSITORY = "rempart-rootfs"
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
PACKAGES = (
    "bash",
    "ca-certificates",
    "coreutils",
    "git",
    "passwd",
    "procps",
    "python-is-python3",
    "python3",
    "python3-pip",
    "python3-pytest",
    "python3-venv",
    "ripgrep",
)
BUILD_FILES = (
    "Dockerfile", "executor.py", "fileops.py", "changeset.py", "egress_proxy.py",
    "forwarder.py", "tlshello.py",
)  # fmt: skip
# the egress proxy evaluates the policy's network table with the policy engine's own code:
# these stdlib-only modules go into the image as /opt/rempart/policies/ (empty __init__)
POLICY_FILES = ("hosts.py", "netrules.py")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEBOOTSTRAP_TIMEOUT_S = 1800.0
BUILD_TIMEOUT_S = 600

Progress = Callable[[str], None]


def _stderr_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _image_dir() -> Path:
    return Path(str(resources.files("sandbox") / "image"))


def _policy_dir() -> Path:
    return Path(str(resources.files("policies")))


def _sha(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def rootfs_key() -> str:
    """Hash of what goes into the debootstrap rootfs (the mirror does not change content)."""
    return _sha(SUITE.encode(), b"minbase", " ".join(PACKAGES).encode())[:12]


def default_ca_bundle() -> Path | None:
    """The host's CA bundle: the sandbox trusts what the host trusts (corporate CAs)."""
    return HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file() else None


def image_tag(base: str | None = None, ca_bundle: Path | None = None) -> str:
    """The reproducible tag `rempart-sandbox:<hash12>` for these build inputs."""
    folder = _image_dir()
    files = [(folder / name).read_bytes() for name in BUILD_FILES]
    files += [(_policy_dir() / name).read_bytes() for name in POLICY_FILES]
    files.append(_ca_bytes(ca_bundle))
    base_id = base.encode() if base else f"{ROOTFS_REPOSITORY}:{rootfs_key()}".encode()
    return f"{REPOSITORY}:{_sha(base_id, *files)[:12]}"


def _ca_bytes(ca_bundle: Path | None) -> bytes:
    bundle = ca_bundle if ca_bundle is not None else default_ca_bundle()
    return bundle.read_bytes() if bundle is not None else b""


def _has_image(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
    except ImageNotFound:
        return False
    return True


def _run_logged(cmd: list[str], progress: Progress, timeout_s: float) -> None:
    progress(f"$ {' '.join(cmd)}")
    deadline = time.monotonic() + timeout_s
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            progress(f"  {line.rstrip()}")
            if time.monotonic() > deadline:
                proc.kill()
                raise ImageBuildError(f"{cmd[0]} took longer than {timeout_s:.0f}s")
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    if code != 0:
        raise ImageBuildError(
            f"{cmd[0]} failed with exit code {code}",
            hint="check the Debian mirror is reachable (--mirror) and that you run as root",
        )


def _rootfs_tarball(mirror: str, progress: Progress, force: bool) -> Path:
    cache = data_dir() / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / f"rootfs-{SUITE}-{rootfs_key()}.tar"
    if tarball.exists() and not force:
        progress(f"rootfs: using cached {tarball}")
        return tarball
    if shutil.which("debootstrap") is None:
        raise ImageBuildError(
            "debootstrap is not installed",
            hint="apt-get install debootstrap, or pass --base IMAGE with a Debian-based image",
        )
    if os.geteuid() != 0:
        raise ImageBuildError("debootstrap needs root", hint="run `sudo rempart sandbox build`")
    with tempfile.TemporaryDirectory(dir=cache, prefix="debootstrap-") as tmp:
        root = Path(tmp) / "root"
        cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}"]
        _run_logged([*cmd, SUITE, str(root), mirror], progress, DEBOOTSTRAP_TIMEOUT_S)
        for junk in ("var/lib/apt/lists", "var/cache/apt/archives", "var/log"):
            shutil.rmtree(root / junk, ignore_errors=True)
        partial = tarball.with_suffix(".partial")
        tar = ["tar", "--numeric-owner", "--sort=name", "-C", str(root), "-cf", str(partial), "."]
        _run_logged(tar, progress, 600.0)
        partial.replace(tarball)
    return tarball


def _import_rootfs(client: docker.DockerClient, mirror: str, progress: Progress) -> str:
    ref = f"{ROOTFS_REPOSITORY}:{rootfs_key()}"
    if _has_image(client, ref):
        progress(f"rootfs image {ref} present")
        return ref
    tarball = _rootfs_tarball(mirror, progress, force=False)
    progress(f"docker import {tarball} -> {ref}")
    try:
        client.api.import_image_from_file(
            str(tarball), repository=ROOTFS_REPOSITORY, tag=rootfs_key()
        )
    except APIError as exc:
        raise ImageBuildError(f"docker import failed: {exc}") from exc
    return ref


def build_image(
    base: str | None = None,
    force: bool = False,
    mirror: str = DEFAULT_MIRROR,
    progress: Progress = _stderr_progress,
    ca_bundle: Path | None = None,
) -> str:
    """Build (or find) the sandbox image and return its reproducible tag."""
    started = time.monotonic()
    tag = image_tag(base, ca_bundle)
    client = docker_client(timeout=BUILD_TIMEOUT_S)
    try:
        if _has_image(client, tag) and not force:
            progress(f"{tag} already built; nothing to do (use --force to rebuild)")
            client.images.get(tag).tag(REPOSITORY, "latest")
            return tag
        if base is None:
            base_ref = _import_rootfs(client, mirror, progress)
        else:
            if not _has_image(client, base):
                raise ImageBuildError(
                    f"base image {base} is not present", hint="docker load it first"
                )
            base_ref = base
        progress(f"docker build {tag} FROM {base_ref}")
        repo = tag.split(":")[0]
        with tempfile.TemporaryDirectory(prefix="rempart-build-") as context:
            for name in BUILD_FILES:
                shutil.copy(_image_dir() / name, Path(context) / name)
            (Path(context) / "policies").mkdir()
            (Path(context) / "policies" / "__init__.py").write_bytes(b"")
            for name in POLICY_FILES:
                shutil.copy(_policy_dir() / name, Path(context) / "policies" / name)
            (Path(context) / "extra-ca.crt").write_bytes(_ca_bytes(ca_bundle))
            _docker_build(client, context, tag, base_ref, progress)
        client.images.get(tag).tag(repo, "latest")
        progress(f"built {tag} (+ {repo}:latest) in {time.monotonic() - started:.1f}s")
        return tag
    finally:
        client.close()


def _docker_build(
    client: docker.DockerClient, context: str, tag: str, base_ref: str, progress: Progress
) -> None:
    version = tag.split(":")[1]
    try:
        for chunk in client.api.build(
            path=context,
            tag=tag,
            buildargs={"BASE": base_ref},
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
            labels={"rempart.kind": "image", "rempart.inputs": version},
        ):
            text = str(chunk.get("stream", "")).rstrip()
            if text:
                progress(f"  {text}")
            if "error" in chunk:
                raise ImageBuildError(f"docker build failed: {chunk['error']}")
    except (APIError, BuildError) as exc:
        raise ImageBuildError(f"docker build failed: {exc}") from exc


def ensure_image(base: str | None = None, build: bool = False) -> str:
    """The image tag for the current inputs; builds it when missing and `build` is true,
    else raises `ImageMissing`."""
    tag = image_tag(base)
    client = docker_client()
    try:
        present = _has_image(client, tag)
    finally:
        client.close()
    if present:
        return tag
    if build:
        return build_image(base=base)
    raise ImageMissing(f"sandbox image {tag} is not built", hint="run `rempart sandbox build`")
