"""Red team of the warm pool from a session's side: a pooled sandbox is used only when it is
what the session's own settings would have made (real containers, real policy)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.settings import Settings
from agent.testing import Reply
from agent.warm import Warm
from tests.agent.test_warm_session import Host

pytestmark = pytest.mark.docker
# the local engine under another name: a session configured for it must be placed there
SOCKET = "unix:///var/run/docker.sock"


@pytest.fixture
def host(make_settings: Callable[..., Settings], policy_file: Path) -> Iterator[Host]:
    with Warm(pool_size=1) as warm:
        yield Host(warm, make_settings, policy_file)


@pytest.mark.skipif(not Path(SOCKET[len("unix://") :]).exists(), reason="no docker.sock")
def test_a_pooled_sandbox_on_an_engine_the_session_does_not_name_is_not_used(
    host: Host, workspace: Path
) -> None:
    """The host's Warm places its pools on its own engines; a session whose settings name
    other engines (`docker_hosts`) must get its sandbox there, never the pool's."""
    _, _, first = host.session(workspace, [Reply.call("finish", summary="ok")])
    host.fill(first)
    _, _, second = host.session(
        workspace, [Reply.call("finish", summary="ok")], docker_hosts=SOCKET
    )
    assert host.pooled == [False, False]
    assert second._engine_args == ["-H", SOCKET]
