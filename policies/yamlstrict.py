"""A fail-closed YAML reader: plain data only, every value remembers its `line:col`.

Rejected with a position: anchors and aliases, explicit or custom tags, duplicate keys,
several documents, non-string keys, YAML 1.1 implicit types that surprise people (`no`,
`on`, `0755`, `0x1f`, `1:30`, `.inf`, dates), input over 1 MiB and nesting over 64 levels.
Numbers, booleans (`true`/`false`) and null come back typed, so a schema that wants a
string can say "quote it".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from policies.errors import Problem

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64

Path = tuple[str | int, ...]

_NULL = re.compile(r"~|null|Null|NULL|")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+)(?:[eE][-+]?[0-9]+)?")
_SURPRISES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|y|Y|n|N"), "a YAML 1.1 boolean"),
    (re.compile(r"[-+]?0[0-9_]+"), "an octal number in YAML 1.1"),
    (re.compile(r"[-+]?0[oO][0-7_]+|[-+]?0[xX][0-9a-fA-F_]+|[-+]?0[bB][01_]+"), "a number"),
    (re.compile(r"[-+]?[0-9][0-9_]*_[0-9_]*(?:\.[0-9_]*)?"), "a number with underscores"),
    (re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?"), "a base-60 number"),
    (re.compile(r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"), "a special float"),
    (re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?"), "a date"),
    (re.compile(r"<<|="), "a YAML merge/value key"),
]


@dataclass
class Doc:
    """Plain data read from YAML, plus where each value and each mapping key was."""

    source: str
    value: Any = None
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    raw: dict[Path, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def where(self, path: Path, key: bool = False) -> tuple[int, int]:
        """The nearest known position of `path` (walking up to the document root)."""
        table = self.key_marks if key else self.marks
        probe = path
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.marks:
                return self.marks[probe]
            probe = probe[:-1]
        return self.marks.get((), (1, 1))

    def problem(self, path: Path, message: str, *, key: bool = False, warn: bool = False) -> None:
        line, col = self.where(path, key)
        sev = "warning" if warn else "error"
        self.problems.append(Problem(self.source, line, col, message, sev))


def _pos(mark: Any) -> tuple[int, int]:
    return (int(mark.line) + 1, int(mark.column) + 1)


def _scan_events(text: str, doc: Doc) -> bool:
    """Reject what must never reach the composer; True when it is safe to compose."""
    depth = 0
    docs = 0
    ok = True
    for ev in yaml.parse(text, Loader=yaml.SafeLoader):
        where = _pos(ev.start_mark)
        if isinstance(ev, yaml.AliasEvent):
            doc.problems.append(Problem(doc.source, *where, "aliases (*name) are not allowed"))
            ok = False
            continue
        if isinstance(ev, yaml.DocumentStartEvent):
            docs += 1
            if docs > 1:
                doc.problems.append(Problem(doc.source, *where, "only one YAML document allowed"))
                return False
        anchor = getattr(ev, "anchor", None)
        if anchor is not None:
            doc.problems.append(Problem(doc.source, *where, f"anchors (&{anchor}) are not allowed"))
            ok = False
        tag = getattr(ev, "tag", None)
        if tag is not None and not (isinstance(ev, yaml.ScalarEvent) and tag == "!"):
            doc.problems.append(Problem(doc.source, *where, f"tags ({tag}) are not allowed"))
            ok = False
        if isinstance(ev, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                doc.problems.append(
                    Problem(doc.source, *where, f"nesting deeper than {MAX_DEPTH} levels")
                )
                return False
        elif isinstance(ev, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1
    return ok


def _scalar(node: yaml.ScalarNode, path: Path, doc: Doc) -> Any:
    text: str = node.value
    if node.style is not None:  # quoted or block scalar: always a string
        return text
    doc.raw[path] = text
    if _NULL.fullmatch(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text) and any(c in text for c in ".eE"):
        return float(text)
    for pattern, what in _SURPRISES:
        if pattern.fullmatch(text):
            doc.problem(path, f"`{text}` is read as {what}; quote it if you mean the string")
            return text
    return text


def _walk(node: yaml.Node, path: Path, doc: Doc) -> Any:
    doc.marks[path] = _pos(node.start_mark)
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node, path, doc)
    if isinstance(node, yaml.SequenceNode):
        return [_walk(child, (*path, i), doc) for i, child in enumerate(node.value)]
    assert isinstance(node, yaml.MappingNode)
    out: dict[str, Any] = {}
    seen: dict[str, tuple[int, int]] = {}
    for knode, vnode in node.value:
        kpos = _pos(knode.start_mark)
        if not isinstance(knode, yaml.ScalarNode):
            doc.problems.append(Problem(doc.source, *kpos, "mapping keys must be plain strings"))
            continue
        key = knode.value
        if knode.style is None and _scalar(knode, (*path, key), doc) != key:
            doc.problems.append(
                Problem(doc.source, *kpos, f"key `{key}` is not read as a string; quote it")
            )
        if key in seen:
            first = seen[key]
            doc.problems.append(
                Problem(doc.source, *kpos, f"duplicate key `{key}` (first at line {first[0]})")
            )
            continue
        seen[key] = kpos
        doc.key_marks[(*path, key)] = kpos
        out[key] = _walk(vnode, (*path, key), doc)
    return out


def read_yaml(text: str, source: str) -> Doc:
    """Read one policy document; problems (if any) are in `doc.problems`."""
    doc = Doc(source=source)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        doc.problems.append(Problem(source, 1, 1, "file is larger than 1 MiB"))
        return doc
    if "\x00" in text:
        doc.problems.append(Problem(source, 1, 1, "file contains a NUL byte"))
        return doc
    try:
        if not _scan_events(text, doc):
            return doc
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = _pos(mark) if mark is not None else (1, 1)
        doc.problems.append(Problem(source, line, col, f"invalid YAML: {exc.problem or exc}"))
        return doc
    except yaml.YAMLError as exc:
        doc.problems.append(Problem(source, 1, 1, f"invalid YAML: {exc}"))
        return doc
    if node is None:
        doc.problems.append(Problem(source, 1, 1, "empty document"))
        return doc
    doc.value = _walk(node, (), doc)
    return doc
