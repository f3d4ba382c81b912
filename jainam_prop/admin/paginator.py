"""Counting a 150,000-row changelist without scanning it (``CheapCountPaginator``)."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property


class CheapCountPaginator(Paginator):
    """A paginator whose ``count`` never scans the whole table.

    - Filtered or searched lists: ``SELECT COUNT(*) FROM (... LIMIT count_cap + 1)``: exact up
      to ``count_cap``, otherwise ``count_cap`` and ``count_is_exact`` is False (pages past
      the cap are not offered: refine the search).
    - The unfiltered list on PostgreSQL: when more than ``count_cap`` rows exist, the planner's
      row estimate (``pg_class.reltuples``, kept fresh by autovacuum/ANALYZE) and
      ``count_is_estimate``; the estimate and the capped count are one query.
    """

    count_cap = 10_000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.count_is_exact = True
        self.count_is_estimate = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return len(queryset)
        if not queryset.query.where and connections[queryset.db].vendor == "postgresql":
            estimate, capped = self._postgresql_table_count(queryset)
        else:
            estimate, capped = None, queryset.order_by()[: self.count_cap + 1].count()
        if capped <= self.count_cap:
            return capped
        self.count_is_exact = False
        if estimate is not None and estimate > self.count_cap:
            self.count_is_estimate = True
            return estimate
        return self.count_cap

    def _postgresql_table_count(self, queryset: QuerySet) -> tuple[int | None, int]:
        """(planner estimate or None, rows counted up to the cap + 1), in one query."""
        connection = connections[queryset.db]
        table = queryset.model._meta.db_table
        with connection.cursor() as cursor:
            # The table name is the model's own, quoted: no user input reaches the SQL.
            quoted = connection.ops.quote_name(table)
            estimate_sql = "(SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s))"
            capped_sql = f"(SELECT COUNT(*) FROM (SELECT 1 FROM {quoted} LIMIT %s) AS capped)"  # noqa: S608
            sql = f"SELECT {estimate_sql}, {capped_sql}"
            cursor.execute(sql, [table, self.count_cap + 1])
            estimate, capped = cursor.fetchone()
        # reltuples is -1 (never analysed) or 0 until ANALYZE/autovacuum has seen the table.
        return (int(estimate) if estimate and estimate > 0 else None), int(capped)
