"""Shared test fixtures. Each area registers its own fixture module in ``pytest_plugins``."""

from __future__ import annotations

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


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache (the Redis db or the in-process cache)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
