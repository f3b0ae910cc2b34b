"""Network destinations: host normalisation and `host[:port]` patterns.

A host is lower-cased, its trailing dot removed and IDNA-encoded. IP addresses in any
spelling (`2130706433`, `0x7f.1`, `0177.0.0.1`, `::ffff:127.0.0.1`) and local names
(`localhost`, cloud metadata names) become *literal* destinations that only a rule naming
that exact address or name can match: wildcards never reach them.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_INET = re.compile(r"[0-9a-fx.]+")
LOCAL_NAMES = frozenset(
    {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", "metadata",
     "metadata.google.internal", "instance-data", "instance-data.ec2.internal"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Host:
    name: str  # canonical spelling
    literal: bool  # IP address or local name: exact rules only

    def key(self, port: int) -> str:
        return f"{'=' if self.literal else ''}{self.name}:{port}"


def _inet_aton(text: str) -> ipaddress.IPv4Address | None:
    """The legacy IPv4 spellings `inet_aton` accepts (decimal, hex, octal, 1-4 parts)."""
    if not _INET.fullmatch(text) or not text[0].isdigit():
        return None
    parts = text.split(".")
    if len(parts) > 4 or "" in parts:
        return None
    nums: list[int] = []
    for part in parts:
        try:
            if part.startswith(("0x", "0X")):
                nums.append(int(part[2:] or "0", 16))
            elif part.startswith("0") and len(part) > 1:
                nums.append(int(part[1:], 8))
            else:
                nums.append(int(part, 10))
        except ValueError:
            return None
    last_bits = 8 * (5 - len(nums))
    if any(n > 255 for n in nums[:-1]) or nums[-1] >= 1 << last_bits:
        return None
    value = nums[-1]
    for i, n in enumerate(nums[:-1]):
        value |= n << (24 - 8 * i)
    return ipaddress.IPv4Address(value)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def parse_host(raw: str) -> Host:
    """Canonical host; raises ValueError for anything that is not a host name or address."""
    text = raw.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if not text or len(text) > 253 or any(ord(c) < 33 or c in "/\\@#?" for c in text):
        raise ValueError(f"not a host name: {raw!r}")
    text = text.lower()
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1]
    if ":" in text:
        if "%" in text:
            raise ValueError("IPv6 zone identifiers are not allowed")
        v6 = ipaddress.IPv6Address(text)
        mapped = v6.ipv4_mapped or v6.sixtofour
        return Host(str(mapped) if mapped else f"[{v6.compressed}]", True)
    v4 = _inet_aton(text)
    if v4 is not None:
        return Host(str(v4), True)
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"not a valid international host name: {raw!r}") from exc
    labels = text.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"not a host name: {raw!r}")
    local = text in LOCAL_NAMES or text.endswith((".localhost", ".internal", ".local"))
    return Host(text, local)


def pattern_regex(pattern: str) -> str:
    """Regex text over `Host.key(port)` for `host[:port]`, `*.domain[:port]` or `*[:port]`."""
    host, port = pattern, ""
    if pattern.startswith("["):
        end = pattern.find("]")
        if end < 0:
            raise ValueError("unclosed `[` in IPv6 pattern")
        host, rest = pattern[: end + 1], pattern[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError("expected `:port` after `]`")
        port = rest[1:]
    elif pattern.count(":") == 1:
        host, port = pattern.split(":")
    elif ":" in pattern:
        raise ValueError("write IPv6 addresses in brackets: `[::1]:443`")
    if port and port != "*" and (not port.isdigit() or not 0 < int(port) < 65536):
        raise ValueError(f"port must be 1-65535 or `*`, got `{port}`")
    port_re = f":{int(port)}" if port and port != "*" else r":[0-9]+"
    if host == "*":
        return r"[^:=]+" + port_re
    if host.startswith("*."):
        suffix = parse_host(host[2:])
        if suffix.literal and _is_ip(suffix.name):
            raise ValueError("`*.` applies to domain names, not addresses")
        # subdomains of a local name (`*.corp.internal`) are literal too: named explicitly
        return ("=" if suffix.literal else "") + r"[^:=]+\." + re.escape(suffix.name) + port_re
    if "*" in host:
        raise ValueError("`*` is allowed only as a whole leftmost label (`*.example.com`)")
    exact = parse_host(host)
    return re.escape(exact.key(0).rsplit(":", 1)[0]) + port_re
