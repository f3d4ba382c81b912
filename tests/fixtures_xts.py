"""XTS test server fixtures (registered in conftest's ``pytest_plugins``).

- ``xts_server``: a fresh server per test, real sample master (tests/data), no credentials.
- ``xts_full_server``: one server per session with the full generated master (~160,000 lines).
  It is shared: a test that injects faults, changes the dataset or sets a master must undo it,
  or use ``fresh_xts_full_server``, which resets it before and after the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from xts_testserver import XTSTestServer


@pytest.fixture
def xts_server() -> Iterator[XTSTestServer]:
    with XTSTestServer(dataset="samples") as server:
        yield server


@pytest.fixture(scope="session")
def xts_full_server() -> Iterator[XTSTestServer]:
    with XTSTestServer(dataset="full") as server:
        yield server


@pytest.fixture
def fresh_xts_full_server(xts_full_server: XTSTestServer) -> Iterator[XTSTestServer]:
    xts_full_server.reset()
    yield xts_full_server
    xts_full_server.reset()
