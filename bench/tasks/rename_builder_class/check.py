"""Hidden check: no `ReportBuilder` left; SummaryBuilder importable; output unchanged."""

import re

from checklib import compare, fail, passed, paths, run

PROBE = """
import reports
from reports.builder import SummaryBuilder
from reports.weekly import WeeklyReportBuilder
assert reports.SummaryBuilder is SummaryBuilder
assert issubclass(WeeklyReportBuilder, SummaryBuilder)
print(SummaryBuilder().add("x", 1).render())
"""


def main() -> None:
    ws, orig = paths()
    for path in sorted(ws.rglob("*.py")):
        if re.search(r"\bReportBuilder\b", path.read_text()):
            fail(f"{path.relative_to(ws)} still mentions ReportBuilder")
    want = run(["python3", "run_reports.py"], orig)
    got = run(["python3", "run_reports.py"], ws)
    if got.returncode != 0:
        fail(f"run_reports.py exited {got.returncode}: {got.stderr[-400:]}")
    compare("run_reports.py output", got.stdout, want.stdout)
    probe = run(["python3", "-c", PROBE], ws)
    if probe.returncode != 0:
        fail(f"SummaryBuilder is not wired up: {probe.stderr[-400:]}")
    compare("SummaryBuilder render", probe.stdout, "Report\n======\nx  1\n")
    passed()


main()
