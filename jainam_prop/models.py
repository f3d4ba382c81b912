"""Tables of jainam-prop.

No business logic here: rows are written only by ``jainam_prop.services.sync`` and read by
callers only through ``jainam_prop.services.lookups`` (the admin's own changelist aside).
"""

from __future__ import annotations

from django.db import models

DEFAULT_BROKER = "jainam_prop"


class SymbolToken(models.Model):
    """One tradable instrument of one broker, keyed by its OpenAlgo (exchange, symbol)."""

    broker = models.CharField(max_length=32, default=DEFAULT_BROKER)
    symbol = models.CharField(max_length=64, help_text="OpenAlgo symbol, e.g. NIFTY28NOV2424000CE")
    exchange = models.CharField(max_length=16, help_text="OpenAlgo exchange: NSE, NFO, ...")
    token = models.BigIntegerField(help_text="XTS ExchangeInstrumentID")
    brsymbol = models.CharField(
        max_length=128, help_text="The broker's own symbol (XTS Description)"
    )
    brexchange = models.CharField(
        max_length=16, help_text="XTS exchange segment: NSECM, NSEFO, ..."
    )
    name = models.CharField(max_length=64, help_text="Underlying / base name")
    expiry = models.DateField(null=True, blank=True)
    strike = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    lot_size = models.IntegerField()
    tick_size = models.DecimalField(max_digits=14, decimal_places=6)
    instrument_type = models.CharField(max_length=8, help_text="EQ, FUT, CE, PE, INDEX")
    freeze_qty = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="XTS FreezeQty: an order of this quantity or more is over the exchange's "
        "per-order limit (empty: no limit)",
    )
    price_band_low = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="XTS PriceBand.Low at download time",
    )
    price_band_high = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="XTS PriceBand.High at download time",
    )
    # db_default too: rows written without the column (raw SQL, COPY) get 1, not an error.
    multiplier = models.IntegerField(
        default=1, db_default=1, help_text="XTS Multiplier (NSECD: 1000, ...)"
    )
    # null, not "": the instrument-record fields all say "absent" the same way.
    isin = models.CharField(  # noqa: DJ001
        max_length=12, null=True, blank=True, help_text="ISIN (cash rows)"
    )
    underlying_token = models.BigIntegerField(
        null=True, blank=True, help_text="XTS UnderlyingInstrumentId (F&O; empty for indices)"
    )

    class Meta:
        verbose_name = "instrument"
        constraints = [
            models.UniqueConstraint(
                fields=["broker", "exchange", "symbol"], name="symboltoken_broker_exch_symbol_uniq"
            ),
        ]
        indexes = [
            # Reverse lookups (token -> symbol) for order books and ticks.
            models.Index(
                fields=["broker", "exchange", "token"], name="symboltoken_broker_exch_token"
            ),
            # Suggestions and option chains: same underlying and expiry.
            models.Index(
                fields=["broker", "exchange", "name", "expiry"], name="symboltoken_underlying"
            ),
            # Exact token search (admin, any exchange).
            models.Index(fields=["token"], name="symboltoken_token"),
            # Prefix searches (LIKE 'X%'); symbols are stored upper-case. The pattern opclass
            # lets PostgreSQL serve LIKE prefixes under any collation; other backends ignore it.
            models.Index(
                fields=["symbol"],
                name="symboltoken_symbol_prefix",
                opclasses=["varchar_pattern_ops"],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.exchange}:{self.symbol} -> {self.token}"


class SyncRun(models.Model):
    """One run of the master-contract sync, for operators and the admin."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCESS = "success", "Success"
        DRY_RUN = "dry_run", "Dry run"
        FAILED = "failed", "Failed"
        REFUSED = "refused", "Refused (safety guard)"
        ABANDONED = "abandoned", "Abandoned (process died)"

    broker = models.CharField(max_length=32, default=DEFAULT_BROKER)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    source = models.CharField(max_length=255, help_text="XTS URL or the imported file names")
    segments = models.JSONField(default=list, help_text="Segments replaced (empty: all)")
    counts = models.JSONField(
        default=dict,
        help_text="Per segment: lines, stored, skipped and skipped_by_reason",
    )
    stored = models.IntegerField(default=0)
    deleted = models.IntegerField(default=0)
    skipped = models.IntegerField(default=0)
    error = models.TextField(blank=True, default="")
    forced = models.BooleanField(
        default=False, help_text="Started with force: the guards' refusals were overridden"
    )
    changes = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per exchange: added, removed and changed instruments",
    )
    host = models.CharField(max_length=255, blank=True, default="")
    pid = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"
        indexes = [
            models.Index(fields=["broker", "status", "started_at"], name="syncrun_broker_status")
        ]
        permissions = [("run_sync", "Can start a master contract sync")]

    def __str__(self) -> str:
        return f"sync {self.pk} {self.status} at {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class LookupGeneration(models.Model):
    """Monotonic generation of a broker's instruments, bumped inside every sync transaction.

    Lookups put the generation in their cache keys, so one committed sync invalidates every
    cached answer at once, in every process, without scanning keys. The row also serves as the
    sync lock (``SELECT ... FOR UPDATE``).
    """

    broker = models.CharField(max_length=32, primary_key=True)
    generation = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.broker} generation {self.generation}"


class ApiKey(models.Model):
    """An OpenAlgo-style API key of a Django user, stored hashed (SHA-256 of a random secret).

    The plain key is shown once at creation (``manage.py create_api_key``); revoking sets
    ``revoked_at``. Keys are high-entropy random strings, so a fast hash is adequate.
    """

    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=64, blank=True, default="")
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise a key")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        state = "revoked" if self.revoked_at else "active"
        return f"{self.prefix}… ({self.user}, {state})"
