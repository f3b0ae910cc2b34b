"""JSON Schemas for policy files and tests files, generated from the pydantic models.

Editors use them for completion, hover docs and validation (`# yaml-language-server:
$schema=...`); `rempart policy schema` prints them. The copies shipped in
`policies/schemas/` are checked against these functions by the tests, so they cannot drift.
The loader stays the authority: it also checks what a schema cannot (globs, regexes, examples).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from policies.actions import Action
from policies.schema import POLICY_FORMAT_VERSION, PolicyFile, TestsFile

DIALECT = "https://json-schema.org/draft/2020-12/schema"
KINDS: dict[str, type[BaseModel]] = {"policy": PolicyFile, "tests": TestsFile}
FILES = {"policy": "policy.schema.json", "tests": "tests.schema.json"}


def _action_schema() -> dict[str, Any]:
    return TypeAdapter(Action).json_schema()


def schema(kind: str = "policy") -> dict[str, Any]:
    """The JSON Schema of a policy file (`policy`) or a tests file (`tests`)."""
    model = KINDS[kind]
    generated = model.model_json_schema()
    action = _action_schema()
    defs = generated.setdefault("$defs", {})
    defs.update(action.pop("$defs", {}))
    defs["Action"] = action
    defs["PolicyTest"]["properties"]["action"] = {
        "$ref": "#/$defs/Action",
        "description": "the action as `rempart policy eval` reads it",
    }
    title = "Rempart policy file" if kind == "policy" else "Rempart policy tests file"
    return {
        "$schema": DIALECT,
        "$id": f"https://rempart.invalid/schemas/v{POLICY_FORMAT_VERSION}/{FILES[kind]}",
        **generated,
        "title": title,
    }


def render(kind: str = "policy") -> str:
    return json.dumps(schema(kind), indent=2, sort_keys=True) + "\n"


def shipped_path(kind: str = "policy") -> Path:
    """The schema file shipped in the package (what example policies' modelines point to)."""
    return Path(str(resources.files("policies") / "schemas" / FILES[kind]))
