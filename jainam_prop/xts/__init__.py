"""XTS client: the only code that speaks HTTP to the broker (market data and interactive APIs)."""
