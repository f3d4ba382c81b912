"""Tier 2: the shared cache, through Django's cache API only (``caches[alias]``).

Every key the lookups use is built by :func:`key` (answers and the generation alike), and
every call goes through :mod:`jainam_prop.cache_outage`: while the cache is down, reads
answer "unavailable" (None) at once and writes are skipped, so callers fall back to the
database without waiting on a dead Redis.
"""

from __future__ import annotations

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


def key(broker: str, *parts: str | int) -> str:
    """One key (see :func:`keys`)."""
    return keys(broker, *parts)[0]


def _part(part: str | int) -> str:
    if part.__class__ is int:
        return str(part)
    if part.isascii() and part.isprintable() and " " not in part:  # type: ignore[union-attr]
        return part  # type: ignore[return-value]
    return quote(str(part), safe="")


def backend() -> BaseCache:
    return caches[config().cache_alias]


def is_shared() -> bool:
    """Whether other processes see this cache (LocMemCache and DummyCache are per process)."""
    return not isinstance(backend(), LocMemCache | DummyCache)


def get_many(keys: list[str]) -> dict[str, Any] | None:
    """``{key: value}`` of the keys present; None when the cache is unavailable."""
    cache = backend()
    if len(keys) == 1:
        value = cache_outage.guarded("lookups get", cache.get, keys[0], default=_UNAVAILABLE)
        if value is _UNAVAILABLE:
            return None
        return {} if value is None else {keys[0]: value}
    return cache_outage.guarded("lookups get_many", cache.get_many, keys)


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


_UNAVAILABLE = object()
