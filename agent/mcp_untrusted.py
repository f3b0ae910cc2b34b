"""What an MCP server says is untrusted: definitions are scanned, results are cleaned.

A tool's definition goes into the model's prompt, so a server can hide instructions in it
(tool poisoning), in the description or anywhere in the input schema (a parameter's
description, title, enum, default, example, even a property name): invisible, filler or
Unicode tag characters, "ignore previous instructions", `<IMPORTANT>` blocks, comments,
base64, look-alike letters, or orders about other tools. `scan_definition` scans every
string, after `normalise` (entities, NFKC, look-alikes), and names each finding with where
it is; the findings are shown in `rempart mcp tools`, in the pin diff and in the approval.
The scan is a hint for a person, not a wall: `cleaned` strips the hidden characters from
everything handed to the model, the policy and the sandbox do the rest.

A result is capped in size and in nesting depth, and its control, format and tag
characters are removed, before the model sees it (marked as untrusted output).
"""

from __future__ import annotations

import base64
import html
import json
import re
import unicodedata
from typing import Any

MAX_RESULT_CHARS = 100_000
MAX_DEPTH = 8
MAX_SCHEMA_DEPTH = 64  # deeper parts of a tool's definition are not scanned but cut
_TOO_DEEP = f"[nested deeper than {MAX_SCHEMA_DEPTH} levels: cut]"
_KEEP = {"\n", "\t"}
# letters that show as nothing (Hangul and halfwidth fillers, the braille blank): used as
# invisible separators; the Unicode tag block (U+E0000-E007F) hides a whole second text
_FILLERS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}
# Cyrillic and Greek letters drawn like Latin ones ("Іgnоre" with Cyrillic І and о)
_CONFUSABLES = str.maketrans(
    "АВЕКМНОРСТХУаеорсухіјѕԁһӏІЈЅԜԝѴѵΑΒΕΖΗΙΚΜΝΟΡΤΥΧαοιρνκχυ",
    "ABEKMHOPCTXYaeopcyxijsdhlIJSWwVvABEZHIKMNOPTYXaoipvkxu",
)
_GAP = r"[\s\S]{0,160}?"
_OVERRIDE = re.compile(
    rf"\b(ignore|disregard|forget|override|overrule|bypass)\b{_GAP}"
    r"\b(previous|prior|above|earlier|preceding|all|system|original|existing)\b"
    rf"{_GAP}\b(instructions?|prompts?|rules?|messages?|guidance|guidelines?|directions?)\b"
    r"|\b(previous|prior|earlier|above|original|existing|old)\s+(instructions?|prompts?|rules?"
    r"|guidance|guidelines?|directions?|policy|polic(y|ies))\s+(is|are)\s+(now\s+)?"
    r"(obsolete|void|invalid|superseded|outdated|cancel+ed|no longer)"
    r"|\bnew (policy|instructions?|rules?) from\b|\bfrom now on\b",
    re.IGNORECASE,
)
_BLOCK_WORDS = r"(important|system|instructions?|secret|hidden|admin|assistant)"
_TAG_BLOCK = re.compile(
    rf"<\s*/?\s*{_BLOCK_WORDS}\b[^>]*>|\[\s*/?\s*{_BLOCK_WORDS}\s*\]", re.IGNORECASE
)
_SECRECY = re.compile(
    r"\b(do not|don't|dont|never|without)\s+(tell|mention|inform|reveal|show|alert|notify"
    r"|telling|mentioning|informing|letting|let)\b.{0,60}\b(user|human|person|operator"
    r"|anyone|them|people)\b"
    r"|\bkeep (this|it)\b.{0,20}\b(secret|hidden|private)\b",
    re.IGNORECASE | re.DOTALL,
)
_SENSITIVE = re.compile(
    r"(~/\.ssh|\.ssh/|\bssh\b.{0,20}\bkeys?\b|private[ _-]?keys?|id_(rsa|dsa|ecdsa|ed25519)"
    r"|\.env\b|\bdot[ -]?env\b|/etc/(passwd|shadow)|\.aws/credentials|api[_ ]?keys?"
    r"|\.netrc|\bsecrets? (folder|directory|dir|files?)\b)",
    re.IGNORECASE,
)
_COMMENT = re.compile(r"<!--|\[//\]\s*:\s*#|\[[^\]\n]*\]\s*:\s*#\s*\(")
_HIDDEN_LINK = re.compile(r"\[\s*\]\([^)]*\)|!\[\s*\]\([^)]*\)")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{24,}={0,2}")
_LATIN_AND_OTHER = re.compile(r"\w*[A-Za-z]\w*")


def _hidden(char: str) -> bool:
    category = unicodedata.category(char)
    return (
        (category in ("Cc", "Cf", "Co", "Cs") and char not in _KEEP)
        or 0xE0000 <= ord(char) <= 0xE007F
        or char in _FILLERS
        or char == "\u034f"  # combining grapheme joiner: a mark with no look of its own
    )


def _orphan_marks(text: str) -> int:
    """Combining marks with no letter to sit on (at the start, after a space or a symbol):
    a run of them draws nothing, or garbage, yet a model reads them."""
    count, base = 0, False
    for char in text:
        if unicodedata.category(char).startswith("M"):
            count += 0 if base else 1
        else:
            base = char.isalnum()
    return count


def normalise(text: str) -> str:
    """`text` as the model would read it: entities decoded, compatibility forms folded
    (NFKC: fullwidth letters), look-alike letters made Latin, invisible characters dropped
    (filler letters become spaces: they are used as separators)."""
    text = html.unescape(html.unescape(text))
    text = "".join(" " if c in _FILLERS else c for c in text)
    text = "".join(c for c in text if not _hidden(c))
    text = unicodedata.normalize("NFKC", text)
    return text.translate(_CONFUSABLES)


def _look_alikes(text: str) -> bool:
    """A word mixing Latin with Cyrillic or Greek letters."""
    words = _LATIN_AND_OTHER.findall(text)
    return any(0x0370 <= ord(c) <= 0x052F for word in words for c in word)


def _decoded_base64(text: str) -> list[str]:
    """Texts hidden as base64 runs of 24 characters or more (only those that decode to
    readable text)."""
    found = []
    for run in _BASE64.findall(text):
        padded = run + "=" * (-len(run) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                raw = decode(padded)
                plain = raw.decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                continue
            if plain and sum(c.isprintable() or c.isspace() for c in plain) / len(plain) > 0.9:
                found.append(plain)
                break
    return found


def _patterns(text: str) -> list[str]:
    found = []
    if _OVERRIDE.search(text):
        found.append("tells the model to ignore its instructions")
    if (tag := _TAG_BLOCK.search(text)) is not None:
        found.append(f"an instruction block {tag.group(0)!r}")
    if _SECRECY.search(text):
        found.append("tells the model to keep something from the user")
    if _SENSITIVE.search(text):
        found.append("mentions secrets or credential files")
    if _COMMENT.search(text):
        found.append("a hidden comment (HTML or markdown)")
    if _HIDDEN_LINK.search(text):
        found.append("a link with no visible text")
    return found


def scan(description: str, other_tools: list[str]) -> list[str]:
    """Findings of hidden instructions in one text of a tool's definition (empty: nothing
    seen). A hint for a person, not a guarantee: a rephrasing can always get through."""
    found: list[str] = []
    hidden = [c for c in description if _hidden(c)]
    if hidden:
        tags = sum(1 for c in hidden if 0xE0000 <= ord(c) <= 0xE007F)
        what = f"{tags} Unicode tag characters" if tags else f"{len(hidden)} invisible characters"
        found.append(f"hidden text: {what}")
    if marks := _orphan_marks(description):
        found.append(f"hidden text: {marks} combining marks with no letter")
    if _look_alikes(description):
        found.append("look-alike letters (Cyrillic or Greek inside Latin words)")
    visible = normalise(description)
    decoded = "".join(chr(ord(c) - 0xE0000) for c in description if 0xE0020 <= ord(c) <= 0xE007E)
    texts = [visible, normalise(decoded)]
    for plain in _decoded_base64(visible):
        found.append("base64 text that decodes to words")
        texts.append(normalise(plain))
    for text in texts:
        found.extend(_patterns(text))
        if "_" in text:  # ignore_previous_instructions as a property name
            found.extend(_patterns(text.replace("_", " ")))
    lowered = "\n".join(texts).lower()
    for name in other_tools:
        loose = r"[\s_-]*".join(re.escape(part) for part in re.split(r"[_\s-]+", name.lower()))
        if re.search(rf"(?<![\w.]){loose}(?![\w])", lowered):
            found.append(f"names another tool: {name}")
    return sorted(set(found))


def strings(value: Any, where: str, depth: int = 0) -> list[tuple[str, str]]:
    """Every string in a JSON value (keys included), with where it is:
    `inputSchema.properties.path.description`; a key is `...properties.path (name)`.
    Past `MAX_SCHEMA_DEPTH`, the place is given with the marker `_TOO_DEEP` as its text."""
    out: list[tuple[str, str]] = []
    if isinstance(value, dict | list) and depth >= MAX_SCHEMA_DEPTH:
        out.append((where, _TOO_DEEP))
    elif isinstance(value, str):
        out.append((where, value))
    elif isinstance(value, dict):
        for key, item in value.items():
            here = f"{where}.{strip(str(key))[:80]}"
            out.append((f"{here} (name)", str(key)))
            out.extend(strings(item, here, depth + 1))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.extend(strings(item, f"{where}[{index}]", depth + 1))
    return out


def scan_definition(definition: dict[str, Any], other_tools: list[str]) -> list[str]:
    """Findings in every string of a tool's definition (description, input schema: names,
    descriptions, titles, enums, defaults, examples at any depth; annotations), each
    prefixed with where it is (`inputSchema.properties.path.description: ...`)."""
    where = {"input_schema": "inputSchema"}
    found: list[str] = []
    for key, value in definition.items():
        if key == "name":
            continue  # checked against [A-Za-z0-9_.-] by the pins
        for place, text in strings(value, where.get(key, key)):
            if text is _TOO_DEEP:
                found.append(f"{place}: nested deeper than {MAX_SCHEMA_DEPTH} levels (cut)")
                continue
            found.extend(f"{place}: {finding}" for finding in scan(text, other_tools))
    return sorted(set(found))


def cleaned(value: Any, depth: int = 0) -> Any:
    """A JSON value whose strings (keys included) lost their control, format, tag and
    filler characters: what the model is handed of a tool's schema (cut past
    `MAX_SCHEMA_DEPTH`)."""
    if isinstance(value, dict | list) and depth >= MAX_SCHEMA_DEPTH:
        return _TOO_DEEP
    if isinstance(value, dict):
        return {strip(str(k)): cleaned(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [cleaned(v, depth + 1) for v in value]
    if isinstance(value, str):
        return strip(value)
    return value


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
