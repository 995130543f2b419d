"""Stage 3 of the household-finance pipeline: dashboard tables and report.

Reads <work>/transactions (written by process_transactions.py) and the
reference budgets, and writes

  <work>/marts/<name>       monthly_summary, spend_by_category, cash_flow,
                            budget_vs_actual, top_merchants (Parquet, one
                            file each; definitions in sparkflow_jobs/marts.py)
  <work>/report/index.html  a self-contained page with charts and tables

User arguments:
  --top-merchants N          merchants per month in top_merchants (default 10)
  --income-categories LIST   comma-separated (default "Income")
  --transfer-categories LIST comma-separated (default "Transfer")

Metrics: mart_<name>_rows for each mart, report_charts, total_income,
total_spend, duration_ms.
"""

import os
import sys
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pyspark.sql import functions as F  # noqa: E402

from sparkflow_jobs import contract, marts, reference, report, validate  # noqa: E402
from sparkflow_jobs.contract import JobError  # noqa: E402

JOB = "marts"


def _csv_list(text):
    return tuple(x.strip() for x in text.split(",") if x.strip())


def build_parser():
    p = contract.parser(JOB, "Build the dashboard tables and the HTML report.", needs_input=False)
    user = p.add_argument_group("user arguments")
    user.add_argument("--top-merchants", type=int, default=10, metavar="N")
    user.add_argument("--income-categories", type=_csv_list, default=("Income",), metavar="LIST")
    user.add_argument("--transfer-categories", type=_csv_list, default=("Transfer",), metavar="LIST")
    return p


def _collect_and_write(spark, df, uri, keep=False):
    """Collect a (small) mart and write it as one file, both from one cached
    computation; returns the rows as dicts.  The rows never go back into
    Spark: a DataFrame made from Python rows needs a Python worker on an
    executor (seconds each on a small machine); the cache is read in the
    JVM.  keep: leave df cached (the caller unpersists it)."""
    df.persist()
    try:
        rows = df.collect()
        df.coalesce(1).write.mode("overwrite").parquet(uri)
        contract.write_schema(spark, df.schema, uri)
    finally:
        if not keep:
            df.unpersist()
    return [r.asDict() for r in rows]


def _quality(spark, work):
    """Counts from the validate stage's tables, or None when they are absent."""
    valid_uri, rej_uri = contract.join_uri(work, "valid"), contract.join_uri(work, "rejected")
    if not (contract.uri_exists(spark, valid_uri) and contract.uri_exists(spark, rej_uri)):
        return None
    reasons = {r: 0 for r in validate.REASONS}
    valid = 0
    both = (
        spark.read.parquet(valid_uri)
        .select(F.lit(None).cast("string").alias("reject_reason"))
        .unionByName(spark.read.parquet(rej_uri).select("reject_reason"))
    )
    for row in both.groupBy("reject_reason").count().collect():
        if row["reject_reason"] is None:
            valid = row["count"]
        else:
            reasons[row["reject_reason"]] = row["count"]
    rejected = sum(reasons.values())
    return {"read": valid + rejected, "valid": valid, "rejected": rejected, "reasons": reasons}


def main(spark, args):
    if args.top_merchants < 1:
        raise JobError("--top-merchants must be at least 1")
    ref_uri = contract.resolve_reference(args)
    budgets = reference.load(spark, ref_uri, "budgets")
    tx_uri = contract.join_uri(args.work, "transactions")
    if not contract.uri_exists(spark, tx_uri):
        raise JobError(f"{tx_uri} does not exist: run the process stage first")
    inc, trf = args.income_categories, args.transfer_categories
    overlap = set(inc) & set(trf)
    if overlap:
        raise JobError(f"categories both income and transfer: {', '.join(sorted(overlap))}")

    spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    tx = spark.read.parquet(tx_uri)
    base = marts.base_aggregate(tx).persist()
    out = {}
    try:
        mart_uri = lambda name: contract.join_uri(args.work, "marts", name)  # noqa: E731
        out["monthly_summary"] = _collect_and_write(
            spark, marts.monthly_summary(base, inc, trf), mart_uri("monthly_summary")
        )
        if not out["monthly_summary"]:
            raise JobError(f"{tx_uri} has no transactions")
        sbc = marts.spend_by_category(base, inc, trf)
        try:
            out["spend_by_category"] = _collect_and_write(spark, sbc, mart_uri("spend_by_category"), keep=True)
            out["cash_flow"] = _collect_and_write(spark, marts.cash_flow(base), mart_uri("cash_flow"))
            out["budget_vs_actual"] = _collect_and_write(
                spark, marts.budget_vs_actual(spark, base, sbc, budgets), mart_uri("budget_vs_actual")
            )
        finally:
            sbc.unpersist()
        out["top_merchants"] = _collect_and_write(
            spark, marts.top_merchants(base, inc, trf, args.top_merchants), mart_uri("top_merchants")
        )
        overall = (
            marts.merchant_spend(base, inc, trf, by_month=False)
            .orderBy(F.col("spend").desc(), F.col("merchant"))
            .limit(10)
            .collect()
        )
    finally:
        base.unpersist()

    html, charts = report.render(
        {
            "summary": out["monthly_summary"],
            "spend": out["spend_by_category"],
            "cash_flow": out["cash_flow"],
            "budget": out["budget_vs_actual"],
            "top_merchants_overall": [r.asDict() for r in overall],
            "quality": _quality(spark, args.work),
            "last_date": max(r["last_date"] for r in out["monthly_summary"]).isoformat(),
        }
    )
    report_uri = contract.join_uri(args.work, "report", "index.html")
    contract.put_bytes(spark, html.encode("utf-8"), report_uri)

    total_income = sum((r["income"] for r in out["monthly_summary"]), Decimal(0))
    total_spend = sum((r["spend"] for r in out["monthly_summary"]), Decimal(0))
    m = {f"mart_{name}_rows": len(out[name]) for name in marts.MART_NAMES}
    m.update({"report_charts": charts, "total_income": float(total_income), "total_spend": float(total_spend)})
    summary = (
        " ".join(f"{name}={len(out[name])}" for name in marts.MART_NAMES) + f" charts={charts} report={report_uri}"
    )
    return m, summary


if __name__ == "__main__":
    contract.bootstrap_main(JOB, build_parser, main)
