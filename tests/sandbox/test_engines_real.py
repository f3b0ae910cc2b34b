"""Two real Docker engines (two dockerd, each with its own socket, data root, exec root and
bridge: tests/agent/private_engine.py): sandboxes are placed by load, an engine that is
down or lacks the image is skipped and said so, a session's sandbox moves to the live
engine when its own dies, and prune walks every engine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.events import Event, NoticeEvent, ToolResultEvent
from agent.loop import LoopLimits
from agent.runner import SandboxHandle
from agent.session import Session, SessionOptions
from agent.settings import Settings
from agent.testing import Reply, ScriptedModelServer, isolated_env
from sandbox import Sandbox, SandboxSpec
from sandbox.engine import LABEL_KIND, LABEL_SESSION
from sandbox.engines import Engines
from tests.agent.conftest import MCP_SERVER
from tests.agent.private_engine import EngineUnavailable, PrivateEngine
from tests.agent.test_mcp import MCP_POLICY
from tests.containers import dead_owner
from tests.sandbox.conftest import make_workspace, policy_spec

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def two_engines(image: str) -> Iterator[tuple[PrivateEngine, PrivateEngine]]:
    if os.geteuid() != 0:
        pytest.skip("a second dockerd needs root")
    try:
        with PrivateEngine() as first, PrivateEngine() as second:
            first.load(image)
            second.load(image)
            yield first, second
    except EngineUnavailable as exc:
        pytest.skip(f"no private Docker engines here: {exc}")


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory, image: str) -> SandboxSpec:
    return policy_spec(make_workspace(tmp_path_factory.mktemp("engines")), image)


def test_each_new_sandbox_goes_to_the_engine_with_the_fewest_running_sandboxes(
    two_engines: tuple[PrivateEngine, PrivateEngine], spec: SandboxSpec
) -> None:
    first, second = two_engines
    engines = Engines([first.host, second.host])
    with Sandbox(spec, engines=engines) as one:
        assert one.engine == first.host  # both empty: the first listed
        with Sandbox(spec, engines=engines) as two:
            assert two.engine == second.host  # the first runs one already
            assert second.holds(two.container_id)
            assert not first.holds(two.container_id)
            assert two.run("cat README.md").stdout == "hello\n"  # a working sandbox there
            assert one.skipped == two.skipped == []
        with Sandbox(spec, engines=engines) as three:  # the second is empty again
            assert three.engine == second.host


def test_an_engine_without_the_sandbox_image_is_skipped_and_the_reason_kept(
    two_engines: tuple[PrivateEngine, PrivateEngine], spec: SandboxSpec
) -> None:
    first, second = two_engines
    only_there = f"rempart-engines-test:{os.getpid()}"
    client = second.client()
    client.images.get(spec.image).tag(only_there)
    try:
        engines = Engines([first.host, second.host])
        with Sandbox(spec.model_copy(update={"image": only_there}), engines=engines) as sb:
            assert sb.engine == second.host  # the first is emptier but cannot run it
            [skipped] = sb.skipped
            assert skipped.url == first.host
            assert f"no sandbox image {only_there}" in skipped.problem
            assert f"docker -H {first.host} load" in skipped.problem
    finally:
        client.images.remove(only_there)
        client.close()


def test_prune_walks_every_engine_and_reports_the_one_that_is_down(
    two_engines: tuple[PrivateEngine, PrivateEngine], image: str, tmp_path: Path
) -> None:
    first, second = two_engines
    name = f"orphan-engines-{os.getpid()}"
    for engine in two_engines:
        client = engine.client()
        labels = {LABEL_KIND: "sandbox", LABEL_SESSION: name, **dead_owner()}
        client.containers.create(image, ["true"], name=name, labels=labels)
        client.close()
    dead = f"unix://{tmp_path}/gone.sock"
    env = {**os.environ, "REMPART_DOCKER_HOSTS": f"{first.host},{dead},{second.host}"}
    cli = [sys.executable, "-m", "rempart", "sandbox"]
    listed = subprocess.run(
        [*cli, "ls", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert listed.returncode == 125, listed.stderr  # one engine was not walked
    mine = [r for r in json.loads(listed.stdout) if r["name"] == name]
    assert sorted(r["engine"] for r in mine) == sorted([first.host, second.host])
    assert all(r["orphan"] for r in mine)
    pruned = subprocess.run([*cli, "prune"], env=env, capture_output=True, text=True, timeout=120)
    assert pruned.returncode == 125
    assert f"engine {dead} skipped: unreachable: No such file or directory" in pruned.stderr
    assert f"removed container {name} (session {name}, sandbox) on {first.host}" in pruned.stdout
    assert f"removed container {name} (session {name}, sandbox) on {second.host}" in pruned.stdout
    assert not first.holds(name) and not second.holds(name)


def test_a_session_says_which_engine_it_skipped_and_its_mcp_servers_run_on_the_one_it_got(
    two_engines: tuple[PrivateEngine, PrivateEngine], image: str, tmp_path: Path
) -> None:
    first, _second = two_engines
    workspace = tmp_path / "ws"
    (workspace / "tools").mkdir(parents=True)
    shutil.copy(MCP_SERVER, workspace / "tools" / "mcp_server.py")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "mcp.yaml").write_text(
        'servers:\n  demo:\n    command: ["python3", "/workspace/tools/mcp_server.py"]\n'
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text(MCP_POLICY)
    dead = f"unix://{tmp_path}/gone.sock"
    events: list[Event] = []
    replies = [Reply.call("mcp__demo__whoami"), Reply.call("finish", summary="done")]
    with ScriptedModelServer(replies) as server:
        settings = Settings(
            data_dir=tmp_path / "data",
            config_dir=tmp_path / "config",
            org_policy_dir=tmp_path / "org",
            sandbox_image=image,
            tool_call_mode="required",
            model_retries=0,
            model_base_url=server.base_url,
            docker_hosts=[dead, first.host],
        )
        options = SessionOptions(task="who runs the tools", workspace=workspace,
                                 policy_files=[policy], limits=LoopLimits(max_steps=4))  # fmt: skip
        with Session(settings, options, [events.append]) as session:
            session.run()
    notices = [e.text for e in events if isinstance(e, NoticeEvent)]
    assert (
        f"Docker engine {dead} skipped: unreachable: No such file or directory; "
        + (f"the sandbox runs on {first.host}")
        in notices
    )
    # the MCP server runs through `docker -H <that engine> exec`: the shared engine has no
    # such container, so without the engine's address the server would not start at all
    [whoami] = [e for e in events if isinstance(e, ToolResultEvent)][:1]
    assert not whoami.is_error and whoami.content.splitlines()[-1].split()[0] == "sandbox"


def test_doctor_lists_each_engine_and_replica_and_a_dead_one_is_a_warning_while_another_works(
    two_engines: tuple[PrivateEngine, PrivateEngine], image: str, tmp_path: Path
) -> None:
    first, _second = two_engines
    dead_engine = f"unix://{tmp_path}/gone.sock"
    with ScriptedModelServer([]) as live:
        dead_model = "http://127.0.0.1:9/v1"  # the discard port: nothing answers
        env = {
            **os.environ,
            **isolated_env(tmp_path),
            "REMPART_SANDBOX_IMAGE": image,
            "REMPART_DOCKER_HOSTS": f"{dead_engine},{first.host}",
            "REMPART_MODEL_URLS": f"{live.base_url},{dead_model}",
        }
        done = subprocess.run(
            [sys.executable, "-m", "rempart", "doctor", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks[f"engine {first.host}"]["ok"]
    gone = checks[f"engine {dead_engine}"]
    assert not gone["ok"] and not gone["required"] and "No such file" in gone["detail"]
    assert checks[f"model replica {live.base_url}"]["ok"]
    down = checks[f"model replica {dead_model}"]
    assert not down["ok"] and not down["required"]
    assert checks["sandbox image present"]["ok"]  # probed on the engine that works


def test_a_session_whose_engine_dies_gets_its_next_sandbox_on_the_live_engine(
    two_engines: tuple[PrivateEngine, PrivateEngine], spec: SandboxSpec
) -> None:
    first, second = two_engines
    engines = Engines([first.host, second.host])
    placed: list[Sandbox] = []

    def start() -> Sandbox:
        sandbox = Sandbox(spec, engines=engines)
        sandbox.start()
        placed.append(sandbox)
        return sandbox

    handle = SandboxHandle(start, engine_wait_s=30.0)
    try:
        assert placed[0].engine == first.host
        first.stop()  # SIGTERM, as a service manager: its containers stop with it
        handle.replace()  # what the runner does when the sandbox's engine failed
        moved = placed[-1]
        assert moved.engine == second.host
        [skipped] = moved.skipped
        assert skipped.url == first.host and skipped.problem.startswith("unreachable")
        assert moved.run("cat README.md").stdout == "hello\n"
        assert handle.leftovers == [placed[0]]  # could not be removed: its engine is down
    finally:
        for sandbox in placed[1:]:
            sandbox.close()
        first.start()  # back, for the fixture's orderly stop
        placed[0].close()  # now removable
