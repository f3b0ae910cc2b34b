"""Red team of the warm pool (attacks that held): a pooled sandbox serves one session, only
a spec that hardens exactly the same, and nothing of its boot shows to the adopter."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.probe import Capabilities
from agent.warm import ProbeCache, Probed
from sandbox import SandboxError, SandboxLimits, SandboxSpec
from sandbox.policy_bridge import policy_judge, readable, spec_from_policy
from sandbox.pool import SandboxPool
from sandbox.spec import pool_key
from tests.sandbox.conftest import make_workspace, real_policy

BASE = SandboxSpec(workspace=Path("/tmp"), image="rempart-sandbox:latest")
NET = '{"layers": [{"name": "org", "default": "deny", "rules": []}]}'
HARDENING = {
    "image": "rempart-sandbox:other",
    "runtime": "gvisor",
    "env": {"PIP_INDEX_URL": "https://evil.example/simple"},
    "egress_allow_cidrs": ("10.0.0.0/8",),
    "lifetime_s": 10.0**7,
    "limits": SandboxLimits(disk="100g"),
}
LIMITS = {
    "cpus": 8.0,
    "memory": "64g",
    "pids": 100000,
    "timeout_s": 99999.0,
    "output_bytes": 10**9,
    "disk": "1t",
    "tmp_size": "64g",
    "home_size": "64g",
}


@pytest.mark.parametrize("field", sorted(HARDENING))
def test_a_spec_that_differs_in_any_hardening_field_has_another_pool_key(field: str) -> None:
    assert pool_key(BASE.model_copy(update={field: HARDENING[field]})) != pool_key(BASE)


@pytest.mark.parametrize("limit", sorted(LIMITS))
def test_a_spec_that_differs_in_any_limit_has_another_pool_key(limit: str) -> None:
    limits = SandboxLimits(**{limit: LIMITS[limit]})
    assert pool_key(BASE.model_copy(update={"limits": limits})) != pool_key(BASE)


def test_network_rules_are_part_of_the_pool_key() -> None:
    assert pool_key(BASE.model_copy(update={"network_rules": NET})) != pool_key(BASE)


def test_only_the_workspace_and_labels_are_left_out_of_the_pool_key() -> None:
    other = BASE.model_copy(update={"workspace": Path("/srv"), "labels": {"a": "b"}})
    assert pool_key(other) == pool_key(BASE)


def test_the_probe_cache_never_serves_another_endpoint_model_or_call_mode() -> None:
    cache = ProbeCache(lifetime_s=3600.0)
    caps = Capabilities(mode="required", context_tokens=8192, model="m1", probed=True)
    cache.put(["http://a:8000/v1"], "m1", "required", Probed("m1", caps, {}))
    assert cache.get(["http://a:8000/v1"], "m1", "required") is not None
    assert cache.get(["http://b:8000/v1"], "m1", "required") is None
    assert cache.get(["http://a:8000/v1", "http://b:8000/v1"], "m1", "required") is None
    assert cache.get(["http://a:8000/v1"], "m2", "required") is None
    assert cache.get(["http://a:8000/v1"], "", "required") is None
    assert cache.get(["http://a:8000/v1"], "m1", "auto") is None


@pytest.mark.docker
def test_a_pooled_sandbox_is_adopted_once_and_nothing_of_its_boot_shows(
    tmp_path: Path, image: str
) -> None:
    """A second adopt (a caller's bug, or a second session) is refused; the adopter sees an
    empty /tmp and home, and only its own workspace."""
    policy = real_policy()
    for name in ("a", "b", "pool"):
        (tmp_path / name).mkdir()
    first, second = make_workspace(tmp_path / "a"), make_workspace(tmp_path / "b")
    (second / "only-b.txt").write_text("session b's\n")

    def spec(ws: Path) -> SandboxSpec:
        made = spec_from_policy(policy, ws, image=image)
        limits = made.limits.model_dump() | {"tmp_size": "16m", "home_size": "16m"}
        return made.model_copy(update={"limits": SandboxLimits(**limits)})

    with SandboxPool(spec(tmp_path / "pool"), size=1) as pool:
        pool.wait_ready(timeout=120)
        sb = pool.acquire()
        try:
            sb.adopt(spec(first), readable=readable(policy), judge=policy_judge(policy))
            seen = sb.run("ls -A /tmp /home/agent; find /workspace -name 'only-*'")
            with pytest.raises(SandboxError, match="only a booted, empty pooled sandbox"):
                sb.adopt(spec(second), readable=readable(policy), judge=policy_judge(policy))
            after = sb.run("find /workspace -name 'only-*'; cat /workspace/README.md")
        finally:
            sb.close()
        with pytest.raises(SandboxError, match="only a booted, empty pooled sandbox"):
            sb.adopt(spec(second), readable=readable(policy), judge=policy_judge(policy))
    # the executor's owner mark is there in a cold sandbox too (keeper.py)
    assert seen.stdout.split() == ["/home/agent:", "/tmp:", ".rempart-owner"]
    assert after.stdout == "hello\n"


@pytest.mark.docker
def test_overwriting_a_hidden_file_from_a_pooled_sandbox_never_brings_its_bytes_in(
    tmp_path: Path, image: str
) -> None:
    """The policy lets `.env` and `secrets/**` be written but not read: a command (and a file
    write, folded) that creates them is refused (the host has a file the sandbox was not
    shown), and the revert removes the sandbox's copy instead of showing the host's."""
    policy = real_policy(write_deny=())
    (tmp_path / "a").mkdir()
    (tmp_path / "pool").mkdir()
    ws = make_workspace(tmp_path / "a")
    made = spec_from_policy(policy, ws, image=image)
    limits = made.limits.model_dump() | {"tmp_size": "16m", "home_size": "16m"}
    spec = made.model_copy(update={"limits": SandboxLimits(**limits)})
    with SandboxPool(spec.model_copy(update={"workspace": tmp_path / "pool"}), size=1) as pool:
        pool.wait_ready(timeout=120)
        sb = pool.acquire()
        try:
            sb.adopt(spec, readable=readable(policy), judge=policy_judge(policy))
            ran = sb.run("echo mine > .env; mkdir -p secrets && echo mine > secrets/db.txt")
            with pytest.raises(SandboxError, match="not shown"):
                sb.write_file(".env", b"again\n")
            after = sb.run(
                "cat .env secrets/db.txt; ls -A secrets; grep -rs topsecret /workspace /tmp /home"
            )
        finally:
            sb.close()
    refused = {o.path for o in ran.changes.refused}
    assert {".env", "secrets/db.txt"} <= refused
    shown = after.stdout + after.stderr
    assert "topsecret" not in shown and "password" not in shown and "mine" not in shown
    assert (ws / ".env").read_text() == "API_KEY=topsecret\n"
    assert (ws / "secrets" / "db.txt").read_text() == "password\n"
