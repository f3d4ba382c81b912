"""XTS market-data API: login (optional), instrument master per segment, index lists."""

from __future__ import annotations

import logging

from django.conf import settings

from jainam_prop.errors import MissingSetting, XTSAuthError, XTSBadResponse
from jainam_prop.vocabulary import INDEX_SEGMENTS, SEGMENT_CODES
from jainam_prop.xts.http import HttpPolicy, XTSHttp

logger = logging.getLogger(__name__)


class MarketDataClient:
    """Downloads the instrument master from one XTS market-data root.

    Some XTS deployments serve the master without a session; when a key pair is configured
    the client logs in once, sends the token on every call and logs in again once if the
    token is refused.
    """

    def __init__(
        self,
        *,
        root: str,
        api_key: str = "",
        api_secret: str = "",
        policy: HttpPolicy | None = None,
    ) -> None:
        self.http = XTSHttp(root=root, policy=policy)
        self._api_key = api_key
        self._api_secret = api_secret
        self._token: str | None = None

    @classmethod
    def from_settings(cls) -> MarketDataClient:
        if not settings.JAINAM_MARKET_URL:
            raise MissingSetting("JAINAM_MARKET_URL", "download the instrument master from XTS")
        if bool(settings.JAINAM_MARKET_API_KEY) != bool(settings.JAINAM_MARKET_API_SECRET):
            missing = (
                "JAINAM_MARKET_API_SECRET"
                if settings.JAINAM_MARKET_API_KEY
                else "JAINAM_MARKET_API_KEY"
            )
            raise MissingSetting(missing, "log in to the XTS market-data API (set both or neither)")
        return cls(
            root=settings.JAINAM_MARKET_URL,
            api_key=settings.JAINAM_MARKET_API_KEY,
            api_secret=settings.JAINAM_MARKET_API_SECRET,
        )

    @property
    def source(self) -> str:
        return self.http.root

    def close(self) -> None:
        self.http.close()

    def login(self) -> str | None:
        """Log in when a key pair is configured; returns the session token (or None)."""
        if not self._api_key:
            return None
        self._token = self.http.login(
            "auth/login",
            api_key=self._api_key,
            api_secret=self._api_secret,
            api="market-data",
            settings_hint=(
                "JAINAM_MARKET_API_KEY and JAINAM_MARKET_API_SECRET "
                "(the market-data key pair, not the interactive one)"
            ),
        )
        return self._token

    def master(self, *, segment: str) -> str:
        """The raw master text of one segment (lines split by \\n, fields by |)."""
        if segment not in SEGMENT_CODES:
            raise ValueError(f"Unknown XTS segment {segment!r}; valid: {', '.join(SEGMENT_CODES)}")
        result = self._authed_call(
            "POST", "instruments/master", json={"exchangeSegmentList": [segment]}
        )
        if not isinstance(result, str):
            raise XTSBadResponse(
                f"XTS master for {segment}: expected the result to be one string of lines, "
                f"got {type(result).__name__}"
            )
        return result

    def index_list(self, *, segment: str) -> list[str]:
        """Index entries ``NAME_TOKEN`` of NSECM or BSECM."""
        if segment not in INDEX_SEGMENTS:
            raise ValueError(f"No index list for {segment!r}; valid: {', '.join(INDEX_SEGMENTS)}")
        result = self._authed_call(
            "GET", "instruments/indexlist", params={"exchangeSegment": SEGMENT_CODES[segment]}
        )
        entries = result.get("indexList") if isinstance(result, dict) else None
        if not isinstance(entries, list):
            raise XTSBadResponse(f"XTS index list for {segment}: no indexList in the result")
        return [str(entry) for entry in entries]

    def _authed_call(self, method: str, path: str, **kwargs) -> object:
        if self._api_key and self._token is None:
            self.login()
        try:
            return self.http.call(method, path, token=self._token, **kwargs)
        except XTSAuthError:
            if not self._api_key:
                raise
            logger.warning("XTS market-data session refused; logging in again once")
            self.login()
            return self.http.call(method, path, token=self._token, **kwargs)
