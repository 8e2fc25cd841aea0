"""What PostgreSQL does to run a page's statements: which tables it scans, through which index, reading how many rows.

For tests that pin a query's shape at scale without timing it. Each statement is run under
EXPLAIN (ANALYZE, FORMAT JSON) with sequential scans discouraged (`enable_seqscan` off), in a
savepoint rolled back after: a table still read by a Seq Scan has no index that can answer the
statement, and the rows each scan read (returned, or removed by its filter) say how much of the
table it touched. PostgreSQL only (the tests using it carry the `postgres` marker).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

SCANS = ("Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan")


@dataclass(frozen=True)
class Scan:
    node: str  # "Seq Scan", "Index Scan", "Index Only Scan" or "Bitmap Heap Scan"
    table: str
    indexes: tuple[str, ...]  # the index it reads through (a bitmap scan's, all of them); none for a Seq Scan
    rows_read: int


def plan_scans(sql: str) -> list[Scan]:
    """The table scans PostgreSQL runs for `sql` (with its parameters inlined, as captured), with seq scans off."""
    savepoint = transaction.savepoint()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
            (plan,) = cursor.fetchone()
    finally:
        transaction.savepoint_rollback(savepoint)
    return list(_scans(plan[0]["Plan"]))


def _scans(node: dict) -> Iterator[Scan]:
    if node["Node Type"] in SCANS:
        removed = node.get("Rows Removed by Filter", 0) + node.get("Rows Removed by Index Recheck", 0)
        read = node["Actual Rows"] + removed
        indexes = (node["Index Name"],) if "Index Name" in node else tuple(_bitmap_indexes(node))
        yield Scan(node["Node Type"], node["Relation Name"], indexes, read * node["Actual Loops"])
    for child in node.get("Plans", []):
        yield from _scans(child)


def _bitmap_indexes(node: dict) -> Iterator[str]:
    for child in node.get("Plans", []):
        if child["Node Type"] == "Bitmap Index Scan":
            yield child["Index Name"]
        yield from _bitmap_indexes(child)


@contextmanager
def statements_sent() -> Iterator[list[str]]:
    """The SQL statements the block sends (parameters inlined), for plan_scans."""
    statements: list[str] = []
    with CaptureQueriesContext(connection) as context:
        yield statements
    statements.extend(query["sql"] for query in context.captured_queries)


def scans_of(statements: list[str], table: str) -> list[Scan]:
    """Every scan of `table` in the plans of the SELECTs among `statements`."""
    reads = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT") and f'"{table}"' in sql]
    return [scan for sql in reads for scan in plan_scans(sql) if scan.table == table]
