"""What an MCP server says is untrusted: descriptions are scanned, results are cleaned.

A tool description goes into the model's prompt, so a server can hide instructions in it
(tool poisoning): invisible or Unicode tag characters, "ignore previous instructions",
`<IMPORTANT>` blocks, or orders about other tools. `scan` names each such finding; the
findings are shown in `rempart mcp tools`, in the pin diff and in the approval.

A result is capped in size and in nesting depth, and its control, format and tag
characters are removed, before the model sees it (marked as untrusted output).
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

MAX_RESULT_CHARS = 100_000
MAX_DEPTH = 8
_KEEP = {"\n", "\t"}
_OVERRIDE = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(previous|prior|above|earlier|all|system)\b"
    r".{0,40}\b(instructions?|prompts?|rules?|messages?)\b",
    re.IGNORECASE | re.DOTALL,
)
_TAG_BLOCK = re.compile(
    r"<\s*(important|system|instructions?|secret|hidden|admin)\b[^>]*>", re.IGNORECASE
)
_SECRECY = re.compile(
    r"\b(do not|don't|never)\s+(tell|mention|inform|reveal|show)\b.{0,30}\b(user|human)\b",
    re.IGNORECASE,
)
_SENSITIVE = re.compile(r"(~/\.ssh|id_rsa|\.env\b|/etc/passwd|\.aws/credentials|api[_ ]?key)", re.I)


def _hidden(char: str) -> bool:
    category = unicodedata.category(char)
    return (category in ("Cc", "Cf", "Co", "Cs") and char not in _KEEP) or (
        0xE0000 <= ord(char) <= 0xE007F
    )


def scan(description: str, other_tools: list[str]) -> list[str]:
    """Findings of hidden instructions in a tool description (empty: nothing seen)."""
    found: list[str] = []
    hidden = [c for c in description if _hidden(c)]
    if hidden:
        tags = sum(1 for c in hidden if 0xE0000 <= ord(c) <= 0xE007F)
        what = f"{tags} Unicode tag characters" if tags else f"{len(hidden)} invisible characters"
        found.append(f"hidden text: {what}")
    visible = "".join(c for c in description if not _hidden(c))
    decoded = "".join(chr(ord(c) - 0xE0000) for c in description if 0xE0020 <= ord(c) <= 0xE007E)
    for text in (visible, decoded):
        if _OVERRIDE.search(text):
            found.append("tells the model to ignore its instructions")
        if (tag := _TAG_BLOCK.search(text)) is not None:
            found.append(f"an instruction block {tag.group(0)!r}")
        if _SECRECY.search(text):
            found.append("tells the model to keep something from the user")
        if _SENSITIVE.search(text):
            found.append("mentions secrets or credential files")
    lowered = f"{visible}\n{decoded}".lower()
    for name in other_tools:
        if re.search(rf"(?<![\w.]){re.escape(name.lower())}(?![\w])", lowered):
            found.append(f"names another tool: {name}")
    return sorted(set(found))


def strip(text: str) -> str:
    """`text` without control, format (zero-width, bidi) and tag characters."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(c for c in text if not _hidden(c))


def bounded(value: Any, depth: int = 0) -> Any:
    """A JSON value with nesting below `MAX_DEPTH` (deeper parts replaced by a marker)."""
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        return f"[nested deeper than {MAX_DEPTH} levels: cut]"
    if isinstance(value, dict):
        return {strip(str(k)): bounded(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [bounded(v, depth + 1) for v in value]
    if isinstance(value, str):
        return strip(value)
    return value


def structured_text(value: Any) -> str:
    """Structured content (a JSON value) as bounded, cleaned JSON text."""
    return json.dumps(bounded(value), ensure_ascii=False, sort_keys=True)


def capped(text: str, limit: int = MAX_RESULT_CHARS) -> tuple[str, bool]:
    """At most `limit` characters of cleaned `text`; True when cut."""
    text = strip(text)
    if len(text) <= limit:
        return text, False
    return text[:limit] + f"\n[MCP result cut: {len(text) - limit} more characters]", True
