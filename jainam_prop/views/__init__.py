"""OpenAlgo-compatible JSON API (``/api/v1/...``) and the health probe.

``api`` holds what every endpoint shares (the ``api_view`` decorator, API key, JSON reading,
error mapping); each other module holds the views of one area. Routes: jainam_prop/urls.py;
reference: docs/api.md.
"""
