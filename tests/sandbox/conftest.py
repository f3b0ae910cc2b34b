"""Real-container fixtures: the image is built (or found) once per test session."""

from __future__ import annotations

import functools
import io
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from policies import PolicySet
from sandbox import Sandbox, SandboxLimits, SandboxSpec
from sandbox.container import ENGINE_RUNTIMES, engine_runtimes
from sandbox.engine import docker_client
from sandbox.image_build import build_image
from sandbox.policy_bridge import policy_judge, readable, spec_from_policy
from sandbox.progress import PlainReporter


def real_policy(
    read_deny: tuple[str, ...] = (".env", "*.pem", "**/*.pem", "secrets"),
    write_deny: tuple[str, ...] = (".git/*", ".git/**"),
    network_allow: tuple[str, ...] = (),
    network_deny: tuple[str, ...] = (),
    memory: str = "256m",
    pids: int = 64,
    timeout_s: float = 20.0,
    runtime: str | None = None,
) -> PolicySet:
    """A real `PolicySet` built from a few knobs (the sandbox tests' usual policy)."""

    def flow(items: tuple[str, ...]) -> str:
        return json.dumps(list(items))

    text = (
        "version: 1\nname: sandbox-tests\ndefault: ask\n"
        f'files:\n  read: {{allow: ["**"], deny: {flow(read_deny)}}}\n'
        f'  write: {{allow: ["**"], deny: {flow(write_deny)}}}\n'
        f"network:\n  allow: {flow(network_allow)}\n  deny: {flow(network_deny)}\n"
        f"limits: {{cpus: 1, memory: {memory}, pids: {pids}, timeout_s: {timeout_s}, "
        "output_bytes: 100000}\n"
    )
    if runtime is not None:  # the policy asks it, as a user would (`sandbox.runtime`)
        text += f"sandbox: {{runtime: {runtime}}}\n"
    return PolicySet.from_texts([("org", "sandbox-tests.yaml", text)])


def make_workspace(root: Path) -> Path:
    ws = root / "ws"
    ws.mkdir()
    (ws / "README.md").write_text("hello\n")
    (ws / ".env").write_text("API_KEY=topsecret\n")
    (ws / "certs").mkdir()
    (ws / "certs" / "server.pem").write_text("-----BEGIN PRIVATE KEY-----\nsecret\n")
    (ws / "secrets").mkdir()
    (ws / "secrets" / "db.txt").write_text("password\n")
    (ws / ".git").mkdir()
    (ws / ".git" / "config").write_text("[core]\n")
    (ws / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (ws / ".rempart").mkdir()
    (ws / ".rempart" / "policy.yaml").write_text("version: 1\n")
    os.link(ws / ".env", ws / "env-hardlink")
    for path in [ws, *ws.rglob("*")]:
        os.chown(path, 1000, 1000, follow_symlinks=False)
    return ws


@pytest.fixture(scope="session")
def image() -> str:
    return build_image(progress=PlainReporter(io.StringIO()))


def policy_spec(ws: Path, image: str, **policy: object) -> SandboxSpec:
    spec = spec_from_policy(real_policy(**policy), ws, image=image)  # type: ignore[arg-type]
    limits = spec.limits.model_dump() | {"tmp_size": "16m", "home_size": "16m"}
    return spec.model_copy(update={"limits": SandboxLimits(**limits)})


SpecFactory = Callable[..., SandboxSpec]
SandboxFactory = Callable[..., Sandbox]


def policy_sandbox(
    ws: Path,
    image: str,
    policy: PolicySet | None = None,
    runtime: str | None = None,
    **knobs: object,
) -> Sandbox:
    """An unstarted sandbox confined by a real policy (`policy`, or `real_policy(**knobs)`):
    its read view and its write judge come from that policy. `runtime` is the policy's
    `sandbox.runtime` knob, or with `policy` given, the runtime its spec gets."""
    if policy is None:
        policy = real_policy(runtime=runtime, **knobs)  # type: ignore[arg-type]
    spec = spec_from_policy(policy, ws, image=image)
    limits = spec.limits.model_dump() | {"tmp_size": "16m", "home_size": "16m"}
    update: dict[str, object] = {"limits": SandboxLimits(**limits)}
    if runtime is not None:
        update["runtime"] = runtime
    spec = spec.model_copy(update=update)
    return Sandbox(spec, readable=readable(policy), judge=policy_judge(policy))


@pytest.fixture(scope="module")
def make_sandbox(runtime: str) -> SandboxFactory:
    """`make_sandbox(workspace, image, policy=None, **real_policy knobs)`, not started,
    under `runtime` (a test parametrizes it to run under gVisor too)."""
    return functools.partial(policy_sandbox, runtime=runtime)


@pytest.fixture(scope="session")
def make_spec() -> SpecFactory:
    """`make_spec(workspace, image, **real_policy knobs)`."""
    return policy_spec


# Tests that take `runtime` (directly, or through `sb`) run under each runtime where a
# module asks: `pytest.mark.parametrize("runtime", RUNTIMES, indirect=True, scope="module")`.
RUNTIMES = ["runc", "gvisor"]
# CI sets it: gVisor missing is then a failure, not a skip
REQUIRE_GVISOR = "REMPART_REQUIRE_GVISOR"


@pytest.fixture(scope="module")
def runtime(request: pytest.FixtureRequest) -> str:
    """`runc` unless parametrized; `gvisor` needs runsc registered with the engine
    (`scripts/gvisor.sh`): skipped without it, failed without it where CI requires it."""
    name = str(getattr(request, "param", "runc"))
    if name != "runc" and ENGINE_RUNTIMES[name] not in engine_runtimes(docker_client()):
        message = f"the engine has no {ENGINE_RUNTIMES[name]} runtime: run scripts/gvisor.sh"
        if os.environ.get(REQUIRE_GVISOR) == "1":
            pytest.fail(message)
        pytest.skip(message)
    return name


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("sandbox"))


@pytest.fixture(scope="module")
def spec(workspace: Path, image: str) -> SandboxSpec:
    return policy_spec(workspace, image)


@pytest.fixture(scope="module")
def sb(workspace: Path, image: str, runtime: str) -> Iterator[Sandbox]:
    with policy_sandbox(workspace, image, runtime=runtime) as box:
        yield box
