"""Limits of the public surface, pure (the clock is injected): per-key rate limits, the
replay cache of signed requests, and who the client is behind a trusted reverse proxy."""
from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence, Tuple, Union

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


@dataclass(frozen=True)
class Rate:
    """`burst` at once, then `per_minute` steadily (a token bucket)."""

    per_minute: float
    burst: int


class RateLimiter:
    """Token buckets by key (a conversation, a client address, an API key). `hit(key)`
    takes one token: 0.0 when allowed, else the seconds until the next one is available.
    At most `max_keys` buckets are kept (the least recently used go first)."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: "OrderedDict[str, Tuple[float, float]]" = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        per_second = self.rate.per_minute / 60.0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.rate.burst), now))
            tokens = min(float(self.rate.burst), tokens + (now - last) * per_second)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / per_second if per_second > 0 else 3600.0
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        return wait


def retry_after(seconds: float) -> str:
    """The Retry-After header value (whole seconds, at least 1)."""
    return str(max(1, math.ceil(seconds)))


class ReplayCache:
    """Keys (signatures) seen within `window` seconds: a signed request is accepted once."""

    def __init__(self, window: float, clock: Callable[[], float] = time.time, max_keys: int = 1_000_000) -> None:
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._seen: "OrderedDict[str, float]" = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        """True (and remembered) the first time within the window; False for a replay."""
        now = self.clock()
        with self._lock:
            while self._seen:
                oldest, at = next(iter(self._seen.items()))
                if at >= now - 2 * self.window and len(self._seen) < self.max_keys:
                    break
                self._seen.popitem(last=False)
            if key in self._seen:
                return False
            self._seen[key] = now
            return True


# -- the client behind a reverse proxy --------------------------------------------------------
def parse_networks(values: Iterable[str]) -> Tuple[Network, ...]:
    """Addresses or networks ("127.0.0.1", "10.0.0.0/8"); raises ValueError for a bad one."""
    return tuple(ipaddress.ip_network(str(v).strip(), strict=False) for v in values if str(v).strip())


def _in(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def from_trusted_proxy(peer: Optional[str], trusted: Sequence[Network]) -> bool:
    return bool(peer) and _in(peer, trusted)


def client_address(peer: Optional[str], forwarded_for: Optional[str], trusted: Sequence[Network]) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy; then the
    nearest address in X-Forwarded-For that is not itself a trusted proxy. A header from
    anyone else is ignored (a client cannot choose its own address)."""
    address = (peer or "").strip() or "unknown"
    if not forwarded_for or not from_trusted_proxy(address, trusted):
        return address
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _in(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop.strip("[]")))
            except ValueError:
                return address  # garbage from the proxy chain: keep the peer
    return address


def forwarded_https(peer: Optional[str], forwarded_proto: Optional[str], trusted: Sequence[Network]) -> bool:
    """Whether a trusted proxy says the client used HTTPS (X-Forwarded-Proto: https)."""
    return from_trusted_proxy(peer, trusted) and (forwarded_proto or "").split(",")[0].strip().lower() == "https"
