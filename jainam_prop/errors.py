"""Domain errors of jainam-prop. Each carries what went wrong and what to do about it."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


class MissingSetting(ImproperlyConfigured):
    """A setting needed by this operation is not configured."""

    def __init__(self, variable: str, purpose: str) -> None:
        self.variable = variable
        super().__init__(
            f"{variable} is not set: it is needed to {purpose}. Set it in the environment."
        )


class SymbolNotFound(ValueError):
    """No instrument with this symbol on this exchange for this broker."""

    def __init__(
        self, *, symbol: str, exchange: str, broker: str, suggestions: tuple[str, ...] = ()
    ) -> None:
        self.symbol = symbol
        self.exchange = exchange
        self.broker = broker
        self.suggestions = tuple(suggestions)
        hint = (
            f" Did you mean: {', '.join(self.suggestions)}?"
            if self.suggestions
            else " Check the OpenAlgo symbol format (e.g. NIFTY28NOV2424000CE) and that the master"
            " contract was synced today (manage.py sync_master_contract)."
        )
        super().__init__(f"Symbol {symbol!r} not found on {exchange} for broker {broker}.{hint}")


class XTSError(Exception):
    """Base class: the broker's XTS API could not do what was asked."""


class XTSUnavailable(XTSError):
    """XTS could not be reached, dropped the connection or answered 5xx after all retries."""


class XTSTimeout(XTSUnavailable):
    """XTS did not answer within the configured timeout."""


class XTSRejected(XTSError):
    """XTS answered, but with an error (HTTP 4xx or a body of type "error")."""

    def __init__(self, message: str, *, code: str = "", http_status: int | None = None) -> None:
        self.code = code
        self.http_status = http_status
        super().__init__(message)


class XTSAuthError(XTSRejected):
    """XTS refused the session token or the key pair."""


class XTSBadResponse(XTSError):
    """XTS answered 2xx with a body this client cannot understand (not JSON, missing result)."""


class SyncError(Exception):
    """The master-contract sync did not replace the instruments (they are unchanged)."""


class SyncRefused(SyncError):
    """A sync guard refused a master: live instruments of ``exchange`` would vanish.

    ``vanished`` counts them, ``examples`` names a few symbols, ``reason`` is ``"vanished"``
    (too many live instruments would vanish) or ``"shrink"`` (the exchange would keep too few
    rows). ``others`` holds the refusals of further exchanges, if any. The message names no
    remedy: each face words its own (a command flag, an admin button).
    """

    def __init__(
        self,
        message: str,
        *,
        exchange: str,
        vanished: int,
        examples: list[str] | tuple[str, ...] = (),
        reason: str = "vanished",
        others: tuple[SyncRefused, ...] = (),
    ) -> None:
        self.exchange = exchange
        self.vanished = vanished
        self.examples = list(examples)
        self.reason = reason
        self.others = tuple(others)
        super().__init__(message)


class SyncInProgress(SyncError):
    """Another sync of the same broker holds the lock."""


class OrderInvalid(ValueError):
    """An order failed validation before anything was sent to the broker."""

    def __init__(self, *, field: str, rule: str) -> None:
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}")


class ApiKeyInvalid(PermissionError):
    """The API key is missing, unknown or revoked (the key itself is never repeated)."""


class RateLimited(Exception):
    """Too many requests for this API key; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class TokenNotFound(ValueError):
    """No instrument with this token on this exchange for this broker (reverse lookup)."""

    def __init__(self, *, token: int, exchange: str, broker: str) -> None:
        self.token = token
        self.exchange = exchange
        self.broker = broker
        super().__init__(
            f"Token {token} not found on {exchange} for broker {broker}. Check the exchange "
            "(tokens are per exchange segment) and that the master contract was synced today "
            "(manage.py sync_master_contract)."
        )
