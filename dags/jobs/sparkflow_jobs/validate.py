"""The validation rules: raw bank export files -> valid rows + rejected rows.

Input is a DataFrame of files (path, content bytes), as Spark's binaryFile
source gives it, so the same code runs on a lake folder or on bytes a test
made in memory.  Each file is decoded (UTF-8, BOM stripped; ISO-8859-1 when
it is not valid UTF-8), one trailing line break is dropped, and the text is
split into lines at LF, CRLF or CR.  Line 1 is the header that picks the
format (see formats.py).  Every other line is one of:

  blank  only whitespace: skipped and counted (metric blank_lines)
  row    a record: valid, or rejected with exactly one reason

Reject reasons, checked in this order (the first that applies wins):

  unknown_format     the file's header is not a known format (then every
                     non-blank line of the file, header included, is a reject)
  malformed_row      wrong number of fields for the format, or an unclosed quote
  missing_field      date, account, description, amount or currency is empty
  bad_date           date not in the format's pattern or not a calendar date
  bad_amount         amount not a number in the format's notation
  unknown_account    account not in reference accounts.csv
  currency_mismatch  currency differs from the account's currency
  future_date        date after the as-of date

So read = valid + rejected, always; nothing is dropped without a count.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from .formats import COMMA_AMOUNT, DOT_AMOUNT, FORMATS, LOGICAL_FIELDS, MAX_COLUMNS, REQUIRED, Format
from .reference import Account
from .tables import REASONS

RAW_LINE_LIMIT = 4096
AMOUNT_TYPE = "decimal(12,2)"

_CSV_SCHEMA = ", ".join(f"c{i} STRING" for i in range(MAX_COLUMNS))
_CSV_OPTIONS = {"sep": ",", "quote": '"', "escape": '"', "mode": "PERMISSIVE"}
_WS_CHARS = " \t\n\x0b\f\r"  # what Java's \s matches


def read_files(spark: SparkSession, input_uri: str) -> DataFrame:
    """All files under the raw zone (recursively) as (path, content).  Hidden
    files (names starting with '.' or '_') are skipped, as Hadoop does."""
    return (
        spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(input_uri).select("path", "content")
    )


def _strip(col: Column) -> Column:
    """Trim whitespace (space, tab, line breaks, VT, FF) from both ends."""
    return F.btrim(col, F.lit(_WS_CHARS))


def _by_format(fmt_col: Column, pick: Callable[[Format], Column | None], default: Any = None) -> Column:
    """CASE format WHEN 'iso' THEN pick(iso) ... END as one Column."""
    expr: Column | None = None
    for f in FORMATS:
        value = pick(f)
        if value is None:
            continue
        expr = F.when(fmt_col == f.name, value) if expr is None else expr.when(fmt_col == f.name, value)
    if expr is None:
        return F.lit(default)
    return expr.otherwise(default) if default is not None else expr


def _is_utf8(spark: SparkSession, content: Column) -> Column:
    """Column: the bytes are valid UTF-8.  Spark 4 has is_valid_utf8; Spark
    3.5 (EMR 7) replaces malformed input with U+FFFD when decoding."""
    if int(spark.version.split(".")[0]) >= 4:
        return F.expr("is_valid_utf8(cast(content as string))")
    return F.instr(F.decode(content, "UTF-8"), "\ufffd") == 0


def split_lines(files: DataFrame) -> DataFrame:
    """One row per line of every file: source_file, source_line (1-based),
    source_format (null = unknown), kind (header | blank | row | empty_file),
    line."""
    content = F.col("content")
    text = F.when(_is_utf8(files.sparkSession, content), content.cast("string")).otherwise(
        F.decode(content, "ISO-8859-1")
    )
    text = F.regexp_replace(text, "^\ufeff", "")
    text = F.regexp_replace(text, r"(\r\n|\r|\n)\z", "")
    lines = F.when(text == "", F.array().cast("array<string>")).otherwise(F.split(text, r"\r\n|\r|\n", -1))

    header = F.get(F.col("lines"), 0)
    key = F.lower(F.regexp_replace(F.regexp_replace(header, '"', ""), r"\s*,\s*", ","))
    key = _strip(F.regexp_replace(key, "^\ufeff", ""))
    first, *others = FORMATS
    fmt = F.when(key == first.header, first.name)
    for f in others:
        fmt = fmt.when(key == f.header, f.name)

    per_file = files.select(F.col("path").alias("source_file"), lines.alias("lines")).withColumn("source_format", fmt)
    exploded = per_file.select("source_file", "source_format", F.posexplode_outer("lines").alias("pos", "line"))
    kind = (
        F.when(F.col("pos").isNull(), "empty_file")
        .when(F.col("source_format").isNotNull() & (F.col("pos") == 0), "header")
        .when(F.col("line").rlike(r"^\s*$"), "blank")
        .otherwise("row")
    )
    return exploded.select(
        "source_file", (F.col("pos") + 1).cast("int").alias("source_line"), "source_format", kind.alias("kind"), "line"
    )


def classify(files: DataFrame, accounts: Mapping[str, Account], as_of: _dt.date) -> DataFrame:
    """Every line with its verdict.  `accounts` maps account_id -> Account
    (reference.py); `as_of` is a datetime.date.  Adds reject_reason (null for
    a valid row), the raw fields, and the typed fields of valid rows.

    Built as three select()s (not a chain of withColumn) to keep Spark's
    analysis and generated code small."""
    fmt = F.col("source_format")
    line = F.col("line")
    keep = [F.col(c) for c in ("source_file", "source_line", "source_format", "kind", "line")]

    # 1. split into the logical fields of the file's format; count fields
    parsed = F.from_csv(line, _CSV_SCHEMA, _CSV_OPTIONS)
    no_quotes = F.regexp_replace(line, '"[^"]*"', "")
    stage1 = split_lines(files).select(
        *keep,
        F.when(F.col("kind") == "row", parsed).alias("f"),
        F.size(F.split(no_quotes, ",", -1)).alias("n_fields"),
        (F.instr(no_quotes, '"') > 0).alias("open_quote"),
    )
    raw = [_by_format(fmt, _csv_field(n)).alias(f"{n}_raw") for n in LOGICAL_FIELDS]

    # 2. trimmed text of each field
    stage2 = stage1.select(*keep, "n_fields", "open_quote", *raw)
    trimmed = [_strip(F.coalesce(F.col(f"{n}_raw"), F.lit(""))).alias(n) for n in LOGICAL_FIELDS]
    stage2 = stage2.select("*", *trimmed)

    # 3. typed values and the verdict
    date_s, amount_s = F.col("date"), F.col("amount")
    txn_date = _by_format(
        fmt, lambda f: F.when(date_s.rlike(f.date_regex), F.to_date(F.try_to_timestamp(date_s, F.lit(f.date_format))))
    )
    amount_norm = _by_format(
        fmt,
        lambda f: (
            F.when(amount_s.rlike(DOT_AMOUNT), F.regexp_replace(amount_s, r"^\+", ""))
            if f.amount_style == "dot"
            else F.when(amount_s.rlike(COMMA_AMOUNT), F.translate(F.regexp_replace(amount_s, r"^\+|\.", ""), ",", "."))
        ),
    )
    currency_map = F.create_map(
        *[x for a in sorted(accounts.values()) for x in (F.lit(a.account_id), F.lit(a.currency))]
    )
    stage3 = stage2.select(
        *keep,
        *[F.col(f"{n}_raw") for n in LOGICAL_FIELDS],
        "n_fields",
        "open_quote",
        F.col("account").alias("account_id"),
        F.col("description"),
        F.upper(F.col("currency")).alias("currency"),
        F.when(F.col("external_id") != "", F.col("external_id")).alias("external_id"),
        F.try_element_at(currency_map, F.col("account")).alias("account_currency"),
        txn_date.alias("txn_date"),
        amount_norm.cast(AMOUNT_TYPE).alias("amount"),  # the patterns admit only values that fit
        _any_empty(REQUIRED).alias("missing"),
    )

    expected = _by_format(fmt, lambda f: F.lit(len(f.columns)))
    reason = (
        F.when(F.col("kind") != "row", F.lit(None))
        .when(fmt.isNull(), "unknown_format")
        .when((F.col("n_fields") != expected) | F.col("open_quote"), "malformed_row")
        .when(F.col("missing"), "missing_field")
        .when(F.col("txn_date").isNull(), "bad_date")
        .when(F.col("amount").isNull(), "bad_amount")
        .when(F.col("account_currency").isNull(), "unknown_account")
        .when(F.col("currency") != F.col("account_currency"), "currency_mismatch")
        .when(F.col("txn_date") > F.lit(as_of), "future_date")
    )
    return stage3.select(
        "source_file",
        "source_line",
        "source_format",
        "kind",
        reason.alias("reject_reason"),
        F.substring(line, 1, RAW_LINE_LIMIT).alias("raw_line"),
        *[F.col(f"{n}_raw") for n in LOGICAL_FIELDS],
        "account_id",
        "txn_date",
        "description",
        "amount",
        "currency",
        "external_id",
    )


def _csv_field(name: str) -> Callable[[Format], Column | None]:
    """pick() for _by_format: the parsed CSV column holding the logical field
    `name` in a format, None when the format has no such field."""
    return lambda f: F.col(f"f.c{f.columns.index(name)}") if name in f.columns else None


def _any_empty(names: Sequence[str]) -> Column:
    cond = F.col(names[0]) == ""
    for n in names[1:]:
        cond = cond | (F.col(n) == "")
    return cond


def valid_rows(classified: DataFrame) -> DataFrame:
    """The typed valid rows, the table <work>/valid."""
    return classified.where((F.col("kind") == "row") & F.col("reject_reason").isNull()).select(
        "account_id",
        "txn_date",
        "description",
        "amount",
        "currency",
        "external_id",
        "source_file",
        "source_line",
        "source_format",
    )


def rejected_rows(classified: DataFrame) -> DataFrame:
    """The rejects with their reason and raw text, the table <work>/rejected."""
    return classified.where(F.col("reject_reason").isNotNull()).select(
        "source_file",
        "source_line",
        "source_format",
        "reject_reason",
        "raw_line",
        *[F.col(f"{n}_raw") for n in LOGICAL_FIELDS],
    )


def line_stats(classified: DataFrame) -> DataFrame:
    """Small aggregate the metrics are computed from (one row per file/kind/reason)."""
    return classified.groupBy("source_file", "source_format", "kind", "reject_reason").count()


def metrics_from_stats(stats: Iterable[Row | Mapping[str, Any]], n_files: int | None = None) -> dict[str, int]:
    """Flat metrics from line_stats(...).collect() (a list of Rows or dicts).
    `n_files` is the number of files listed (Spark never reads a zero-byte
    file, so those only show up in the listing); default: files seen."""
    m = {"read": 0, "valid": 0, "rejected": 0, "blank_lines": 0}
    m.update({f"rejected_{r}": 0 for r in REASONS})
    files, files_with_rows, unknown_files = set(), set(), set()
    for s in stats:
        s = s.asDict() if hasattr(s, "asDict") else s
        files.add(s["source_file"])
        if s["kind"] == "blank":
            m["blank_lines"] += s["count"]
        elif s["kind"] == "row":
            files_with_rows.add(s["source_file"])
            m["read"] += s["count"]
            if s["reject_reason"] is None:
                m["valid"] += s["count"]
            else:
                m["rejected"] += s["count"]
                m[f"rejected_{s['reject_reason']}"] += s["count"]
            if s["source_format"] is None:
                unknown_files.add(s["source_file"])
    m["files"] = max(len(files), n_files or 0)
    m["files_empty"] = m["files"] - len(files_with_rows)
    m["files_unknown_format"] = len(unknown_files)
    return m
