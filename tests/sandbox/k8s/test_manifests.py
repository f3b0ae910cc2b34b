"""Every object the Kubernetes backend would send validates offline against the pinned
Kubernetes schemas (kubernetes-validate, strict: no unknown field), and carries the
hardening the Docker backend has. No cluster is involved."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from policies import PolicySet
from sandbox.k8s.manifests import (
    PRIVATE_V4,
    PROXY_PORT,
    K8sOptions,
    session_manifests,
    setup_manifests,
)
from sandbox.policy_bridge import spec_from_policy
from sandbox.spec import SandboxSpec

K8S_VERSION = "1.33.0"  # pinned: the oldest minor still supported upstream at writing
# every minor kubernetes-validate 1.37 ships schemas for that a cluster may still run
K8S_VERSIONS = ["1.28.0", "1.30.0", "1.33.0", "1.35.0", "1.37.0"]


def policy(network_allow: tuple[str, ...] = (), memory: str = "512m") -> PolicySet:
    text = (
        "version: 1\nname: k8s-tests\ndefault: ask\n"
        'files:\n  read: {allow: ["**"]}\n  write: {allow: ["**"]}\n'
        f"network:\n  allow: {json.dumps(list(network_allow))}\n"
        f"limits: {{cpus: 1.5, memory: {memory}, pids: 64, timeout_s: 30, output_bytes: 1000}}\n"
    )
    return PolicySet.from_texts([("org", "k8s-tests.yaml", text)])


def spec_for(tmp_path: Path, network_allow: tuple[str, ...] = ()) -> SandboxSpec:
    return spec_from_policy(policy(network_allow), tmp_path, "registry.local/rempart:1")


CASES = {
    "no network": ((), K8sOptions()),
    "allowlist": (("pypi.org", "*.pythonhosted.org"), K8sOptions()),
    "gvisor": (("pypi.org",), K8sOptions(runtime_class="gvisor", namespace="agents")),
    "gvisor, no network": ((), K8sOptions(runtime_class="gvisor")),
}


def objects(tmp_path: Path, case: str) -> list[dict[str, Any]]:
    allow, options = CASES[case]
    return session_manifests(spec_for(tmp_path, allow), "0123456789ab", options)


def of_kind(found: list[dict[str, Any]], kind: str, role: str) -> dict[str, Any]:
    [match] = [
        o for o in found if o["kind"] == kind and o["metadata"]["labels"]["rempart.kind"] == role
    ]
    return match


@pytest.mark.parametrize("case", list(CASES))
def test_every_manifest_validates_strictly_against_the_pinned_kubernetes_schema(
    tmp_path: Path, case: str
) -> None:
    found = objects(tmp_path, case)
    for manifest in found:
        # a round trip through YAML: what `rempart sandbox manifest` prints is what is checked
        again = yaml.safe_load(yaml.safe_dump(manifest))
        kubernetes_validate.validate(again, K8S_VERSION, strict=True)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_the_allowlist_session_and_setup_validate_on_older_and_newer_clusters(
    tmp_path: Path, version: str
) -> None:
    for manifest in [*objects(tmp_path, "gvisor"), *setup_manifests(K8sOptions())]:
        kubernetes_validate.validate(manifest, version, strict=True)


def test_a_manifest_with_a_wrong_field_fails_validation(tmp_path: Path) -> None:
    """The validation can fail: a misspelt security field is caught (not silently ignored)."""
    pod = of_kind(objects(tmp_path, "no network"), "Pod", "sandbox")
    pod["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesytem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, K8S_VERSION, strict=True)
    pod = of_kind(objects(tmp_path, "no network"), "Pod", "sandbox")
    pod["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] = "yes"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, K8S_VERSION, strict=True)


@pytest.mark.parametrize("case", list(CASES))
def test_every_pod_is_non_root_read_only_without_capabilities_or_token(
    tmp_path: Path, case: str
) -> None:
    pods = [o for o in objects(tmp_path, case) if o["kind"] == "Pod"]
    assert pods
    for pod in pods:
        spec = pod["spec"]
        assert spec["automountServiceAccountToken"] is False
        assert spec["enableServiceLinks"] is False
        assert not spec["hostNetwork"] and not spec["hostPID"] and not spec["hostIPC"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["restartPolicy"] == "Never"
        assert spec["activeDeadlineSeconds"] > 0
        for container in spec["containers"]:
            ctx = container["securityContext"]
            assert ctx["runAsNonRoot"] is True and ctx["runAsUser"] != 0
            assert ctx["readOnlyRootFilesystem"] is True
            assert ctx["allowPrivilegeEscalation"] is False
            assert ctx["privileged"] is False
            assert ctx["capabilities"] == {"drop": ["ALL"]}
            assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
            assert set(container["resources"]["limits"]) == {"cpu", "memory"}
            assert container["resources"]["requests"] == container["resources"]["limits"]


def test_the_sandbox_pod_takes_its_limits_and_scratch_sizes_from_the_policy(
    tmp_path: Path,
) -> None:
    pod = of_kind(objects(tmp_path, "no network"), "Pod", "sandbox")
    container = pod["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"cpu": "1500m", "memory": "512Mi"}
    sizes = {
        m["mountPath"]: v["emptyDir"]
        for m in container["volumeMounts"]
        for v in pod["spec"]["volumes"]
        if v["name"] == m["name"]
    }
    # spec_from_policy sizes /tmp at a quarter and home at an eighth of the memory
    assert sizes["/tmp"] == {"medium": "Memory", "sizeLimit": "128Mi"}
    assert sizes["/home/agent"] == {"medium": "Memory", "sizeLimit": "64Mi"}
    assert sizes["/workspace"]["medium"] == "Memory"
    assert pod["spec"]["dnsPolicy"] == "None"
    assert pod["spec"]["dnsConfig"]["nameservers"] == ["127.0.0.1"]
    assert "--lifetime" in container["command"]


def test_a_forced_runtime_class_goes_on_the_sandbox_pod_only(tmp_path: Path) -> None:
    for case in ("gvisor", "gvisor, no network"):
        found = objects(tmp_path, case)
        assert of_kind(found, "Pod", "sandbox")["spec"]["runtimeClassName"] == "gvisor"
        for proxy in (o for o in found if o["metadata"]["labels"]["rempart.kind"] != "sandbox"):
            assert "runtimeClassName" not in proxy.get("spec", {})
    for pod in (o for o in objects(tmp_path, "allowlist") if o["kind"] == "Pod"):
        assert "runtimeClassName" not in pod["spec"]


def test_a_policy_asking_for_gvisor_gets_the_gvisor_runtime_class(tmp_path: Path) -> None:
    text = (
        "version: 1\nname: gv\n"
        'files: {read: {allow: ["**"]}, write: {allow: ["**"]}}\n'
        'network: {allow: ["pypi.org"]}\nsandbox: {runtime: gvisor}\n'
    )
    pol = PolicySet.from_texts([("org", "gv.yaml", text)])
    spec = spec_from_policy(pol, tmp_path, "registry.local/rempart:1")
    options = K8sOptions(gvisor_class="gvisor-systrap")
    found = session_manifests(spec, "0123456789ab", options)
    assert of_kind(found, "Pod", "sandbox")["spec"]["runtimeClassName"] == "gvisor-systrap"
    assert "runtimeClassName" not in of_kind(found, "Pod", "egress-proxy")["spec"]
    plain = spec_for(tmp_path, ("pypi.org",))
    pod = of_kind(session_manifests(plain, "0123456789ab", options), "Pod", "sandbox")
    assert "runtimeClassName" not in pod["spec"]


def test_without_network_the_sandbox_may_reach_nothing_and_no_proxy_is_made(
    tmp_path: Path,
) -> None:
    found = objects(tmp_path, "no network")
    assert [o["kind"] for o in found] == ["NetworkPolicy", "Pod"]
    fence = of_kind(found, "NetworkPolicy", "sandbox")
    assert fence["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert fence["spec"]["egress"] == [] and fence["spec"]["ingress"] == []
    pod = of_kind(found, "Pod", "sandbox")
    selected = fence["spec"]["podSelector"]["matchLabels"]
    assert selected.items() <= pod["metadata"]["labels"].items()


def test_with_an_allowlist_the_sandbox_reaches_only_its_proxy_port_and_no_dns(
    tmp_path: Path,
) -> None:
    found = objects(tmp_path, "allowlist")
    assert [o["kind"] for o in found] == ["NetworkPolicy", "NetworkPolicy", "Pod", "Pod"]
    fence = of_kind(found, "NetworkPolicy", "sandbox")
    [rule] = fence["spec"]["egress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": PROXY_PORT}]
    [peer] = rule["to"]
    proxy = of_kind(found, "Pod", "egress-proxy")
    assert set(peer) == {"podSelector"}  # no ipBlock, no namespace: this one pod only
    assert peer["podSelector"]["matchLabels"].items() <= proxy["metadata"]["labels"].items()
    other_session = session_manifests(
        spec_for(tmp_path, ("pypi.org",)), "ffffffffffff", K8sOptions()
    )
    other_proxy = of_kind(other_session, "Pod", "egress-proxy")
    assert (
        not peer["podSelector"]["matchLabels"].items() <= other_proxy["metadata"]["labels"].items()
    )


def test_the_proxy_gets_the_policys_table_and_no_route_to_private_networks(
    tmp_path: Path,
) -> None:
    found = objects(tmp_path, "allowlist")
    proxy = of_kind(found, "Pod", "egress-proxy")
    [env] = proxy["spec"]["containers"][0]["env"]
    assert env["name"] == "REMPART_NET_RULES" and env["value"]
    fence = of_kind(found, "NetworkPolicy", "egress-proxy")
    [ingress] = fence["spec"]["ingress"]
    assert ingress["from"][0]["podSelector"]["matchLabels"]["rempart.kind"] == "sandbox"
    blocks = [
        p["ipBlock"] for rule in fence["spec"]["egress"] for p in rule["to"] if "ipBlock" in p
    ]
    public = next(b for b in blocks if b["cidr"] == "0.0.0.0/0")
    assert set(PRIVATE_V4) <= set(public["except"])
    assert "169.254.0.0/16" in public["except"]  # cloud metadata endpoints


def test_labels_are_valid_and_paths_are_annotations(tmp_path: Path) -> None:
    for manifest in objects(tmp_path, "allowlist"):
        for value in manifest["metadata"]["labels"].values():
            assert len(value) <= 63 and "/" not in value and ":" not in value
    pod = of_kind(objects(tmp_path, "allowlist"), "Pod", "sandbox")
    assert pod["metadata"]["annotations"]["rempart.workspace"] == str(tmp_path.resolve())


def test_the_one_time_setup_validates_and_grants_only_what_the_backend_uses() -> None:
    found = setup_manifests(K8sOptions(namespace="agents"))
    for manifest in found:
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
    [namespace] = [m for m in found if m["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    [deny] = [m for m in found if m["kind"] == "NetworkPolicy"]
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    [role] = [m for m in found if m["kind"] == "Role"]
    granted = {(res, verb) for r in role["rules"] for res in r["resources"] for verb in r["verbs"]}
    assert ("pods/exec", "create") in granted and ("pods/log", "get") in granted
    assert not any(res in ("secrets", "configmaps", "serviceaccounts") for res, _ in granted)
    assert not any(verb in ("*", "update", "patch", "escalate", "bind") for _, verb in granted)
