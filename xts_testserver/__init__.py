"""XTS test server: speaks the broker's market-data and interactive endpoints over loopback HTTP.

For tests, the demo and benchmarks only; product code (jainam_prop/, config/) never imports it.

    with XTSTestServer(dataset="full") as server:
        requests.post(f"{server.market_url}/instruments/master", json={...})

docs/testserver.md lists the endpoints, control calls, fault kinds and fill rules.
"""

from xts_testserver.faults import ENDPOINTS, FAULT_KINDS, Fault
from xts_testserver.market import GARBAGE_INDEX_ENTRIES, GARBAGE_MASTER_LINES
from xts_testserver.recording import RecordedRequest
from xts_testserver.server import FIRST_APP_ORDER_ID, XTSTestServer

__all__ = [
    "ENDPOINTS",
    "FAULT_KINDS",
    "FIRST_APP_ORDER_ID",
    "GARBAGE_INDEX_ENTRIES",
    "GARBAGE_MASTER_LINES",
    "Fault",
    "RecordedRequest",
    "XTSTestServer",
]
