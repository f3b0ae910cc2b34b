"""The signed offline bundle: made by `rempart bundle create`, refused when anything in it
changed, and installed with no network at all (a network namespace with only loopback).

One slim bundle is made for the module (no vLLM/torch, no model weights: a scripted model
server stands in; one small Debian package with its closure; the real sandbox image). It
needs a package index and a Debian mirror to make, a Docker engine to save and load the
image, and root for `unshare --net`.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.bundle import host, manifest
from tests.agent.conftest import POLICY

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SOURCE = Path(__file__).resolve().parents[2]
HOST_PACKAGE = "acl"  # small, with a small closure (libacl1, libc6, ...)


def rempart(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rempart", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The maker's key pair and another key (a stranger's)."""
    folder = tmp_path_factory.mktemp("keys")
    for name in ("maker", "stranger"):
        made = rempart("bundle", "keygen", str(folder / name))
        assert made.returncode == 0, made.stderr
    return folder / "maker", folder / "stranger"


@pytest.fixture(scope="module")
def bundle(keys: tuple[Path, Path], image: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "b"
    made = rempart(
        "bundle", "create", str(out), "--key", str(keys[0]), "--source", str(SOURCE),
        "--no-server", "--no-model", "--host-package", HOST_PACKAGE,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr[-3000:]
    return out


def verify(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return rempart("bundle", "verify", str(out), *extra, timeout=300)


@pytest.fixture
def flipped(bundle: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """One byte in the middle of the file `request.param` flipped, put back afterwards."""
    name = next(n for n in manifest.bundle_files(bundle) if n.startswith(request.param))
    path = bundle / name
    original = path.read_bytes()
    middle = len(original) // 2
    path.write_bytes(original[:middle] + bytes([original[middle] ^ 0x01]) + original[middle + 1 :])
    try:
        yield name
    finally:
        path.write_bytes(original)


def test_a_fresh_bundle_holds_each_kind_of_file_and_verifies_with_the_makers_key(
    bundle: Path, keys: tuple[Path, Path]
) -> None:
    names = manifest.bundle_files(bundle)
    for kind in ("wheels/rempart-", "wheels/pydantic-", "requirements/runtime.lock",
                 f"debs/{HOST_PACKAGE}_", "debs/libc6_", "image/sandbox.tar",
                 "policies/default.yaml", "install.sh", "bundle.json"):  # fmt: skip
        assert any(n.startswith(kind) for n in names), kind
    done = verify(bundle, "--pubkey", f"{keys[0]}.pub")
    assert done.returncode == 0, done.stderr
    assert f"{len(names)} files match" in done.stdout


KINDS = [
    "wheels/rempart-", "wheels/pydantic_core-", "requirements/runtime.lock", "debs/libc6_",
    "image/sandbox.tar", "policies/strict.yaml", "install.sh", "bundle.json",
]  # fmt: skip


@pytest.mark.parametrize("flipped", KINDS, indirect=True)
def test_one_flipped_byte_in_any_kind_of_file_is_refused_naming_the_file(
    bundle: Path, keys: tuple[Path, Path], flipped: str
) -> None:
    done = verify(bundle, "--pubkey", f"{keys[0]}.pub")
    assert done.returncode == 8
    assert f"changed: {flipped}" in done.stderr
    assert "1 changed, 0 missing, 0 extra" in done.stderr


@pytest.mark.parametrize("flipped", ["wheels/rempart-"], indirect=True)
def test_the_bootstrap_script_refuses_a_changed_file_before_installing_anything(
    bundle: Path, keys: tuple[Path, Path], flipped: str, tmp_path: Path
) -> None:
    prefix = tmp_path / "prefix"
    done = subprocess.run(
        ["bash", str(bundle / "install.sh"), "--pubkey", f"{keys[0]}.pub", "--prefix", str(prefix)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 8
    assert f"{flipped}: FAILED" in done.stdout + done.stderr
    assert not prefix.exists()


def test_the_bootstrap_script_refuses_an_extra_wheel_before_pip_sees_it(
    bundle: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    extra = bundle / "wheels" / "rempart-9.9-py3-none-any.whl"
    extra.write_bytes(b"PK")
    prefix = tmp_path / "prefix"
    try:
        done = subprocess.run(
            ["bash", str(bundle / "install.sh"), "--pubkey", f"{keys[0]}.pub",
             "--prefix", str(prefix)],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    finally:
        extra.unlink()
    assert done.returncode == 8
    assert "not in SHA256SUMS, refusing: wheels/rempart-9.9-py3-none-any.whl" in done.stderr
    assert not prefix.exists()


def test_a_missing_file_and_an_extra_file_are_each_named(
    bundle: Path, keys: tuple[Path, Path]
) -> None:
    policy = bundle / "policies" / "ci.yaml"
    kept = policy.read_bytes()
    policy.unlink()
    extra = bundle / "wheels" / "evil-1.0-py3-none-any.whl"
    extra.write_bytes(b"PK")
    try:
        done = verify(bundle, "--pubkey", f"{keys[0]}.pub", "--insecure")
    finally:
        policy.write_bytes(kept)
        extra.unlink()
    assert done.returncode == 8
    assert "missing: policies/ci.yaml" in done.stderr
    assert "extra: wheels/evil-1.0-py3-none-any.whl" in done.stderr


def test_a_manifest_rewritten_to_match_a_changed_file_fails_the_signature(
    bundle: Path, keys: tuple[Path, Path]
) -> None:
    """The attacker's move: change a file *and* its line in SHA256SUMS."""
    sums = bundle / manifest.SUMS
    kept_sums = sums.read_text()
    policy = bundle / "policies" / "default.yaml"
    kept_policy = policy.read_bytes()
    policy.write_bytes(kept_policy + b"\n# allow everything\n")
    forged = kept_sums.replace(
        manifest.file_sha256_bytes(kept_policy), manifest.file_sha256(policy)
    )
    sums.write_text(forged)
    try:
        done = verify(bundle, "--pubkey", f"{keys[0]}.pub")
    finally:
        sums.write_text(kept_sums)
        policy.write_bytes(kept_policy)
    assert done.returncode == 8
    assert "is not a valid signature of SHA256SUMS" in done.stderr


def test_another_key_no_key_or_no_signature_is_refused_and_insecure_accepts_unsigned(
    bundle: Path, keys: tuple[Path, Path]
) -> None:
    stranger = verify(bundle, "--pubkey", f"{keys[1]}.pub")
    assert stranger.returncode == 8 and "not a valid signature" in stranger.stderr
    assert verify(bundle).returncode == 8  # no --pubkey
    signature = bundle / manifest.SIGNATURE
    kept = signature.read_bytes()
    signature.unlink()
    try:
        unsigned = verify(bundle, "--pubkey", f"{keys[0]}.pub")
        insecure = verify(bundle, "--insecure")
    finally:
        signature.write_bytes(kept)
    assert unsigned.returncode == 8 and "is not signed" in unsigned.stderr
    assert insecure.returncode == 0, insecure.stderr
    assert "INSECURE: signature not checked" in insecure.stderr


def test_a_rerun_after_a_cut_keeps_what_is_there_and_makes_a_bundle_that_verifies(
    bundle: Path, keys: tuple[Path, Path]
) -> None:
    """A cut-off run: the manifest never written, one wheel lost, a half-written file left."""
    image = bundle / "image" / "sandbox.tar"
    kept = next((bundle / "wheels").glob("pydantic-*.whl"))
    lost = next((bundle / "wheels").glob("rich-*.whl"))
    before = image.stat().st_mtime_ns, kept.stat().st_mtime_ns
    (bundle / manifest.SUMS).unlink()
    (bundle / manifest.SIGNATURE).unlink()
    lost.unlink()
    (bundle / "debs" / "half.deb.partial").write_bytes(b"cut")
    (bundle / "debs" / "acl_0.9-1_amd64.deb").write_bytes(b"an older run's")
    again = rempart(
        "bundle", "create", str(bundle), "--key", str(keys[0]), "--source", str(SOURCE),
        "--no-server", "--no-model", "--host-package", HOST_PACKAGE,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert "image/sandbox.tar already holds rempart-sandbox:" in again.stderr
    assert (image.stat().st_mtime_ns, kept.stat().st_mtime_ns) == before  # not redone
    assert lost.is_file() and not (bundle / "debs" / "half.deb.partial").exists()
    assert not (bundle / "debs" / "acl_0.9-1_amd64.deb").exists()
    assert verify(bundle, "--pubkey", f"{keys[0]}.pub").returncode == 0


def test_the_host_package_closure_installs_on_a_bare_debian_with_no_network(
    bundle: Path,
) -> None:
    """The bundle's .debs into a minimal Debian that lacks the package (the sandbox's
    debootstrap rootfs, in a container with no network): the closure is complete."""
    docker = pytest.importorskip("docker")
    from sandbox.image_build import ROOTFS_REPOSITORY, rootfs_key

    client = docker.from_env(timeout=120)
    rootfs = f"{ROOTFS_REPOSITORY}:{rootfs_key()}"
    try:
        client.images.get(rootfs)
    except docker.errors.ImageNotFound:
        pytest.skip(f"{rootfs} is not here (rempart sandbox build imports it)")
    command = [*host.DPKG_INSTALL, *(f"/debs/{d.name}" for d in sorted(bundle.glob("debs/*.deb")))]
    script = f"! command -v setfacl && {shlex.join(command)} && setfacl --version"
    try:
        output = client.containers.run(
            rootfs, ["sh", "-c", script], network_mode="none", remove=True,
            volumes={str(bundle / "debs"): {"bind": "/debs", "mode": "ro"}},
            labels={"rempart.kind": "test"}, stderr=True,
        )  # fmt: skip
    finally:
        client.close()
    assert b"Setting up acl" in output and b"setfacl 2." in output


def _same_versions_installed(debs: list[Path]) -> bool:
    """Whether this host has every bundled package at that exact version (then dpkg's
    --skip-same-version makes the real host-package install a no-op on a shared machine)."""
    for deb in debs:
        fields = subprocess.run(
            ["dpkg-deb", "-f", str(deb), "Package", "Version"],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        package, version = fields[1], fields[3]
        installed = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True
        )
        if installed.stdout != version:
            return False
    return True


INSIDE = r"""
set -euo pipefail
ip link set lo up
echo "interfaces: $(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')"
python3 - <<'EOF'
import socket
for host in (("1.1.1.1", 443), ("pypi.org", 443), ("deb.debian.org", 80)):
    try:
        socket.create_connection(host, timeout=5).close()
    except OSError as exc:
        print(f"unreachable: {host[0]} ({exc})")
    else:
        raise SystemExit(f"{host[0]} is reachable: not an air gap")
EOF
# the stand-in for the model server, on loopback inside the namespace (from the test's tree)
coproc MODEL { PYTHONPATH="$SRC" exec "$DEV_PYTHON" -m agent.testing "$SCRIPT"; }
read -r -t 60 url <&"${MODEL[0]}"
# the scripted model answers no capability probe: say the mode (as tests/agent/conftest.py)
export REMPART_MODEL_BASE_URL="$url" REMPART_TOOL_CALL_MODE=required REMPART_MODEL_RETRIES=0
bash "$BUNDLE/install.sh" --pubkey "$PUBKEY" --prefix "$PREFIX" $HOST_FLAG
"$PREFIX/bin/python" -c 'import agent, sys; print("imported from", agent.__file__)'
"$PREFIX/bin/rempart" run "write a.txt" --workspace "$WORKSPACE" --policy "$POLICY" --json
kill "$MODEL_PID"
"""


def test_the_bundle_installs_and_runs_a_session_with_only_loopback(
    bundle: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a network namespace")
    from agent.testing import Reply

    script = tmp_path / "script.json"
    replies = [Reply.call("write_file", path="a.txt", content="from the bundle"),
               Reply.call("finish", summary="wrote a.txt")]  # fmt: skip
    script.write_text("[" + ",".join(r.model_dump_json() for r in replies) + "]")
    (tmp_path / "policy.yaml").write_text(POLICY)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    debs = sorted((bundle / "debs").glob("*.deb"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        SRC=str(SOURCE), DEV_PYTHON=sys.executable, SCRIPT=str(script), BUNDLE=str(bundle),
        PUBKEY=f"{keys[0]}.pub", PREFIX=str(tmp_path / "prefix"), WORKSPACE=str(workspace),
        POLICY=str(tmp_path / "policy.yaml"),
        HOST_FLAG="" if _same_versions_installed(debs) else "--no-host-packages",
    )  # fmt: skip
    done = subprocess.run(
        ["unshare", "--net", "--", "bash", "-c", INSIDE],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "interfaces: lo " in output and "unreachable: pypi.org" in output
    assert 'Good "rempart-bundle" signature' in output
    assert f"imported from {tmp_path / 'prefix'}/lib/python" in output  # not editable
    if env["HOST_FLAG"] == "":
        assert f"dpkg --install {len(debs)} packages" in output
    assert "ok   model endpoint" in output and "FAIL" not in output  # `rempart doctor`
    assert '"type": "finish"' in done.stdout or '"type":"finish"' in done.stdout
    written = workspace / "a.txt"
    assert written.is_file(), output[-3000:]
    assert written.read_text() == "from the bundle"
