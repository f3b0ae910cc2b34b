"""Combining rule hits across layers: strictest wins, later layers can only tighten.

- Every matching rule of every layer is a hit; the strictest hit wins (`allow < ask <
  deny`), whatever the order of rules and layers. On ties the earliest layer and the first
  rule are named.
- An `allow` in a later layer counts only where no earlier layer says ask or deny (that is
  strictest-wins), and where no earlier *locked* layer (`lock: true`) fails to allow the
  action itself: a locked layer's own answer is its strictest hit, or its fallback.
- `sandbox.runtime` takes the strictest any layer asks (`runc < gvisor`, `runtime_choice`).
- With no hits at all, the fallback decides (the strictest `default:` across layers, or a
  built-in answer such as "network destinations not listed are denied").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from policies.model import RUNTIME_RANK, RuntimeChoice
from policies.rules import Layer, Rule


@dataclass(slots=True)
class Outcome:
    winner: Rule | None
    hits: list[Rule] = field(default_factory=list)
    ignored: list[tuple[Rule, str]] = field(default_factory=list)


def strictest(rules: Sequence[Rule]) -> Rule | None:
    best: Rule | None = None
    for rule in rules:
        if best is None or rule.rank > best.rank:
            best = rule
    return best


def combine(
    layers: Sequence[Layer],
    hits: Sequence[Sequence[Rule]],
    own_fallback: Callable[[Layer], Rule | None],
    fallback: Rule | None,
) -> Outcome:
    """Decide from per-layer hits (`hits[i]` belongs to `layers[i]`)."""
    out = Outcome(None)
    locked_by: Layer | None = None
    for layer, layer_hits in zip(layers, hits, strict=True):
        for rule in layer_hits:
            if rule.decision == "allow" and locked_by is not None:
                out.ignored.append(
                    (rule, f"the {locked_by.name} layer is locked and does not allow this itself")
                )
            else:
                out.hits.append(rule)
        if layer.lock and locked_by is None:
            own = strictest(layer_hits) or own_fallback(layer)
            if own is None or own.decision != "allow":
                locked_by = layer
    out.winner = strictest(out.hits) or fallback
    return out


def default_rule(layers: Sequence[Layer], builtin: Rule) -> Rule:
    """The strictest `default:` any layer sets, else `builtin`."""
    return strictest([lay.default for lay in layers if lay.default is not None]) or builtin


def dynamic_rule(layers: Sequence[Layer], builtin: Rule) -> Rule:
    """The strictest `exec_dynamic:` any layer sets, else `builtin` (deny).

    A locked layer that does not set it means the built-in deny: later layers cannot loosen
    it (an unlocked layer without the key leaves the others' setting alone).
    """
    rules = [lay.exec_dynamic for lay in layers if lay.exec_dynamic is not None]
    if any(lay.lock and lay.exec_dynamic is None for lay in layers):
        rules.append(builtin)
    return strictest(rules) or builtin


def runtime_choice(layers: Sequence[Layer]) -> RuntimeChoice:
    """The strictest `sandbox.runtime` any layer asks (`runc < gvisor`), else runc.

    No layer can relax another's choice: a later (or earlier) `runc` under a `gvisor`
    is overruled, and the choice says by whom. On ties the earliest layer is named.
    """
    asked = [(lay, lay.runtime) for lay in layers if lay.runtime is not None]
    if not asked:
        return RuntimeChoice()
    winner, (runtime, source) = asked[0]
    for lay, (value, where) in asked[1:]:
        if RUNTIME_RANK[value] > RUNTIME_RANK[runtime]:
            winner, runtime, source = lay, value, where
    overruled = [
        f"{lay.name} layer ({where}) asks {value}: {runtime} is stricter"
        for lay, (value, where) in asked
        if value != runtime
    ]
    return RuntimeChoice(runtime=runtime, layer=winner.name, source=source, overruled=overruled)
