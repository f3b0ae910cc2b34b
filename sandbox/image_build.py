"""Build the sandbox image without a registry: debootstrap rootfs -> docker import -> Dockerfile.

The tag is a hash of every input (package list, suite, base, build files), so the same
inputs always give the same tag and a rebuild is skipped when that tag exists. The
debootstrap rootfs is cached as a tarball under the data folder, so a rebuild after an
executor change only re-runs the (seconds-long) Dockerfile step.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import docker
from docker.errors import APIError, BuildError, ImageNotFound

from sandbox.engine import cache_dir, data_dir, docker_client
from sandbox.errors import ImageBuildError, ImageMissing
from sandbox.progress import Reporter, Tracker, follow, reporter_for

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
    "forwarder.py", "tlshello.py", "keeper.py", "mcp-servers.lock", "mcp_bridge.py",
    "statx_compat.c", "pump.py",
)  # fmt: skip
# the MCP reference servers (git, fetch, time) go into /opt/mcp from these wheels, downloaded
# once on the host with the lock's hashes (the offline bundle carries the built image)
MCP_LOCK = "mcp-servers.lock"
MCP_PYTHON = "3.11"  # Debian bookworm's python3
MCP_PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64")
PIP_TIMEOUT_S = 900.0
# the egress proxy evaluates the policy's network table with the policy engine's own code:
# these stdlib-only modules go into the image as /opt/rempart/policies/ (empty __init__)
POLICY_FILES = ("hosts.py", "netrules.py")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEBOOTSTRAP_TIMEOUT_S = 1800.0
BUILD_TIMEOUT_S = 600


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


def _run_logged(
    cmd: list[str],
    progress: Reporter,
    timeout_s: float,
    what: str,
    hint: str = "check the Debian mirror is reachable (--mirror) and that you run as root",
) -> None:
    """Run a step, its output counted as it comes (a line is a unit of work: debootstrap
    says one per package retrieved, unpacked, configured; there is no total to show)."""
    progress(f"$ {' '.join(cmd)}")
    with progress.track(what, total=None, unit="lines") as bar:

        def on_line(line: str) -> None:
            bar.advance(1)
            if line.startswith(("E:", "W:")) or "error" in line.lower():
                progress(f"  {line.rstrip()}")

        code, _tail = follow(cmd, timeout_s, on_line)
    if code is None:
        raise ImageBuildError(f"{cmd[0]} took longer than {timeout_s:.0f}s")
    if code != 0:
        raise ImageBuildError(f"{what} failed with exit code {code}", hint=hint)


def _rootfs_tarball(mirror: str, progress: Reporter, force: bool) -> Path:
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / f"rootfs-{SUITE}-{rootfs_key()}.tar"
    legacy = data_dir() / "cache" / tarball.name  # before the XDG cache dir: moved, not redone
    if legacy.exists() and not tarball.exists():
        shutil.move(legacy, tarball)
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
        _run_logged(
            [*cmd, SUITE, str(root), mirror], progress, DEBOOTSTRAP_TIMEOUT_S, "debootstrap"
        )
        for junk in ("var/lib/apt/lists", "var/cache/apt/archives", "var/log"):
            shutil.rmtree(root / junk, ignore_errors=True)
        partial = tarball.with_suffix(".partial")
        tar = ["tar", "--numeric-owner", "--sort=name", "-C", str(root), "-cf", str(partial), "."]
        _run_logged(tar, progress, 600.0, "tar the rootfs")
        partial.replace(tarball)
    return tarball


def mcp_wheels(progress: Reporter) -> Path:
    """The folder of wheels for the MCP servers (cached by the lock's hash; downloaded once
    with `pip download --require-hashes`, so a tampered wheel fails the build)."""
    lock = _image_dir() / MCP_LOCK
    folder = cache_dir() / f"mcp-wheels-{_sha(lock.read_bytes())[:12]}"
    if folder.is_dir():
        progress(f"MCP server wheels: using cached {folder}")
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix="mcp-wheels-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--require-hashes", "--no-deps"]
        cmd += ["--only-binary=:all:", "--python-version", MCP_PYTHON, "--implementation", "cp"]
        for platform in MCP_PLATFORMS:
            cmd += ["--platform", platform]
        hint = (
            "the MCP server wheels come from the package index (pip's configuration); "
            f"offline, put them in {folder} (or load a built image: deploy/bundle.sh)"
        )
        argv = [*cmd, "--dest", tmp, "-r", str(lock)]
        _run_logged(argv, progress, PIP_TIMEOUT_S, "MCP server wheels", hint)
        Path(tmp).replace(folder)
        Path(tmp).mkdir()  # the context manager removes it
    return folder


def _import_rootfs(client: docker.DockerClient, mirror: str, progress: Reporter) -> str:
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
    progress: Reporter | None = None,
    ca_bundle: Path | None = None,
) -> str:
    """Build (or find) the sandbox image and return its reproducible tag."""
    progress = progress or reporter_for(sys.stderr)
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
            shutil.copytree(mcp_wheels(progress), Path(context) / "mcp-wheels")
            _statx_compat(Path(context), progress)
            _docker_build(client, context, tag, base_ref, progress)
        client.images.get(tag).tag(repo, "latest")
        progress(f"built {tag} (+ {repo}:latest) in {time.monotonic() - started:.1f}s")
        return tag
    finally:
        client.close()


def _statx_compat(context: Path, progress: Reporter) -> None:
    """`statx_compat.so` for gVisor sandboxes (image/statx_compat.c), compiled with the
    host's C compiler; an empty file (left out of the image) where there is none."""
    out = context / "statx_compat.so"
    out.write_bytes(b"")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        progress("no C compiler: the image gets no statx_compat.so (`ls -l` fails under gVisor)")
        return
    src = context / "statx_compat.c"
    argv = [cc, "-O2", "-shared", "-fPIC", "-o", str(out), str(src)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        out.write_bytes(b"")
        progress(f"statx_compat.so not built ({done.stderr.strip()[-200:]})")


def _docker_build(
    client: docker.DockerClient, context: str, tag: str, base_ref: str, progress: Reporter
) -> None:
    version = tag.split(":")[1]
    steps = _BuildSteps(progress)
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
                steps.line(text)
            if "error" in chunk:
                raise ImageBuildError(f"docker build failed: {chunk['error']}")
    except (APIError, BuildError) as exc:
        raise ImageBuildError(f"docker build failed: {exc}") from exc
    finally:
        steps.close()


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


class _BuildSteps:
    """`docker build`'s "Step N/M" lines as a bar of M steps; the rest is not shown."""

    STEP = re.compile(r"^Step (\d+)/(\d+) : ")

    def __init__(self, progress: Reporter) -> None:
        self.progress = progress
        self._stack = contextlib.ExitStack()
        self._tracker: Tracker | None = None

    def line(self, text: str) -> None:
        match = self.STEP.match(text)
        if match is None:
            return
        if self._tracker is None:
            bar = self.progress.track("docker build", total=int(match.group(2)), unit="steps")
            self._tracker = self._stack.enter_context(bar)
        if int(match.group(1)) > 1:
            self._tracker.advance(1)  # the step before this one is done

    def close(self) -> None:
        if self._tracker is not None:
            self._tracker.advance(1)
        self._stack.close()
