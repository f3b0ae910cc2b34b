"""A session's Kubernetes objects, built from the same `SandboxSpec` the Docker backend uses.

One session is a sandbox pod, a NetworkPolicy that fences it, and, when the policy allows
hosts, an egress proxy pod (the image's `egress_proxy.py`, the session's network table)
with its own NetworkPolicy. The hardening is the Docker backend's, translated:

| Docker (`sandbox.container`)          | Kubernetes (here)                                      |
|---------------------------------------|--------------------------------------------------------|
| `read_only=True`                      | `readOnlyRootFilesystem: true`                         |
| `cap_drop=["ALL"]`, not privileged    | `capabilities.drop: [ALL]`, `privileged: false`        |
| `no-new-privileges`                   | `allowPrivilegeEscalation: false`                      |
| uid 1000 (`SANDBOX_UID`)              | `runAsUser/runAsGroup: 1000`, `runAsNonRoot: true`     |
| default seccomp profile               | `seccompProfile: RuntimeDefault`                       |
| `nano_cpus`, `mem_limit` (= swap)     | `resources.limits.cpu/memory` (requests = limits)      |
| tmpfs /tmp, /home/agent, /workspace   | `emptyDir: {medium: Memory, sizeLimit}` (same sizes)   |
| resolv.conf that resolves nothing     | `dnsPolicy: None`, nameserver 127.0.0.1                |
| `network_mode="none"`                 | NetworkPolicy: no ingress, no egress                   |
| egress over the proxy's unix socket   | NetworkPolicy: egress only to the session's proxy pod  |
| keeper `--lifetime`                   | keeper `--lifetime` and `activeDeadlineSeconds`        |

Not translated (no pod field exists; see docs/scale.md): the pids limit (a kubelet
setting, `podPidsLimit`), `noexec` on /tmp, the core-dump ulimit, the proxy's IPv6 sysctl.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from policies.netrules import RULES_ENV, encode_table
from sandbox.container import (
    CONTAINER_WORKSPACE,
    RESOLV_CONF,
    SANDBOX_UID,
    tmpfs_for,
    workspace_tmpfs_bytes,
)
from sandbox.egress import PROXY_ARGV, RULES_ENV_LIMIT
from sandbox.engine import (
    KEEPER_COMMAND,
    KIND_PROXY,
    KIND_SANDBOX,
    LABEL_CREATED,
    LABEL_KIND,
    LABEL_SESSION,
    LABEL_SPEC,
    LABEL_WORKSPACE,
)
from sandbox.errors import SandboxError
from sandbox.sandbox import QUIET_CACHES
from sandbox.spec import SandboxSpec, size_bytes

Manifest = dict[str, Any]
PROXY_PORT = 3128
PROXY_CPU = "500m"  # the Docker backend's proxy: nano_cpus=0.5e9, 128m, 64 pids
PROXY_MEMORY = "128Mi"
# The proxy may reach the internet, never the cluster's own networks: these ranges are
# excluded at the NetworkPolicy too (the proxy refuses them itself: a second wall).
PRIVATE_V4 = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10")
MANAGED_BY = "app.kubernetes.io/managed-by"


class K8sOptions(BaseModel):
    """Where and how the sessions' pods run (deployment settings, not policy)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    namespace: str = Field(
        default="rempart-sandboxes", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63
    )
    # the RuntimeClass (handler runsc) of sandboxes whose policy asks for `runtime: gvisor`
    gvisor_class: str = Field(default="gvisor", pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    # a RuntimeClass for every sandbox, whatever the policy says (None: the policy decides)
    runtime_class: str | None = Field(default=None, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    image_pull_policy: str = Field(default="IfNotPresent", pattern=r"^(Always|IfNotPresent|Never)$")
    # how the proxy resolves names: the cluster DNS (labels of its pods, in kube-system)
    dns_namespace: str = "kube-system"
    dns_labels: dict[str, str] = Field(default_factory=lambda: {"k8s-app": "kube-dns"})


def runtime_class(spec: SandboxSpec, options: K8sOptions) -> str | None:
    """The sandbox pod's RuntimeClass: the deployment's override, else gVisor's class when
    the policy asks for it (`sandbox.runtime`), else the cluster's default. A cluster
    without that RuntimeClass refuses the pod: never a silent fallback to runc."""
    if options.runtime_class:
        return options.runtime_class
    # `runtime` is read from the dump: specs from before `sandbox.runtime` have none
    if spec.model_dump().get("runtime", "runc") == "gvisor":
        return options.gvisor_class
    return None


def pod_name(session: str) -> str:
    return f"rempart-{session}"


def proxy_name(session: str) -> str:
    return f"rempart-{session}-proxy"


def _labels(spec: SandboxSpec, session: str, kind: str) -> dict[str, str]:
    """Only what is a valid label value; paths and timestamps go to annotations."""
    return {
        MANAGED_BY: "rempart",
        LABEL_SESSION: session,
        LABEL_KIND: kind,
        LABEL_SPEC: spec.spec_hash(),
    }


def _annotations(spec: SandboxSpec) -> dict[str, str]:
    return {
        **spec.labels,
        LABEL_WORKSPACE: str(spec.workspace),
        LABEL_CREATED: datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _quantity(size: str) -> str:
    """Docker's `2g`, `512m` -> a Kubernetes quantity in bytes-based units (`2Gi`)."""
    value = size_bytes(size)
    for suffix, unit in (("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
        if value % unit == 0:
            return f"{value // unit}{suffix}"
    return str(value)


def _cpu(cpus: float) -> str:
    return f"{max(1, math.ceil(cpus * 1000))}m"


def _security_context() -> Manifest:
    return {
        "runAsNonRoot": True,
        "runAsUser": SANDBOX_UID,
        "runAsGroup": SANDBOX_UID,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _pod_security(spec_pod: Manifest) -> Manifest:
    """What every session pod shares: no token, no host namespaces, no service env."""
    return {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "hostNetwork": False,
        "hostPID": False,
        "hostIPC": False,
        "shareProcessNamespace": False,
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 2,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": SANDBOX_UID,
            "runAsGroup": SANDBOX_UID,
            "fsGroup": SANDBOX_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        **spec_pod,
    }


def _dns_nowhere() -> Manifest:
    """The Docker backend's resolv.conf (`RESOLV_CONF`) as a pod's dnsConfig."""
    servers: list[str] = []
    options: list[Manifest] = []
    for line in RESOLV_CONF.splitlines():
        word, _, rest = line.partition(" ")
        if word == "nameserver":
            servers.append(rest.strip())
        elif word == "options":
            for opt in rest.split():
                name, _, value = opt.partition(":")
                options.append({"name": name, "value": value} if value else {"name": name})
    return {"dnsPolicy": "None", "dnsConfig": {"nameservers": servers, "options": options}}


def sandbox_pod(
    spec: SandboxSpec,
    session: str,
    options: K8sOptions,
    env: dict[str, str] | None = None,
    workspace_bytes: int = 0,
) -> Manifest:
    """The session's sandbox pod: the keeper as its main process, waiting for the executor
    (exec'd over the API), the workspace an in-memory volume filled by Rempart."""
    limits = spec.limits
    size = workspace_bytes or workspace_tmpfs_bytes(spec, 0)
    volumes: list[Manifest] = []
    mounts: list[Manifest] = []
    for index, (path, flags) in enumerate(sorted(tmpfs_for(spec, size).items())):
        found = dict(f.partition("=")[::2] for f in flags.split(",") if "=" in f)
        name = f"scratch-{index}"
        volumes.append({"name": name, "emptyDir": {"medium": "Memory", "sizeLimit": found["size"]}})
        mounts.append({"name": name, "mountPath": path})
    for volume in volumes:  # tmpfs sizes: 512m, or a byte count
        volume["emptyDir"]["sizeLimit"] = _quantity(volume["emptyDir"]["sizeLimit"])
    environment = {**QUIET_CACHES, **spec.env, **(env or {})}
    memory = _quantity(limits.memory)
    resources = {"cpu": _cpu(limits.cpus), "memory": memory}
    container = {
        "name": "sandbox",
        "image": spec.image,
        "imagePullPolicy": options.image_pull_policy,
        "command": [*KEEPER_COMMAND, "--lifetime", f"{spec.lifetime_s:g}"],
        "workingDir": CONTAINER_WORKSPACE,
        "env": [{"name": k, "value": v} for k, v in sorted(environment.items())],
        "resources": {"limits": resources, "requests": dict(resources)},
        "securityContext": _security_context(),
        "volumeMounts": mounts,
        "stdin": False,
        "tty": False,
    }
    pod: Manifest = {
        "hostname": "sandbox",
        "activeDeadlineSeconds": max(1, math.ceil(spec.lifetime_s)),
        "containers": [container],
        "volumes": volumes,
        **_dns_nowhere(),
    }
    runtime = runtime_class(spec, options)
    if runtime:
        pod["runtimeClassName"] = runtime
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(session),
            "namespace": options.namespace,
            "labels": _labels(spec, session, KIND_SANDBOX),
            "annotations": _annotations(spec),
        },
        "spec": _pod_security(pod),
    }


def proxy_pod(spec: SandboxSpec, session: str, options: K8sOptions) -> Manifest:
    """The session's egress proxy: the same image and program as with Docker, listening on
    TCP (the NetworkPolicy lets only its sandbox in), with the policy's network table.
    Under the default runtime, as with Docker: it is trusted code and never runs what the
    sandbox sends it."""
    if not spec.network_rules:
        raise SandboxError("a proxy pod is only made for a policy that allows hosts")
    rules = encode_table(json.loads(spec.network_rules))
    if len(rules) > RULES_ENV_LIMIT:
        raise SandboxError(
            f"the policy's network rules are too large for the proxy ({len(rules)} bytes)",
            hint="use fewer network rules (wildcards such as `*.example.com`)",
        )
    # no `--lifetime`: with it the proxy waits for the forwarder's lease (the Docker
    # backend's unix-socket path) and ends without one; the pod's activeDeadlineSeconds and
    # the session's delete end it here
    argv = [*PROXY_ARGV, "--listen", f"0.0.0.0:{PROXY_PORT}"]
    for cidr in spec.egress_allow_cidrs:
        argv += ["--allow-cidr", cidr]
    resources = {"cpu": PROXY_CPU, "memory": PROXY_MEMORY}
    container = {
        "name": "proxy",
        "image": spec.image,
        "imagePullPolicy": options.image_pull_policy,
        "command": argv,
        "env": [{"name": RULES_ENV, "value": rules}],
        "ports": [{"name": "proxy", "containerPort": PROXY_PORT, "protocol": "TCP"}],
        "resources": {"limits": resources, "requests": dict(resources)},
        "securityContext": _security_context(),
    }
    pod: Manifest = {
        "activeDeadlineSeconds": max(1, math.ceil(spec.lifetime_s)),
        "containers": [container],
        "dnsPolicy": "ClusterFirst",
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": proxy_name(session),
            "namespace": options.namespace,
            "labels": _labels(spec, session, KIND_PROXY),
            "annotations": _annotations(spec),
        },
        "spec": _pod_security(pod),
    }


def _selector(session: str, kind: str) -> Manifest:
    return {"matchLabels": {LABEL_SESSION: session, LABEL_KIND: kind}}


def sandbox_network_policy(spec: SandboxSpec, session: str, options: K8sOptions) -> Manifest:
    """Nothing reaches the sandbox (exec goes through the kubelet, not the pod network);
    it reaches only its own proxy's port, or nothing at all without network. No DNS."""
    egress: list[Manifest] = []
    if spec.network_rules:
        egress.append(
            {
                "to": [{"podSelector": _selector(session, KIND_PROXY)}],
                "ports": [{"protocol": "TCP", "port": PROXY_PORT}],
            }
        )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": pod_name(session),
            "namespace": options.namespace,
            "labels": _labels(spec, session, KIND_SANDBOX),
        },
        "spec": {
            "podSelector": _selector(session, KIND_SANDBOX),
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": egress,
        },
    }


def proxy_network_policy(spec: SandboxSpec, session: str, options: K8sOptions) -> Manifest:
    """The proxy takes connections only from its sandbox; it reaches the cluster DNS and
    public IPv4 addresses (the policy's exempt ranges too), never the cluster's networks."""
    public = {"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_V4)}}
    exempt = [{"ipBlock": {"cidr": cidr}} for cidr in spec.egress_allow_cidrs]
    dns = {
        "to": [
            {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": options.dns_namespace}
                },
                "podSelector": {"matchLabels": dict(options.dns_labels)},
            }
        ],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": proxy_name(session),
            "namespace": options.namespace,
            "labels": _labels(spec, session, KIND_PROXY),
        },
        "spec": {
            "podSelector": _selector(session, KIND_PROXY),
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {
                    "from": [{"podSelector": _selector(session, KIND_SANDBOX)}],
                    "ports": [{"protocol": "TCP", "port": PROXY_PORT}],
                }
            ],
            "egress": [dns, {"to": [public, *exempt]}],
        },
    }


def session_manifests(
    spec: SandboxSpec,
    session: str,
    options: K8sOptions,
    env: dict[str, str] | None = None,
    workspace_bytes: int = 0,
) -> list[Manifest]:
    """Everything the backend creates for one session, in creation order: fences first."""
    out = [sandbox_network_policy(spec, session, options)]
    if spec.network_rules:
        out += [proxy_network_policy(spec, session, options), proxy_pod(spec, session, options)]
    out.append(sandbox_pod(spec, session, options, env, workspace_bytes))
    return out


def rbac_manifests(options: K8sOptions, account: str = "rempart") -> list[Manifest]:
    """What Rempart's own service account may do in the sessions' namespace, and no more:
    pods (create, read, list, delete), pods/exec, pods/log, NetworkPolicies (create, list,
    delete)."""
    meta = {"namespace": options.namespace, "labels": {MANAGED_BY: "rempart"}}
    rules = [
        {
            "apiGroups": [""],
            "resources": ["pods"],
            "verbs": ["create", "get", "list", "delete", "deletecollection"],
        },
        {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "get"]},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
        {
            "apiGroups": ["networking.k8s.io"],
            "resources": ["networkpolicies"],
            "verbs": ["create", "list", "delete", "deletecollection"],
        },
    ]
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": account, **meta},
            "automountServiceAccountToken": True,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "rempart-sandboxes", **meta},
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "rempart-sandboxes", **meta},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "rempart-sandboxes",
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": account, "namespace": options.namespace}
            ],
        },
    ]


def namespace_manifest(options: K8sOptions) -> Manifest:
    """The sessions' namespace, held to the `restricted` Pod Security Standard (the API
    server then refuses any pod there that is less hardened than ours)."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": options.namespace,
            "labels": {
                MANAGED_BY: "rempart",
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            },
        },
    }


def default_deny(options: K8sOptions) -> Manifest:
    """Namespace-wide: no traffic in or out unless a session's own policy allows it."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": "default-deny",
            "namespace": options.namespace,
            "labels": {MANAGED_BY: "rempart"},
        },
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }


def setup_manifests(options: K8sOptions) -> list[Manifest]:
    """Once per cluster, by an administrator: the namespace, its default deny, the RBAC."""
    return [namespace_manifest(options), default_deny(options), *rbac_manifests(options)]
