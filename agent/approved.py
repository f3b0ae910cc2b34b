""" "Allow always": approvals a person gave, kept as a reviewable policy layer.

The layer lives at `<config_dir>/approved.yaml`, after the user layer. It is regenerated
from `approved-actions.jsonl` (one approved action per line, with who and when), validated
by the policy loader, and replaced atomically, so a bad write never leaves a broken policy.
Being a later layer it can only allow what no earlier layer asks or denies explicitly (and
nothing an org layer's `lock` forbids): "always" is offered only for default decisions.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import yaml

from policies import Action, Decision, PolicySet, allow_rule_yaml, parse_action

HEADER = (
    '# Written by Rempart: approvals given with "allow always".\n'
    "# Review it; delete a rule (or this file) to take an approval back.\n"
)


def is_default_only(decision: Decision) -> bool:
    """True when no explicit ask/deny rule is behind the decision (only a default)."""
    plain = (None, "default")
    if decision.rule not in plain:
        return False
    return all(s.rule in plain for s in decision.segments if s.decision != "allow")


class ApprovedStore:
    def __init__(self, config_dir: Path) -> None:
        self.log = config_dir / "approved-actions.jsonl"
        self.path = config_dir / "approved.yaml"

    def actions(self) -> list[Action]:
        if not self.log.exists():
            return []
        return [
            parse_action(json.loads(line)["action"])
            for line in self.log.read_text().splitlines()
            if line
        ]

    def add(self, action: Action, session_id: str) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        entry = {"ts": time.time(), "session": session_id, "action": action.model_dump()}
        with self.log.open("a") as handle:
            handle.write(json.dumps(entry) + "\n")
        self.render()

    def render(self) -> None:
        document = render_document(self.actions())
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(HEADER + yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
        PolicySet.load([("approved", partial)])  # raises PolicyLoadError: the old file stays
        os.replace(partial, self.path)


def render_document(actions: list[Action]) -> dict[str, Any]:
    document: dict[str, Any] = {"version": 1, "name": "approved-by-user"}
    for action in actions:
        fragment = yaml.safe_load(allow_rule_yaml(action))
        _merge(document, fragment)
    return document


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict):
            _merge(into.setdefault(key, {}), value)
        elif isinstance(value, list):
            target = into.setdefault(key, [])
            target.extend(item for item in value if item not in target)
        else:
            into[key] = value
