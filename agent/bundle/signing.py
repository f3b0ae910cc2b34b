"""Signing SHA256SUMS with OpenSSH's `ssh-keygen -Y` and an ed25519 key.

Why ssh-keygen: openssh-client is on every Debian and every build machine already (no new
package to carry into the site, no key format of our own), its signatures are namespaced
(`-n rempart-bundle`, so a bundle signature can never pass for a git or SSH signature and
the reverse), and the private key can be passphrase-protected or live on a hardware token.
The public key is given to `verify` as a file; it becomes an allowed-signers line for
that one key and namespace, so only that key can pass.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from agent.bundle.errors import BundleError

NAMESPACE = "rempart-bundle"
IDENTITY = "rempart-bundle"
TIMEOUT_S = 120


def _ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if found is None:
        raise BundleError(
            "ssh-keygen is not installed: bundles are signed and checked with it",
            hint="apt-get install openssh-client (the bundle carries it in debs/)",
        )
    return found


def _run(cmd: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cmd, input=stdin, capture_output=True, timeout=TIMEOUT_S, check=False)


def keygen(private_key: Path, comment: str = IDENTITY) -> Path:
    """A new ed25519 key pair at `private_key` and `private_key.pub`; returns the latter.
    Refuses to overwrite an existing key."""
    public = private_key.with_name(private_key.name + ".pub")
    for path in (private_key, public):
        if path.exists():
            raise BundleError(f"{path} exists: not overwriting a key", hint="pick another path")
    private_key.parent.mkdir(parents=True, exist_ok=True)
    cmd = [_ssh_keygen(), "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(private_key)]
    done = _run(cmd)
    if done.returncode != 0:
        raise BundleError(f"ssh-keygen could not make a key: {done.stderr.decode().strip()}")
    return public


def fingerprint(public_key: Path) -> str:
    done = _run([_ssh_keygen(), "-l", "-f", str(public_key)])
    if done.returncode != 0:
        raise BundleError(
            f"{public_key} is not an SSH public key: {done.stderr.decode().strip()}",
            hint="pass the .pub file `rempart bundle keygen` wrote",
        )
    return done.stdout.decode().split()[1]


def sign(private_key: Path, message: Path) -> Path:
    """`message`.sig, made with `private_key` (ssh-keygen asks for a passphrase if the key
    has one)."""
    if not private_key.is_file():
        raise BundleError(
            f"signing key {private_key} does not exist",
            hint="make one with `rempart bundle keygen KEY`, or pass --unsigned",
        )
    signature = message.with_name(message.name + ".sig")
    signature.unlink(missing_ok=True)  # ssh-keygen will not overwrite it
    cmd = [_ssh_keygen(), "-Y", "sign", "-n", NAMESPACE, "-f", str(private_key), str(message)]
    done = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT_S, check=False)
    if done.returncode != 0 or not signature.is_file():
        raise BundleError(f"signing failed: {done.stderr.decode().strip()}")
    return signature


def allowed_signers_line(public_key: Path) -> str:
    """The `allowed_signers` line that lets only this key sign, only in our namespace."""
    key_text = public_key.read_text().split()
    if len(key_text) < 2 or not key_text[0].startswith(("ssh-", "sk-", "ecdsa-")):
        raise BundleError(
            f"{public_key} is not an SSH public key",
            hint="pass the .pub file `rempart bundle keygen` wrote",
        )
    return f'{IDENTITY} namespaces="{NAMESPACE}" {key_text[0]} {key_text[1]}\n'


def check_commands(allowed_signers: str) -> list[str]:
    """What a site runs by hand on the bundle's folder before anything from the bundle:
    Debian's own ssh-keygen and coreutils, no code from the bundle."""
    return [
        f"ssh-keygen -Y verify -f {allowed_signers} -I {IDENTITY} -n {NAMESPACE} "
        "-s SHA256SUMS.sig < SHA256SUMS",
        "sha256sum --quiet --strict -c SHA256SUMS",
        # nothing else: both print nothing on a good bundle
        "find . -mindepth 1 \\( -type l -o ! -type f ! -type d \\) -print",
        "LC_ALL=C comm -13 <(sed 's/^[0-9a-f]*  //' SHA256SUMS | sort) <(find . -type f "
        "! -path ./SHA256SUMS ! -path ./SHA256SUMS.sig -printf '%P\\n' | sort)",
    ]


def write_allowed_signers(public_key: Path) -> Path:
    """`KEY.allowed_signers` beside `KEY.pub`: the one line a site's `ssh-keygen -Y verify`
    needs, delivered with the public key by the trusted channel."""
    path = public_key.with_name(public_key.name.removesuffix(".pub") + ".allowed_signers")
    path.write_text(allowed_signers_line(public_key))
    return path


def verify(public_key: Path, message: bytes, signature: Path, name: str = "SHA256SUMS") -> str:
    """Checks that `signature` is `public_key`'s over the bytes `message` (read once by the
    caller, who then uses those same bytes) in our namespace; returns the key's
    fingerprint. Raises naming what is wrong."""
    line = allowed_signers_line(public_key)
    with tempfile.TemporaryDirectory(prefix="rempart-signers-") as tmp:
        signers = Path(tmp) / "allowed_signers"
        signers.write_text(line)
        cmd = [_ssh_keygen(), "-Y", "verify", "-f", str(signers), "-I", IDENTITY]
        cmd += ["-n", NAMESPACE, "-s", str(signature)]
        done = _run(cmd, stdin=message)
    if done.returncode != 0:
        raise BundleError(
            f"{signature.name} is not a valid signature of {name} by {public_key}: "
            f"{(done.stderr or done.stdout).decode().strip()}",
            hint="the bundle was changed after signing, or signed with another key: "
            "get the bundle and the public key again from their makers",
        )
    return fingerprint(public_key)
