"""The agent's verbs in the `policy` group: which layers are in force, and trusting a project's."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from agent.discovery import (
    PROJECT_POLICY,
    Layer,
    discover_layers,
    load_policy_set,
    trust_file,
    trust_project_policy,
)
from agent.mcp_config import load_file as load_mcp_file
from agent.mcp_config import project_files as mcp_project_files
from agent.settings import Settings
from policies.errors import RempartError
from policies.shipped import policy_argument
from policies.termsafe import json_safe, safe_line


def cmd_layers(args: argparse.Namespace) -> int:
    settings = Settings()
    layers = discover_layers(
        settings,
        Path(args.workspace).resolve(),
        list(args.policy),
        ignore_project=args.ignore_project_policy,
    )
    policy = load_policy_set(layers)
    limits = policy.limits
    if args.json:
        data = {
            "layers": [info.model_dump(mode="json") for info in policy.layers],
            "limits": limits.model_dump(mode="json"),
            "network_allow": list(policy.network_allow),
            "sandbox_runtime": policy.runtime.model_dump(mode="json"),
        }
        print(json_safe(json.dumps(data)))
        return 0
    for info in policy.layers:
        print(f"{safe_line(info.name):20} {safe_line(info.path)}  sha256:{info.sha256[:12]}")
    print(
        f"limits: cpus={limits.cpus} memory={limits.memory} pids={limits.pids} "
        f"timeout={limits.timeout_s}s output={limits.output_bytes}B"
    )
    print(f"network: {safe_line(', '.join(policy.network_allow)) or 'none'}")
    print(f"sandbox runtime: {safe_line(policy.runtime.describe())}")
    return 0


AGAIN = "; a changed file must be trusted again"


def cmd_trust(args: argparse.Namespace) -> int:
    settings = Settings()
    workspace = Path(args.workspace).resolve()
    path = workspace / PROJECT_POLICY
    mcp_files = mcp_project_files(workspace)
    if not path.exists() and not mcp_files:
        raise RempartError(f"{path} does not exist", hint="nothing to trust")
    for config in mcp_files:  # the project's MCP servers (.mcp.json, .rempart/mcp.yaml)
        load_mcp_file(config)  # a file that does not load is not trusted
    if path.exists():
        load_policy_set([*discover_layers(settings, None, []), Layer(name="project", path=path)])
        digest = trust_project_policy(settings, workspace)
        print(f"trusted {safe_line(str(path))} (sha256 {digest}){AGAIN}")
    for config in mcp_files:
        digest = trust_file(settings, config)
        print(f"trusted {safe_line(str(config))} (sha256 {digest}){AGAIN}")
    return 0


def extend(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    layers = verbs.add_parser("layers", help="the policy layers in force for a workspace")
    layers.add_argument("--workspace", default=".", metavar="DIR")
    layers.add_argument(
        "--policy",
        action="append",
        default=[],
        type=policy_argument,
        metavar="NAME|FILE",
        help="add a policy layer: a file or a shipped policy (default, strict, ci)",
    )
    layers.add_argument(
        "--ignore-project-policy",
        action="store_true",
        help="do not read .rempart/policy.yaml from the workspace",
    )
    layers.add_argument("--json", action="store_true", help="one JSON object")
    layers.set_defaults(func=cmd_layers)
    trust = verbs.add_parser(
        "trust",
        help="trust the workspace's .rempart/policy.yaml, .mcp.json and .rempart/mcp.yaml "
        "as they are now",
    )
    trust.add_argument("--workspace", default=".", metavar="DIR")
    trust.set_defaults(func=cmd_trust)
