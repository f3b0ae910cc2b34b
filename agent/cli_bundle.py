"""`rempart bundle keygen|create|verify|install`: the signed offline bundle (docs/airgap.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agent.bundle import host, signing
from agent.bundle.create import CreateOptions, create, find_source
from agent.bundle.errors import BundleError
from agent.bundle.install import InstallOptions, install
from agent.bundle.verify import verify_bundle
from agent.settings import Settings
from sandbox.progress import reporter_for

DEFAULT_PREFIX = Path("/opt/rempart")
SITE_KEYS = "/etc/rempart"  # where docs/airgap.md has the site keep the key it was given


def cmd_keygen(args: argparse.Namespace) -> int:
    public = signing.keygen(Path(args.key))
    print(f"private key: {args.key} (keep it on the build machine, never in a bundle)")
    print(f"public key:  {public} ({signing.fingerprint(public)}): give it to each site")
    _print_checks(public)
    return 0


def _print_checks(public: Path) -> None:
    """The allowed_signers line and the by-hand check, for the trusted channel."""
    signers = signing.write_allowed_signers(public)
    print(f"allowed signers: {signers} (give it with the public key, by the same channel):")
    print(f"  {signing.allowed_signers_line(public).strip()}")
    print(
        f"the site keeps both in {SITE_KEYS}/ and checks each bundle with these commands "
        "(bash, in the bundle's folder) BEFORE running anything from it:"
    )
    for command in signing.check_commands(f"{SITE_KEYS}/{signers.name}"):
        print(f"  {command}")


def cmd_create(args: argparse.Namespace) -> int:
    source = Path(args.source) if args.source else find_source()
    if source is None:
        raise BundleError(
            "no Rempart checkout to build the wheel and read the locks from",
            hint="pass --source DIR (a clone of Rempart at the version to bundle)",
        )
    if args.key is None and not args.unsigned:
        raise BundleError(
            "no signing key", hint="pass --key KEY (`rempart bundle keygen KEY`) or --unsigned"
        )
    options = CreateOptions(
        out=Path(args.out).resolve(),
        source=source.resolve(),
        key=Path(args.key).resolve() if args.key else None,
        server_wheels=not args.no_server,
        model=not args.no_model,
        host_packages=()
        if args.no_host_packages
        else tuple(args.host_package or host.HOST_PACKAGES),
        image=not args.no_image,
    )
    info = create(options, Settings(), reporter_for(sys.stderr))
    print(
        f"bundle ready in {options.out} (rempart {info.rempart_version}, "
        f"signed by {info.signed_by or 'nobody'})"
    )
    if options.key is not None:
        _print_checks(options.key.with_name(options.key.name + ".pub"))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    pubkey = Path(args.pubkey) if args.pubkey else None
    verified = verify_bundle(Path(args.out), pubkey, args.insecure, reporter_for(sys.stderr))
    for warning in verified.warnings:
        print(warning, file=sys.stderr)
    print(f"ok: {verified.files} files match SHA256SUMS, signed by {verified.signed_by}")
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    options = InstallOptions(
        bundle=Path(args.out).resolve(),
        prefix=Path(args.prefix).resolve(),
        pubkey=Path(args.pubkey).resolve() if args.pubkey else None,
        insecure=args.insecure,
        host_packages=not args.no_host_packages,
        doctor=not args.no_doctor,
        staged=args.staged,
        allow_downgrade=args.allow_downgrade,
    )
    code = install(options, Settings(), reporter_for(sys.stderr))
    rempart = options.prefix / "bin" / "rempart"
    if code == 0:
        print(f"installed: {rempart} (add {rempart.parent} to PATH)")
    else:
        print(f"installed {rempart}, but `rempart doctor` found problems (above)", file=sys.stderr)
    return code


def _signature_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pubkey", help="the bundle maker's public key (KEY.pub)")
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="accept an unsigned or wrongly signed bundle (the file sums are still checked)",
    )


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("bundle", help="make, check and install a signed offline bundle")
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)
    keygen = verbs.add_parser("keygen", help="a new ed25519 signing key pair (KEY, KEY.pub)")
    keygen.add_argument("key", metavar="KEY", help="where to write the private key")
    keygen.set_defaults(func=cmd_keygen)

    make = verbs.add_parser("create", help="download and sign everything a site needs")
    make.add_argument("out", metavar="OUT", help="the bundle folder (a rerun resumes)")
    make.add_argument("--key", help="private key to sign SHA256SUMS with")
    make.add_argument("--unsigned", action="store_true", help="do not sign (not advised)")
    make.add_argument("--source", help="Rempart checkout (default: the one running)")
    make.add_argument("--no-server", action="store_true", help="leave out vLLM and torch")
    make.add_argument("--no-model", action="store_true", help="leave out the model weights")
    make.add_argument("--no-image", action="store_true", help="leave out the sandbox image")
    make.add_argument(
        "--no-host-packages", action="store_true", help="leave out the Debian packages"
    )
    make.add_argument(
        "--host-package",
        action="append",
        metavar="PKG",
        help=f"a Debian package to carry, repeatable (default: {' '.join(host.HOST_PACKAGES)})",
    )
    make.set_defaults(func=cmd_create)

    check = verbs.add_parser("verify", help="check the signature and every file")
    check.add_argument("out", metavar="OUT", help="the bundle folder")
    _signature_options(check)
    check.set_defaults(func=cmd_verify)

    put = verbs.add_parser("install", help="install everything from the bundle, offline")
    put.add_argument("out", metavar="OUT", help="the bundle folder")
    _signature_options(put)
    put.add_argument(
        "--prefix",
        default=str(DEFAULT_PREFIX),
        help=f"Rempart's virtualenv (default {DEFAULT_PREFIX})",
    )
    put.add_argument(
        "--no-host-packages", action="store_true", help="do not install the Debian packages"
    )
    put.add_argument("--no-doctor", action="store_true", help="do not run `rempart doctor` after")
    put.add_argument(
        "--allow-downgrade",
        action="store_true",
        help="install a bundle older than the Rempart at --prefix (a rollback)",
    )
    put.add_argument("--staged", action="store_true", help=argparse.SUPPRESS)  # install.sh's
    put.set_defaults(func=cmd_install)
