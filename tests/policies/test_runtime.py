"""`sandbox.runtime`: the strictest any layer asks wins (runc < gvisor); no layer relaxes it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from policies import PolicyLoadError, PolicySet

GVISOR = "version: 1\nname: org\nsandbox: {runtime: gvisor}\n"
RUNC = "version: 1\nname: project\nsandbox:\n  env: [HOME]\n  runtime: runc\n"
SILENT = "version: 1\n"


def layered(*texts: str) -> PolicySet:
    names = ["org", "project", "user"]
    return PolicySet.from_texts([(names[i], f"{names[i]}.yaml", t) for i, t in enumerate(texts)])


def test_without_a_runtime_in_any_layer_the_sandbox_runs_runc_built_in() -> None:
    choice = layered(SILENT, SILENT).runtime
    assert (choice.runtime, choice.layer, choice.source, choice.overruled) == (
        "runc",
        None,
        None,
        [],
    )


def test_an_org_gvisor_stays_gvisor_when_a_lower_layer_asks_runc() -> None:
    choice = layered(GVISOR, RUNC).runtime
    assert (choice.runtime, choice.layer, choice.source) == ("gvisor", "org", "org.yaml:3")
    assert choice.overruled == ["project layer (project.yaml:5) asks runc: gvisor is stricter"]


def test_a_lower_layer_can_tighten_runc_to_gvisor() -> None:
    choice = layered(RUNC, SILENT, GVISOR).runtime
    assert (choice.runtime, choice.layer, choice.source) == ("gvisor", "user", "user.yaml:3")
    assert choice.overruled == ["org layer (org.yaml:5) asks runc: gvisor is stricter"]


def test_a_locked_layer_without_a_runtime_does_not_block_a_later_gvisor() -> None:
    assert layered("version: 1\nlock: true\n", GVISOR).runtime.runtime == "gvisor"


@pytest.mark.parametrize(
    "value", ["kata", "GVISOR", "yes", "1", "[gvisor]", "''", "runsc"], ids=repr
)
def test_an_unknown_runtime_does_not_load_and_names_its_line(value: str) -> None:
    text = f"version: 1\nsandbox:\n  runtime: {value}\n"
    with pytest.raises(PolicyLoadError) as caught:
        layered(text)
    assert any(p.line == 3 for p in caught.value.problems), caught.value.problems


def _policy_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rempart", "policy", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_explain_says_which_layer_chose_gvisor_and_whom_it_overruled(tmp_path: Path) -> None:
    (tmp_path / "org.yaml").write_text(GVISOR)
    (tmp_path / "project.yaml").write_text(RUNC)
    action = json.dumps({"kind": "exec", "command": "ls"})
    args = ["--policy", str(tmp_path / "org.yaml"), "--policy", str(tmp_path / "project.yaml")]
    proc = _policy_cli("explain", *args, "--action", action)
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("sandbox runtime:"))
    assert line.startswith("sandbox runtime: gvisor (org layer, ")
    assert "org.yaml:3" in line and "project.yaml:5) asks runc: gvisor is stricter" in line
    data = json.loads(_policy_cli("explain", *args, "--action", action, "--json").stdout)
    assert data["sandbox_runtime"]["runtime"] == "gvisor"
    assert data["sandbox_runtime"]["layer"] == "org"


def test_explain_says_nothing_of_the_runtime_when_no_layer_asks(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(SILENT)
    action = json.dumps({"kind": "exec", "command": "ls"})
    proc = _policy_cli("explain", "--policy", str(tmp_path / "p.yaml"), "--action", action)
    assert proc.returncode == 0, proc.stderr
    assert "sandbox runtime" not in proc.stdout


def test_policy_layers_shows_the_runtime_and_the_overruled_layer(tmp_path: Path) -> None:
    (tmp_path / "org.yaml").write_text(GVISOR)
    (tmp_path / "project.yaml").write_text(RUNC)
    proc = subprocess.run(
        [sys.executable, "-m", "rempart", "policy", "layers", "--workspace", str(tmp_path),
         "--ignore-project-policy", "--policy", str(tmp_path / "org.yaml"),
         "--policy", str(tmp_path / "project.yaml"), "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    runtime = json.loads(proc.stdout)["sandbox_runtime"]
    assert runtime["runtime"] == "gvisor" and runtime["source"].endswith("org.yaml:3")
    assert runtime["overruled"][0].endswith("project.yaml:5) asks runc: gvisor is stricter")
