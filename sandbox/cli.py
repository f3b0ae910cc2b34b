"""`rempart sandbox ...`: build, exec, shell, ls, prune.

`exec` passes the command's exit code through, like `docker run`: 126 when it cannot be
invoked, 127 when it is not found; the sandbox's own errors are 125 (`SandboxError`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from policies.errors import RempartError
from policies.exitcodes import Exit
from policies.shipped import policy_argument
from policies.termsafe import safe_line
from sandbox.engines import Engines, EngineSweep, cli_args, sweep
from sandbox.errors import DockerUnavailable
from sandbox.image_build import DEFAULT_MIRROR, build_image, ensure_image
from sandbox.k8s.cli import add_manifest_command
from sandbox.policy_bridge import confined
from sandbox.progress import reporter_for
from sandbox.sandbox import Sandbox


def _sandbox(args: argparse.Namespace) -> Sandbox:
    from policies import PolicySet  # only the confining commands need the policy engine

    policy = PolicySet.load([("cli", p) for p in args.policy])
    return confined(policy, Path(args.workspace), image=ensure_image(args.base))


def cmd_build(args: argparse.Namespace) -> int:
    ca = Path(args.ca_bundle) if args.ca_bundle else None
    tag = build_image(
        base=args.base, force=args.force, mirror=args.mirror, ca_bundle=ca, progress=reporter_for()
    )
    print(tag)
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    command: list[str] = list(args.cmd)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise RempartError("no command given", hint="rempart sandbox exec ... -- CMD [ARGS...]")
    # one word is a shell string (`-- "cat .env | wc -c"`), several are an argv
    cmd: str | list[str] = command[0] if len(command) == 1 else command
    with _sandbox(args) as sb:
        spec = sb.spec
        result = sb.run(cmd, timeout_s=args.timeout)
        egress = [e.model_dump() for e in sb.egress_events()]
        view = sb.view
    if args.json:
        out = result.model_dump()
        out.update(
            session=sb.session,
            hidden=view.hidden if view else [],
            git_hidden=view.git_hidden if view else {},
            skipped=view.skipped if view else [],
            network_allow=list(spec.network_allow),
            egress=egress,
        )
        print(json.dumps(out))
        return 0
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.timed_out:
        sys.stderr.write(f"rempart: command timed out after {spec.limits.timeout_s:g}s\n")
    return result.exit_code


def cmd_shell(args: argparse.Namespace) -> int:
    with _sandbox(args) as sb:
        flags = "-it" if sys.stdin.isatty() else "-i"
        argv = ["docker", *cli_args(sb.engine), "exec", flags, "-u", sb.user, "-w", "/workspace"]
        # interactive: no timeout on purpose; the container is removed when the shell exits
        code = subprocess.run([*argv, sb.container_id, "bash", "-l"], check=False).returncode
        report = sb.sync()  # what the shell changed reaches the host only if allowed
        if report.refused:
            sys.stderr.write(report.summary() + "\n")
        return code


def _swept(sweep_result: EngineSweep, engines: Engines) -> int:
    """Report the engines that could not be walked: every one down is an error (as with
    one engine); some down: the others were walked, and the exit code says it (125)."""
    for state in sweep_result.unreachable:
        sys.stderr.write(f"rempart: engine {state.url} skipped: {safe_line(state.problem)}\n")
    if sweep_result.unreachable and len(sweep_result.unreachable) == len(engines.addresses):
        raise DockerUnavailable(
            "no Docker engine answered: "
            + "; ".join(f"{s.url}: {s.problem}" for s in sweep_result.unreachable),
            hint="start dockerd, or check REMPART_DOCKER_HOSTS / DOCKER_HOST",
        )
    return Exit.SANDBOX if sweep_result.unreachable else Exit.OK


def cmd_ls(args: argparse.Namespace) -> int:
    engines = Engines.from_env()
    found = sweep(engines, remove=False, max_age_h=args.max_age_hours)
    code = _swept(found, engines)
    if args.json:
        print(json.dumps([r.model_dump() for r in found.resources]))
        return code
    where = "ENGINE " if engines.several else ""
    print(
        f"{'KIND':<15} {'SESSION':<14} {'NAME':<32} {'STATUS':<10} {'ORPHAN':<6} {where}WORKSPACE"
    )
    for r in found.resources:
        engine = f"{safe_line(r.engine)} " if engines.several else ""
        print(
            f"{r.kind:<15} {r.session:<14} {safe_line(r.name):<32} {r.status:<10} "
            f"{'yes' if r.orphan else 'no':<6} {engine}{safe_line(r.workspace)}"
        )
    return code


def cmd_prune(args: argparse.Namespace) -> int:
    engines = Engines.from_env()
    found = sweep(
        engines,
        remove=True,
        everything=args.all,
        max_age_h=args.max_age_hours,
        dry_run=args.dry_run,
    )
    code = _swept(found, engines)
    verb = "would remove" if args.dry_run else "removed"
    for r in found.resources:
        engine = f" on {safe_line(r.engine)}" if engines.several else ""
        print(f"{verb} {r.type} {safe_line(r.name)} (session {r.session or '-'}, {r.kind}){engine}")
    removed = len(found.resources)
    print(f"{removed} resource(s) {'to remove (dry run)' if args.dry_run else 'removed'}")
    return code


def _confinement_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", required=True, help="project folder mounted at /workspace")
    p.add_argument(
        "--policy",
        action="append",
        required=True,
        type=policy_argument,
        metavar="NAME|FILE",
        help="policy file(s), or a shipped policy (default, strict, ci)",
    )
    p.add_argument("--base", default=None, help="image base the sandbox was built from")


def _add_subcommands(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="sandbox_command", required=True, metavar="COMMAND")
    b = sub.add_parser("build", help="build the sandbox image (no registry needed)")
    b.add_argument("--base", default=None, help="start from this local image, not debootstrap")
    b.add_argument("--force", action="store_true", help="rebuild even if the tag exists")
    b.add_argument("--mirror", default=DEFAULT_MIRROR, help="Debian mirror for debootstrap")
    b.add_argument("--ca-bundle", default=None, help="PEM bundle to trust (default: host's)")
    b.set_defaults(func=cmd_build)
    e = sub.add_parser("exec", help="run one command in the confinement a policy implies")
    _confinement_args(e)
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--timeout", type=float, default=None, help="seconds (policy caps it)")
    e.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    e.set_defaults(func=cmd_exec)
    s = sub.add_parser("shell", help="interactive bash in the same confinement")
    _confinement_args(s)
    s.set_defaults(func=cmd_shell)
    add_manifest_command(sub)
    for name, func, text in (
        ("ls", cmd_ls, "list sandboxes, proxies, volumes and networks"),
        ("prune", cmd_prune, "remove what a dead Rempart process left behind"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument(
            "--max-age-hours",
            type=float,
            default=None,
            help="also count as orphaned what is older (default: only a dead owner's)",
        )
        if name == "ls":
            p.add_argument("--json", action="store_true")
        else:
            p.add_argument("--all", action="store_true", help="remove every Rempart sandbox")
            p.add_argument("--dry-run", action="store_true", help="list, remove nothing")
        p.set_defaults(func=func)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `sandbox` command group to the main `rempart` parser."""
    parser = sub.add_parser("sandbox", help="hardened Docker sandboxes")
    _add_subcommands(parser)
