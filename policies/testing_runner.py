"""`rempart policy test`: rule examples plus `tests:` (inline or in a `*.tests.yaml` file).

A policy file `X.yaml` given on its own also runs `X.tests.yaml` next to it when there is
one. A tests file names its policy files (`policies:`, relative to itself, in layer order);
without that key, `X.tests.yaml` tests `X.yaml`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from policies.actions import parse_action
from policies.errors import PolicyInputError, PolicyLoadError
from policies.evaluator import PolicySet
from policies.loader import validate
from policies.schema import PolicyFile, PolicyTest, TestsFile
from policies.yamlstrict import Doc, read_yaml

LAYER_NAMES = ("org", "project", "user")


@dataclass
class Report:
    passed: int = 0
    failed: int = 0
    examples: int = 0
    lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def summary(self) -> str:
        state = "OK" if self.ok else "FAILED"
        return (
            f"{state}: {self.passed} passed, {self.failed} failed, {self.examples} examples checked"
        )


def _is_tests_file(path: Path) -> bool:
    return path.name.endswith((".tests.yaml", ".tests.yml"))


def _layer_files(paths: list[Path]) -> list[tuple[str, Path]]:
    return [
        (LAYER_NAMES[i] if i < len(LAYER_NAMES) else f"extra{i}", p) for i, p in enumerate(paths)
    ]


def _count_examples(policy: PolicySet) -> int:
    total = 0
    for path in {lay.path for lay in policy.layers}:
        doc = read_yaml(Path(path).read_text(encoding="utf-8"), path)
        parsed = validate(doc, PolicyFile) if isinstance(doc.value, dict) else None
        if parsed is None:
            continue
        rules = [*parsed.exec, *parsed.mcp.tools]
        for lists in (parsed.files.read, parsed.files.write, parsed.network):
            for entries in (lists.allow, lists.ask, lists.deny):
                rules.extend(e for e in entries if not isinstance(e, str))
        total += sum(len(r.examples.match) + len(r.examples.not_match) for r in rules if r.examples)
    return total


def _run(policy: PolicySet, tests: list[PolicyTest], doc: Doc, key: str, report: Report) -> None:
    for i, test in enumerate(tests):
        line, _ = doc.where((key, i))
        where = f"{doc.source}:{line}"
        label = test.name or str(test.action)[:100]
        try:
            action = parse_action(test.action)
        except PolicyInputError as exc:
            report.failed += 1
            report.lines.append(f"FAIL {where}: {label}: {exc}")
            continue
        got = policy.evaluate(action)
        if got.decision == test.expect:
            report.passed += 1
            continue
        report.failed += 1
        report.lines.append(
            f"FAIL {where}: {label}: expected {test.expect}, got {got.decision} "
            f"({got.rule}, {got.source or 'built in'}): {got.reason}"
        )


def _load(files: list[tuple[str, Path]], report: Report) -> PolicySet | None:
    try:
        policy = PolicySet.load(files)
    except PolicyLoadError as exc:
        report.failed += 1
        report.lines.append(exc.render())
        return None
    report.examples += _count_examples(policy)
    return policy


def run_tests_file(path: Path, report: Report) -> None:
    doc = read_yaml(path.read_text(encoding="utf-8"), str(path))
    parsed = validate(doc, TestsFile) if not doc.problems else None
    if parsed is None:
        report.failed += 1
        report.lines.extend(str(p) for p in doc.problems)
        return
    names = parsed.policies or [path.name.replace(".tests.", ".")]
    policy = _load(_layer_files([path.parent / n for n in names]), report)
    if policy is not None:
        _run(policy, parsed.tests, doc, "tests", report)


def run_policy_file(path: Path, report: Report) -> None:
    policy = _load([("org", path)], report)
    if policy is None:
        return
    doc = read_yaml(path.read_text(encoding="utf-8"), str(path))
    parsed = validate(doc, PolicyFile)
    if parsed is not None:
        _run(policy, list(parsed.tests), doc, "tests", report)
    for suffix in (".tests.yaml", ".tests.yml"):
        companion = path.with_name(path.stem + suffix)
        if companion.exists():
            run_tests_file(companion, report)


def run(paths: list[Path]) -> Report:
    report = Report()
    for path in paths:
        try:
            if _is_tests_file(path):
                run_tests_file(path, report)
            else:
                run_policy_file(path, report)
        except (OSError, UnicodeDecodeError) as exc:
            report.failed += 1
            report.lines.append(f"{path}:1:1: cannot read: {exc}")
    return report
