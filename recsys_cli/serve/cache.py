"""Response caches: an in-process LRU (default) or Redis (``serve.cache=redis://...``).

A cached response is keyed by the bundle version, the shopper and everything
in the request that shapes the list; a shopper's feedback invalidates their
entries (so fold-in is never hidden behind a stale list). Values are the
response body without its request id.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Protocol


def request_hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


class ResponseCache(Protocol):
    kind: str

    def get(self, bundle: str, user_id: str, key: str) -> bytes | None: ...

    def put(self, bundle: str, user_id: str, key: str, value: bytes) -> None: ...

    def invalidate(self, user_id: str, bundle: str) -> None: ...

    def clear(self) -> None: ...


class NoCache:
    kind = "none"

    def get(self, bundle: str, user_id: str, key: str) -> bytes | None:
        return None

    def put(self, bundle: str, user_id: str, key: str, value: bytes) -> None:
        return None

    def invalidate(self, user_id: str, bundle: str) -> None:
        return None

    def clear(self) -> None:
        return None


class MemoryCache:
    """A bounded LRU; entries of one shopper are found through a per-shopper index for invalidation."""

    kind = "memory"

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._data: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()
        self._by_user: dict[str, set[tuple[str, str, str]]] = {}

    def get(self, bundle: str, user_id: str, key: str) -> bytes | None:
        entry = (bundle, user_id, key)
        with self._lock:
            value = self._data.get(entry)
            if value is not None:
                self._data.move_to_end(entry)
            return value

    def put(self, bundle: str, user_id: str, key: str, value: bytes) -> None:
        entry = (bundle, user_id, key)
        with self._lock:
            self._data[entry] = value
            self._data.move_to_end(entry)
            self._by_user.setdefault(user_id, set()).add(entry)
            while len(self._data) > self.size:
                old, _ = self._data.popitem(last=False)
                keys = self._by_user.get(old[1])
                if keys is not None:
                    keys.discard(old)
                    if not keys:
                        del self._by_user[old[1]]

    def invalidate(self, user_id: str, bundle: str = "") -> None:
        with self._lock:
            for entry in self._by_user.pop(user_id, ()):
                self._data.pop(entry, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._by_user.clear()

    def __len__(self) -> int:
        return len(self._data)


class RedisCache:
    """One Redis hash per shopper and bundle (field: the request's hash); feedback deletes the shopper's hashes."""

    kind = "redis"

    def __init__(self, url: str, ttl: float, prefix: str = "recsys:resp") -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.5)
        self.client.ping()  # fail at start, with the URL in the message, not on the first request
        self.ttl = max(1, int(ttl))
        self.prefix = prefix

    def _key(self, bundle: str, user_id: str) -> str:
        return f"{self.prefix}:{user_id}:{bundle}"

    def get(self, bundle: str, user_id: str, key: str) -> bytes | None:
        try:
            return self.client.hget(self._key(bundle, user_id), key)
        except Exception:  # noqa: BLE001 - a cache that is down is a miss, never an error
            return None

    def put(self, bundle: str, user_id: str, key: str, value: bytes) -> None:
        name = self._key(bundle, user_id)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.hset(name, key, value)
            pipe.expire(name, self.ttl)
            pipe.execute()
        except Exception:  # noqa: BLE001
            return None

    def invalidate(self, user_id: str, bundle: str) -> None:
        try:
            self.client.delete(self._key(bundle, user_id))
        except Exception:  # noqa: BLE001
            return None

    def clear(self) -> None:
        try:
            keys = list(self.client.scan_iter(match=f"{self.prefix}:*", count=1000))
            if keys:
                self.client.delete(*keys)
        except Exception:  # noqa: BLE001
            return None


def make_cache(spec: str, size: int, ttl: float) -> ResponseCache:
    from recsys_cli.errors import ConfigError

    if spec == "none":
        return NoCache()
    if spec == "memory":
        return MemoryCache(size)
    try:
        return RedisCache(spec, ttl)
    except Exception as exc:  # noqa: BLE001 - a bad URL or an unreachable server: one line
        raise ConfigError(f"serve.cache: cannot reach Redis at {spec} ({type(exc).__name__}: {exc})") from None
