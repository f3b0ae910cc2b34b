"""`rempart sandbox manifest`: print the Kubernetes objects one session would be made of.

For a security review: the same code path as `K8sSandbox.start` (the policy -> spec ->
manifests), with a placeholder session id and no cluster. The values of passed-through
environment variables are not printed (their names are).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from policies.shipped import policy_argument
from sandbox.container import workspace_tmpfs_bytes
from sandbox.k8s.manifests import K8sOptions, session_manifests, setup_manifests
from sandbox.policy_bridge import readable, spec_from_policy
from sandbox.view import build_view

EXAMPLE_SESSION = "000000000000"
HIDDEN = "(passed through from the host; not printed)"


def render(args: argparse.Namespace) -> str:
    from policies import PolicySet  # only this command needs the policy engine

    policy = PolicySet.load([("cli", p) for p in args.policy])
    spec = spec_from_policy(policy, Path(args.workspace), image=args.image)
    spec = spec.model_copy(update={"env": dict.fromkeys(spec.env, HIDDEN)})
    view = build_view(spec.workspace, readable(policy))
    options = K8sOptions(namespace=args.namespace, runtime_class=args.runtime_class)
    size = workspace_tmpfs_bytes(spec, view.pages())
    objects = session_manifests(spec, EXAMPLE_SESSION, options, workspace_bytes=size)
    if args.setup:
        objects = [*setup_manifests(options), *objects]
    return yaml.safe_dump_all(objects, sort_keys=False)


def cmd_manifest(args: argparse.Namespace) -> int:
    print(render(args), end="")
    return 0


def add_manifest_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "manifest", help="print the Kubernetes objects a session would be (review them)"
    )
    p.add_argument("--workspace", required=True, help="project folder the session would copy")
    p.add_argument(
        "--policy",
        action="append",
        required=True,
        type=policy_argument,
        metavar="NAME|FILE",
        help="policy file(s), or a shipped policy (default, strict, ci)",
    )
    p.add_argument("--backend", choices=["k8s"], default="k8s", help="only k8s for now")
    p.add_argument("--namespace", default=K8sOptions().namespace, help="the sessions' namespace")
    p.add_argument("--runtime-class", default=None, help="e.g. gvisor (RuntimeClass name)")
    p.add_argument(
        "--image", default="rempart-sandbox:latest", help="the sandbox image in your registry"
    )
    p.add_argument(
        "--setup",
        action="store_true",
        help="also print the one-time objects: namespace (restricted), default deny, RBAC",
    )
    p.set_defaults(func=cmd_manifest)
