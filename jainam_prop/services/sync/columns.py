"""The stored instrument columns, read from the model, and their three shapes.

Every column in ``INSTRUMENT_COLUMNS`` has a kind taken from its ``SymbolToken`` field (text,
integer, decimal, date). From a parsed frame this module makes the database values that a
write stores (``bulk_create`` and ``COPY`` share them, so both paths store the same thing) and
the comparable arrays the delta compares; from the stored rows it reads the same comparable
arrays in one SELECT per exchange. A new model column is covered without code here.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection

from jainam_prop.models import SymbolToken
from jainam_prop.vocabulary import INSTRUMENT_COLUMNS

TEXT, INT, DECIMAL, DATE = "text", "int", "decimal", "date"
_KINDS = {
    "CharField": TEXT,
    "TextField": TEXT,
    "IntegerField": INT,
    "BigIntegerField": INT,
    "SmallIntegerField": INT,
    "PositiveIntegerField": INT,
    "PositiveBigIntegerField": INT,
    "PositiveSmallIntegerField": INT,
    "DecimalField": DECIMAL,
    "DateField": DATE,
}
# Rows fetched at a time when reading the stored rows, and converted at a time for a write
# (bounded memory).
FETCH_SIZE = 20_000
WRITE_CHUNK = 10_000


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    places: int | None  # decimal places of a DecimalField


@functools.cache
def columns() -> tuple[Column, ...]:
    """The instrument columns in ``INSTRUMENT_COLUMNS`` order, with their kinds."""
    result = []
    for name in INSTRUMENT_COLUMNS:
        field = SymbolToken._meta.get_field(name)
        kind = _KINDS.get(field.get_internal_type())
        if kind is None:
            raise TypeError(f"sync: no comparison for {name} ({field.get_internal_type()})")
        result.append(Column(name, kind, getattr(field, "decimal_places", None)))
    return tuple(result)


# --- database values (what a write stores) ---------------------------------------------------


def db_values(values: pd.Series, column: Column) -> list[Any]:
    """The Python values the database stores for one frame column (missing -> None)."""
    missing = values.isna().to_numpy()
    if column.kind == DATE:
        dates = pd.to_datetime(values).dt.date.astype(object).to_numpy()
        dates[missing] = None
        return dates.tolist()
    if column.kind == DECIMAL:
        floats = pd.to_numeric(values).astype("float64").tolist()
        return [None if v != v else Decimal(repr(v)) for v in floats]
    if column.kind == INT:
        if values.dtype == "int64":
            return values.tolist()
        return [None if m else int(v) for v, m in zip(values.tolist(), missing, strict=True)]
    if not missing.any():
        return values.tolist()
    objects = values.astype(object).to_numpy(copy=True)
    objects[missing] = None
    return objects.tolist()


def db_rows(df: pd.DataFrame, *, broker: str) -> tuple[list[str], list[list[Any]]]:
    """(column names, one list of values per column) of ``df`` as stored for ``broker``."""
    names = ["broker", *INSTRUMENT_COLUMNS]
    values = [[broker] * len(df), *(db_values(df[c.name], c) for c in columns())]
    return names, values


def db_row_chunks(
    df: pd.DataFrame, *, broker: str, size: int = WRITE_CHUNK
) -> Iterator[tuple[list[str], list[list[Any]]]]:
    """:func:`db_rows` of ``size`` rows at a time (bounded memory on a whole master)."""
    for start in range(0, len(df), size):
        yield db_rows(df.iloc[start : start + size], broker=broker)


# --- comparable arrays (what the delta compares) ---------------------------------------------


def comparable(values: pd.Series | Sequence[Any], column: Column) -> np.ndarray:
    """One column as an array whose equal entries mean equal stored values.

    Text: an object array, None for missing. Numbers and dates: float64 with NaN for missing;
    decimals rounded to the field's places (what the database keeps), dates as days since
    1970-01-01. Takes a frame column or the values read back by :func:`read_stored`.
    """
    if column.kind == TEXT:
        if isinstance(values, pd.Series):
            objects = values.to_numpy(dtype=object, copy=True)
            objects[values.isna().to_numpy()] = None
            return objects
        # Read-back values: one object per distinct value (names, segments and types repeat).
        codes, uniques = pd.factorize(np.asarray(values, dtype=object))
        table = np.empty(len(uniques) + 1, dtype=object)  # the last entry (code -1): None
        table[:-1] = uniques
        return table[codes]
    if column.kind == DATE and isinstance(values, pd.Series):
        stamps = pd.to_datetime(values).to_numpy(dtype="datetime64[ns]")
        days = stamps.astype("datetime64[D]").astype("int64").astype("float64")
        days[np.isnat(stamps)] = np.nan
        return days
    if isinstance(values, pd.Series):
        floats = pd.to_numeric(values).astype("float64").to_numpy()
    else:
        floats = np.array(values, dtype="float64")  # None -> NaN
    if column.kind == DECIMAL and column.places is not None:
        floats = np.round(floats, column.places)
    return floats


def _select_expression(column: Column) -> str:
    """SQL for one stored column in the shape :func:`comparable` expects of read-back values."""
    quoted = connection.ops.quote_name(column.name)
    postgres = connection.vendor == "postgresql"
    if column.kind == DATE:
        if postgres:
            return f"({quoted} - DATE '1970-01-01')"
        return f"CAST(ROUND(julianday({quoted}) - 2440587.5) AS INTEGER)"
    if column.kind == DECIMAL:
        return f"{quoted}::float8" if postgres else f"CAST({quoted} AS REAL)"
    return quoted


def read_stored(*, broker: str, exchange: str) -> dict[str, np.ndarray]:
    """The broker's stored rows of one exchange: ``id`` and every other comparable column."""
    q = connection.ops.quote_name
    cols = [c for c in columns() if c.name != "exchange"]
    select = ", ".join([q("id"), *(_select_expression(c) for c in cols)])
    sql = (  # identifiers from the model, quoted; values are parameters
        f"SELECT {select} FROM {q(SymbolToken._meta.db_table)} "  # noqa: S608
        f"WHERE {q('broker')} = %s AND {q('exchange')} = %s"
    )
    if connection.vendor == "postgresql":
        return _read_by_copy(sql, [broker, exchange], cols)
    ids: list[np.ndarray] = []
    parts: list[list[np.ndarray]] = [[] for _ in cols]
    with connection.cursor() as cursor:
        cursor.execute(sql, [broker, exchange])
        while rows := cursor.fetchmany(FETCH_SIZE):
            values = list(zip(*rows, strict=True))
            del rows
            ids.append(np.array(values[0], dtype="int64"))
            for i, column in enumerate(cols):
                parts[i].append(comparable(values[i + 1], column))
    result = {"id": np.concatenate(ids) if ids else np.array([], dtype="int64")}
    for column, chunks in zip(cols, parts, strict=True):
        result[column.name] = np.concatenate(chunks) if chunks else comparable([], column)
    return result


def _read_by_copy(sql: str, params: list[str], cols: Sequence[Column]) -> dict[str, np.ndarray]:
    """PostgreSQL: the same SELECT through ``COPY ... TO STDOUT`` (CSV, NULL as ``\\N``), read
    by pandas' CSV parser: numbers arrive as arrays, not as one Python object per value."""
    from psycopg import sql as pgsql  # PostgreSQL only

    # COPY takes no bind parameters: the values are quoted as literals by psycopg.
    query = pgsql.SQL(sql.replace("%s", "{}")).format(*map(pgsql.Literal, params))
    statement = (
        f"COPY ({query.as_string(connection.connection)}) TO STDOUT (FORMAT csv, NULL '\\N')"
    )
    buffer = io.BytesIO()
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.copy(statement) as copy,
    ):
        for data in copy:
            buffer.write(data)
    buffer.seek(0)
    names = ["id", *(c.name for c in cols)]
    dtypes = {"id": "int64", **{c.name: object if c.kind == TEXT else "float64" for c in cols}}
    frame = pd.read_csv(
        buffer,
        header=None,
        names=names,
        dtype=dtypes,
        na_values=["\\N"],
        keep_default_na=False,
        float_precision="round_trip",
    )
    del buffer
    result = {"id": frame["id"].to_numpy()}
    for column in cols:
        result[column.name] = comparable(frame[column.name].to_numpy(), column)
    return result
