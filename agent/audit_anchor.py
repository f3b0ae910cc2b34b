"""What makes the audit log hard to cut: a secret key kept outside the data dir, and the
log's head (last sequence number and hash) anchored in a file apart from the log.

The key (32 random bytes, hex) is created on first use with mode 0600 in Rempart's config
dir, or read from where `REMPART_AUDIT_KEY_FILE` says (an organisation may install one,
e.g. `/etc/rempart/audit.key`). Records are keyed with HMAC-SHA256, so whoever does not
hold the key cannot recompute the chain after dropping or rewriting a record. The anchor
is written atomically (temporary file, fsync, rename) under the log's lock, after each
append; it is MAC'd with the same key.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from pydantic import BaseModel, ValidationError

from policies.errors import RempartError

KEY_BYTES = 32


class AuditKeyError(RempartError):
    """The audit key cannot be read or created."""


class AuditKey:
    """The secret that keys every record; `id` names it in records (not secret)."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.id = hashlib.sha256(b"rempart-audit-key:" + secret).hexdigest()[:12]

    def mac(self, body: str) -> str:
        return hmac.new(self.secret, body.encode(), hashlib.sha256).hexdigest()

    @classmethod
    def load(cls, path: Path, create: bool = False) -> AuditKey | None:
        """The key in `path`; created (0600, atomically) when missing and `create`."""
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            if not create:
                return None
            return cls(_create(path))
        except OSError as exc:
            raise AuditKeyError(
                f"cannot read the audit key {path}: {exc.strerror}",
                hint="it must be readable by the user running Rempart (REMPART_AUDIT_KEY_FILE)",
            ) from exc
        try:
            secret = bytes.fromhex(text)
        except ValueError:
            secret = b""
        if len(secret) < 16:
            raise AuditKeyError(
                f"the audit key {path} is not at least 16 bytes of hex",
                hint="create one with: python3 -c 'import secrets; print(secrets.token_hex(32))'",
            )
        return cls(secret)


def _create(path: Path) -> bytes:
    """Write a new key beside its final name, then link it in place: of two processes
    creating it at once, both end up with the one that was linked first."""
    secret = secrets.token_bytes(KEY_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secret.hex() + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return bytes.fromhex(path.read_text().strip())
        finally:
            tmp.unlink()
    except OSError as exc:
        raise AuditKeyError(
            f"cannot create the audit key {path}: {exc.strerror}",
            hint="set REMPART_AUDIT_KEY_FILE to a writable place outside the data dir",
        ) from exc
    _fsync_dir(path.parent)
    return secret


class Anchor(BaseModel):
    """The log's head as last written: record `seq` had hash `hash`."""

    seq: int
    hash: str
    key: str
    mac: str = ""

    def body(self) -> str:
        return f"rempart-audit-anchor\n{self.seq}\n{self.hash}\n{self.key}"

    def signed(self, key: AuditKey) -> Anchor:
        return self.model_copy(update={"mac": key.mac(self.body())})

    def valid(self, key: AuditKey) -> bool:
        return hmac.compare_digest(self.mac, key.mac(self.body()))


def read_anchor(path: Path) -> Anchor | None:
    """The anchor, None when there is none; a file that is not one raises ValueError."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return Anchor.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        raise ValueError(f"the anchor {path} is not an anchor") from exc


def write_anchor(path: Path, anchor: Anchor) -> None:
    """Replace the anchor atomically (temporary file, fsync, rename, fsync the folder)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(anchor.model_dump_json() + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
