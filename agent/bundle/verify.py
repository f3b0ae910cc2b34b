"""`rempart bundle verify OUT --pubkey KEY`: the signature first, then every file.

Refused, each problem named: no SHA256SUMS; a signature missing, made by another key or
over another manifest (unless `--insecure`, which says so loudly); any file changed,
missing or extra (always: `--insecure` never skips the sums).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from agent.bundle import manifest, signing
from agent.bundle.errors import BundleError
from sandbox.progress import Reporter


class Verified(BaseModel):
    files: int
    digests: dict[str, str]  # the SHA256SUMS that was checked, name -> sha256
    signed_by: str | None  # the key's fingerprint; None when --insecure let it through
    warnings: list[str]


def verify_bundle(root: Path, pubkey: Path | None, insecure: bool, progress: Reporter) -> Verified:
    if not root.is_dir():
        raise BundleError(f"{root} is not a folder", hint="pass the bundle's folder")
    sums = root / manifest.SUMS
    if not sums.is_file():
        raise BundleError(
            f"{root} has no {manifest.SUMS}: not a finished bundle",
            hint="make it again with `rempart bundle create` (a rerun resumes)",
        )
    warnings: list[str] = []
    data = sums.read_bytes()  # read once: the bytes whose signature is checked are parsed
    signed_by = _check_signature(root, data, pubkey, insecure, warnings)
    expected = manifest.parse_sums(data.decode(errors="replace"), str(sums))
    result = manifest.compare(expected, manifest.digest_tree(root, progress))
    if not result.ok:
        raise BundleError(
            f"{root} is not the bundle that was made: "
            f"{len(result.changed)} changed, {len(result.missing)} missing, "
            f"{len(result.extra)} extra",
            hint="do not install it; get the bundle again from its maker",
            problems=result.lines(),
        )
    return Verified(files=len(expected), digests=expected, signed_by=signed_by, warnings=warnings)


def _check_signature(
    root: Path, sums: bytes, pubkey: Path | None, insecure: bool, warnings: list[str]
) -> str | None:
    signature = root / manifest.SIGNATURE
    problem: BundleError | None = None
    if not signature.is_file():
        problem = BundleError(
            f"{root} is not signed (no {manifest.SIGNATURE})",
            hint="ask for a signed bundle; --insecure installs an unsigned one (not advised)",
        )
    elif pubkey is None:
        problem = BundleError(
            "no public key to check the signature with",
            hint="pass --pubkey KEY.pub (the key the bundle's maker gave you)",
        )
    elif not pubkey.is_file():
        problem = BundleError(f"public key {pubkey} not found", hint="pass --pubkey KEY.pub")
    else:
        try:
            return signing.verify(pubkey, sums, signature)
        except BundleError as exc:
            problem = exc
    if not insecure:
        raise problem
    warnings.append(f"INSECURE: signature not checked: {problem.message}")
    return None
