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


class XTSNotSent(XTSUnavailable):
    """The request never reached XTS (connection refused, connect timeout): nothing was done."""


class XTSTimeout(XTSUnavailable):
    """XTS did not answer within the configured timeout."""


class XTSRejected(XTSError):
    """XTS answered, but with an error (HTTP 4xx or a body of type "error").

    ``description`` is the broker's own words, safe to show a caller (the message also names
    the request's URL, which belongs in the server log only).
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        http_status: int | None = None,
        description: str = "",
    ) -> None:
        self.code = code
        self.http_status = http_status
        self.description = description
        super().__init__(message)


class XTSAuthError(XTSRejected):
    """XTS refused the session token or the key pair."""


class XTSBadResponse(XTSError):
    """XTS answered 2xx with a body this client cannot understand (not JSON, missing result)."""


class SyncError(Exception):
    """The master-contract sync did not replace the instruments (they are unchanged)."""


class SyncRefused(SyncError):
    """The safety guard refused a master that would shrink the stored instruments too much."""


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


class OrderNotFound(LookupError):
    """No order with this id in the dealer order book of the configured client."""

    def __init__(self, *, order_id: str, client_id: str) -> None:
        self.order_id = order_id
        self.client_id = client_id
        super().__init__(
            f"Order {order_id} not found in today's order book of client {client_id}: check the "
            "order id (orders of other clients are not visible)"
        )


class OrderStateConflict(Exception):
    """The order exists but its state forbids the action (modify a filled order, ...)."""

    def __init__(self, *, order_id: str, action: str, state: str) -> None:
        self.order_id = order_id
        self.action = action
        self.state = state
        super().__init__(f"Order {order_id} is {state}: it cannot be {action}")


class OutcomeUnknown(Exception):
    """An order write reached the broker's door but its answer was lost, and the order book
    does not (yet) show its effect: the order may be live. Never report this as a failure."""

    def __init__(
        self, *, action: str, identifier: str, order_id: str | None = None, cause: str = ""
    ) -> None:
        self.action = action
        self.identifier = identifier
        self.order_id = order_id
        self.cause = cause
        super().__init__(
            f"outcome unknown: the {action} may have reached the exchange (identifier "
            f"{identifier}{f', order {order_id}' if order_id else ''}): {cause}"
        )
