"""Do two runs of the pipeline hold the same tables?  The one comparison that
tests/jobs/test_duckdb_agreement.py and bench/scale/bench.py both use, on
the PySpark jobs' work folder and the DuckDB pipeline's (bench/duckdb/pipeline.py).

A table agrees when both sides have the same column names and types, in the
same order, and the same multiset of rows (EXCEPT ALL both ways, so order
does not matter and duplicates count).  No tolerance anywhere: the amounts
are DECIMAL on both sides and the two DOUBLE columns (savings_rate,
used_pct) are computed exactly the way Spark rounds them.  `rows=False`
compares only the schema and the row counts (the 1 M check).

    python bench/duckdb/compare.py WORK_A WORK_B [--counts-only]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

TABLES = (
    "valid",
    "rejected",
    "transactions",
    "marts/monthly_summary",
    "marts/spend_by_category",
    "marts/cash_flow",
    "marts/budget_vs_actual",
    "marts/top_merchants",
)
SHOW = 5


def _source(work: Path, table: str) -> str:
    if table == "transactions":
        glob = str(work / table / "**" / "*.parquet")
        return f"read_parquet('{glob}', hive_partitioning = true, hive_types = {{'month': VARCHAR}})"
    return f"read_parquet('{work / table / '*.parquet'}')"


def _count(con: duckdb.DuckDBPyConnection, query: str) -> int:
    row = con.execute(f"SELECT count(*) FROM ({query})").fetchone()
    assert row is not None
    return int(row[0])


def compare(work_a: Path, work_b: Path, rows: bool = True, tables: tuple[str, ...] = TABLES) -> list[str]:
    """Differences between the tables of two work folders ([] when they agree)."""
    con = duckdb.connect()
    problems: list[str] = []
    try:
        for table in tables:
            a, b = _source(work_a, table), _source(work_b, table)
            schema_a = con.execute(f"DESCRIBE SELECT * FROM {a}").fetchall()
            schema_b = con.execute(f"DESCRIBE SELECT * FROM {b}").fetchall()
            cols_a = [(r[0], r[1]) for r in schema_a]
            cols_b = [(r[0], r[1]) for r in schema_b]
            if cols_a != cols_b:
                problems.append(f"{table}: columns differ:\n  {cols_a}\n  {cols_b}")
                continue
            n_a = _count(con, f"SELECT * FROM {a}")
            n_b = _count(con, f"SELECT * FROM {b}")
            if n_a != n_b:
                problems.append(f"{table}: {n_a} rows vs {n_b} rows")
            if not rows:
                continue
            for left, right, label in ((a, b, "only in A"), (b, a, "only in B")):
                q = f"SELECT * FROM {left} EXCEPT ALL SELECT * FROM {right}"
                n = _count(con, q)
                if n:
                    sample = con.execute(f"{q} LIMIT {SHOW}").fetchall()
                    problems.append(f"{table}: {n} row(s) {label}, e.g.\n    " + "\n    ".join(map(repr, sample)))
    finally:
        con.close()
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("work_a", type=Path)
    p.add_argument("work_b", type=Path)
    p.add_argument("--counts-only", action="store_true", help="schema and row counts, not every row")
    a = p.parse_args(argv)
    problems = compare(a.work_a, a.work_b, rows=not a.counts_only)
    for line in problems:
        print(line)
    print("agree" if not problems else f"{len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
