"""Judging exec actions: every simple command, every wrapped command, every file argument."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from policies.execmatch import MAX_DP, MAYBE, YES, RegexBudget, match_level
from policies.fileargs import file_args
from policies.gitargs import without_globals
from policies.globs import GlobError, has_glob_chars, shell_glob_regex, token_regex
from policies.interpreters import code_reason
from policies.judge import DEFAULT_ASK, builtin, describe, judge_path
from policies.layering import Outcome, combine, default_rule, dynamic_rule, strictest
from policies.model import RANK, SegmentDecision
from policies.paths import fold_text, normalise
from policies.rules import Layer, Rule
from policies.shell import GLOB, LIT, MAX_COMMAND, Segment, Tok, parse_command
from policies.wrappers import MAX_UNWRAP, analyse, command_name

DYNAMIC_DENY = builtin("exec-dynamic", "deny", "dynamic commands are denied (exec_dynamic unset)")
UNKNOWN_CWD = "/.rempart-unknown-cwd"  # after `cd -`, `cd $X`, `popd`: relative paths are unknown
CWD_UNKNOWN = builtin(
    "unknown-cwd", "deny",
    "a relative path after a `cd`/`pushd`/`popd` whose target cannot be known is judged as "
    "outside the workspace",
)  # fmt: skip
CD_FLAGS = frozenset("LPe@")


@dataclass(slots=True)
class Trace:
    """How one (possibly wrapped) simple command was judged, for decisions and `explain`."""

    source: str
    argv: list[str]
    rule: Rule
    reason: str
    hits: list[Rule] = field(default_factory=list)
    ignored: list[tuple[Rule, str]] = field(default_factory=list)
    dynamic: str | None = None
    paths: list[tuple[Rule, str]] = field(default_factory=list)
    depth: int = 0

    def decision(self) -> SegmentDecision:
        rule = self.rule
        builtin_rule = rule.layer == "builtin"
        return SegmentDecision(
            command=self.source, argv=self.argv, decision=rule.decision,
            rule=rule.id, layer=None if builtin_rule else rule.layer,
            source=rule.source, reason=self.reason,
        )  # fmt: skip


class ExecJudge:
    def __init__(self, layers: Sequence[Layer]) -> None:
        self.layers = layers
        self.default = default_rule(layers, DEFAULT_ASK)
        self.dynamic = dynamic_rule(layers, DYNAMIC_DENY)
        self.probes: dict[str, list[tuple[str, bool]]] = {
            "read": [p for lay in layers for p in lay.probes],
            "write": [p for lay in layers for p in lay.write_probes + lay.probes],
        }

    def judge(self, command: str, cwd: str) -> list[Trace]:
        if len(command) > MAX_COMMAND:
            rule = builtin("command-too-long", "deny", f"commands over {MAX_COMMAND} characters")
            return [Trace(command[:80] + "…", [], rule, describe(rule, "this command"))]
        if "\x00" in command:
            rule = builtin("nul-byte", "deny", "the command contains a NUL byte")
            return [Trace(command[:80], [], rule, describe(rule, "this command"))]
        segments = parse_command(command)
        if not segments:
            rule = builtin("empty-command", "deny", "there is no command to run")
            return [Trace(command[:80], [], rule, describe(rule, "this command"))]
        traces: list[Trace] = []
        budget = RegexBudget()
        for seg in segments:
            self.segment(seg, cwd, 0, traces, budget)
            cwd = next_cwd(seg, cwd)
        return traces

    def _hits(self, argv: list[Tok], dynamic: bool, budget: RegexBudget) -> list[list[Rule]]:
        exact = [command_name(argv[0].text), *(t.text for t in argv[1:])]
        folded = [fold_text(t) for t in exact]
        names = {folded[0]}
        base = folded[0].rsplit("/", 1)[-1]
        if base != folded[0]:
            names.add(base)  # `./git push` is not `git`, but deny rules for git still apply
        base_folded = [base, *folded[1:]]
        all_lit = all(t.kind == LIT for t in argv)
        # `git -C . push`: deny/ask rules also see the argv without git's global options
        bare = without_globals(argv) if base == "git" else None
        variants = [(argv, folded, base_folded)]
        if bare is not None:
            bare_folded = [fold_text(t.text) for t in bare[1:]]
            variants.append((bare, [folded[0], *bare_folded], [base, *bare_folded]))
        # a literal second word rules out the rules whose second token is another literal
        # (both variants must agree on it: `git -C . push` is also judged as `git push`);
        # not past MAX_DP words, where deny/ask rules match any longer non-literal argv
        second = None
        lit2 = len(argv) > 1 and argv[0].kind == LIT and argv[1].kind == LIT
        if lit2 and len(argv) <= MAX_DP:
            second = folded[1]
            if bare is not None and (len(bare) < 2 or fold_text(bare[1].text) != second):
                second = None
        out: list[list[Rule]] = []
        for lay in self.layers:
            hits: list[Rule] = []
            for name in names:
                for ep in lay.exec_candidates(name, second):
                    rule = ep.rule
                    simple = all_lit and ep.simple
                    if rule.decision == "allow":
                        if dynamic or name != folded[0]:
                            continue
                        level = match_level(ep.toks, argv, exact, ep.exact, False, simple, budget)
                        if level == YES:
                            hits.append(rule)
                        continue
                    for k, (toks, own, based) in enumerate(variants):
                        texts = own if name == folded[0] else based
                        easy = simple if k == 0 else None
                        level = match_level(ep.toks, toks, texts, ep.exact, True, easy, budget)
                        if level >= MAYBE:
                            hits.append(rule)
                            break
            out.append(hits)
        return out

    def segment(
        self, seg: Segment, cwd: str, depth: int, traces: list[Trace], budget: RegexBudget
    ) -> Trace:
        argv = seg.argv
        shown = [t.text for t in argv]
        subject = f"`{seg.source[:200]}`"
        if not argv:
            reason = seg.dynamic or "no command"
            rule = self.dynamic
            trace = Trace(seg.source, shown, rule, self._dyn_text(rule, subject, reason), [], [],
                          reason, depth=depth)  # fmt: skip
            traces.append(trace)
            self._paths(seg, [], [], cwd, trace)
            best_path = max(trace.paths, key=lambda c: c[0].rank, default=None)
            if best_path is not None and best_path[0].rank > rule.rank:
                trace.rule, trace.reason = best_path
            return trace
        analysis = analyse(argv) if argv[0].kind == LIT else None
        dyn = seg.dynamic
        if dyn is None and argv[0].kind == LIT:
            dyn = code_reason(argv) or (analysis.dynamic if analysis else None)
        if depth >= MAX_UNWRAP:
            dyn = dyn or "wrappers nested too deeply"
        timeouts = len(budget.timed_out)
        hits = self._hits(argv, dyn is not None, budget)
        transparent = analysis is not None and analysis.transparent and bool(analysis.inner)
        fallback = None if transparent or dyn else self.default
        out: Outcome = combine(self.layers, hits, lambda lay: lay.default or DEFAULT_ASK, fallback)
        trace = Trace(seg.source, shown, DEFAULT_ASK, "", out.hits, out.ignored, dyn, depth=depth)
        traces.append(trace)
        candidates: list[tuple[Rule, str]] = []
        if out.winner is not None:
            text = describe(out.winner, subject)
            if len(budget.timed_out) > timeouts:
                slow = ", ".join(f"`{rx[:60]}`" for rx in budget.timed_out[timeouts:])
                text += (f" (regex {slow} timed out: counted as a match for deny/ask rules "
                         "and as no match for allow rules)")  # fmt: skip
            candidates.append((out.winner, text))
        if dyn is not None:
            candidates.append((self.dynamic, self._dyn_text(self.dynamic, subject, dyn)))
        fa = file_args(argv) if argv[0].kind == LIT else None
        path_cwd = cwd
        if fa is not None:
            for tok in fa.chdir:  # `git -C DIR`
                path_cwd = join_cwd(path_cwd, tok.text if tok.kind == LIT else None)
            if fa.dynamic:
                candidates.append((self.dynamic, self._dyn_text(self.dynamic, subject, fa.dynamic)))
            for spec in fa.pathspecs:
                self._pathspec(spec, path_cwd, seg, trace)
        self._paths(seg, fa.reads if fa else [], fa.writes if fa else [], path_cwd, trace)
        candidates.extend(trace.paths)
        if analysis is not None and depth < MAX_UNWRAP:
            for inner, via in analysis.inner:
                source = f"{' '.join(t.text for t in inner)} (run by {via})"
                sub = self.segment(Segment(source, inner), cwd, depth + 1, traces, budget)
                candidates.append((sub.rule, f"{subject} runs {sub.reason}"))
        best = max(candidates, key=lambda c: RANK[c[0].decision], default=None)
        if best is None:
            best = (self.default, describe(self.default, subject))
        trace.rule, trace.reason = best
        return trace

    def _dyn_text(self, rule: Rule, subject: str, why: str) -> str:
        return f"{describe(rule, subject)} — dynamic because {why}"

    def _paths(
        self, seg: Segment, reads: list[Tok], writes: list[Tok], cwd: str, trace: Trace
    ) -> None:
        checks = [("read", t) for t in reads] + [("write", t) for t in writes]
        checks += [(r.op, r.target) for r in seg.redirects]
        for op, tok in checks:
            if cwd == UNKNOWN_CWD and tok.kind in (LIT, GLOB) and not tok.text.startswith("/"):
                what = f"`{seg.source[:120]}`: {op} of `{tok.text[:80]}`"
                trace.paths.append((CWD_UNKNOWN, describe(CWD_UNKNOWN, what)))
                continue
            if tok.kind == LIT:
                judged = judge_path(self.layers, op, tok.text, cwd)
                rule = judged.rule
                if rule.decision != "allow":
                    trace.paths.append(
                        (rule, describe(rule, f"`{seg.source[:120]}`: {judged.subject}"))
                    )
            elif tok.kind == GLOB:
                self._glob(op, tok.text, cwd, seg, trace)

    def _glob(self, op: str, pattern: str, cwd: str, seg: Segment, trace: Trace) -> None:
        """An unquoted glob argument: deny if it could expand to a denied path."""
        try:
            whole = shell_glob_regex(pattern.removeprefix("./"))
            last = shell_glob_regex(pattern.rstrip("/").rsplit("/", 1)[-1])
        except GlobError:
            trace.paths.append((self.dynamic, f"`{pattern}` is a glob that cannot be read"))
            return
        head = pattern.rsplit("/", 1)[0] + "/" if "/" in pattern else ""
        worst: Rule | None = None
        text = ""
        for probe, floating in self.probes[op]:
            if not has_glob_chars(pattern):
                break
            matched = last.fullmatch(probe) if floating else whole.fullmatch(probe)
            if matched is None:
                continue
            judged = judge_path(self.layers, op, head + probe if floating else probe, cwd)
            if judged.rule.decision != "allow" and (worst is None or judged.rule.rank > worst.rank):
                worst = judged.rule
                text = describe(worst, f"`{seg.source[:120]}`: glob `{pattern}` may expand to "
                                f"`{probe}`, {judged.subject}")  # fmt: skip
        if worst is not None:
            trace.paths.append((worst, text))

    def _pathspec(self, spec: str, cwd: str, seg: Segment, trace: Trace) -> None:
        """A git glob pathspec (`*` matches `/` and dotfiles): probe the read-deny names."""
        if cwd == UNKNOWN_CWD:
            trace.paths.append((CWD_UNKNOWN, describe(CWD_UNKNOWN, f"pathspec `{spec[:80]}`")))
            return
        top = spec.startswith("/")
        base = normalise(".", cwd)
        prefix = "" if top or base.exact == "." else base.exact.rstrip("/") + "/"
        try:
            rx = token_regex(fold_text(prefix + spec.lstrip("/")))
        except GlobError:
            trace.paths.append((self.dynamic, f"pathspec `{spec[:80]}` cannot be read"))
            return
        worst: Rule | None = None
        text = ""
        for probe, floating in self.probes["read"]:
            names = [probe, f"{prefix}{probe}", f"{prefix}x/{probe}"] if floating else [probe]
            name = next((n for n in names if rx.fullmatch(n)), None)
            if name is None:
                continue
            judged = judge_path(self.layers, "read", name)
            if judged.rule.decision != "allow" and (worst is None or judged.rule.rank > worst.rank):
                worst = judged.rule
                text = describe(worst, f"`{seg.source[:120]}`: git pathspec `{spec[:80]}` "
                                f"matches `{name}`, {judged.subject}")  # fmt: skip
        if worst is not None:
            trace.paths.append((worst, text))


def join_cwd(cwd: str, target: str | None) -> str:
    """The directory after `cd target` (None: unknown)."""
    if target is None or cwd == UNKNOWN_CWD or not target:
        return UNKNOWN_CWD
    return target if target.startswith("/") else f"{cwd}/{target}"


def next_cwd(seg: Segment, cwd: str) -> str:
    """Track `cd`/`pushd`/`popd`: a target we cannot know makes the directory unknown."""
    argv = seg.argv
    while argv and argv[0].kind == LIT and argv[0].text in ("builtin", "command"):
        argv = argv[1:]
    if not argv or argv[0].text not in ("cd", "pushd", "popd", "chdir"):
        return cwd
    name = argv[0].text
    if seg.dynamic or argv[0].kind != LIT or name == "popd":
        return UNKNOWN_CWD
    ops: list[Tok] = []
    i = 1
    while i < len(argv):
        tok = argv[i]
        if tok.kind == LIT and tok.text == "--":
            ops.extend(argv[i + 1 :])
            break
        if tok.kind == LIT and tok.text.startswith("-") and len(tok.text) > 1:
            if name == "pushd" and tok.text == "-n":
                return cwd  # only the stack changes
            if name == "pushd" or not set(tok.text[1:]) <= CD_FLAGS:
                return UNKNOWN_CWD
        else:
            ops.append(tok)
        i += 1
    if len(ops) != 1 or ops[0].kind != LIT or ops[0].text in ("-",) or ops[0].text[:1] in "+-":
        return UNKNOWN_CWD
    return join_cwd(cwd, ops[0].text)


__all__ = ["ExecJudge", "Trace", "strictest"]
