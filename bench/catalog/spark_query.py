"""spark_query.py -- the dashboard query in a fresh Spark session, for
bench/catalog/bench.py (the Spark side of "DuckDB views vs Spark").

    spark-submit --master spark://... spark_query.py --table DIR --sql SQL [--repeat N]

Reads the published Parquet table at DIR (Hive-style partitions, as the
pipeline writes `transactions`: partitioned by month) as the temporary view
`transactions`, runs SQL once (the first query of the session: file listing,
planning, the job) and then N more times in the same session (warm).

Prints on stdout, flushed as soon as each is known:

    SFBENCH {"phase": "first", "session_s", "query_s", "rows"}
    SFBENCH {"phase": "warm", "query_s": [...]}

session_s: SparkSession.builder.getOrCreate() (the SparkContext, the
executors' registration with the cluster); query_s: spark.read + sql +
collect.  rows: lists of JSON values (decimals as strings) in the query's
order.
"""

import argparse
import decimal
import json
import sys
import time


def emit(obj):
    sys.stdout.write("SFBENCH " + json.dumps(obj) + "\n")
    sys.stdout.flush()


def plain(v):
    if isinstance(v, decimal.Decimal):
        return str(v)
    return v


def run_query(spark, table, sql):
    t0 = time.perf_counter()
    spark.read.parquet(table).createOrReplaceTempView("transactions")
    rows = [[plain(v) for v in r] for r in spark.sql(sql).collect()]
    return time.perf_counter() - t0, rows


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", required=True)
    ap.add_argument("--sql", required=True)
    ap.add_argument("--repeat", type=int, default=0)
    args = ap.parse_args(argv)

    from pyspark.sql import SparkSession

    t0 = time.perf_counter()
    spark = SparkSession.builder.appName("bench-catalog-query").getOrCreate()
    session_s = time.perf_counter() - t0
    try:
        query_s, rows = run_query(spark, args.table, args.sql)
        emit({"phase": "first", "session_s": session_s, "query_s": query_s, "rows": rows})
        warm = []
        for _ in range(args.repeat):
            s, again = run_query(spark, args.table, args.sql)
            if again != rows:
                raise SystemExit("spark_query: a warm run returned other rows than the first")
            warm.append(s)
        emit({"phase": "warm", "query_s": warm})
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
