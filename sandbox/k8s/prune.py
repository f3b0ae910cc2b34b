"""What dead sessions leave in the namespace, found and deleted at every start.

The Docker backend proves an owner dead by its pid; across machines that proof is not
available, so here a session is over when its own objects say so:

- its sandbox pod has ended (`Failed`/`Succeeded`: the keeper saw no executor, the
  lifetime passed, the node lost it): everything of that session goes;
- a proxy pod or NetworkPolicy has no sandbox pod beside it and is older than
  `ALONE_S` (a start that died between creating them, whose cleanup failed too).

A live session's objects are never touched: its sandbox pod is Pending or Running, or it
is younger than `ALONE_S` (a start in progress creates the fences and the proxy first).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from kubernetes.client import CoreV1Api, NetworkingV1Api, V1ObjectMeta

from sandbox.engine import KIND_SANDBOX, LABEL_KIND, LABEL_SESSION
from sandbox.k8s.manifests import MANAGED_BY

API_TIMEOUT_S = 30.0
ALONE_S = 600.0
ENDED = ("Failed", "Succeeded")


def _age_s(meta: V1ObjectMeta | None, now: datetime) -> float:
    """Seconds since creation (0 when unknown: a young object is kept)."""
    created: datetime | None = meta.creation_timestamp if meta is not None else None
    if created is None:
        return 0.0
    return float((now - created).total_seconds())


def _labels(meta: V1ObjectMeta | None) -> dict[str, str]:
    return dict(meta.labels or {}) if meta is not None else {}


def finished_sessions(core: CoreV1Api, net: NetworkingV1Api, namespace: str) -> list[str]:
    """Sessions in `namespace` that are over (see the module's docstring), sorted."""
    selector = f"{MANAGED_BY}=rempart"
    now = datetime.now(UTC)
    pods = core.list_namespaced_pod(
        namespace, label_selector=selector, _request_timeout=API_TIMEOUT_S
    ).items
    fences = net.list_namespaced_network_policy(
        namespace, label_selector=selector, _request_timeout=API_TIMEOUT_S
    ).items
    sandbox_phase: dict[str, str] = {}
    oldest_other: dict[str, float] = defaultdict(float)
    for pod in pods:
        labels = _labels(pod.metadata)
        session = labels.get(LABEL_SESSION, "")
        if not session:
            continue
        if labels.get(LABEL_KIND) == KIND_SANDBOX:
            sandbox_phase[session] = str(pod.status.phase if pod.status else "")
        else:
            oldest_other[session] = max(oldest_other[session], _age_s(pod.metadata, now))
    for fence in fences:
        session = _labels(fence.metadata).get(LABEL_SESSION, "")
        if session:
            oldest_other[session] = max(oldest_other[session], _age_s(fence.metadata, now))
    over = {s for s, phase in sandbox_phase.items() if phase in ENDED}
    over |= {s for s, age in oldest_other.items() if s not in sandbox_phase and age > ALONE_S}
    return sorted(over)


def prune_finished(core: CoreV1Api, net: NetworkingV1Api, namespace: str) -> list[str]:
    """Delete every object of the finished sessions; returns their ids."""
    doomed = finished_sessions(core, net, namespace)
    for session in doomed:
        selector = f"{LABEL_SESSION}={session}"
        core.delete_collection_namespaced_pod(
            namespace, label_selector=selector, grace_period_seconds=0, _request_timeout=30
        )
        net.delete_collection_namespaced_network_policy(
            namespace, label_selector=selector, _request_timeout=API_TIMEOUT_S
        )
    return doomed
