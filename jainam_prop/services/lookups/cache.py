"""Tier 2: the shared cache, through Django's cache API only (``caches[alias]``).

Every key the lookups use is built by :func:`key` (answers and the generation alike), and
every call goes through :mod:`jainam_prop.cache_outage`: while the cache is down, reads
answer "unavailable" (None) at once and writes are skipped, so callers fall back to the
database without waiting on a dead Redis.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache

from jainam_prop import cache_outage

from .config import config

#: Bump when the cached value layout changes: old entries then are never read.
KEY_VERSION = "lk2"


def keys(
    broker: str, *prefix: str | int, items: Iterable[Sequence[str | int]] = ((),)
) -> list[str]:
    """The one builder of lookup cache keys: ``lk2:<broker>:<prefix parts>:<item parts>``,
    one key per item (a batch shares its prefix).

    Answers: ``keys(broker, generation, "s", items=[(symbol, exchange), ...])`` and
    ``keys(broker, generation, "t", items=[(exchange, token), ...])``; the generation:
    ``key(broker, "generation")`` and its freshness mark ``key(broker, "generation",
    "checked")``. Parts that are not plain printable ASCII without spaces are percent-quoted,
    so no key ever makes a cache backend warn.
    """
    head = ":".join((KEY_VERSION, broker, *map(_part, prefix)))
    return [":".join((head, *map(_part, item))) if item else head for item in items]


def answer_key(broker: str, generation: int, direction: str, item: Sequence[str | int]) -> str:
    """The key of one answer, as :func:`keys` builds it (its prefix computed once)."""
    first, second = item
    return f"{_head(broker, generation, direction)}:{_part(first)}:{_part(second)}"


def answer_keys(
    broker: str, generation: int, direction: str, items: Sequence[Sequence[str | int]]
) -> list[str]:
    """The keys of many answers (as :func:`answer_key`)."""
    head = _head(broker, generation, direction)
    return [f"{head}:{_part(first)}:{_part(second)}" for first, second in items]


def _head(broker: str, generation: int, direction: str) -> str:
    head = _heads.get((broker, generation, direction))
    if head is None:
        if len(_heads) > _HEADS_MAX:
            _heads.clear()
        head = _heads[(broker, generation, direction)] = keys(broker, generation, direction)[0]
    return head


_heads: dict[tuple[str, int, str], str] = {}
_HEADS_MAX = 1000


def key(broker: str, *parts: str | int) -> str:
    """One key (see :func:`keys`)."""
    return keys(broker, *parts)[0]


def _part(part: str | int) -> str:
    if isinstance(part, int):
        return str(part)
    if part.isascii() and part.isprintable() and " " not in part:
        return part
    return quote(part, safe="")


def backend() -> BaseCache:
    """The lookups' cache (``caches[alias]``), looked up once per thread until :func:`forget`."""
    found: BaseCache | None = getattr(_local, "backend", None)
    if found is None:
        found = _local.backend = caches[config().cache_alias]
    return found


def forget() -> None:
    """Look the cache up again (``CACHES`` or the alias changed)."""
    global _local
    _local = threading.local()


_local = threading.local()


def is_shared() -> bool:
    """Whether other processes see this cache (LocMemCache and DummyCache are per process)."""
    return not isinstance(backend(), LocMemCache | DummyCache)


def get_many(keys: list[str]) -> dict[str, Any] | None:
    """``{key: value}`` of the keys present; None when the cache is unavailable."""
    if len(keys) == 1:
        value = get_one(keys[0])
        if value is UNAVAILABLE:
            return None
        return {} if value is None else {keys[0]: value}
    return cache_outage.guarded("lookups get_many", backend().get_many, keys)


def get_one(name: str) -> Any:
    """The value of one key: None when absent, :data:`UNAVAILABLE` when the cache is."""
    return cache_outage.guarded("lookups get", backend().get, name, default=UNAVAILABLE)


def set_many(values: dict[str, Any]) -> None:
    """Store answers for ``JAINAM_LOOKUP_ENTRY_TTL``; skipped while the cache is down."""
    if values:
        cache = backend()
        ttl = config().entry_ttl
        if len(values) == 1:
            [(name, value)] = values.items()
            cache_outage.guarded("lookups set", cache.set, name, value, ttl)
        else:
            cache_outage.guarded("lookups set_many", cache.set_many, values, ttl)


#: What :func:`get_one` answers while the cache is unavailable.
UNAVAILABLE: Any = object()
