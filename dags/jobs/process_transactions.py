"""Stage 2 of the household-finance pipeline: curate the valid rows.

Reads <work>/valid (written by validate_transactions.py) and the reference
accounts and rules; signs amounts, normalises merchants, categorises and
removes exact and near duplicates (rules in sparkflow_jobs/process.py), and
writes

  <work>/transactions   curated transactions, Parquet, partitioned by month

No user arguments.

Metrics: process_rows_in, duplicates_removed, near_duplicates_removed,
transactions, categorised, uncategorised, transaction_months, merchants,
duration_ms.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sparkflow_jobs import contract, process, reference  # noqa: E402
from sparkflow_jobs.contract import JobError  # noqa: E402

JOB = "process"


def build_parser():
    return contract.parser(JOB, "Sign, normalise, categorise and deduplicate valid rows.", needs_input=False)


def main(spark, args):
    ref_uri = contract.resolve_reference(args)
    accounts = reference.load(spark, ref_uri, "accounts")
    rules = reference.load(spark, ref_uri, "rules")
    valid_uri = contract.join_uri(args.work, "valid")
    if not contract.uri_exists(spark, valid_uri):
        raise JobError(f"{valid_uri} does not exist: run the validate stage first")

    flagged = process.curate(spark.read.parquet(valid_uri), accounts, rules).persist()
    try:
        m, unknown = process.metrics_from_groups(process.metrics_groups(flagged).collect())
        if unknown:
            raise JobError(
                f"{unknown} valid row(s) have an account that is not "
                f"in {contract.join_uri(ref_uri, 'accounts.csv')} any more; "
                "re-run the validate stage",
                m,
            )
        curated = process.curated(flagged)
        tx_uri = contract.join_uri(args.work, "transactions")
        curated.write.mode("overwrite").partitionBy("month").parquet(tx_uri)
        contract.write_schema(spark, curated.schema, tx_uri, partition_by=["month"])
    finally:
        flagged.unpersist()

    if not rules:
        print(f"{JOB}: WARNING: rules.csv has no rules; every transaction is uncategorised", flush=True)
    summary = (
        f"transactions={m['transactions']} from {m['process_rows_in']} valid rows "
        f"(duplicates_removed={m['duplicates_removed']} "
        f"near_duplicates_removed={m['near_duplicates_removed']}) "
        f"categorised={m['categorised']} uncategorised={m['uncategorised']} "
        f"months={m['transaction_months']}"
    )
    return m, summary


if __name__ == "__main__":
    contract.bootstrap_main(JOB, build_parser, main)
