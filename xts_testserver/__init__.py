"""XTS test server: speaks the broker's market-data and interactive endpoints over loopback HTTP.

For tests, the demo and benchmarks only; product code (jainam_prop/, config/) never imports it.

    with XTSTestServer(dataset="full") as server:
        requests.post(f"{server.market_url}/instruments/master", json={...})
"""

from xts_testserver.server import (
    FAULT_KINDS,
    GARBAGE_INDEX_ENTRIES,
    GARBAGE_MASTER_LINES,
    Fault,
    RecordedRequest,
    XTSTestServer,
)

__all__ = [
    "FAULT_KINDS",
    "GARBAGE_INDEX_ENTRIES",
    "GARBAGE_MASTER_LINES",
    "Fault",
    "RecordedRequest",
    "XTSTestServer",
]
