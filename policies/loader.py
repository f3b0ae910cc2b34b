"""Policy text → validated `PolicyFile` → compiled `Layer`, with `file:line:col` problems."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from policies.ruleexamples import check_examples
from policies.rules import Compiler, Layer
from policies.schema import PolicyFile
from policies.yamlstrict import Doc, Path, read_yaml

_TYPE_WORDS = {bool: "a boolean", int: "a number", float: "a number", type(None): "null"}


def _unwrap(tp: Any) -> list[Any]:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return [m for a in get_args(tp) for m in _unwrap(a)]
    if origin is typing.Literal:
        return []
    return [tp]


def _keys_at(model: type[BaseModel], path: Path) -> list[str] | None:
    """The keys allowed in the mapping at `path` (None when it is not a model)."""
    current: list[Any] = [model]
    for part in path:
        nxt: list[Any] = []
        for tp in current:
            origin = get_origin(tp)
            if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
                field = tp.model_fields.get(part)
                if field is not None:
                    nxt.extend(_unwrap(field.annotation))
            elif origin is list and isinstance(part, int):
                nxt.extend(_unwrap(get_args(tp)[0]))
            elif origin is dict and isinstance(part, str):
                nxt.extend(_unwrap(get_args(tp)[1]))
        current = nxt
    keys = [
        k for tp in current if isinstance(tp, type) and issubclass(tp, BaseModel)
        for k in tp.model_fields
    ]  # fmt: skip
    return keys or None


def _clean_loc(value: Any, loc: tuple[Any, ...]) -> Path:
    """Drop pydantic's union-member names from a location, following the data."""
    out: list[str | int] = []
    for part in loc:
        in_dict = isinstance(value, dict) and isinstance(part, str) and part in value
        in_list = isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)
        if in_dict or in_list:
            value = value[part]
            out.append(part)
    return tuple(out)


def _message(doc: Doc, model: type[BaseModel], err: Any, path: Path, extra: str | None) -> str:
    kind = err["type"]
    dotted = ".".join(str(p) for p in path) or "(top level)"
    if extra is not None:
        allowed = _keys_at(model, path) or []
        close = difflib.get_close_matches(extra, allowed, n=1, cutoff=0.6)
        hint = f"; did you mean `{close[0]}`?" if close else f"; allowed: {', '.join(allowed)}"
        return f"unknown key `{extra}` in {dotted}{hint}"
    if kind == "missing":
        return f"missing required key `{dotted}`"
    value = err.get("input")
    raw = doc.raw.get(path)
    if kind.endswith("_type") and raw is not None and not isinstance(value, str | dict | list):
        what = _TYPE_WORDS.get(type(value), type(value).__name__)
        if kind == "string_type":
            return f"{dotted}: `{raw}` is read by YAML as {what}; quote it to make it a string"
    return f"{dotted}: {err['msg']}"


def validate(doc: Doc, model: type[BaseModel]) -> Any:
    """Validate `doc.value` against `model`; problems go into `doc`. None when invalid."""
    try:
        return model.model_validate(doc.value, strict=True)
    except ValidationError as exc:
        seen: set[Path] = set()
        for err in exc.errors():
            loc = tuple(err["loc"])
            extra = None
            if err["type"] == "extra_forbidden":
                extra = str(loc[-1])
                path = (*_clean_loc(doc.value, loc[:-1]), extra)
                parent = path[:-1]
                if path in seen:
                    continue
                seen.add(path)
                doc.problem(path, _message(doc, model, err, parent, extra), key=True)
                continue
            path = _clean_loc(doc.value, loc)
            if err["type"] == "missing" and loc:
                path = (*_clean_loc(doc.value, loc[:-1]), str(loc[-1]))
            if path in seen or any(path[: len(s)] == s for s in seen if s):
                continue
            seen.add(path)
            doc.problem(path, _message(doc, model, err, path, None))
        return None


def compile_text(name: str, index: int, source: str, text: str) -> tuple[Layer | None, Doc]:
    """One policy document → a compiled layer (None when it has errors, see `doc.problems`)."""
    doc = read_yaml(text, source)
    if any(p.severity == "error" for p in doc.problems):
        return None, doc
    if not isinstance(doc.value, dict):
        doc.problem((), "a policy file is a mapping (`version: 1`, `files:`, `exec:` ...)")
        return None, doc
    policy = validate(doc, PolicyFile)
    if policy is None:
        return None, doc
    layer = Compiler(name, index, doc, policy, text).compile()
    check_examples(layer, policy, doc)
    if any(p.severity == "error" for p in doc.problems):
        return None, doc
    return layer, doc
