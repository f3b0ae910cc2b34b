"""Rempart's policy engine: one declarative policy for files, processes, network and MCP.

Imports nothing else of ours. Entry points: `PolicySet.load` / `PolicySet.from_texts`,
`PolicySet.evaluate(action) -> Decision`, `parse_action`, `allow_rule_yaml`.
"""

from policies.actions import (
    Action,
    Exec,
    FsRead,
    FsWrite,
    McpCall,
    McpStart,
    NetConnect,
    parse_action,
)
from policies.errors import PolicyInputError, PolicyLoadError, Problem, RempartError
from policies.evaluator import PolicySet
from policies.model import (
    Decision,
    DecisionKind,
    LayerInfo,
    Limits,
    RuntimeChoice,
    RuntimeKind,
    SegmentDecision,
)
from policies.snippets import allow_rule_yaml

__all__ = [
    "Action",
    "Decision",
    "DecisionKind",
    "Exec",
    "FsRead",
    "FsWrite",
    "LayerInfo",
    "Limits",
    "McpCall",
    "McpStart",
    "NetConnect",
    "PolicyInputError",
    "PolicyLoadError",
    "PolicySet",
    "Problem",
    "RempartError",
    "RuntimeChoice",
    "RuntimeKind",
    "SegmentDecision",
    "allow_rule_yaml",
    "parse_action",
]
