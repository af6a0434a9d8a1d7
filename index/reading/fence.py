"""The fence around fetching: no connection to an address a server should not reach for a
stranger, and no fetch that runs past its deadline.

A feed's item links and every redirect are chosen by someone else, so each connection is
checked where it is made: the host name is resolved, every address it resolves to must be
public (not loopback, private, link-local, multicast, reserved or unspecified), and the socket
then connects to the address that was checked, so a name cannot resolve to a public address
for the check and a private one for the connection. The same connection-level check covers
the first hop and every redirect. Each read waits at most until the fetch's deadline, so a
server that trickles a byte every few seconds cannot hold a fetch open.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx


class BlockedAddress(Exception):
    """A connection the fence refused; the message names the host and the address."""


class DeadlinePassed(Exception):
    """The whole fetch ran past its deadline."""


def refused(address: str) -> bool:
    """True for addresses a fetch from the web must not reach."""
    ip = ipaddress.ip_address(address.split("%")[0])  # an IPv6 zone index is not part of it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def public_addresses(host: str, port: int) -> list[tuple[Any, ...]]:
    """The socket addresses `host` resolves to, or BlockedAddress if any is not public (a
    name that resolves to both is refused: which one is used is not ours to choose)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"cannot resolve {host} ({exc.strerror})") from None
    for *_, sockaddr in found:
        if refused(str(sockaddr[0])):
            raise BlockedAddress(
                f"{host} is at {sockaddr[0]}, a local or private address; fetching from it is "
                "refused (QA_ALLOW_PRIVATE_ADDRESSES=1 allows it)"
            )
    return [(family, sockaddr) for family, _, _, _, sockaddr in found]


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose reads and writes wait no later than the fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def _time_left(self, timeout: float | None) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise DeadlinePassed()
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._time_left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._time_left(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        tls = self._inner.start_tls(ssl_context, server_hostname, self._time_left(timeout))
        return _DeadlineStream(tls, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class FencedBackend(httpcore.SyncBackend):
    """Connects only to public addresses (unless `allow_private`), reading until `deadline`."""

    def __init__(self, deadline: float, allow_private: bool = False) -> None:
        self.deadline = deadline
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        left = max(0.001, self.deadline - time.monotonic())
        timeout = left if timeout is None else min(timeout, left)
        if self.allow_private:
            stream = super().connect_tcp(host, port, timeout, local_address, socket_options)
            return _DeadlineStream(stream, self.deadline)
        last: Exception | None = None
        for _, sockaddr in public_addresses(host, port):
            try:  # the checked address itself, never the name again
                stream = super().connect_tcp(
                    str(sockaddr[0]), port, timeout, local_address, socket_options
                )
                return _DeadlineStream(stream, self.deadline)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"{host} has no address")


class FencedTransport(httpx.HTTPTransport):
    """httpx's transport with the fenced backend underneath. Environment proxies are not
    used: through a proxy the address reached could not be checked."""

    def __init__(self, deadline: float, allow_private: bool = False) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=4,
            network_backend=FencedBackend(deadline, allow_private),
        )
