"""Shaping command output for a small model: exit code first, long output as head + tail."""

from __future__ import annotations

from policies.termsafe import safe


def clean(text: str) -> str:
    """Escape control and invisible characters (binary garbage, terminal escapes, bidi
    overrides) so they are visible: the same notation the person's terminal shows."""
    return safe(text, keep="\n\t\r")


def head_tail(text: str, cap: int) -> tuple[str, bool]:
    """At most `cap` characters: the head and the tail, with a marker between."""
    if len(text) <= cap:
        return text, False
    half = cap // 2
    dropped = len(text) - 2 * half
    return f"{text[:half]}\n[... {dropped} characters cut ...]\n{text[-half:]}", True
