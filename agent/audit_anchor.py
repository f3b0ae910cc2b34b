"""What makes the audit log hard to cut: a secret key kept outside the data dir, and the
log's head (last sequence number and hash) anchored in a file apart from the log.

The key (32 random bytes, hex) is created on first use with mode 0600 in Rempart's config
dir, or read from where `REMPART_AUDIT_KEY_FILE` says (an organisation may install one,
e.g. `/etc/rempart/audit.key`). Records are keyed with HMAC-SHA256, so whoever does not
hold the key cannot recompute the chain after dropping or rewriting a record. The anchor
is rewritten under the log's lock after each append; it is MAC'd with the same key.

The anchor file is always `ANCHOR_BYTES` long (the JSON padded with spaces), so after the
first append it is overwritten in place: one write at offset 0 of a file shorter than a
disk sector, then `fdatasync` (the size never changes, so no metadata needs flushing and
the folder is untouched). A write of at most one 512-byte sector is atomic on disks, the
same assumption PostgreSQL makes for `pg_control`. A missing anchor, one of another size
(written by an older Rempart, or edited), a symlink or a file with other hard links is
replaced the old way instead: temporary file, fsync, rename, fsync of the folder.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import json
import os
import secrets
import stat
from pathlib import Path

from pydantic import BaseModel, ValidationError

from policies.errors import RempartError

KEY_BYTES = 32
ANCHOR_BYTES = 256  # under one 512-byte sector: written in place, atomically


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


def anchor_bytes(anchor: Anchor) -> bytes:
    """The anchor file's content: JSON padded with spaces to `ANCHOR_BYTES` (JSON readers
    ignore the padding); longer only if a field ever outgrows it (then never in place)."""
    data = anchor.model_dump_json().encode()
    return data + b" " * max(0, ANCHOR_BYTES - 1 - len(data)) + b"\n"


def write_anchor(path: Path, anchor: Anchor) -> None:
    """Make `anchor` the durable head: in place when the file is a padded anchor already,
    else replaced atomically (temporary file, fsync, rename, fsync the folder)."""
    data = anchor_bytes(anchor)
    if len(data) == ANCHOR_BYTES and _overwrite(path, data):
        return
    _replace(path, data)


def _overwrite(path: Path, data: bytes) -> bool:
    """Rewrite the anchor in place; False when it is not a plain padded anchor file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a symlink: replaced, as before, never written through
            return False
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size != len(data) or info.st_nlink != 1:
            return False
        if os.pwrite(fd, data, 0) != len(data):
            raise OSError(errno.EIO, "short write of the anchor")
        os.fdatasync(fd)
    finally:
        os.close(fd)
    return True


def _replace(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
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
