"""The processing rules: valid rows -> curated transactions.

1. Sign convention.  Money leaving the household is negative.  Bank
   accounts (checking, savings) are exported that way already; credit card
   exports show charges as positive and payments/refunds as negative, so the
   amount of a credit_card account is negated.

2. Merchant normalisation (normalise_merchant), in this order:
     upper-case and trim
     drop one payment-processor prefix: "SQ *", "SQ*", "PAYPAL *", "PAYPAL*",
       "PP*", "POS ", "CARD PAYMENT TO ", "DIRECT DEBIT "
     cut everything from the first '*' or '#' (reference suffixes)
     delete apostrophes (' and ’)
     turn every character that is not a letter, digit or '&' into a space
     drop tokens made of digits only (store numbers, dates, references)
     collapse spaces; when nothing is left, the upper-cased description
   e.g. "SQ *Blue Bottle Coffee #1234" -> "BLUE BOTTLE COFFEE",
        "AMAZON MKTP*2K4J1"             -> "AMAZON MKTP",
        "McDonald's 0423"               -> "MCDONALDS".

3. Categorisation: the first rule (reference.order_rules) whose pattern is a
   substring of the merchant gives the category; no match -> "uncategorised".

4. Deduplication, on rows of the same account:
     exact duplicate  same date, amount (signed), description and external id
     near duplicate   same date, amount and merchant, but a different
                      description or external id (the same payment exported
                      twice with different decoration)
   Of each group the row from the first file (by path) and line is kept.
   Two genuinely separate payments to one merchant for the same amount on
   the same day are indistinguishable from a re-export and are collapsed too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pyspark.sql import Column, DataFrame, Row, Window
from pyspark.sql import functions as F

from .reference import UNCATEGORISED, Account, Rule
from .tables import CURATED_COLUMNS

PREFIXES = ("SQ *", "SQ*", "PAYPAL *", "PAYPAL*", "PP*", "POS ", "CARD PAYMENT TO ", "DIRECT DEBIT ")
_PREFIX_RE = "^(" + "|".join(p.replace("*", r"\*") for p in PREFIXES) + ")"
_WS_CHARS = " \t\n\x0b\f\r"

NEAR_KEY = ("month", "account_id", "txn_date", "amount", "merchant")
EXACT_KEY = NEAR_KEY + ("description", "external_id")


def normalise_merchant(description: Column) -> Column:
    """Column: the normalised merchant of a description Column.

    Two regular expressions run per row (there were five): the anchored
    prefix, and one split into tokens at every run of characters that are
    not letters, digits or '&', which does the last three steps of the rule
    (tokens that are all ASCII digits are dropped, the rest joined by one
    space).  The cut at '*' or '#' is substring_index.  The result is
    referenced once (nullif, coalesce): Spark does not share a subexpression
    between a CASE's condition and its ELSE, so `when(s == "", up)
    .otherwise(s)` ran the whole chain twice per row."""
    up = F.btrim(F.upper(description), F.lit(_WS_CHARS))
    s = F.regexp_replace(up, _PREFIX_RE, "")
    s = F.substring_index(F.substring_index(s, "*", 1), "#", 1)
    s = F.translate(s, "'\u2019", "")
    tokens = F.split(s, r"(?U)(?:[^\w&]|_)+", -1)
    kept = F.filter(tokens, lambda t: (t != "") & (F.translate(t, "0123456789", "") != ""))
    return F.coalesce(F.nullif(F.array_join(kept, " "), F.lit("")), up)


def categorise(merchant: Column, rules: Iterable[Rule]) -> Column:
    """Column: category of a merchant Column under ordered rules."""
    expr: Column | None = None
    for r in rules:
        cond = F.instr(merchant, r.pattern) > 0
        expr = F.when(cond, r.category) if expr is None else expr.when(cond, r.category)
    return F.lit(UNCATEGORISED) if expr is None else expr.otherwise(UNCATEGORISED)


def signed_amount(amount: Column, account_type: Column) -> Column:
    """Column: amount with money out negative for every account type."""
    return F.when(account_type == "credit_card", -amount).otherwise(amount)


def _account_map(accounts: Mapping[str, Account], field: str) -> Column:
    return F.create_map(
        *[x for a in sorted(accounts.values()) for x in (F.lit(a.account_id), F.lit(getattr(a, field)))]
    )


def _enrich_base(valid: DataFrame, accounts: Mapping[str, Account]) -> DataFrame:
    """Valid rows + account, signed amount, merchant and month."""
    acc_type = F.expr("try_element_at(__types, account_id)")
    acc_name = F.expr("try_element_at(__names, account_id)")
    return (
        valid.withColumn("__types", _account_map(accounts, "type"))
        .withColumn("__names", _account_map(accounts, "name"))
        .withColumn("account_type", acc_type)
        .withColumn("account_name", acc_name)
        .drop("__types", "__names")
        .withColumnRenamed("amount", "exported_amount")
        .withColumn("amount", signed_amount(F.col("exported_amount"), F.col("account_type")))
        .withColumn("merchant", normalise_merchant(F.col("description")))
        .withColumn("month", F.substring(F.col("txn_date").cast("string"), 1, 7))
    )


def enrich(valid: DataFrame, accounts: Mapping[str, Account], rules: Sequence[Rule]) -> DataFrame:
    """Valid rows + account, signed amount, merchant, category, month."""
    return _enrich_base(valid, accounts).withColumn("category", categorise(F.col("merchant"), rules))


def flag_duplicates(df: DataFrame) -> DataFrame:
    """Adds is_exact_duplicate, is_near_duplicate and keep.  One shuffle: the
    data is clustered by month and both windows partition on supersets."""
    order = [F.col("source_file"), F.col("source_line")]
    w_exact = Window.partitionBy(*EXACT_KEY).orderBy(*order)
    df = df.repartition("month").withColumn("__exact_rank", F.row_number().over(w_exact))
    w_near = Window.partitionBy(*NEAR_KEY).orderBy((F.col("__exact_rank") > 1), *order)
    df = df.withColumn("__near_rank", F.row_number().over(w_near))
    return (
        df.withColumn("is_exact_duplicate", F.col("__exact_rank") > 1)
        .withColumn("is_near_duplicate", (F.col("__exact_rank") == 1) & (F.col("__near_rank") > 1))
        .withColumn("keep", F.col("__near_rank") == 1)
        .drop("__exact_rank", "__near_rank")
    )


def txn_id() -> Column:
    """A stable id of a curated transaction: its dedup key, hashed."""
    return F.substring(
        F.sha2(
            F.concat_ws(
                "|", "account_id", F.col("txn_date").cast("string"), F.col("amount").cast("string"), "merchant"
            ),
            256,
        ),
        1,
        20,
    )


def curate(valid: DataFrame, accounts: Mapping[str, Account], rules: Sequence[Rule]) -> DataFrame:
    """All valid rows, enriched and flagged; `keep` marks the curated ones.

    The category is added after the shuffle, not with the merchant: in one
    projection, the merchant's chain and one branch per rule make a generated
    method larger than the JVM compiles (8,000 bytes of bytecode), and it ran
    interpreted, 2-3x slower per row."""
    flagged = flag_duplicates(_enrich_base(valid, accounts))
    return flagged.withColumn("category", categorise(F.col("merchant"), rules)).withColumn("txn_id", txn_id())


def curated(flagged: DataFrame) -> DataFrame:
    """The kept rows in the column order of the table <work>/transactions."""
    return flagged.where("keep").select(*CURATED_COLUMNS)


def metrics_groups(flagged: DataFrame) -> DataFrame:
    """A small aggregate (one row per month and merchant) the process metrics
    are computed from; no extra shuffle, the data is clustered by month."""
    kept = F.col("keep")
    return flagged.groupBy("month", "merchant").agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.col("is_exact_duplicate").cast("long")).alias("exact"),
        F.sum(F.col("is_near_duplicate").cast("long")).alias("near"),
        F.sum(kept.cast("long")).alias("kept"),
        F.sum((kept & (F.col("category") != UNCATEGORISED)).cast("long")).alias("categorised"),
        F.sum(F.col("account_type").isNull().cast("long")).alias("unknown_accounts"),
    )


def metrics_from_groups(groups: Iterable[Row | Mapping[str, Any]]) -> tuple[dict[str, int], int]:
    """The process metrics from metrics_groups(...).collect().  Returns
    (metrics, number of rows whose account is not in the reference)."""
    g = [r.asDict() if hasattr(r, "asDict") else r for r in groups]
    kept = [r for r in g if r["kept"]]
    m = {
        "process_rows_in": sum(r["rows"] for r in g),
        "duplicates_removed": sum(r["exact"] for r in g),
        "near_duplicates_removed": sum(r["near"] for r in g),
        "transactions": sum(r["kept"] for r in g),
        "categorised": sum(r["categorised"] for r in g),
        "transaction_months": len({r["month"] for r in kept}),
        "merchants": len({r["merchant"] for r in kept}),
    }
    m["uncategorised"] = m["transactions"] - m["categorised"]
    return m, sum(r["unknown_accounts"] for r in g)
