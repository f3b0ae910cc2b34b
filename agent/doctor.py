"""`rempart doctor`: one line per check with a fix hint; exit 0 only when all required pass."""

from __future__ import annotations

import argparse
import json
import shutil
import sys

from agent.about import about, version_line
from agent.serving.engine import probe_models, read_state
from agent.settings import Settings
from policies.errors import RempartError
from policies.exitcodes import Exit
from policies.termsafe import safe
from sandbox.checks import Check, run_checks

MIN_FREE_GB = 8.0


def python_check() -> Check:
    version = ".".join(str(part) for part in sys.version_info[:3])
    return Check(
        name="python",
        ok=sys.version_info >= (3, 11),
        detail=f"Python {version}",
        hint="install Python 3.11 or newer",
        required=True,
    )


def disk_check(settings: Settings) -> Check:
    probe = settings.data_dir if settings.data_dir.exists() else settings.data_dir.parent
    while not probe.exists():
        probe = probe.parent
    free_gb = shutil.disk_usage(probe).free / 1e9
    return Check(
        name="disk",
        ok=free_gb >= MIN_FREE_GB,
        detail=f"{free_gb:.1f} GB free under {probe}",
        hint=f"free at least {MIN_FREE_GB:.0f} GB (the embedded model and vLLM take ~10 GB)",
        required=True,
    )


def model_check(settings: Settings) -> Check:
    state = read_state(settings)
    base_url = state.base_url if state else settings.model_base_url
    if settings.model_urls:  # one replica listed: what sessions use
        base_url = settings.model_urls[0]
    models = probe_models(base_url, settings.model_api_key)
    return Check(
        name="model endpoint",
        ok=models is not None,
        detail=f"{base_url} serves {', '.join(models)}" if models else f"{base_url} unreachable",
        hint="start the embedded model with `rempart model serve`, or set REMPART_MODEL_BASE_URL",
        required=True,
    )


def replica_checks(settings: Settings) -> list[Check]:
    """With several model replicas, one line each: a dead one is a warning while another
    answers (sessions fail over to it), else a failure."""
    found = {url: probe_models(url, settings.model_api_key) for url in settings.model_urls}
    usable = any(models for models in found.values())
    return [
        Check(
            name=f"model replica {url}",
            ok=bool(models),
            detail=f"serves {', '.join(models)}" if models else "unreachable",
            hint="start it (or drop it from REMPART_MODEL_URLS); sessions use the others",
            required=not usable,
        )
        for url, models in found.items()
    ]


def policy_check(settings: Settings) -> tuple[Check, bool]:
    """The policy check, and whether the policy asks `sandbox.runtime: gvisor`."""
    from agent.discovery import discover_layers, load_policy_set

    try:
        layers = discover_layers(settings, workspace=None, extra=())
        policy_set = load_policy_set(layers)
    except RempartError as exc:
        return Check(
            name="policy",
            ok=False,
            detail=str(exc),
            hint="fix the file named above; `rempart policy check FILE` shows every problem",
            required=True,
        ), False
    names = ", ".join(f"{layer.name}={layer.path}" for layer in policy_set.layers)
    gvisor = policy_set.runtime.runtime == "gvisor"
    if gvisor:
        names += f"; sandbox runtime {policy_set.runtime.describe()}"
    return Check(name="policy", ok=True, detail=names, hint="", required=True), gvisor


def run_all(settings: Settings) -> list[Check]:
    checks = [python_check(), disk_check(settings)]
    policy, gvisor = policy_check(settings)
    checks += run_checks(settings.sandbox_image or None, settings.engines(), gvisor)
    if len(settings.model_urls) > 1:
        checks += replica_checks(settings)
    else:
        checks.append(model_check(settings))
    checks.append(policy)
    return checks


def cmd_doctor(args: argparse.Namespace) -> int:
    if args.airgap:
        from agent.airgap import airgap_checks

        checks = airgap_checks(Settings())
    else:
        checks = run_all(Settings())
    if args.json:
        report = {
            "ok": all(c.ok or not c.required for c in checks),
            "version": about().model_dump(),
            "checks": [c.model_dump() for c in checks],
        }
        print(json.dumps(report))
    else:
        print(version_line())
        for check in checks:
            mark = "ok  " if check.ok else ("FAIL" if check.required else "warn")
            print(f"{mark} {check.name:28} {safe(check.detail)}")
            if not check.ok and check.hint:
                print(f"     {'':28} fix: {safe(check.hint)}")
    return Exit.OK if all(c.ok or not c.required for c in checks) else Exit.FAILED


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doctor = sub.add_parser("doctor", help="check that everything Rempart needs is in place")
    doctor.add_argument("--json", action="store_true", help="one JSON object for machines")
    doctor.add_argument(
        "--airgap",
        action="store_true",
        help="instead: check that nothing is configured to phone home (pip index, hub "
        "downloads, vLLM usage stats, a remote model endpoint, external DNS)",
    )
    doctor.set_defaults(func=cmd_doctor)
