"""The dashboard tables, built from curated transactions.

Categories fall in three groups: income categories (default "Income"),
transfer categories (default "Transfer": money moving between the
household's own accounts, e.g. paying the credit card) and everything else,
which is spending ("uncategorised" included, so it shows up).  Spend is
money out net of refunds: -sum(amount) over spending rows.

  monthly_summary    month, currency: income, spend, net, savings_rate, transactions,
                     last_date (of the month's latest transaction)
  spend_by_category  month, category, currency: spend, transactions
  cash_flow          month, account: inflow, outflow, net, transactions
                     (every row, transfers included: the account's view)
  budget_vs_actual   every month with data x every budget line: budget,
                     actual (spend, 0 when none), remaining, used_pct
  top_merchants      month, rank 1..N (default 10) of merchants by spend,
                     merchants with spend > 0 only; ties by merchant name

All of them are computed from one aggregate of the transactions at the
grain (month, account, category, merchant), so the large table is scanned
once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from decimal import Decimal

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DecimalType, StringType, StructField, StructType

from .reference import Budget

MART_NAMES = ("monthly_summary", "spend_by_category", "cash_flow", "budget_vs_actual", "top_merchants")
AMOUNT = "decimal(14,2)"


def base_aggregate(tx: DataFrame) -> DataFrame:
    """Transactions summed at (month, account, currency, category, merchant)."""
    amt = F.col("amount")
    return tx.groupBy("month", "account_id", "account_name", "account_type", "currency", "category", "merchant").agg(
        F.sum(F.when(amt > 0, amt).otherwise(F.lit(0))).cast(AMOUNT).alias("inflow"),
        F.sum(F.when(amt < 0, -amt).otherwise(F.lit(0))).cast(AMOUNT).alias("outflow"),
        F.count(F.lit(1)).alias("transactions"),
        F.max("txn_date").alias("last_date"),
    )


def _kind(income: Sequence[str], transfer: Sequence[str]) -> Column:
    cat = F.col("category")
    return F.when(cat.isin(*income), "income").when(cat.isin(*transfer), "transfer").otherwise("spend")


def _spend(base: DataFrame, income: Sequence[str], transfer: Sequence[str]) -> DataFrame:
    return base.where(_kind(income, transfer) == "spend")


def _net_spend() -> Column:
    return (F.sum("outflow") - F.sum("inflow")).cast(AMOUNT)


def monthly_summary(base: DataFrame, income: Sequence[str], transfer: Sequence[str]) -> DataFrame:
    kind = _kind(income, transfer)
    inc = F.sum(F.when(kind == "income", F.col("inflow") - F.col("outflow")).otherwise(F.lit(0))).cast(AMOUNT)
    spend = F.sum(F.when(kind == "spend", F.col("outflow") - F.col("inflow")).otherwise(F.lit(0))).cast(AMOUNT)
    df = base.groupBy("month", "currency").agg(
        inc.alias("income"),
        spend.alias("spend"),
        F.sum("transactions").alias("transactions"),
        F.max("last_date").alias("last_date"),
    )
    return (
        df.withColumn("net", (F.col("income") - F.col("spend")).cast(AMOUNT))
        .withColumn("savings_rate", F.round(F.try_divide(F.col("net") * 100, F.col("income")), 1).cast("double"))
        .select("month", "currency", "income", "spend", "net", "savings_rate", "transactions", "last_date")
    )


def spend_by_category(base: DataFrame, income: Sequence[str], transfer: Sequence[str]) -> DataFrame:
    return (
        _spend(base, income, transfer)
        .groupBy("month", "category", "currency")
        .agg(_net_spend().alias("spend"), F.sum("transactions").alias("transactions"))
    )


def cash_flow(base: DataFrame) -> DataFrame:
    return (
        base.groupBy("month", "account_id", "account_name", "account_type", "currency")
        .agg(
            F.sum("inflow").cast(AMOUNT).alias("inflow"),
            F.sum("outflow").cast(AMOUNT).alias("outflow"),
            F.sum("transactions").alias("transactions"),
        )
        .withColumn("net", (F.col("inflow") - F.col("outflow")).cast(AMOUNT))
        .select(
            "month",
            "account_id",
            "account_name",
            "account_type",
            "currency",
            "inflow",
            "outflow",
            "net",
            "transactions",
        )
    )


def _json_value(v: object) -> str:
    """v as JSON, Decimals as exact numbers."""
    return str(v) if isinstance(v, Decimal) else json.dumps(v)


def _literal_frame(spark: SparkSession, rows: Sequence[tuple[object, ...]], schema: StructType) -> DataFrame:
    """A small DataFrame of the given rows, parsed in the JVM (from_json of
    a literal): spark.createDataFrame of Python rows would need a Python
    worker on an executor, seconds on a small machine.  Every column is
    nullable, as createDataFrame makes them."""
    names = schema.fieldNames()
    text = (
        "["
        + ",".join(
            "{" + ",".join(f"{json.dumps(k)}:{_json_value(v)}" for k, v in zip(names, row, strict=True)) + "}"
            for row in rows
        )
        + "]"
    )
    return spark.range(1).select(F.inline(F.from_json(F.lit(text), ArrayType(schema))))


def budget_vs_actual(
    spark: SparkSession, base: DataFrame, spend_by_cat: DataFrame, budgets: Iterable[Budget]
) -> DataFrame:
    """`budgets` is the list of reference.Budget."""
    bdf = _literal_frame(
        spark,
        [(b.category, b.monthly_budget, b.currency) for b in budgets],
        StructType(
            [
                StructField("category", StringType()),
                StructField("budget", DecimalType(14, 2)),
                StructField("currency", StringType()),
            ]
        ),
    )
    months = base.select("month").distinct()
    actual = F.coalesce(F.col("spend"), F.lit(0)).cast(AMOUNT)
    return (
        months.crossJoin(bdf)
        .join(spend_by_cat.select("month", "category", "currency", "spend"), ["month", "category", "currency"], "left")
        .withColumn("actual", actual)
        .withColumn("remaining", (F.col("budget") - F.col("actual")).cast(AMOUNT))
        .withColumn("used_pct", F.round(F.try_divide(F.col("actual") * 100, F.col("budget")), 1).cast("double"))
        .select("month", "category", "currency", "budget", "actual", "remaining", "used_pct")
    )


def merchant_spend(base: DataFrame, income: Sequence[str], transfer: Sequence[str], by_month: bool = True) -> DataFrame:
    keys = (["month"] if by_month else []) + ["currency", "merchant", "category"]
    return (
        _spend(base, income, transfer)
        .groupBy(*keys)
        .agg(_net_spend().alias("spend"), F.sum("transactions").alias("transactions"))
        .where(F.col("spend") > 0)
    )


def top_merchants(base: DataFrame, income: Sequence[str], transfer: Sequence[str], n: int) -> DataFrame:
    w = Window.partitionBy("month", "currency").orderBy(F.col("spend").desc(), F.col("merchant"))
    return (
        merchant_spend(base, income, transfer)
        .withColumn("rank", F.row_number().over(w))
        .where(F.col("rank") <= n)
        .select("month", "rank", "merchant", "category", "currency", "spend", "transactions")
    )
