"""The Kubernetes backend's API client: a kubeconfig when one is named, else the pod's
service account inside the cluster, else the default kubeconfig (KUBECONFIG, ~/.kube/config).

The `kubernetes` package is the `k8s` extra: without it, this says how to install it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from sandbox.errors import SandboxError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient


def api_client(kubeconfig: Path | None = None) -> ApiClient:
    try:
        from kubernetes import config
        from kubernetes.client import ApiClient, Configuration
    except ImportError as exc:
        raise SandboxError(
            "the Kubernetes sandbox backend needs the `kubernetes` package",
            hint="install Rempart with the k8s extra: pip install 'rempart[k8s]'",
        ) from exc
    where = str(kubeconfig) if kubeconfig else "the service account or default kubeconfig"
    try:
        if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config()  # type: ignore[no-untyped-call]
            return ApiClient()
        configuration = Configuration()
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig) if kubeconfig else None,
            client_configuration=configuration,
        )
        return ApiClient(configuration)
    except (config.ConfigException, OSError, ValueError) as exc:
        raise SandboxError(
            f"no Kubernetes API server to reach from {where}: {exc}",
            hint="set REMPART_KUBECONFIG to the cluster's kubeconfig, run Rempart inside the "
            'cluster, or use sandbox_backend = "docker"',
        ) from exc
