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

from pyspark.sql import functions as F

from .formats import COMMA_AMOUNT, DOT_AMOUNT, FORMATS, LOGICAL_FIELDS, MAX_COLUMNS, REQUIRED

REASONS = ("unknown_format", "malformed_row", "missing_field", "bad_date",
           "bad_amount", "unknown_account", "currency_mismatch", "future_date")

RAW_LINE_LIMIT = 4096
AMOUNT_TYPE = "decimal(12,2)"

_CSV_SCHEMA = ", ".join(f"c{i} STRING" for i in range(MAX_COLUMNS))
_CSV_OPTIONS = {"sep": ",", "quote": '"', "escape": '"', "mode": "PERMISSIVE"}
_WS = r"^\s+|\s+$"


def read_files(spark, input_uri):
    """All files under the raw zone (recursively) as (path, content).  Hidden
    files (names starting with '.' or '_') are skipped, as Hadoop does."""
    return (spark.read.format("binaryFile")
            .option("recursiveFileLookup", "true")
            .load(input_uri)
            .select("path", "content"))


def _strip(col):
    return F.regexp_replace(col, _WS, "")


def _by_format(fmt_col, pick, default=None):
    """CASE format WHEN 'iso' THEN pick(iso) ... END as one Column."""
    expr = None
    for f in FORMATS:
        value = pick(f)
        if value is None:
            continue
        expr = (F.when(fmt_col == f.name, value) if expr is None
                else expr.when(fmt_col == f.name, value))
    if expr is None:
        return F.lit(default)
    return expr.otherwise(default) if default is not None else expr


def split_lines(files):
    """One row per line of every file: source_file, source_line (1-based),
    source_format (null = unknown), kind (header | blank | row | empty_file),
    line."""
    content = F.col("content")
    text = (F.when(F.expr("is_valid_utf8(cast(content as string))"), content.cast("string"))
            .otherwise(F.decode(content, "ISO-8859-1")))
    text = F.regexp_replace(text, "^\uFEFF", "")
    text = F.regexp_replace(text, r"(\r\n|\r|\n)\z", "")
    lines = F.when(text == "", F.array().cast("array<string>")).otherwise(F.split(text, r"\r\n|\r|\n", -1))

    header = F.get(F.col("lines"), 0)
    key = F.lower(F.regexp_replace(F.regexp_replace(header, '"', ""), r"\s*,\s*", ","))
    key = _strip(F.regexp_replace(key, "^\uFEFF", ""))
    fmt = None
    for f in FORMATS:
        fmt = F.when(key == f.header, f.name) if fmt is None else fmt.when(key == f.header, f.name)

    per_file = (files.select(F.col("path").alias("source_file"), lines.alias("lines"))
                .withColumn("source_format", fmt))
    exploded = per_file.select("source_file", "source_format",
                               F.posexplode_outer("lines").alias("pos", "line"))
    kind = (F.when(F.col("pos").isNull(), "empty_file")
            .when(F.col("source_format").isNotNull() & (F.col("pos") == 0), "header")
            .when(F.col("line").rlike(r"^\s*$"), "blank")
            .otherwise("row"))
    return exploded.select(
        "source_file",
        (F.col("pos") + 1).cast("int").alias("source_line"),
        "source_format",
        kind.alias("kind"),
        "line")


def classify(files, accounts, as_of):
    """Every line with its verdict.  `accounts` maps account_id -> Account
    (reference.py); `as_of` is a datetime.date.  Adds reject_reason (null for
    a valid row), the raw fields, and the typed fields of valid rows."""
    lines = split_lines(files)
    fmt = F.col("source_format")
    parsed = F.from_csv(F.col("line"), _CSV_SCHEMA, _CSV_OPTIONS)
    df = lines.withColumn("f", parsed)

    for name in LOGICAL_FIELDS:
        df = df.withColumn(f"{name}_raw", _by_format(
            fmt, lambda f, n=name: F.col(f"f.c{f.columns.index(n)}") if n in f.columns else None))

    trimmed = {n: _strip(F.coalesce(F.col(f"{n}_raw"), F.lit(""))) for n in LOGICAL_FIELDS}
    no_quotes = F.regexp_replace(F.col("line"), '"[^"]*"', "")
    n_fields = F.size(F.split(no_quotes, ",", -1))
    expected = _by_format(fmt, lambda f: F.lit(len(f.columns)))
    malformed = (n_fields != expected) | (F.instr(no_quotes, '"') > 0)
    missing = None
    for n in REQUIRED:
        m = trimmed[n] == ""
        missing = m if missing is None else (missing | m)

    date_s = trimmed["date"]
    txn_date = _by_format(fmt, lambda f: F.when(
        date_s.rlike(f.date_regex),
        F.expr(f"try_to_timestamp(date_s, '{f.date_format}')").cast("date")))
    amount_s = trimmed["amount"]
    amount_norm = _by_format(fmt, lambda f: (
        F.when(amount_s.rlike(DOT_AMOUNT), F.regexp_replace(amount_s, r"^\+", ""))
        if f.amount_style == "dot" else
        F.when(amount_s.rlike(COMMA_AMOUNT),
               F.translate(F.regexp_replace(F.regexp_replace(amount_s, r"^\+", ""), r"\.", ""), ",", "."))))
    amount = F.expr(f"try_cast(amount_norm as {AMOUNT_TYPE})")

    currency_map = F.create_map(*[x for a in sorted(accounts.values())
                                  for x in (F.lit(a.account_id), F.lit(a.currency))])
    account_id = trimmed["account"]
    account_currency = F.expr("try_element_at(__accounts, account_id)")
    currency = F.upper(trimmed["currency"])

    df = (df.withColumn("date_s", date_s)
            .withColumn("txn_date", txn_date)
            .withColumn("amount_norm", amount_norm)
            .withColumn("amount", amount)
            .withColumn("account_id", account_id)
            .withColumn("__accounts", currency_map)
            .withColumn("account_currency", account_currency)
            .withColumn("currency", currency))

    reason = (F.when(F.col("kind") != "row", F.lit(None))
              .when(fmt.isNull(), "unknown_format")
              .when(malformed, "malformed_row")
              .when(missing, "missing_field")
              .when(F.col("txn_date").isNull(), "bad_date")
              .when(F.col("amount").isNull(), "bad_amount")
              .when(F.col("account_currency").isNull(), "unknown_account")
              .when(F.col("currency") != F.col("account_currency"), "currency_mismatch")
              .when(F.col("txn_date") > F.lit(as_of), "future_date"))
    external = trimmed["external_id"]
    return df.select(
        "source_file", "source_line", "source_format", "kind",
        reason.alias("reject_reason"),
        F.substring(F.col("line"), 1, RAW_LINE_LIMIT).alias("raw_line"),
        *[F.col(f"{n}_raw") for n in LOGICAL_FIELDS],
        "account_id", "txn_date",
        trimmed["description"].alias("description"),
        "amount", "currency",
        F.when(external != "", external).alias("external_id"))


def valid_rows(classified):
    """The typed valid rows, the table <work>/valid."""
    return (classified.where((F.col("kind") == "row") & F.col("reject_reason").isNull())
            .select("account_id", "txn_date", "description", "amount", "currency",
                    "external_id", "source_file", "source_line", "source_format"))


def rejected_rows(classified):
    """The rejects with their reason and raw text, the table <work>/rejected."""
    return (classified.where(F.col("reject_reason").isNotNull())
            .select("source_file", "source_line", "source_format", "reject_reason", "raw_line",
                    *[F.col(f"{n}_raw") for n in LOGICAL_FIELDS]))


def line_stats(classified):
    """Small aggregate the metrics are computed from (one row per file/kind/reason)."""
    return (classified.groupBy("source_file", "source_format", "kind", "reject_reason")
            .count())


def metrics_from_stats(stats, n_files=None):
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
