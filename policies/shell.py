"""Shell commands → simple commands (segments), with tree-sitter-bash.

Why tree-sitter-bash: it is a C parser (microseconds per command), it reads the whole bash
grammar (lists, pipelines, subshells, compound commands, here-docs, substitutions) and it
never gives up: what it cannot read becomes an ERROR node, which we turn into a dynamic
segment, so the evaluator fails closed. bashlex is pure Python, slower, and raises on
constructs it does not know.

A segment is one simple command: its argv as tokens (literal, glob, or dynamic), its
redirections, and `dynamic` (why allow rules must not apply) when it has any.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

import tree_sitter
import tree_sitter_bash

MAX_COMMAND = 64 * 1024
MAX_DEPTH = 100
MAX_SEGMENTS = 512

LIT, GLOB, DYN, SLOT = 0, 1, 2, 3  # token kinds; SLOT: exactly one unknown word (`{}`)


@dataclass(frozen=True, slots=True)
class Tok:
    text: str
    kind: int = LIT


@dataclass(frozen=True, slots=True)
class Redirect:
    op: str  # "read" | "write"
    target: Tok


@dataclass(slots=True)
class Segment:
    source: str
    argv: list[Tok]
    redirects: list[Redirect] = field(default_factory=list)
    dynamic: str | None = None


_STRUCTURE = frozenset(
    {"program", "list", "pipeline", "subshell", "compound_statement", "if_statement",
     "elif_clause", "else_clause", "while_statement", "for_statement", "case_statement",
     "case_item", "do_group", "negated_command", "c_style_for_statement"}
)  # fmt: skip
_EXPRESSION = frozenset(
    {"test_command", "binary_expression", "unary_expression", "parenthesized_expression",
     "postfix_expression", "ternary_expression", "word", "string", "raw_string", "number",
     "concatenation", "variable_name", "expansion", "simple_expansion", "arithmetic_expansion",
     "string_content", "test_operator", "special_variable_name", "subscript", "array",
     "brace_expression", "translated_string", "ansi_c_string", "regex", "extglob_pattern",
     "heredoc_body", "heredoc_content", "heredoc_start", "heredoc_end", "file_descriptor"}
)  # fmt: skip
_SUBST = frozenset({"command_substitution", "process_substitution"})
_REDIRECTS = frozenset({"file_redirect", "heredoc_redirect", "herestring_redirect"})
_WRITE_OPS = frozenset({">", ">>", ">|", "&>", "&>>", ">&", "<>"})
_DQ_ESCAPES = {"\\": "\\", '"': '"', "$": "$", "`": "`", "\n": ""}

_PLAIN = re.compile(r"[^\\*?\[$`{@!+~]*")
_local = threading.local()


def _parser() -> Any:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_bash.language()))
        _local.parser = parser
    return parser


def _text(node: Any) -> str:
    return node.text.decode("utf-8", "replace")  # type: ignore[no-any-return]


def _unquoted_word(raw: str) -> Tok:
    if raw.startswith("~"):
        return Tok(raw, DYN)
    if _PLAIN.fullmatch(raw):
        return Tok(raw)
    out: list[str] = []
    kind = LIT
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == "\\" and i + 1 < n:
            out.append("" if raw[i + 1] == "\n" else raw[i + 1])
            i += 2
            continue
        if c in "*?[":
            kind = max(kind, GLOB)
        if c in "$`" or (c in "@!+*?" and i + 1 < n and raw[i + 1] == "("):
            return Tok(raw, DYN)  # expansion or extended glob
        if c == "{" and ("," in raw or ".." in raw):
            return Tok(raw, DYN)  # brace expansion
        out.append(c)
        i += 1
    return Tok("".join(out), kind)


def _dq_content(raw: str) -> str:
    if "\\" not in raw:
        return raw
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        if raw[i] == "\\" and i + 1 < n and raw[i + 1] in _DQ_ESCAPES:
            out.append(_DQ_ESCAPES[raw[i + 1]])
            i += 2
        else:
            out.append(raw[i])
            i += 1
    return "".join(out)


class _Walker:
    def __init__(self) -> None:
        self.segments: list[Segment] = []

    def pseudo(self, node: Any, reason: str) -> None:
        self.segments.append(Segment(_text(node)[:500], [], [], reason))

    def subs(self, node: Any, depth: int) -> bool:
        """Visit command/process substitutions under `node`; True when there were any."""
        found = False
        stack = [(node, depth)]
        while stack:
            cur, d = stack.pop()
            if d > MAX_DEPTH:
                self.pseudo(node, "nesting deeper than the parser limit")
                return True
            if cur.type in _SUBST:
                found = True
                for child in cur.named_children:
                    self.visit(child, d + 1)
                continue
            stack.extend((c, d + 1) for c in cur.children)
        return found

    def word(self, node: Any, depth: int, nested: list[Any]) -> Tok:
        t = node.type
        if depth > MAX_DEPTH:
            return Tok(_text(node)[:200], DYN)
        if t == "word":
            return _unquoted_word(_text(node))
        if t == "number":
            return Tok(_text(node))
        if t == "raw_string":
            return Tok(_text(node)[1:-1])
        if t == "string":
            parts: list[str] = []
            for child in node.named_children:
                if child.type != "string_content":
                    nested.append(node)
                    return Tok(_text(node), DYN)
                parts.append(_dq_content(_text(child)))
            return Tok("".join(parts))
        if t == "concatenation":
            raw = _text(node)
            if "{" in raw and "}" in raw and ("," in raw or ".." in raw):
                return Tok(raw, DYN)  # brace expansion
            toks = [self.word(c, depth + 1, nested) for c in node.children]
            kind = max((tk.kind for tk in toks), default=LIT)
            text = _text(node) if kind == DYN else "".join(tk.text for tk in toks)
            return Tok(text, kind)
        nested.append(node)
        return Tok(_text(node), DYN)

    def redirect(self, node: Any, depth: int, seg: Segment) -> None:
        nested: list[Any] = []
        if node.type == "file_redirect":
            op = next((_text(c) for c in node.children if not c.is_named), "")
            for dest in node.children_by_field_name("destination"):
                if (dest.type == "number" and op in (">&", "<&")) or _text(dest) == "-":
                    continue
                tok = self.word(dest, depth + 1, nested)
                seg.redirects.append(Redirect("write" if op in _WRITE_OPS else "read", tok))
                if op == "<>":
                    seg.redirects.append(Redirect("read", tok))
                if tok.kind != LIT and seg.dynamic is None:
                    seg.dynamic = f"redirection to a non-literal path `{tok.text[:80]}`"
        else:
            for child in node.named_children:
                if child.type in _STRUCTURE or child.type in ("command", "redirected_statement"):
                    self.visit(child, depth + 1)  # tree-sitter hangs the rest of the line here
                elif self.subs(child, depth + 1) and seg.dynamic is None:
                    seg.dynamic = "command substitution in a here-document"
        for sub in nested:
            if self.subs(sub, depth + 1) and seg.dynamic is None:
                seg.dynamic = "command substitution"

    def command(self, node: Any, depth: int, redirects: list[Any], whole: Any = None) -> None:
        seg = Segment(_text(whole if whole is not None else node)[:500], [])
        self.segments.append(seg)
        nested: list[Any] = []
        for child in node.children:
            t = child.type
            if t == "variable_assignment":
                seg.dynamic = seg.dynamic or f"variable assignment `{_text(child)[:80]}`"
                self.subs(child, depth + 1)
            elif t == "command_name":
                inner = child.named_children
                tok = self.word(inner[0], depth + 1, nested) if inner else Tok("", DYN)
                seg.argv.append(tok)
                if tok.kind != LIT:
                    seg.dynamic = seg.dynamic or f"non-literal command name `{tok.text[:80]}`"
            elif t in _REDIRECTS:
                self.redirect(child, depth + 1, seg)
            elif child.is_named and t != "comment":
                tok = self.word(child, depth + 1, nested)
                seg.argv.append(tok)
                if tok.kind == DYN:
                    seg.dynamic = seg.dynamic or f"expansion `{tok.text[:80]}`"
        for red in redirects:
            self.redirect(red, depth + 1, seg)
        for sub in nested:
            if self.subs(sub, depth + 1):
                seg.dynamic = "command substitution"

    def visit(self, node: Any, depth: int) -> None:
        if len(self.segments) > MAX_SEGMENTS:
            if self.segments[-1].dynamic != "too many commands":
                self.pseudo(node, "too many commands")
            return
        if depth > MAX_DEPTH:
            self.pseudo(node, "nesting deeper than the parser limit")
            return
        t = node.type
        if t == "command":
            self.command(node, depth, [])
        elif t == "redirected_statement":
            self.redirected(node, depth)
        elif t in _STRUCTURE:
            for child in node.children:
                if child.is_named or child.is_missing or child.type in _SUBST:
                    self.visit(child, depth + 1)
        elif t in ("variable_assignment", "variable_assignments"):
            self.pseudo(node, "variable assignment")
            self.subs(node, depth + 1)
        elif t == "function_definition":
            self.pseudo(node, "function definition")
            for child in node.named_children:
                self.visit(child, depth + 1)
        elif t == "declaration_command":
            self.pseudo(node, f"`{_text(node).split()[0]}` changes the shell's variables")
            self.subs(node, depth + 1)
        elif t == "unset_command":
            argv = [Tok("unset"), *(Tok(_text(c)) for c in node.named_children)]
            self.segments.append(Segment(_text(node)[:500], argv))
        elif t == "comment":
            return
        elif t == "ERROR" or node.is_missing:
            self.pseudo(node, "the shell parser cannot read this")
            for child in node.named_children:
                self.visit(child, depth + 1)
        elif t in _EXPRESSION:
            if self.subs(node, depth + 1):
                self.pseudo(node, "command substitution")
        elif t in _SUBST:
            self.pseudo(node, "command substitution")
            for child in node.named_children:
                self.visit(child, depth + 1)
        else:
            self.pseudo(node, f"unsupported shell construct `{t}`")
            self.subs(node, depth + 1)

    def redirected(self, node: Any, depth: int) -> None:
        body = node.child_by_field_name("body")
        reds = [c for c in node.children if c.type in _REDIRECTS]
        if body is not None and body.type == "command":
            self.command(body, depth + 1, reds, node)
        else:
            if body is not None:
                self.visit(body, depth + 1)
            seg = Segment(_text(node)[:500], [])
            for red in reds:
                self.redirect(red, depth + 1, seg)
            if seg.redirects or seg.dynamic:
                self.segments.append(seg)
        for child in node.children:
            if child.type == "ERROR" or child.is_missing:
                self.pseudo(child, "the shell parser cannot read this")


def parse_command(command: str) -> list[Segment]:
    """Every simple command in `command`; the caller checks `MAX_COMMAND` first."""
    # A final newline changes nothing in the shell, but tree-sitter-bash takes a slow
    # error-recovery path (~50 µs) on pipelines of 3+ commands that end at EOF.
    tree = _parser().parse(command.encode("utf-8", "surrogatepass") + b"\n")
    walker = _Walker()
    walker.visit(tree.root_node, 0)
    if tree.root_node.has_error and not any(s.dynamic for s in walker.segments):
        walker.pseudo(tree.root_node, "the shell parser cannot read this")
    return walker.segments
