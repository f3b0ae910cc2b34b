"""`K8sSandbox`: the `Sandbox` protocol with a pod per session instead of a container.

Everything between the policy and the executor is the Docker backend's (`Sandbox`): the
read view, the change judge, sync, revert, file operations. What differs is where the
sandbox lives: the NetworkPolicies, the egress proxy pod and the sandbox pod built by
`sandbox.k8s.manifests`, created through the API server; the workspace copied in with a
`tar -x` over `pods/exec`; the executor reached over `pods/exec` (`PodExecutor`).

Not run against a cluster here (none can run on the machines this was written on): the
tests replay API responses hand-recorded from the Kubernetes API reference (see
tests/sandbox/k8s/). docs/scale.md says what was and was not run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import urllib3
from kubernetes.client import ApiClient, CoreV1Api, NetworkingV1Api
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from sandbox.changes import ChangeReport, Judge, Outcome
from sandbox.checkpoints import ChangeSet
from sandbox.container import CONTAINER_WORKSPACE, SANDBOX_UID, workspace_tmpfs_bytes
from sandbox.egress import EgressEvent
from sandbox.engine import KEEPER_EXIT_DETACHED, LABEL_SESSION
from sandbox.errors import SandboxError
from sandbox.k8s.execstream import PodExecutor, pod_running, push_tar_exec
from sandbox.k8s.manifests import (
    PROXY_PORT,
    K8sOptions,
    pod_name,
    proxy_name,
    proxy_network_policy,
    proxy_pod,
    sandbox_network_policy,
    sandbox_pod,
)
from sandbox.k8s.prune import prune_finished
from sandbox.sandbox import FILE_OP_TIMEOUT_S, PROXY_READY_TIMEOUT_S, REPLY_MARGIN_S, Sandbox
from sandbox.spec import SandboxSpec
from sandbox.view import build_view, remove_stale_temporaries, spool_tar

API_TIMEOUT_S = 30.0
# what the client raises: the API server's refusals, and its absence (refused, timed out)
API_ERRORS: tuple[type[Exception], ...] = (ApiException, urllib3.exceptions.HTTPError)
POD_READY_TIMEOUT_S = 120.0  # an image pull on a cold node is the slow part
POLL_S = 0.5
log = logging.getLogger(__name__)


def _proxy_env(address: str) -> dict[str, str]:
    url = f"http://{address}"
    return {
        "HTTP_PROXY": url,
        "HTTPS_PROXY": url,
        "http_proxy": url,
        "https_proxy": url,
        "NO_PROXY": "",
        "no_proxy": "",
    }


def api_error(what: str, exc: Exception) -> SandboxError:
    """An API server refusal (RBAC, quota, admission) or its absence, for a person."""
    if not isinstance(exc, ApiException):
        return SandboxError(
            f"cannot {what}: the Kubernetes API server did not answer ({exc})",
            hint="check the kubeconfig or in-cluster service account, and the network to "
            "the API server",
        )
    detail = exc.reason or ""
    with contextlib.suppress(ValueError, AttributeError):  # not a Status object: keep reason
        detail = str(json.loads(exc.body or "{}").get("message") or detail)
    hints = {
        403: "the service account needs create/get/delete on pods, pods/exec, pods/log "
        "and networkpolicies in the namespace (see docs/scale.md)",
        409: "a pod of that name exists: `kubectl delete pods -l rempart.session=...`",
        422: "the cluster refused the manifest: check it with `rempart sandbox manifest`",
    }
    hint = hints.get(exc.status or 0, "check the API server and the namespace's quota")
    if "RuntimeClass" in detail:
        hint = "the policy asks for gVisor: install runsc on the nodes and create its "
        hint += "RuntimeClass (docs/scale.md), or name yours in K8sOptions.gvisor_class"
    elif "exceeded quota" in detail:
        hint = "the namespace's ResourceQuota is spent: wait for sessions to end, or raise it"
    return SandboxError(f"cannot {what}: {exc.status} {detail}".strip(), hint=hint)


class K8sSandbox(Sandbox):
    """A per-session sandbox pod. `with K8sSandbox(spec, api, options) as sb: ...`."""

    def __init__(
        self,
        spec: SandboxSpec,
        api: ApiClient,
        options: K8sOptions | None = None,
        readable: Callable[[str], bool] | None = None,
        judge: Judge | None = None,
        on_refused: Callable[[Outcome], None] | None = None,
        on_synced: Callable[[ChangeReport], None] | None = None,
        on_change_set: Callable[[ChangeSet], None] | None = None,
        ready_timeout_s: float = POD_READY_TIMEOUT_S,
    ) -> None:
        super().__init__(
            spec,
            client=None,
            readable=readable,
            judge=judge,
            on_refused=on_refused,
            on_synced=on_synced,
            on_change_set=on_change_set,
        )
        self.options = options or K8sOptions()
        self.core = CoreV1Api(api)
        self.net = NetworkingV1Api(api)
        self.ready_timeout_s = ready_timeout_s
        self.proxy_address = ""  # ip:port of this session's proxy pod ("" without network)
        self.pod_ip = ""

    @property
    def namespace(self) -> str:
        return self.options.namespace

    # lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Create the fences, the proxy (with network) and the sandbox pod, fill the
        workspace, start the executor; anything left half-made is deleted on failure."""
        try:
            self._start()
        except API_ERRORS as exc:
            raise api_error(f"start sandbox pod {pod_name(self.session)}", exc) from exc

    def _start(self) -> None:
        self._prune_orphans()
        view = build_view(self.spec.workspace, self.readable)
        remove_stale_temporaries(view)
        self._check_fits(view)
        if self.view is not None:  # a replaced sandbox: the session's growth still counts
            view.grown = self.view.grown
        view.disk_limit = self.spec.limits.disk_bytes()
        self.view = view
        name = pod_name(self.session)
        try:
            env: dict[str, str] = {}
            self._create_policy(sandbox_network_policy(self.spec, self.session, self.options))
            if self.spec.network_rules:
                self._create_policy(proxy_network_policy(self.spec, self.session, self.options))
                self._create_pod(proxy_pod(self.spec, self.session, self.options))
                ip = self._wait_running(proxy_name(self.session))
                self._wait_listening(proxy_name(self.session))
                self.proxy_address = f"{ip}:{PROXY_PORT}"
                env = _proxy_env(self.proxy_address)
            size = workspace_tmpfs_bytes(self.spec, view.pages())
            self._create_pod(sandbox_pod(self.spec, self.session, self.options, env, size))
            self.pod_ip = self._wait_running(name)
            with spool_tar(view, SANDBOX_UID, SANDBOX_UID) as tar:
                push_tar_exec(self.core, self.namespace, name, "sandbox", tar, CONTAINER_WORKSPACE)
            self._executor = PodExecutor(self.core, self.namespace, name)
            self._executor.start()
            self._request({"op": "snapshot"}, FILE_OP_TIMEOUT_S)
            if self.proxy_address:
                self._wait_proxy_path(PROXY_READY_TIMEOUT_S)
        except BaseException:
            log.warning("sandbox pod %s did not start", name, exc_info=True)
            try:
                self.close()
            except SandboxError:  # the first failure is the one to report
                log.warning("sandbox %s: cleanup failed too", self.session, exc_info=True)
            raise
        log.info("sandbox pod %s started in %s", name, self.namespace)

    def _create_policy(self, body: dict[str, Any]) -> None:
        # the client sends a dict as it is (sanitize_for_serialization): no model round trip
        self.net.create_namespaced_network_policy(
            self.namespace, cast(Any, body), _request_timeout=API_TIMEOUT_S
        )

    def _create_pod(self, body: dict[str, Any]) -> None:
        self.core.create_namespaced_pod(
            self.namespace, cast(Any, body), _request_timeout=API_TIMEOUT_S
        )

    def _wait_running(self, name: str) -> str:
        """Poll (bounded) until the pod runs; returns its IP. A pod that ended or cannot
        pull its image is an error at once, with the kubelet's reason."""
        deadline = time.monotonic() + self.ready_timeout_s
        pause = threading.Event()
        reason = "pending"
        while time.monotonic() < deadline:
            pod = self.core.read_namespaced_pod(
                name, self.namespace, _request_timeout=API_TIMEOUT_S
            )
            status = pod.status
            if status is None:  # just created: the scheduler has not written it yet
                pause.wait(POLL_S)
                continue
            if status.phase == "Running" and status.pod_ip:
                return str(status.pod_ip)
            if status.phase in ("Failed", "Succeeded"):
                raise SandboxError(
                    f"pod {name} ended before it was ready ({status.phase}: {status.reason or ''})",
                    hint=f"`kubectl -n {self.namespace} describe pod {name}`",
                )
            for cs in status.container_statuses or []:
                waiting = cs.state.waiting if cs.state is not None else None
                if waiting is not None and waiting.reason in (
                    "ErrImagePull",
                    "ImagePullBackOff",
                    "InvalidImageName",
                    "CreateContainerConfigError",
                    "CreateContainerError",
                ):
                    raise SandboxError(
                        f"pod {name} cannot start: {waiting.reason}: {waiting.message or ''}",
                        hint="push the sandbox image to the cluster's registry "
                        "(`rempart sandbox build`, then tag and push)",
                    )
                if waiting is not None and waiting.reason:
                    reason = waiting.reason
            pause.wait(POLL_S)
        raise SandboxError(
            f"pod {name} was not running after {self.ready_timeout_s:g}s (last: {reason})",
            hint=f"`kubectl -n {self.namespace} describe pod {name}` (quota? no node fits?)",
        )

    def _wait_listening(self, name: str) -> None:
        """The proxy's `listening` log line, as the Docker backend waits for it."""
        deadline = time.monotonic() + self.ready_timeout_s
        pause = threading.Event()
        while time.monotonic() < deadline:
            if '"listening"' in self._pod_log(name):
                return
            pause.wait(POLL_S / 5)
        raise SandboxError(f"the egress proxy pod {name} did not start listening")

    def _pod_log(self, name: str) -> str:
        text = self.core.read_namespaced_pod_log(
            name, self.namespace, _request_timeout=API_TIMEOUT_S
        )
        return str(text or "")

    def _wait_proxy_path(self, timeout_s: float) -> None:
        """From inside the sandbox: its proxy answers the probe (the NetworkPolicy lets
        the sandbox reach it), before the first command may use the network."""
        payload = {"op": "proxy_ready", "listen": self.proxy_address, "timeout_s": timeout_s}
        reply = self._request(payload, timeout_s + REPLY_MARGIN_S)
        self.proxy_wait_ms = float(reply.get("waited_ms", 0.0))
        if not reply.get("ready"):
            raise SandboxError(
                f"the sandbox's egress proxy {self.proxy_address} did not answer within "
                f"{timeout_s:g}s ({reply.get('problem', '?')})",
                hint="does the cluster's network plugin enforce NetworkPolicy and allow "
                "pod-to-pod traffic in the namespace? (see docs/scale.md)",
            )

    def _prune_orphans(self) -> None:
        """What finished sessions left in the namespace (`sandbox.k8s.prune`)."""
        gone = prune_finished(self.core, self.net, self.namespace)
        if gone:
            log.info("removed the objects of %d finished session(s): %s", len(gone), gone)

    def close(self, keep_client: bool = False) -> None:
        """Stop the executor, keep the proxy's log, delete every object of the session."""
        if self._executor is not None:
            self._executor.close()
            self._executor = None
        if self.proxy_address:
            self._egress_past.extend(self._proxy_events())
            self.proxy_address = ""
        selector = f"{LABEL_SESSION}={self.session}"
        try:
            self.core.delete_collection_namespaced_pod(
                self.namespace,
                label_selector=selector,
                grace_period_seconds=0,
                _request_timeout=API_TIMEOUT_S,
            )
            self.net.delete_collection_namespaced_network_policy(
                self.namespace, label_selector=selector, _request_timeout=API_TIMEOUT_S
            )
        except API_ERRORS as exc:
            raise api_error(f"delete sandbox {self.session}", exc) from exc
        log.info("sandbox pod %s deleted", pod_name(self.session))

    def _proxy_events(self) -> list[EgressEvent]:
        try:
            raw = self._pod_log(proxy_name(self.session))
        except API_ERRORS:  # gone, or no API: nothing more to read
            return []
        out: list[EgressEvent] = []
        for line in raw.splitlines():
            try:
                data = json.loads(line)
                if isinstance(data, dict) and "decision" in data:
                    out.append(EgressEvent.model_validate({**data, "sandbox": self.session}))
            except (ValueError, ValidationError):
                continue
        return out

    def egress_events(self) -> list[EgressEvent]:
        current = self._proxy_events() if self.proxy_address else []
        return [*self._egress_past, *current]

    def _keeper_stopped(self) -> bool:
        """Did the pod end because its executor was gone (the keeper's exit code)?"""
        try:
            pod = self.core.read_namespaced_pod(
                pod_name(self.session), self.namespace, _request_timeout=API_TIMEOUT_S
            )
        except API_ERRORS:  # gone, or no API: not known to be the keeper
            return False
        for cs in (pod.status.container_statuses if pod.status is not None else None) or []:
            ended = cs.state.terminated if cs.state is not None else None
            if ended is not None and ended.exit_code == KEEPER_EXIT_DETACHED:
                return True
        return False

    @property
    def container_id(self) -> str:
        """The pod's name (what `kubectl exec` takes)."""
        if self._executor is None:
            raise SandboxError("the sandbox is not started")
        return pod_name(self.session)

    def is_running(self) -> bool:
        return pod_running(self.core, self.namespace, pod_name(self.session))
