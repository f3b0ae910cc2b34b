"""The policies shipped in the package (`default`, `strict`, `ci`), by name or by path.

`--policy strict` and `--policy ./my.yaml` both work: a value that is an existing file is that
file; a shipped name is the shipped policy; anything else that looks like a bare name is an
error that lists the shipped ones (a missing *path* is left to the loader, which reports it).
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from policies.errors import UnknownPolicy

SHIPPED = ("default", "strict", "ci")


def examples_dir() -> Path:
    """The folder of shipped policies and their tests files (package data)."""
    return Path(str(resources.files("policies") / "examples"))


def shipped_policy(name: str) -> Path:
    if name not in SHIPPED:
        raise UnknownPolicy(
            f"no shipped policy is called {name!r}",
            hint=f"use one of {', '.join(SHIPPED)}, or the path of a policy file",
        )
    return examples_dir() / f"{name}.yaml"


def resolve_policy(value: str) -> Path:
    """A policy file from a `--policy` value: an existing path, else a shipped name."""
    path = Path(value)
    if path.exists() or "/" in value or path.suffix in (".yaml", ".yml"):
        return path
    return shipped_policy(value)


def policy_argument(value: str) -> Path:
    """argparse `type=` for `--policy`: a name that is neither is a usage error (exit 2)."""
    try:
        return resolve_policy(value)
    except UnknownPolicy as exc:
        raise argparse.ArgumentTypeError(f"{exc.message} ({exc.hint})") from exc
