"""One definition of the session options for `run`, `tui`, bare `rempart` and `resume`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.session_args import SessionArgs
from policies.shipped import shipped_policy
from rempart.cli import ROOT_PREFIX, build_parser

pytestmark = pytest.mark.smoke
OPTIONS = ["--policy", "strict", "--model", "qwen-7b", "--endpoint", "http://gpu:8000/v1"]
OPTIONS += ["--ignore-project-policy", "--max-steps", "7", "--max-seconds", "60"]


def test_every_front_end_reads_the_same_options_the_same_way(tmp_path: Path) -> None:
    parser = build_parser()
    where = ["--workspace", str(tmp_path)]
    expected = SessionArgs(
        workspace=tmp_path,
        policy_files=(shipped_policy("strict"),),
        model="qwen-7b",
        endpoint="http://gpu:8000/v1",
        ignore_project_policy=True,
        max_steps=7,
        max_seconds=60.0,
    )
    bare = SessionArgs.from_namespace(parser.parse_args([*where, *OPTIONS]), ROOT_PREFIX)
    tui = SessionArgs.from_namespace(parser.parse_args(["tui", *where, *OPTIONS]))
    run = SessionArgs.from_namespace(parser.parse_args(["run", "task", *where, *OPTIONS]))
    resume = SessionArgs.from_namespace(
        parser.parse_args(["sessions", "resume", "--last", *OPTIONS])
    )
    assert bare == tui == run == expected
    assert resume == SessionArgs(**{**vars(expected), "workspace": Path(".")})


def test_the_options_become_the_sessions_options() -> None:
    args = SessionArgs(
        workspace=Path("/w"), model="m", endpoint="http://e/v1", max_steps=3, max_seconds=9.0
    )
    options = args.options("do it", resume_id="abc", follow_up="more")
    assert (options.task, options.workspace, options.model, options.model_url) == (
        "do it", Path("/w"), "m", "http://e/v1",
    )  # fmt: skip
    assert (options.limits.max_steps, options.limits.max_wall_s) == (3, 9.0)
    assert (options.resume_id, options.follow_up) == ("abc", "more")


@pytest.mark.parametrize("argv", [[], ["tui"]])
def test_bare_rempart_and_rempart_tui_take_the_session_options(argv: list[str]) -> None:
    missing = "/nonexistent/project"
    done = subprocess.run(
        [sys.executable, "-m", "rempart", *argv, "--workspace", missing, *OPTIONS],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ,
    )
    # it reached the TUI's own check (which runs before Textual is imported)
    assert done.returncode == 8 and f"workspace {missing} is not a folder" in done.stderr


def test_the_tui_ignores_an_untrusted_project_policy_when_asked(tmp_path: Path) -> None:
    from agent.errors import UntrustedProjectPolicy
    from agent.settings import Settings
    from tui.app import RempartApp

    (tmp_path / ".rempart").mkdir()
    (tmp_path / ".rempart" / "policy.yaml").write_text("version: 1\ndefault: allow\n")
    settings = Settings()
    with pytest.raises(UntrustedProjectPolicy):
        RempartApp(settings, SessionArgs(workspace=tmp_path)).load_policy()
    ignoring = SessionArgs(workspace=tmp_path, ignore_project_policy=True)
    _policy, files = RempartApp(settings, ignoring).load_policy()
    assert [name for name, _path, _text in files] == ["default"]
