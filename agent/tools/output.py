"""Shaping command output for a small model: exit code first, long output as head + tail."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: str) -> str:
    """Escape control characters (binary garbage, terminal escapes) so they are visible."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def head_tail(text: str, cap: int) -> tuple[str, bool]:
    """At most `cap` characters: the head and the tail, with a marker between."""
    if len(text) <= cap:
        return text, False
    half = cap // 2
    dropped = len(text) - 2 * half
    return f"{text[:half]}\n[... {dropped} characters cut ...]\n{text[-half:]}", True
