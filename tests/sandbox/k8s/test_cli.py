"""`rempart sandbox manifest`: what a security team reviews is what the backend sends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import yaml

ALLOWLIST = """version: 1
name: review
files: {read: {allow: ["**"]}, write: {allow: ["**"]}}
network: {allow: ["pypi.org"]}
sandbox: {env: [REVIEW_TOKEN]}
"""


def manifest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REVIEW_TOKEN": "s3cret-value"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "rempart",
            "sandbox",
            "manifest",
            "--workspace",
            str(tmp_path),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_manifest_prints_valid_yaml_for_every_object_of_a_session(tmp_path: Path) -> None:
    policy = tmp_path / "review.yaml"
    policy.write_text(ALLOWLIST)
    done = manifest(tmp_path, "--policy", str(policy), "--runtime-class", "gvisor")
    assert done.returncode == 0, done.stderr
    objects = list(yaml.safe_load_all(done.stdout))
    assert [o["kind"] for o in objects] == ["NetworkPolicy", "NetworkPolicy", "Pod", "Pod"]
    for obj in objects:
        kubernetes_validate.validate(obj, "1.33.0", strict=True)
    pod = objects[-1]
    assert pod["spec"]["runtimeClassName"] == "gvisor"
    # a passed-through variable is named, its value is not printed
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    assert "REVIEW_TOKEN" in env
    assert "s3cret-value" not in done.stdout


def test_manifest_with_an_unknown_policy_is_a_usage_error(tmp_path: Path) -> None:
    done = manifest(tmp_path, "--policy", "no-such-policy")
    assert done.returncode == 2
    assert "no-such-policy" in done.stderr


def test_manifest_with_setup_also_prints_the_namespace_deny_and_rbac(tmp_path: Path) -> None:
    done = manifest(tmp_path, "--policy", "strict", "--setup", "--namespace", "agents")
    assert done.returncode == 0, done.stderr
    objects = list(yaml.safe_load_all(done.stdout))
    kinds = [o["kind"] for o in objects]
    assert kinds[:5] == ["Namespace", "NetworkPolicy", "ServiceAccount", "Role", "RoleBinding"]
    for obj in objects:
        kubernetes_validate.validate(obj, "1.33.0", strict=True)
        assert obj["metadata"].get("namespace", "agents") == "agents"
