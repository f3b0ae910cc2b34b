"""Kubernetes sandbox backend: a pod per session behind the `Sandbox` protocol.

`manifests` needs nothing but pydantic (so `rempart sandbox manifest` works in the default
install); `backend`, `execstream` and `prune` need the `k8s` extra (the kubernetes client).
See docs/scale.md for what was and was not run (no cluster).
"""
