"""Receiver addresses (``HOST[:PORT]``) and sending datagrams to them without fuss.

UDP needs no connection: a receiver that is not running (port closed) costs nothing and
never disturbs the stream (the socket is not connected, so the kernel's "port unreachable"
never comes back as an error). A host the network cannot reach makes every ``sendto`` fail:
:class:`DeliveryLog` says so once (a warning) and once more when datagrams get through again
(info), never once per frame.
"""

from __future__ import annotations

import errno
import logging
import re
import socket
from dataclasses import dataclass

from server.vtuber.exceptions import BadTargetError

__all__ = ["DeliveryLog", "Target", "parse_target"]

logger = logging.getLogger(__name__)

_HOST_PORT = re.compile(
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)"
    r"(?::(?P<port>[0-9]{1,5}))?"
)
# A full buffer (non-blocking socket) only drops this datagram: not worth a warning.
_TRANSIENT = {errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS}


@dataclass(frozen=True)
class Target:
    """One receiver.

    Attributes:
        text: as the user wrote it (for messages).
        host: the host name or address as given (IPv6 without brackets).
        port: UDP port.
        address: the numeric address ``host`` resolved to once, at start-up (no DNS per
            frame).
        family: its address family (``socket.AF_INET`` or ``AF_INET6``).
    """

    text: str
    host: str
    port: int
    address: str
    family: int

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}" if ":" not in self.host else f"[{self.host}]:{self.port}"


def parse_target(text: str, default_port: int, *, option: str = "--vmc") -> Target:
    """Validate and resolve one ``HOST[:PORT]`` (HOST: a name, IPv4 address or ``[IPv6]``).

    Raises:
        BadTargetError: malformed, port out of range, or the name does not resolve; the
            message names ``option`` and shows a good address.
    """
    example = f"e.g. {option} 127.0.0.1:{default_port} or {option} [::1]:{default_port}"
    cleaned = text.strip()
    match = _HOST_PORT.fullmatch(cleaned)
    if match is None:
        raise BadTargetError(f"{option} {text!r} is not HOST[:PORT] ({example})")
    host = match["host"].strip("[]")
    port = default_port if match["port"] is None else int(match["port"])
    if not 1 <= port <= 65535:
        raise BadTargetError(f"{option} {text!r}: the port must be in [1, 65535], got {port}")
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as error:
        raise BadTargetError(f"{option} {text!r}: cannot resolve {host!r} ({error})") from None
    family, _, _, _, sockaddr = found[0]
    return Target(cleaned, host, port, str(sockaddr[0]), int(family))


class DeliveryLog:
    """Logs the failures of one receiver's datagrams once per outage, not once per frame.

    Args:
        what: what is sent, for the messages (e.g. ``"VMC"``).
        target: the receiver.
    """

    def __init__(self, what: str, target: Target) -> None:
        self.what = what
        self.target = target
        self.failing = False
        self.sent = 0
        self.failed = 0
        self.warnings = 0

    def delivered(self) -> None:
        self.sent += 1
        if self.failing:
            self.failing = False
            logger.info("%s to %s: datagrams get through again", self.what, self.target.label)

    def failed_with(self, error: OSError) -> None:
        self.failed += 1
        if error.errno in _TRANSIENT or self.failing:
            return
        self.failing = True
        self.warnings += 1
        logger.warning(
            "%s to %s: cannot send (%s); the stream goes on and will resume when the receiver "
            "is reachable (this is said once, not per frame)",
            self.what,
            self.target.label,
            error.strerror or error,
        )
