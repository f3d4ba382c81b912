"""Shared test fixtures. Each area registers its own fixture module in ``pytest_plugins``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

DATA_DIR = Path(__file__).parent / "data"

pytest_plugins: list[str] = [
    "tests.fixtures_lookups",
    "tests.fixtures_xts",
    "tests.fixtures_orders",
    "tests.fixtures_dealer",
]


@pytest.fixture
def data_dir() -> Path:
    """Real XTS master sample lines (copied from the shared samples, see data/SAMPLES.md)."""
    return DATA_DIR


def _flush_cache() -> None:
    """Empty the cache. On a loaded machine the shared Redis may miss the product's short
    socket timeout once: the harness retries its own flush (product calls are never retried)."""
    from django.core.cache import cache

    for attempt in range(3):
        try:
            cache.clear()
            return
        except Exception:
            if attempt == 2:
                raise
            time.sleep(0.5)


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache (the Redis db or the in-process cache)."""
    _flush_cache()
    yield
    _flush_cache()
