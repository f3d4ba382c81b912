"""Domain errors of jainam-prop. Each carries what went wrong and what to do about it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

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
        description: str | None = None,
    ) -> None:
        self.code = code
        self.http_status = http_status
        # The broker's own words, without our request line (method and URL): what a face may
        # repeat to its user. The client's message reads "XTS rejected <where> (...): <text>".
        self.description = description if description is not None else message.split("): ", 1)[-1]
        super().__init__(message)


class XTSAuthError(XTSRejected):
    """XTS refused the session token or the key pair."""


class OrderOutcomeUnknown(XTSTimeout):
    """An order was sent but its answer was lost: it may or may not be live at the exchange.

    Never report it as failed: check the order book for ``unique_id`` (its
    ``orderUniqueIdentifier``) before placing it again.
    """

    def __init__(self, message: str, *, unique_id: str) -> None:
        self.unique_id = unique_id
        super().__init__(message)


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
    """An order failed a check before anything was sent to the broker.

    ``reason`` is a stable key for logs and clients (``invalid_field``, ``lot_size``, ...);
    ``field`` names the order field, ``rule`` says what it must be.
    """

    reason = "invalid_field"

    def __init__(self, *, field: str, rule: str, reason: str | None = None) -> None:
        self.field = field
        self.rule = rule
        if reason is not None:
            self.reason = reason
        super().__init__(f"{field}: {rule}")


class ContractExpired(OrderInvalid):
    """The contract's expiry date is before today (Asia/Kolkata): the exchange refuses it.

    ``alternatives`` are the live contracts of the same underlying nearest its expiry.
    """

    reason = "dead_contract"

    def __init__(
        self, *, symbol: str, exchange: str, expiry: date, alternatives: tuple[str, ...] = ()
    ) -> None:
        self.symbol = symbol
        self.exchange = exchange
        self.expiry = expiry
        self.alternatives = tuple(alternatives)
        super().__init__(
            field="symbol",
            rule=f"{symbol} on {exchange} expired on {expiry.isoformat()}: the exchange no "
            "longer trades it",
        )


class NotWholeLots(OrderInvalid):
    """An F&O quantity that is not a whole number of lots."""

    reason = "lot_size"

    def __init__(self, *, field: str, quantity: int, lot_size: int, symbol: str) -> None:
        self.quantity = quantity
        self.lot_size = lot_size
        low = max(quantity - quantity % lot_size, lot_size)
        self.nearest = (low, low + lot_size)
        super().__init__(
            field=field,
            rule=f"must be a multiple of the lot size {lot_size} of {symbol} (got {quantity}; "
            f"nearest: {' or '.join(str(q) for q in self.nearest)})",
        )


class OffTickPrice(OrderInvalid):
    """A price that is not a whole multiple of the contract's tick size."""

    reason = "tick_size"

    def __init__(self, *, field: str, price: Decimal, tick_size: Decimal, symbol: str) -> None:
        self.price = price
        self.tick_size = tick_size
        low = max((price // tick_size) * tick_size, tick_size)
        self.nearest = (low, low + tick_size)
        super().__init__(
            field=field,
            rule=f"must be a multiple of the tick size {_plain(tick_size)} of {symbol} (got "
            f"{_plain(price)}; nearest: {' or '.join(_plain(p) for p in self.nearest)})",
        )


class OverFreezeLimit(OrderInvalid):
    """A quantity at or above the exchange's freeze quantity (master ``FreezeQty``).

    ``max_quantity`` is the largest legal quantity in one order (the biggest lot multiple
    below ``freeze_qty``; 0 when not even one lot fits).
    """

    reason = "freeze_qty"

    def __init__(
        self, *, field: str, quantity: int, freeze_qty: int, max_quantity: int, symbol: str
    ) -> None:
        self.quantity = quantity
        self.freeze_qty = freeze_qty
        self.limit = freeze_qty - 1  # FreezeQty is the published limit plus one
        self.max_quantity = max_quantity
        super().__init__(
            field=field,
            rule=f"{quantity} is over the exchange's freeze limit of {self.limit} per order "
            f"for {symbol}; the largest legal quantity in one order is {max_quantity}",
        )


def _plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 0.05, 101.5, 100."""
    return format(value.normalize(), "f")


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


class OutcomeUnknown(OrderOutcomeUnknown):
    """A place, modify or cancel whose answer was lost, and whose effect the order book does
    not (yet) show: the order may be live. ``action`` names the write; ``order_id`` the order
    a modify or cancel was for."""

    def __init__(
        self, *, action: str, identifier: str, order_id: str | None = None, cause: str = ""
    ) -> None:
        self.action = action
        self.identifier = identifier
        self.order_id = order_id
        self.cause = cause
        super().__init__(
            f"outcome unknown: the {action} may have reached the exchange (unique_id "
            f"{identifier}{f', order {order_id}' if order_id else ''}): {cause}",
            unique_id=identifier,
        )
