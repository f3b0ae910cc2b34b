"""Finished sessions' objects are deleted at the next start; live sessions are untouched.
Against hand-recorded PodList/NetworkPolicyList answers (data/README.md)."""

from __future__ import annotations

from kubernetes.client import CoreV1Api, NetworkingV1Api

from sandbox.k8s.prune import finished_sessions, prune_finished
from tests.sandbox.k8s.fakecluster import RecordedApi


def leftovers() -> tuple[RecordedApi, CoreV1Api, NetworkingV1Api]:
    api = RecordedApi("agents")
    api.pod_list = "podlist-leftovers.json"
    api.policy_list = "networkpolicylist-leftovers.json"
    client = api.client()
    return api, CoreV1Api(client), NetworkingV1Api(client)


def test_ended_sandboxes_and_old_lone_objects_are_finished_and_live_ones_are_not() -> None:
    _api, core, net = leftovers()
    # a: sandbox Failed (its proxy still runs); c: a proxy alone for an hour;
    # e: a NetworkPolicy alone for hours. b runs, f is pending, d and g were just created.
    assert finished_sessions(core, net, "agents") == [
        "aaaaaaaaaaaa",
        "cccccccccccc",
        "eeeeeeeeeeee",
    ]


def test_pruning_deletes_each_finished_session_by_its_label_only() -> None:
    api, core, net = leftovers()
    assert prune_finished(core, net, "agents") == ["aaaaaaaaaaaa", "cccccccccccc", "eeeeeeeeeeee"]
    deleted = sorted(
        (path.rsplit("/", 1)[-1], query["labelSelector"][0])
        for method, path, query, _ in api.calls
        if method == "DELETE"
    )
    assert deleted == [
        (kind, f"rempart.session={s}")
        for kind in ("networkpolicies", "pods")
        for s in ("aaaaaaaaaaaa", "cccccccccccc", "eeeeeeeeeeee")
    ]


def test_an_empty_namespace_deletes_nothing() -> None:
    api = RecordedApi("agents")
    client = api.client()
    assert prune_finished(CoreV1Api(client), NetworkingV1Api(client), "agents") == []
    assert not [c for c in api.calls if c[0] == "DELETE"]
