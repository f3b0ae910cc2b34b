"""`rempart config show [--json]`: the settings in force and where each value came from."""

from __future__ import annotations

import argparse
import json
import os
import tomllib
from typing import Any

from agent.settings import Settings, load_settings
from agent.store import redact
from policies.termsafe import json_safe, safe_line

SECRET = "model_api_key"


def sources(settings: Settings) -> dict[str, str]:
    """Each field's origin: `env` (REMPART_*), `file` (config.toml) or `default`."""
    try:
        in_file = (
            tomllib.loads(settings.config_file.read_text()) if settings.config_file.exists() else {}
        )
    except (OSError, tomllib.TOMLDecodeError):
        in_file = {}
    origin: dict[str, str] = {}
    for name in Settings.model_fields:
        if f"REMPART_{name.upper()}" in os.environ:
            origin[name] = "env"
        elif name in in_file:
            origin[name] = "file"
        else:
            origin[name] = "default"
    return origin


def report(settings: Settings) -> dict[str, Any]:
    values = settings.model_dump(mode="json")
    if values.get(SECRET):
        values[SECRET] = "***"
    if values.get("store_url"):
        values["store_url"] = redact(values["store_url"])
    return {
        "config_file": str(settings.config_file),
        "config_file_exists": settings.config_file.exists(),
        "log_file": str(settings.log_file),
        "settings": values,
        "sources": sources(settings),
    }


def cmd_show(args: argparse.Namespace) -> int:
    settings = load_settings()
    data = report(settings)
    if args.json:
        print(json_safe(json.dumps(data)))
        return 0
    exists = "" if data["config_file_exists"] else " (not present)"
    print(f"config file: {safe_line(data['config_file'])}{exists}")
    print(f"log file:    {safe_line(data['log_file'])}")
    for name, value in data["settings"].items():
        shown = "" if value is None else value
        print(f"{name:18} {safe_line(str(shown)):50} {data['sources'][name]}")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("config", help="show the configuration in force")
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)
    show = verbs.add_parser("show", help="every setting, its value and where it came from")
    show.add_argument("--json", action="store_true", help="one JSON object")
    show.set_defaults(func=cmd_show)
