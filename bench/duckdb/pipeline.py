"""The household-finance pipeline in DuckDB SQL: the yardstick of issue #13.

What a person who knows DuckDB would write instead of the three PySpark jobs
(dags/jobs/validate_transactions.py, process_transactions.py, build_marts.py):
the same rules over the same raw files, producing the same tables, so that
bench/bench_scale can compare the two engines and
tests/jobs/test_duckdb_agreement.py can prove they agree row for row.

    python bench/duckdb/pipeline.py --lake LAKE --out WORK [--as-of YYYY-MM-DD]
        [--stages validate,process,marts] [--metrics PATH] [--threads N]

reads LAKE/raw/transactions and LAKE/reference, writes WORK/valid,
WORK/rejected, WORK/transactions/month=YYYY-MM/, WORK/marts/<name> (Parquet)
and prints one JSON object of metrics (the jobs' keys, see dags/README.md;
`report_charts` is absent: the HTML report is not a table and is not built).

Every step is set-based SQL; Python only assembles statements and reads the
small reference CSVs.  Where the jobs lean on a Spark or Java behaviour the
SQL says which and how DuckDB reproduces it:

* Files are read with read_blob, not read_csv.  The contract decides the
  format per file from its header, detects the encoding per file (UTF-8,
  else ISO-8859-1), splits at LF, CRLF and CR, counts blank lines and keeps
  every row's line number: read_csv can do none of these per file (one
  encoding and one dialect per call, blank lines dropped, no line numbers),
  so the files are decoded and split in SQL exactly as the validate job
  does with Spark's binaryFile source.
* Fields are split the way Spark's from_csv (univocity, mode PERMISSIVE)
  splits a line, including its answers for malformed lines (an unclosed
  quote swallows the rest of the line; a closing quote followed by text
  keeps the raw text up to the next comma), with one regular expression.
* Java regular expressions (the jobs') and RE2 (DuckDB's) differ in `\\s`
  (Java includes \\x0B), `$` (Java also matches before a final U+0085,
  U+2028 or U+2029), `.` and `\\w`; the patterns below spell the Java
  meaning out.  RE2 has no look-around; the one look-around of the merchant
  rule is rewritten (see MERCHANT_STEPS).
* Decimal division: DuckDB divides DECIMALs in DOUBLE, Spark in DECIMAL.
  savings_rate and used_pct are computed in integer cents with Spark's
  result scale (17) and HALF_UP rounding, so they are equal to the bit.

Known, documented differences (none occurs in the generator's data): upper()
follows Unicode simple case mapping in DuckDB (Java maps e.g. U+00DF to "SS";
that one is reproduced, other special casings are not); Spark URL-encodes
unusual characters in file paths, here the path is used as is.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "dags" / "jobs"))

from sparkflow_jobs.formats import COMMA_AMOUNT, DOT_AMOUNT, FORMATS, LOGICAL_FIELDS, MAX_COLUMNS  # noqa: E402
from sparkflow_jobs.tables import CURATED_COLUMNS, REASONS  # noqa: E402

MART_NAMES = ("monthly_summary", "spend_by_category", "cash_flow", "budget_vs_actual", "top_merchants")
STAGES = ("validate", "process", "marts")
UNCATEGORISED = "uncategorised"
DEFAULT_PRIORITY = 100
RAW_LINE_LIMIT = 4096
PREFIXES = ("SQ *", "SQ*", "PAYPAL *", "PAYPAL*", "PP*", "POS ", "CARD PAYMENT TO ", "DIRECT DEBIT ")


class PipelineError(Exception):
    """Bad input or a failed quality gate (the jobs' exit code 2)."""


def lit(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


# ---------------------------------------------------------------------------
# Macros shared by the stages
# ---------------------------------------------------------------------------

_PREFIX_RE = "^(" + "|".join(p.replace("*", r"\*") for p in PREFIXES) + ")"

MACROS = r"""
-- Java's \s: space, tab, LF, VT, FF, CR (RE2's \s lacks VT); btrim(_, these).
CREATE OR REPLACE MACRO jtrim(s) AS trim(s, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13));

-- A line of a file that is not valid UTF-8, decoded as ISO-8859-1.  DuckDB
-- has no ISO-8859-1 decoder for blobs, but CAST(blob AS VARCHAR) escapes
-- every byte outside printable ASCII (the backslash included) as \xHH, and in
-- ISO-8859-1 byte HH is code point HH: so each \xHH becomes chr(0xHH).  The
-- file is split on the escaped line breaks first; only lines with an escape
-- left (a few per cent) take the list_transform.
CREATE OR REPLACE MACRO latin1_unescape(l) AS CASE WHEN contains(l, '\x') THEN
    (string_split(l, '\x'))[1] || array_to_string(list_transform((string_split(l, '\x'))[2:],
        p -> chr(CAST('0x' || p[1:2] AS INTEGER)) || p[3:]), '')
    ELSE l END;

-- One raw token of from_csv (univocity, quote = escape = '"') -> its value:
-- "" and empty -> NULL; "a""b" -> a"b; "abc"junk -> the raw "abc"junk with
-- "" unescaped inside the quotes (STOP_AT_DELIMITER); an unclosed quote ->
-- the rest of the line, unescaped (a lone '"' stays '"').
CREATE OR REPLACE MACRO csv_value(t) AS CASE
    WHEN t IS NULL OR t = '' THEN NULL
    WHEN NOT starts_with(t, '"') THEN t
    WHEN regexp_full_match(t, '"(?:[^"]|"")*"') THEN nullif(replace(t[2:-2], '""', '"'), '')
    WHEN regexp_full_match(t, '"(?:[^"]|"")*".+') THEN
        '"' || replace(regexp_extract(t, '^"((?:[^"]|"")*)"', 1), '""', '"') || '"'
            || regexp_extract(t, '^"(?:[^"]|"")*"(.*)$', 1)
    ELSE coalesce(nullif(replace(t[2:], '""', '"'), ''), '"')
END;

-- Spark's round(try_divide(a * 100, b), 1) on DECIMAL(14,2) a and b, from
-- integer cents: the quotient has scale 17 (Spark's DECIMAL(35,17)), rounded
-- HALF_UP, then rounded HALF_UP to 1 decimal, then cast to DOUBLE.
CREATE OR REPLACE MACRO half_up_div(n, d) AS
    (CASE WHEN (n < 0) != (d < 0) THEN -1 ELSE 1 END)
    * ((2 * abs(n) + abs(d)) // (2 * abs(d)));
CREATE OR REPLACE MACRO pct_1dp(a, b) AS CASE WHEN b = 0 THEN NULL ELSE
    CAST(half_up_div(half_up_div(CAST(a * 100 AS HUGEINT) * 100 * CAST('100000000000000000' AS HUGEINT),
                                 CAST(b * 100 AS HUGEINT)),
                     CAST('10000000000000000' AS HUGEINT)) AS DOUBLE) / 10.0 END;
"""

# The merchant rule of sparkflow_jobs/process.py, step by step:
#   upper + trim; one prefix dropped; everything from the first * or # cut
#   (a description holds no \n or \r, where RE2's `.` stops); apostrophes deleted;
#   everything but \w (Java, UNICODE_CHARACTER_CLASS) and & becomes a space,
#   and so does _; digit-only tokens dropped; spaces collapsed.
# The jobs split into tokens and drop the all-digit ones; here, with RE2 and
# no look-around, every space is doubled and the line padded: each token then
# owns the spaces around it and ` [0-9]+ ` removes exactly the same tokens.
MERCHANT_STEPS = (
    ("up", r"jtrim(replace(upper(description), 'ß', 'SS'))"),
    (
        "cut",
        rf"regexp_replace(regexp_replace(up, {lit(_PREFIX_RE)}, ''), "
        r"'[*#].*', '')",
    ),
    (
        "words",
        r"regexp_replace(translate(cut, '''' || chr(8217), ''), "
        r"'[^\pL\p{Nl}\p{Mn}\p{Mc}\p{Me}\p{Nd}\p{Pc}\x{200C}\x{200D}&]|_', ' ', 'g')",
    ),
    ("no_digits", r"regexp_replace(' ' || replace(words, ' ', '  ') || ' ', ' [0-9]+ ', ' ', 'g')"),
    ("collapsed", r"trim(regexp_replace(no_digits, ' {2,}', ' ', 'g'), ' ')"),
    ("merchant", r"CASE WHEN collapsed = '' THEN up ELSE collapsed END"),
)


def merchant_ctes(source: str) -> str:
    """CTEs m0..m5 computing `merchant` from `description` of `source`, one
    step per CTE (each step reads the previous one's column)."""
    ctes, prev = [], f"(SELECT DISTINCT description FROM {source})"
    for i, (name, expr) in enumerate(MERCHANT_STEPS):
        ctes.append(f"m{i} AS (SELECT *, {expr} AS {name} FROM {prev})")
        prev = f"m{i}"
    return ",\n".join(ctes)


# ---------------------------------------------------------------------------
# Reference data (three small CSVs, parsed as strictly as reference.py does)
# ---------------------------------------------------------------------------


def _csv_rows(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise PipelineError(f"reference file not readable: {path} ({e.strerror})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(reader)]
    missing = [c for c in required if c not in header]
    if missing:
        raise PipelineError(f"{path}: missing column(s) {', '.join(missing)}")
    out = []
    for lineno, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise PipelineError(f"{path}:{lineno}: {len(row)} fields, header has {len(header)}")
        out.append({h: cell.strip() for h, cell in zip(header, row, strict=True)})
    return out


def load_reference(con: duckdb.DuckDBPyConnection, ref: Path) -> None:
    """accounts, rules (with their try order) and budgets as tables."""
    accounts = [
        (r["account_id"], r["name"], r["type"].lower(), r["institution"], r["currency"].upper())
        for r in _csv_rows(ref / "accounts.csv", ("account_id", "name", "type", "institution", "currency"))
    ]
    if not accounts:
        raise PipelineError(f"{ref / 'accounts.csv'}: no accounts")
    rules = []
    for r in _csv_rows(ref / "rules.csv", ("pattern", "category")):
        pattern = " ".join(r["pattern"].upper().split())
        rules.append((pattern, r["category"], int(r.get("priority") or DEFAULT_PRIORITY)))
    budgets = [
        (r["category"], Decimal(r["monthly_budget"]).quantize(Decimal("0.01")), r["currency"].upper())
        for r in _csv_rows(ref / "budgets.csv", ("category", "monthly_budget", "currency"))
    ]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE accounts (account_id VARCHAR PRIMARY KEY, name VARCHAR, "
        "type VARCHAR, institution VARCHAR, currency VARCHAR)"
    )
    con.executemany("INSERT INTO accounts VALUES (?, ?, ?, ?, ?)", accounts)
    con.execute("CREATE OR REPLACE TEMP TABLE rules_raw (pattern VARCHAR, category VARCHAR, priority INTEGER)")
    if rules:
        con.executemany("INSERT INTO rules_raw VALUES (?, ?, ?)", rules)
    # reference.order_rules: priority, longer pattern, pattern, category
    con.execute("""CREATE OR REPLACE TEMP TABLE rules AS
        SELECT pattern, category, row_number() OVER (
            ORDER BY priority, length(pattern) DESC, pattern, category) AS try_order
        FROM rules_raw""")
    con.execute("CREATE OR REPLACE TEMP TABLE budgets (category VARCHAR, budget DECIMAL(14,2), currency VARCHAR)")
    if budgets:
        con.executemany("INSERT INTO budgets VALUES (?, ?, ?)", budgets)


# ---------------------------------------------------------------------------
# Stage 1: validate
# ---------------------------------------------------------------------------


def _by_format(pick: dict[str, str], default: str = "NULL") -> str:
    """CASE source_format WHEN 'iso' THEN ... END from per-format SQL."""
    whens = " ".join(f"WHEN {lit(name)} THEN {expr}" for name, expr in pick.items())
    return f"CASE source_format {whens} ELSE {default} END"


def _iso_date_cast(java: str) -> str:
    """TRY_CAST of the date field as YYYY-MM-DD, its digits picked by the
    positions of yyyy, MM and dd in the (fixed-width) Java pattern: DuckDB's
    date cast is far cheaper than strptime, and like Spark's parser it
    rejects days that are not in the calendar (2024-02-30)."""
    y, m, d = (java.index(p) + 1 for p in ("yyyy", "MM", "dd"))
    return f"TRY_CAST(date[{y}:{y + 3}] || '-' || date[{m}:{m + 1}] || '-' || date[{d}:{d + 1}] AS DATE)"


def validate_sql(raw: Path, as_of: dt.date) -> str:
    glob = lit(str(raw) + "/**")
    prefix_len = len(str(raw)) + 2
    fmt_of_key = "CASE key " + " ".join(f"WHEN {lit(f.header)} THEN {lit(f.name)}" for f in FORMATS) + " END"
    n_expected = _by_format({f.name: str(len(f.columns)) for f in FORMATS})
    # raw field i of a logical field, per format (NULL where a format lacks it)
    raw_field = {
        n: _by_format({f.name: f"c{f.columns.index(n)}" for f in FORMATS if n in f.columns}) for n in LOGICAL_FIELDS
    }
    txn_date = _by_format(
        {
            f.name: f"CASE WHEN regexp_matches(date, {lit(f.date_regex)}) THEN {_iso_date_cast(f.date_format)} END"
            for f in FORMATS
        }
    )
    dot = f"CASE WHEN regexp_matches(amount, {lit(DOT_AMOUNT)}) THEN regexp_replace(amount, '^\\+', '') END"
    comma = (
        f"CASE WHEN regexp_matches(amount, {lit(COMMA_AMOUNT)}) "
        f"THEN translate(regexp_replace(amount, '^\\+|\\.', '', 'g'), ',', '.') END"
    )
    amount = _by_format({f.name: dot if f.amount_style == "dot" else comma for f in FORMATS})
    return rf"""
-- The files under the raw zone, recursively; like Hadoop, names starting with
-- '.' or '_' (at any level below the raw zone) are skipped.  Spark's
-- binaryFile names them file:/abs/path.
CREATE OR REPLACE TEMP TABLE files AS
SELECT 'file:' || filename AS source_file, content
FROM read_blob({glob})
WHERE NOT regexp_matches(filename[{prefix_len}:], '(^|/)[._]');

-- Text of each file: UTF-8 when valid, else ISO-8859-1; one BOM and one
-- trailing line break dropped; split at CRLF, CR or LF (nothing left: no line).
CREATE OR REPLACE TEMP TABLE lines AS
WITH decoded AS (
    SELECT source_file, content, try(decode(content)) AS utf8 FROM files),
texts AS (
    -- UTF-8 text, one BOM dropped; or, for a file that is not valid UTF-8,
    -- the blob's escaped form (latin1_unescape below), split the same way
    -- on the escaped line breaks
    SELECT source_file, false AS latin1,
           CASE WHEN starts_with(utf8, chr(65279)) THEN utf8[2:] ELSE utf8 END AS text
    FROM decoded WHERE utf8 IS NOT NULL
    UNION ALL
    SELECT source_file, true, CAST(content AS VARCHAR) FROM decoded WHERE utf8 IS NULL),
split AS (
    -- one trailing line break dropped, then split at CRLF, CR or LF
    SELECT source_file, latin1,
           CASE WHEN NOT latin1 THEN string_split_regex(regexp_replace(text, '(\r\n|\r|\n)\z', ''),
                                                        '\r\n|\r|\n')
                ELSE string_split_regex(regexp_replace(text, '(\\x0D\\x0A|\\x0D|\\x0A)\z', ''),
                                        '\\x0D\\x0A|\\x0D|\\x0A') END AS lines
    FROM texts),
formatted AS (
    -- the header key: quotes removed, spaces around commas dropped, lower
    -- case, BOM and Java whitespace trimmed
    SELECT source_file, latin1, CASE WHEN lines = [''] THEN []::VARCHAR[] ELSE lines END AS lines,
           jtrim(regexp_replace(lower(regexp_replace(
               replace(CASE WHEN latin1 THEN latin1_unescape(lines[1]) ELSE lines[1] END, '"', ''),
               '[ \t\n\x0B\f\r]*,[ \t\n\x0B\f\r]*', ',', 'g')), '^\x{{FEFF}}', '')) AS key
    FROM split),
exploded AS (
    SELECT source_file, latin1, {fmt_of_key} AS source_format,
           unnest(lines) AS line, CAST(generate_subscripts(lines, 1) AS INTEGER) AS source_line
    FROM formatted),
unescaped AS (
    SELECT source_file, source_line, source_format,
           CASE WHEN latin1 THEN latin1_unescape(line) ELSE line END AS line
    FROM exploded)
SELECT source_file, source_line, source_format, line,
       CASE WHEN source_format IS NOT NULL AND source_line = 1 THEN 'header'
            -- Java's ^\s*$: \s includes VT, and $ also matches before a final
            -- line terminator (U+0085, U+2028, U+2029 can be left in a line)
            WHEN regexp_full_match(line, '[ \t\x0B\f]*[\x{{85}}\x{{2028}}\x{{2029}}]?') THEN 'blank'
            ELSE 'row' END AS kind
FROM unescaped;

-- Every row line with its verdict: the raw fields as from_csv gives them,
-- the trimmed and typed values, and the first reject reason that applies.
CREATE OR REPLACE TEMP TABLE classified AS
WITH parsed AS (
    SELECT source_file, source_line, source_format, line,
           -- what the jobs count fields with: quoted stretches removed
           CASE WHEN contains(line, '"') THEN regexp_replace(line, '"[^"]*"', '', 'g') ELSE line END AS no_quotes,
           -- univocity's tokens: a quoted field (with any text after its
           -- closing quote up to the next comma), an unclosed quote to the end
           -- of the line, or plain text up to the next comma; a line without
           -- a quote is simply split at its commas
           CASE WHEN source_format IS NULL THEN NULL
                WHEN NOT contains(line, '"') THEN string_split(line, ',')
                ELSE regexp_extract_all(',' || line, ',("(?:[^"]|"")*"[^,]*|"(?:[^"]|"")*$|[^,]*)', 1)
           END AS tok
    FROM lines WHERE kind = 'row'),
values AS (
    SELECT * EXCLUDE (tok), {", ".join(f"csv_value(tok[{i + 1}]) AS c{i}" for i in range(MAX_COLUMNS))}
    FROM parsed),
fields AS (
    SELECT source_file, source_line, source_format, line,
           strlen(no_quotes) - strlen(replace(no_quotes, ',', '')) + 1 AS n_fields,
           contains(no_quotes, '"') AS open_quote,
           {", ".join(f"{raw_field[n]} AS {n}_raw" for n in LOGICAL_FIELDS)}
    FROM values),
typed AS (
    SELECT *, {", ".join(f"jtrim(coalesce({n}_raw, '')) AS {n}" for n in LOGICAL_FIELDS)}
    FROM fields),
checked AS (
    SELECT t.*, a.currency AS account_currency,
           {txn_date} AS txn_date,
           TRY_CAST({amount} AS DECIMAL(12,2)) AS amount_value
    FROM typed t LEFT JOIN accounts a ON a.account_id = t.account)
SELECT source_file, source_line, source_format,
       CASE WHEN source_format IS NULL THEN 'unknown_format'
            WHEN n_fields != {n_expected} OR open_quote THEN 'malformed_row'
            WHEN date = '' OR account = '' OR description = '' OR amount = '' OR currency = ''
                THEN 'missing_field'
            WHEN txn_date IS NULL THEN 'bad_date'
            WHEN amount_value IS NULL THEN 'bad_amount'
            WHEN account_currency IS NULL THEN 'unknown_account'
            WHEN upper(currency) != account_currency THEN 'currency_mismatch'
            WHEN txn_date > DATE {lit(as_of.isoformat())} THEN 'future_date'
       END AS reject_reason,
       substring(line, 1, {RAW_LINE_LIMIT}) AS raw_line,
       {", ".join(f"{n}_raw" for n in LOGICAL_FIELDS)},
       account AS account_id, txn_date, description, amount_value AS amount,
       upper(currency) AS currency, nullif(external_id, '') AS external_id
FROM checked;
"""


def validate_metrics(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    reasons = ", ".join(f"count(*) FILTER (reject_reason = {lit(r)}) AS rejected_{r}" for r in REASONS)
    row = con.execute(f"""
        SELECT count(*) AS read, count(*) FILTER (reject_reason IS NULL) AS valid,
               count(*) FILTER (reject_reason IS NOT NULL) AS rejected, {reasons}
        FROM classified""").fetchone()
    names = ["read", "valid", "rejected"] + [f"rejected_{r}" for r in REASONS]
    m = dict(zip(names, (int(x) for x in row), strict=True))
    files, with_rows, unknown, blank = con.execute("""
        SELECT (SELECT count(*) FROM files),
               count(DISTINCT source_file) FILTER (kind = 'row'),
               count(DISTINCT source_file) FILTER (kind = 'row' AND source_format IS NULL),
               count(*) FILTER (kind = 'blank')
        FROM lines""").fetchone()
    m.update({"files": files, "files_empty": files - with_rows, "files_unknown_format": unknown, "blank_lines": blank})
    return m


def run_validate(
    con: duckdb.DuckDBPyConnection, lake: Path, work: Path, as_of: dt.date, max_reject_rate: float
) -> dict[str, int]:
    raw = (lake / "raw" / "transactions").resolve()
    if not raw.is_dir():
        raise PipelineError(f"input not found: {raw}")
    con.execute(validate_sql(raw, as_of))
    m = validate_metrics(con)
    if m["files"] == 0:
        raise PipelineError(f"no files under {raw}")
    if m["read"] == 0:
        raise PipelineError(f"no transaction rows in {raw}")
    _copy(
        con,
        """SELECT account_id, txn_date, description, amount, currency, external_id,
                         source_file, source_line, source_format
                  FROM classified WHERE reject_reason IS NULL""",
        work / "valid",
    )
    _copy(
        con,
        f"""SELECT source_file, source_line, source_format, reject_reason, raw_line,
                          {", ".join(f"{n}_raw" for n in LOGICAL_FIELDS)}
                   FROM classified WHERE reject_reason IS NOT NULL""",
        work / "rejected",
    )
    for t in ("classified", "lines", "files"):
        con.execute(f"DROP TABLE {t}")
    if m["rejected"] > max_reject_rate * m["read"]:
        raise PipelineError(
            f"{m['rejected']} of {m['read']} rows rejected, more than --max-reject-rate {max_reject_rate}"
        )
    return m


def _copy(con: duckdb.DuckDBPyConnection, query: str, folder: Path) -> None:
    """One Parquet file per table (what Spark's coalesce(1) gives), in a
    folder of its own like Spark's output."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.parquet"):
        old.unlink()
    con.execute(f"COPY ({query}) TO {lit(str(folder / 'part-0.parquet'))} (FORMAT parquet)")


# ---------------------------------------------------------------------------
# Stage 2: process
# ---------------------------------------------------------------------------

PROCESS_SQL = """
CREATE OR REPLACE TEMP TABLE flagged AS
WITH valid AS (SELECT * FROM read_parquet({valid})),
{merchant_ctes},
merchants AS (
    -- the merchant rule runs once per distinct description
    SELECT description, merchant FROM m5),
categories AS (
    -- the first rule (in try order) whose pattern is in the merchant
    SELECT m.merchant, coalesce(arg_min(r.category, r.try_order), {uncategorised}) AS category
    FROM (SELECT DISTINCT merchant FROM merchants) m
    LEFT JOIN rules r ON contains(m.merchant, r.pattern)
    GROUP BY m.merchant),
files AS (
    -- "first" is by file, then line: one BIGINT orders rows the same way
    SELECT source_file, CAST(row_number() OVER (ORDER BY source_file) AS BIGINT) << 32 AS file_key
    FROM (SELECT DISTINCT source_file FROM valid)),
enriched AS (
    SELECT v.account_id, a.name AS account_name, a.type AS account_type, v.txn_date,
           v.description, m.merchant, c.category,
           CASE WHEN a.type = 'credit_card' THEN -v.amount ELSE v.amount END AS amount,
           v.amount AS exported_amount, v.currency, v.external_id, v.source_file, v.source_line,
           strftime(v.txn_date, '%Y-%m') AS month, f.file_key + v.source_line AS row_key
    FROM valid v
    LEFT JOIN accounts a USING (account_id)
    JOIN merchants m USING (description)
    JOIN categories c USING (merchant)
    JOIN files f USING (source_file)),
-- The first row of every exact group (same account, date, signed amount,
-- description, external id) and of every near group (same account, date,
-- amount, merchant).  The jobs rank rows with two windows; grouping and
-- keeping min(row_key) is the same answer from two hash aggregates.
-- (month, in the jobs' keys, is a function of the date.)
exact_first AS (
    SELECT min(row_key) AS row_key FROM enriched
    GROUP BY account_id, txn_date, amount, merchant, description, external_id),
near_first AS (
    SELECT min(row_key) AS row_key FROM enriched GROUP BY account_id, txn_date, amount, merchant)
SELECT e.* EXCLUDE (row_key),
       x.row_key IS NULL AS is_exact_duplicate,  -- not the first of its exact group
       n.row_key IS NOT NULL AS keep             -- the first of its near group
FROM enriched e
LEFT JOIN exact_first x USING (row_key)
LEFT JOIN near_first n USING (row_key);
"""


def run_process(con: duckdb.DuckDBPyConnection, work: Path) -> dict[str, int]:
    valid = work / "valid"
    if not valid.is_dir():
        raise PipelineError(f"{valid} does not exist: run the validate stage first")
    con.execute(
        PROCESS_SQL.format(
            valid=lit(str(valid / "*.parquet")), uncategorised=lit(UNCATEGORISED), merchant_ctes=merchant_ctes("valid")
        )
    )
    (rows_in, exact, near, kept, categorised, months, merchants, unknown) = con.execute(f"""
        SELECT count(*), count(*) FILTER (is_exact_duplicate),
               count(*) FILTER (NOT keep AND NOT is_exact_duplicate), count(*) FILTER (keep),
               count(*) FILTER (keep AND category != {lit(UNCATEGORISED)}),
               count(DISTINCT month) FILTER (keep), count(DISTINCT merchant) FILTER (keep),
               count(*) FILTER (account_type IS NULL)
        FROM flagged""").fetchone()
    if unknown:
        raise PipelineError(f"{unknown} valid row(s) have an account that is not in accounts.csv")
    txn_id = (
        "left(sha256(concat_ws('|', account_id, CAST(txn_date AS VARCHAR), "
        "CAST(amount AS VARCHAR), merchant)), 20) AS txn_id"
    )
    cols = ", ".join(txn_id if c == "txn_id" else c for c in CURATED_COLUMNS)
    out = work / "transactions"
    if out.exists():
        _rmtree(out)
    con.execute(
        f"COPY (SELECT {cols} FROM flagged WHERE keep) TO {lit(str(out))} (FORMAT parquet, PARTITION_BY (month))"
    )
    con.execute("DROP TABLE flagged")
    return {
        "process_rows_in": rows_in,
        "duplicates_removed": exact,
        "near_duplicates_removed": near,
        "transactions": kept,
        "categorised": categorised,
        "uncategorised": kept - categorised,
        "transaction_months": months,
        "merchants": merchants,
    }


def _rmtree(path: Path) -> None:
    for p in sorted(path.rglob("*"), key=lambda x: len(x.parts), reverse=True):
        p.rmdir() if p.is_dir() else p.unlink()
    path.rmdir()


# ---------------------------------------------------------------------------
# Stage 3: marts
# ---------------------------------------------------------------------------

MARTS_SQL = """
CREATE OR REPLACE TEMP TABLE base AS
SELECT month, account_id, account_name, account_type, currency, category, merchant,
       CAST(sum(CASE WHEN amount > 0 THEN amount ELSE 0 END) AS DECIMAL(14,2)) AS inflow,
       CAST(sum(CASE WHEN amount < 0 THEN -amount ELSE 0 END) AS DECIMAL(14,2)) AS outflow,
       count(*) AS transactions, max(txn_date) AS last_date,
       CASE WHEN category IN ({income}) THEN 'income'
            WHEN category IN ({transfer}) THEN 'transfer' ELSE 'spend' END AS kind
FROM read_parquet({tx}, hive_partitioning = true, hive_types = {{'month': VARCHAR}})
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE monthly_summary AS
WITH m AS (
    SELECT month, currency,
           CAST(sum(CASE WHEN kind = 'income' THEN inflow - outflow ELSE 0 END) AS DECIMAL(14,2)) AS income,
           CAST(sum(CASE WHEN kind = 'spend' THEN outflow - inflow ELSE 0 END) AS DECIMAL(14,2)) AS spend,
           CAST(sum(transactions) AS BIGINT) AS transactions, max(last_date) AS last_date
    FROM base GROUP BY month, currency)
SELECT month, currency, income, spend, CAST(income - spend AS DECIMAL(14,2)) AS net,
       pct_1dp(CAST(income - spend AS DECIMAL(14,2)), income) AS savings_rate, transactions, last_date
FROM m;

CREATE OR REPLACE TEMP TABLE spend_by_category AS
SELECT month, category, currency, CAST(sum(outflow) - sum(inflow) AS DECIMAL(14,2)) AS spend,
       CAST(sum(transactions) AS BIGINT) AS transactions
FROM base WHERE kind = 'spend' GROUP BY month, category, currency;

CREATE OR REPLACE TEMP TABLE cash_flow AS
SELECT month, account_id, account_name, account_type, currency,
       CAST(sum(inflow) AS DECIMAL(14,2)) AS inflow, CAST(sum(outflow) AS DECIMAL(14,2)) AS outflow,
       CAST(sum(inflow) - sum(outflow) AS DECIMAL(14,2)) AS net, CAST(sum(transactions) AS BIGINT) AS transactions
FROM base GROUP BY month, account_id, account_name, account_type, currency;

CREATE OR REPLACE TEMP TABLE budget_vs_actual AS
WITH actual AS (
    SELECT m.month, b.category, b.currency, b.budget,
           CAST(coalesce(s.spend, 0) AS DECIMAL(14,2)) AS actual
    FROM (SELECT DISTINCT month FROM base) m CROSS JOIN budgets b
    LEFT JOIN spend_by_category s ON s.month = m.month AND s.category = b.category AND s.currency = b.currency)
SELECT month, category, currency, budget, actual, CAST(budget - actual AS DECIMAL(14,2)) AS remaining,
       pct_1dp(actual, budget) AS used_pct
FROM actual;

CREATE OR REPLACE TEMP TABLE top_merchants AS
SELECT month, CAST(row_number() OVER w AS INTEGER) AS rank, merchant, category, currency, spend, transactions
FROM (SELECT month, currency, merchant, category, CAST(sum(outflow) - sum(inflow) AS DECIMAL(14,2)) AS spend,
             CAST(sum(transactions) AS BIGINT) AS transactions
      FROM base WHERE kind = 'spend' GROUP BY month, currency, merchant, category)
WHERE spend > 0
WINDOW w AS (PARTITION BY month, currency ORDER BY spend DESC, merchant)
QUALIFY rank <= {top};
"""


def run_marts(
    con: duckdb.DuckDBPyConnection, work: Path, top: int, income: Sequence[str], transfer: Sequence[str]
) -> dict[str, float | int]:
    tx = work / "transactions"
    if not tx.is_dir():
        raise PipelineError(f"{tx} does not exist: run the process stage first")
    if top < 1:
        raise PipelineError("--top-merchants must be at least 1")
    if set(income) & set(transfer):
        raise PipelineError("categories both income and transfer: " + ", ".join(sorted(set(income) & set(transfer))))
    as_list = lambda xs: ", ".join(lit(x) for x in xs) or "NULL"  # noqa: E731
    con.execute(
        MARTS_SQL.format(
            tx=lit(str(tx / "**" / "*.parquet")), income=as_list(income), transfer=as_list(transfer), top=int(top)
        )
    )
    m: dict[str, float | int] = {}
    for name in MART_NAMES:
        _copy(con, f"SELECT * FROM {name}", work / "marts" / name)
        m[f"mart_{name}_rows"] = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
    if not m["mart_monthly_summary_rows"]:
        raise PipelineError(f"{tx} has no transactions")
    income_total, spend_total = con.execute("SELECT sum(income), sum(spend) FROM monthly_summary").fetchone()
    m["total_income"], m["total_spend"] = float(income_total), float(spend_total)
    return m


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def connect(threads: int | None = None, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"preserve_insertion_order": False})
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute(f"SET memory_limit = {lit(memory_limit)}")
    con.execute(MACROS)
    return con


def run(
    lake: Path,
    work: Path,
    as_of: dt.date,
    stages: Sequence[str] = STAGES,
    max_reject_rate: float = 0.5,
    top_merchants: int = 10,
    income: Sequence[str] = ("Income",),
    transfer: Sequence[str] = ("Transfer",),
    threads: int | None = None,
    memory_limit: str | None = None,
) -> dict[str, dict[str, float | int]]:
    """Run the stages; returns {stage: metrics} (each with duration_ms)."""
    con = connect(threads, memory_limit)
    try:
        load_reference(con, lake / "reference")
        work.mkdir(parents=True, exist_ok=True)
        out: dict[str, dict[str, float | int]] = {}
        for stage in stages:
            t0 = time.monotonic()
            if stage == "validate":
                m: dict[str, float | int] = dict(run_validate(con, lake, work, as_of, max_reject_rate))
            elif stage == "process":
                m = dict(run_process(con, work))
            elif stage == "marts":
                m = run_marts(con, work, top_merchants, income, transfer)
            else:
                raise PipelineError(f"unknown stage {stage!r}")
            m["duration_ms"] = int((time.monotonic() - t0) * 1000)
            out[stage] = m
        return out
    finally:
        con.close()


def _csv_list(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="pipeline.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--lake", required=True, type=Path, help="lake folder (raw/transactions, reference)")
    p.add_argument("--out", required=True, type=Path, help="work folder the tables are written to")
    p.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        default=None,
        help="rows dated later are future_date (default: today, UTC)",
    )
    p.add_argument("--max-reject-rate", type=float, default=0.5)
    p.add_argument("--top-merchants", type=int, default=10)
    p.add_argument("--income-categories", type=_csv_list, default=("Income",))
    p.add_argument("--transfer-categories", type=_csv_list, default=("Transfer",))
    p.add_argument("--stages", type=_csv_list, default=STAGES, help="comma-separated (default: all three)")
    p.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    p.add_argument("--memory-limit", default=None, help="DuckDB memory_limit, e.g. 4GB")
    p.add_argument("--metrics", type=Path, default=None, help="also write the metrics JSON here")
    a = p.parse_args(argv)
    as_of = a.as_of or dt.datetime.now(dt.UTC).date()
    t0 = time.monotonic()
    try:
        metrics = run(
            a.lake.resolve(),
            a.out.resolve(),
            as_of,
            a.stages,
            a.max_reject_rate,
            a.top_merchants,
            a.income_categories,
            a.transfer_categories,
            a.threads,
            a.memory_limit,
        )
    except PipelineError as e:
        print(f"duckdb-pipeline: FAILED: {e}", file=sys.stderr)
        return 2
    text = json.dumps(metrics, indent=1, sort_keys=True)
    if a.metrics:
        a.metrics.write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"duckdb-pipeline: OK in {time.monotonic() - t0:.2f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
