"""``manage.py lookup_token``: turn OpenAlgo symbols into XTS tokens from the shell."""

from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jainam_prop.errors import SymbolNotFound
from jainam_prop.models import DEFAULT_BROKER
from jainam_prop.services import Instrument, get_instrument, search_instruments


def _search_spec(value: str) -> tuple[str, str]:
    exchange, sep, prefix = value.partition(":")
    if not sep or not exchange.strip() or not prefix.strip():
        raise argparse.ArgumentTypeError(f"{value!r}: use EXCHANGE:PREFIX, e.g. NFO:NIFTY")
    return exchange.strip().upper(), prefix.strip()


class Command(BaseCommand):
    help = (
        "Print the XTS token and details of OpenAlgo symbols: lookup_token SYMBOL EXCHANGE "
        "[SYMBOL EXCHANGE ...] [--search EXCHANGE:PREFIX ...]"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "pairs", nargs="*", metavar="SYMBOL EXCHANGE", help="Symbol and exchange pairs."
        )
        parser.add_argument(
            "--search",
            action="append",
            default=[],
            type=_search_spec,
            metavar="EXCHANGE:PREFIX",
            help="Also show the first instruments whose symbol starts with PREFIX.",
        )
        parser.add_argument("--limit", type=int, default=2, help="Results per --search (2).")
        parser.add_argument("--broker", default=DEFAULT_BROKER)

    def handle(self, *args, **options) -> None:
        pairs = options["pairs"]
        if len(pairs) % 2:
            raise CommandError(
                f"Give symbols and exchanges in pairs (SYMBOL EXCHANGE); got {len(pairs)} words"
            )
        if not pairs and not options["search"]:
            raise CommandError("Nothing to look up: give SYMBOL EXCHANGE pairs or --search")
        broker = options["broker"]
        missing = []
        for symbol, exchange in zip(pairs[::2], pairs[1::2], strict=True):
            try:
                self._show(get_instrument(symbol, exchange, broker=broker))
            except (SymbolNotFound, ValueError) as exc:
                self.stderr.write(str(exc))
                missing.append(f"{exchange}:{symbol}")
        for exchange, prefix in options["search"]:
            try:
                found = search_instruments(
                    prefix, exchange=exchange, broker=broker, limit=options["limit"]
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            if not found:
                self.stderr.write(f"No {exchange} instrument starts with {prefix!r}")
                missing.append(f"{exchange}:{prefix}*")
            for instrument in found:
                self._show(get_instrument(instrument.symbol, instrument.exchange, broker=broker))
        if missing:
            raise CommandError(f"Not found: {', '.join(missing)}")

    def _show(self, instrument: Instrument) -> None:
        details = [f"brsymbol {instrument.brsymbol}", f"lot {instrument.lot_size}"]
        if instrument.expiry:
            details.append(f"expiry {instrument.expiry:%Y-%m-%d}")
        if instrument.strike is not None:
            details.append(f"strike {instrument.strike.normalize():f}")
        self.stdout.write(
            f"{instrument.exchange}:{instrument.symbol} -> token {instrument.token} "
            f"on {instrument.brexchange} ({', '.join(details)})"
        )
