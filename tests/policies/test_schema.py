"""The JSON Schemas: generated from the models, shipped as they are generated, referenced by
every example, and every example validates against what `rempart policy schema` prints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from policies.jsonschema import FILES, render, shipped_path
from policies.shipped import examples_dir

pytestmark = pytest.mark.smoke
EXAMPLES = sorted(examples_dir().glob("*.yaml"))


def kind_of(path: Path) -> str:
    return "tests" if path.name.endswith(".tests.yaml") else "policy"


def printed(kind: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "rempart", "policy", "schema", kind],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    schema: dict[str, Any] = json.loads(done.stdout)
    return schema


@pytest.mark.parametrize("kind", sorted(FILES))
def test_the_shipped_schema_is_what_the_models_generate(kind: str) -> None:
    assert shipped_path(kind).read_text() == render(kind)


@pytest.mark.parametrize("kind", sorted(FILES))
def test_the_printed_schema_is_a_valid_draft_2020_12_schema(kind: str) -> None:
    schema = printed(kind)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_shipped_example_validates_against_the_printed_schema() -> None:
    schemas = {kind: printed(kind) for kind in FILES}
    assert len(EXAMPLES) == 8  # default, strict, ci, mcp-git and their tests files
    for path in EXAMPLES:
        validator = jsonschema.Draft202012Validator(schemas[kind_of(path)])
        assert [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))] == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_names_its_schema_for_editors(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix)
    target = (path.parent / first[len(prefix) :]).resolve()
    assert target == shipped_path(kind_of(path)).resolve()


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("version: 1\nfiles: {read: {alow: ['**']}}\n", "alow"),
        ("version: 2\n", "1 was expected"),
        ("version: 1\nexec: [{match: [ls], decision: allwo}]\n", "allwo"),
        ("version: 1\nexec: [{match: [], decision: allow}]\n", "should be non-empty"),
        ("version: 1\nlimits: {memory: lots}\n", "lots"),
        ("version: 1\ntests: [{action: {kind: teleport}, expect: allow}]\n", "teleport"),
    ],
)
def test_the_schema_rejects_what_the_loader_rejects(text: str, why: str) -> None:
    from policies import PolicyLoadError, PolicySet

    errors = list(
        jsonschema.Draft202012Validator(printed("policy")).iter_errors(yaml.safe_load(text))
    )
    assert errors and why in " ".join(e.message for e in errors)
    if "teleport" not in text:  # an inline test's action is only parsed when tests run
        with pytest.raises(PolicyLoadError):
            PolicySet.from_texts([("org", "p.yaml", text)])
