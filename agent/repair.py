"""Repairs of what small models get wrong in tool-call JSON, only where unambiguous.

Each repair is named so the loop can count it; anything else is an error for the model.
"""

from __future__ import annotations

import json
from typing import Any

_DECODER = json.JSONDecoder()


class ArgumentsError(ValueError):
    """The arguments are not a JSON object, even after the unambiguous repairs."""


def _strip_fence(text: str) -> str:
    body = text.strip()
    if body.startswith("```") and body.endswith("```") and len(body) >= 6:
        body = body[3:-3]
        first, _, rest = body.partition("\n")
        return rest if first.strip().isalpha() or not first.strip() else body
    return body


def parse_arguments(raw: str) -> tuple[dict[str, Any], list[str]]:
    """The arguments object and the repairs applied (empty when the JSON was clean)."""
    repairs: list[str] = []
    text = raw.strip()
    if not text:
        return {}, ["empty arguments read as {}"]
    try:
        value: Any = json.loads(text)
    except json.JSONDecodeError:
        unfenced = _strip_fence(text)
        if unfenced != text:
            repairs.append("removed a code fence")
        try:
            value, end = _DECODER.raw_decode(unfenced.lstrip())
        except json.JSONDecodeError as exc:
            raise ArgumentsError(f"arguments are not valid JSON: {exc.msg} at {exc.pos}") from exc
        if unfenced.lstrip()[end:].strip():
            repairs.append("dropped text after the JSON object")
    if isinstance(value, str):
        try:
            inner = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ArgumentsError("arguments are a string, not a JSON object") from exc
        value = inner
        repairs.append("decoded arguments that were JSON inside a string")
    if not isinstance(value, dict):
        raise ArgumentsError(f"arguments must be a JSON object, got {type(value).__name__}")
    return value, repairs
