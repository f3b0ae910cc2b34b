"""A session's sandbox on the backend the settings name: a container on the Docker engines
(`docker_hosts`), or a pod per session on a Kubernetes cluster (`sandbox_backend =
"kubernetes"`). Both are `sandbox.Sandbox`: the same view, judge, sync and file operations."""

from __future__ import annotations

from collections.abc import Callable

from agent.errors import ConfigError
from agent.settings import Settings
from sandbox import Sandbox, SandboxSpec
from sandbox.changes import ChangeReport, Judge, Outcome
from sandbox.checkpoints import ChangeSet
from sandbox.engines import Engines
from sandbox.image_build import ensure_image


def sandbox_image(settings: Settings) -> str:
    """The image sessions run: `sandbox_image`, else (Docker only) the one built here."""
    if settings.sandbox_image:
        return settings.sandbox_image
    if settings.sandbox_backend == "kubernetes":
        raise ConfigError(
            "the Kubernetes backend needs sandbox_image: an image the cluster's nodes pull",
            hint="push the image of `rempart sandbox build` to your registry and set "
            "REMPART_SANDBOX_IMAGE=registry.example/rempart-sandbox:TAG (docs/scale.md)",
        )
    return ensure_image()


def new_sandbox(
    settings: Settings,
    spec: SandboxSpec,
    *,
    readable: Callable[[str], bool],
    judge: Judge,
    on_refused: Callable[[Outcome], None],
    on_synced: Callable[[ChangeReport], None],
    on_change_set: Callable[[ChangeSet], None],
    engines: Engines | None = None,
) -> Sandbox:
    """Not started yet: the caller starts it (or hands it to a pool's loader)."""
    if settings.sandbox_backend == "kubernetes":
        from sandbox.k8s.connect import api_client

        api = api_client(settings.kubeconfig)  # says how to install the `k8s` extra
        from sandbox.k8s.backend import K8sSandbox

        return K8sSandbox(
            spec,
            api,
            settings.k8s_options(),
            readable=readable,
            judge=judge,
            on_refused=on_refused,
            on_synced=on_synced,
            on_change_set=on_change_set,
        )
    return Sandbox(
        spec,
        readable=readable,
        judge=judge,
        on_refused=on_refused,
        on_synced=on_synced,
        on_change_set=on_change_set,
        engines=engines or settings.engines(),
    )
