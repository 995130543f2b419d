"""The names the jobs publish under, in one place and free of pyspark, so
that what reads their tables without Spark (the DuckDB yardstick in
bench/duckdb, the dbt project) uses the very same lists: the reject reasons
of validate and the columns of the curated `transactions` table."""

REASONS = (
    "unknown_format",
    "malformed_row",
    "missing_field",
    "bad_date",
    "bad_amount",
    "unknown_account",
    "currency_mismatch",
    "future_date",
)

CURATED_COLUMNS = (
    "txn_id",
    "account_id",
    "account_name",
    "account_type",
    "txn_date",
    "description",
    "merchant",
    "category",
    "amount",
    "exported_amount",
    "currency",
    "external_id",
    "source_file",
    "source_line",
    "month",
)
