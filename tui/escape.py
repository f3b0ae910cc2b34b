"""Make what a person approves exactly what they see: control characters, invisible and
look-alike Unicode are shown as escapes (`\\x1b`, `\\u200b`, `\\u0430`), highlighted."""

from __future__ import annotations

import unicodedata

from rich.text import Text

_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
MARK_STYLE = "bold reverse"


def _escape(char: str) -> str | None:
    """The escape shown for `char`, or None when it is plain printable ASCII."""
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0x20 <= code < 0x7F:
        return None
    if code < 0x100:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: str, style: str = "") -> Text:
    """`text` with every non-printable or non-ASCII character escaped and highlighted."""
    out = Text(style=style)
    plain = []
    for char in text:
        escaped = _escape(char)
        if escaped is None:
            plain.append(char)
            continue
        if plain:
            out.append("".join(plain))
            plain = []
        out.append(escaped, style=MARK_STYLE)
    if plain:
        out.append("".join(plain))
    return out


def unusual(text: str) -> list[str]:
    """Names of the characters `visible` escapes (for a warning line), in order, unique."""
    seen: dict[str, None] = {}
    for char in text:
        if _escape(char) is not None and char not in _NAMED:
            name = unicodedata.name(char, "") or f"{unicodedata.category(char)} control character"
            seen.setdefault(f"U+{ord(char):04X} {name}", None)
    return list(seen)


def clean_output(text: str) -> str:
    """Program output for display: keep newlines and tabs, escape other control characters."""
    if text.isprintable():
        return text
    return "".join(
        c if c in "\n\t" or c.isprintable() or ord(c) >= 0xA0 else f"\\x{ord(c):02x}" for c in text
    )
