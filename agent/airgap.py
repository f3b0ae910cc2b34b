"""`rempart doctor --airgap`: is anything configured to phone home?

Each check reads real configuration (environment, pip's config files, the flags
`rempart model serve` gives vLLM and, when one runs, the model server's own environment,
the resolver) and says what it found and how to fix it. They judge configuration, not
traffic: `rempart audit egress` shows what a session really connected to.
"""

from __future__ import annotations

import concurrent.futures
import configparser
import ipaddress
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlparse

from agent.serving.engine import read_state, server_env
from agent.settings import Settings
from sandbox.checks import EXTERNAL_NAMES, Check

PYPI_DEFAULT = "https://pypi.org/simple"
TRUE = ("1", "true", "yes", "on")
RESOLVE_TIMEOUT_S = 3.0
HUB_FLAGS = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
USAGE_FLAGS = {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}


def is_local_url(url: str) -> bool:
    """A `file:` URL, or one whose host is a loopback or private address (or `localhost`)."""
    parsed = urlparse(url)
    if parsed.scheme == "file" or (not parsed.scheme and url.startswith("/")):
        return True
    host = (parsed.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    return addr.is_loopback or addr.is_private


def pip_config_files(env: Mapping[str, str]) -> list[Path]:
    """The files pip reads, as pip finds them (`PIP_CONFIG_FILE=/dev/null`: none)."""
    own = env.get("PIP_CONFIG_FILE", "")
    if own == os.devnull:
        return []
    home = Path(env.get("HOME", str(Path.home())))
    xdg_home = Path(env.get("XDG_CONFIG_HOME", str(home / ".config")))
    xdg_dirs = env.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs if d]
    files += [Path("/etc/pip.conf"), home / ".pip" / "pip.conf", xdg_home / "pip" / "pip.conf"]
    files.append(Path(sys.prefix) / "pip.conf")
    if own:
        files.append(Path(own))
    return files


def pip_check(env: Mapping[str, str], files: Sequence[Path] | None = None) -> Check:
    """Where `pip install` would fetch from: every index in the environment and pip's
    config files; with none and no `no-index`, pip's default (PyPI)."""
    indexes: list[tuple[str, str]] = []
    no_index: list[str] = []
    for var in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        indexes += [(url, var) for url in env.get(var, "").split() if url]
    if env.get("PIP_NO_INDEX", "").lower() in TRUE:
        no_index.append("PIP_NO_INDEX")
    for path in pip_config_files(env) if files is None else files:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            if not parser.read(path):
                continue
        except configparser.Error as exc:
            return Check(
                name="airgap: pip index",
                ok=False,
                detail=f"{path}: cannot be read ({exc})",
                hint=f"fix {path}: pip itself fails on it",
            )
        for section in ("global", "install", "download"):
            if not parser.has_section(section):
                continue
            for key in ("index-url", "extra-index-url"):
                for url in parser.get(section, key, fallback="").split():
                    indexes.append((url, f"{path} [{section}] {key}"))
            if parser.get(section, "no-index", fallback="").lower() in TRUE:
                no_index.append(f"{path} [{section}]")
    if no_index:
        return Check(
            name="airgap: pip index",
            ok=True,
            detail=f"no index: pip uses only local wheels (no-index from {', '.join(no_index)})",
        )
    if not any(var == "PIP_INDEX_URL" or "] index-url" in var for _, var in indexes):
        indexes.insert(0, (PYPI_DEFAULT, "pip's default: no index-url set"))
    remote = [(url, where) for url, where in indexes if not is_local_url(url)]
    found = "; ".join(f"{url} ({where})" for url, where in indexes)
    return Check(
        name="airgap: pip index",
        ok=not remote,
        detail=("pip would fetch from " if remote else "pip indexes are local: ") + found,
        hint="set PIP_NO_INDEX=1 and PIP_FIND_LINKS=<bundle>/wheels (or `no-index = true` in "
        "/etc/pip.conf [global]), or point index-url at a file:// or internal mirror",
    )


def flags_check(
    name: str,
    flags: Mapping[str, str],
    env: Mapping[str, str],
    served: Mapping[str, str],
    running: tuple[int, Mapping[str, str]] | None,
) -> Check:
    """Environment flags that turn a phone-home off, in this environment, in what
    `rempart model serve` gives vLLM, and in the running model server's own environment."""
    problems: list[str] = []
    for where, values in [("this environment", env), ("`rempart model serve`", served)]:
        unset = [k for k, v in flags.items() if values.get(k) != v]
        if unset:
            problems.append(f"{where}: {', '.join(unset)} not set")
    if running is not None:
        pid, values = running
        unset = [k for k, v in flags.items() if values.get(k) != v]
        if unset:
            problems.append(f"the running model server (pid {pid}): {', '.join(unset)} not set")
    wanted = " ".join(f"{k}={v}" for k, v in flags.items())
    seen = "this environment, `rempart model serve`" + (
        f", the running model server (pid {running[0]})" if running else ""
    )
    return Check(
        name=name,
        ok=not problems,
        detail="; ".join(problems) if problems else f"{wanted} in {seen}",
        hint=f"export {wanted} (e.g. in /etc/environment) and restart the model server "
        "(`rempart model stop`, `rempart model serve`)",
    )


def hub_endpoint_check(env: Mapping[str, str]) -> Check:
    endpoint = env.get("HF_ENDPOINT", "")
    ok = not endpoint or is_local_url(endpoint)
    return Check(
        name="airgap: hub endpoint",
        ok=ok,
        detail=f"HF_ENDPOINT={endpoint}" if endpoint else "HF_ENDPOINT not set",
        hint="unset HF_ENDPOINT, or point it at a local mirror",
    )


def process_env(pid: int) -> dict[str, str] | None:
    """A process's environment as the kernel has it (None: gone or not ours to read)."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, _, v in pairs}


def running_server_env(settings: Settings) -> tuple[int, dict[str, str]] | None:
    """The running model server's pid and environment (None: none runs, or unreadable)."""
    state = read_state(settings)
    found = process_env(state.pid) if state is not None else None
    return (state.pid, found) if state is not None and found is not None else None


def endpoint_check(base_url: str) -> Check:
    """The model endpoint must be on this host: every prompt (code included) goes there."""
    host = (urlparse(base_url).hostname or "").lower()
    here = host == "localhost" or _is_loopback(host)
    return Check(
        name="airgap: model endpoint",
        ok=here,
        detail=f"{base_url} (on this host)"
        if here
        else f"{base_url} (another host: prompts and code leave this machine)",
        hint="serve the model here (`rempart model serve`) and set REMPART_MODEL_BASE_URL to "
        "http://127.0.0.1:PORT/v1",
    )


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def dns_check(names: Sequence[str] = EXTERNAL_NAMES) -> Check:
    """Does this host resolve external names? (It should not, air-gapped.)"""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(names) or 1)
    futures = {name: pool.submit(socket.getaddrinfo, name, 443) for name in names}
    resolved: list[str] = []
    for name, future in futures.items():
        try:
            infos = future.result(timeout=RESOLVE_TIMEOUT_S)
        except (OSError, concurrent.futures.TimeoutError):
            continue
        addrs = sorted({str(info[4][0]) for info in infos})
        external = [a for a in addrs if not _is_loopback(a)]
        if external:
            resolved.append(f"{name} -> {external[0]}")
    pool.shutdown(wait=False, cancel_futures=True)
    return Check(
        name="airgap: DNS",
        ok=not resolved,
        detail="resolves " + ", ".join(resolved)
        if resolved
        else f"no external name resolves ({', '.join(names)})",
        hint="this host resolves names on the internet: remove its upstream resolvers "
        "(/etc/resolv.conf) or check the air gap",
    )


def airgap_checks(settings: Settings, env: Mapping[str, str] | None = None) -> list[Check]:
    env = os.environ if env is None else env
    served = server_env("vllm-cpu")
    running = running_server_env(settings)
    state = read_state(settings)
    base_url = state.base_url if state else settings.model_base_url
    # every replica gets the prompts of the sessions placed on it
    endpoints = [endpoint_check(url) for url in settings.model_urls or [base_url]]
    return [
        pip_check(env),
        flags_check("airgap: hub downloads", HUB_FLAGS, env, served, running),
        hub_endpoint_check(env),
        flags_check("airgap: vLLM usage stats", USAGE_FLAGS, env, served, running),
        *endpoints,
        dns_check(),
    ]
