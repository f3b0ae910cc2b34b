"""A sandbox with network counts as started only when its proxy path answers end to end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox import Sandbox, SandboxError, SandboxSpec
from sandbox import sandbox as sandbox_module
from sandbox.engine import docker_client
from tests.sandbox.cpu_load import ANSWERED, FIRST_CONNECTION, cpu_load

pytestmark = pytest.mark.docker

STARTS = 20


def test_the_first_connection_of_every_fresh_sandbox_under_load_reaches_the_proxy(
    workspace: Path, image: str, make_spec: Callable[..., SandboxSpec]
) -> None:
    spec = make_spec(workspace, image, network_allow=["pypi.org:443"])
    answers: list[str] = []
    with cpu_load():
        for _ in range(STARTS):
            with Sandbox(spec) as box:
                answers.append(box.run(["python3", "-c", FIRST_CONNECTION]).stdout.strip())
    assert answers == [ANSWERED] * STARTS


def test_a_proxy_path_that_never_answers_fails_the_start_clearly_and_leaves_nothing(
    workspace: Path,
    image: str,
    make_spec: Callable[..., SandboxSpec],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the probe goes to a port where no forwarder listens: the path never answers
    monkeypatch.setattr(sandbox_module, "FORWARDER_LISTEN", "127.0.0.1:3999")
    monkeypatch.setattr(sandbox_module, "PROXY_READY_TIMEOUT_S", 1.0)
    box = Sandbox(make_spec(workspace, image, network_allow=["pypi.org:443"]))
    with pytest.raises(SandboxError, match="egress proxy path did not answer within 1s") as err:
        box.start()
    assert "ConnectionRefusedError" in str(err.value)
    assert "listening" in str(err.value)  # the proxy's own log lines are in the message
    flt: dict[str, str | list[str] | bool] = {"label": f"rempart.session={box.session}"}
    assert docker_client().containers.list(all=True, filters=flt) == []
