"""Stage 1 of the household-finance pipeline: validate raw bank exports.

Reads every file under --input (bank CSV exports, see
sparkflow_jobs/formats.py), checks each line against the rules in
sparkflow_jobs/validate.py and writes

  <work>/valid     typed valid rows (Parquet)
  <work>/rejected  rejected rows with reject_reason and the raw line (Parquet)

User arguments:
  --as-of YYYY-MM-DD      rows dated after this are rejected as future_date
                          (default: today in UTC, the day the job runs)
  --max-reject-rate R     fail (exit 2) when more than this share of rows is
                          rejected (default 0.5: more usually means a wrong
                          format or reference, not dirty data)

Metrics: read, valid, rejected, rejected_<reason> for every reason, files,
files_empty, files_unknown_format, blank_lines, duration_ms.
"""

import datetime as _dt
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sparkflow_jobs import contract, reference, validate  # noqa: E402
from sparkflow_jobs.contract import JobError  # noqa: E402

JOB = "validate"


def build_parser():
    p = contract.parser(JOB, "Validate raw bank exports into valid and rejected rows.", needs_input=True)
    user = p.add_argument_group("user arguments")
    user.add_argument(
        "--as-of",
        type=contract.iso_date,
        default=None,
        metavar="DATE",
        help="reject rows dated after DATE (default: today, UTC)",
    )
    user.add_argument(
        "--max-reject-rate",
        type=float,
        default=0.5,
        metavar="R",
        help="fail when rejected/read exceeds R (default 0.5)",
    )
    return p


def main(spark, args):
    as_of = args.as_of or _dt.datetime.now(_dt.timezone.utc).date()
    ref_uri = contract.resolve_reference(args)
    accounts = reference.load(spark, ref_uri, "accounts")

    files = validate.read_files(spark, args.input)
    classified = validate.classify(files, accounts, as_of).persist()
    try:
        m = validate.metrics_from_stats(validate.line_stats(classified).collect(), n_files=len(files.inputFiles()))
        if m["files"] == 0:
            raise JobError(f"no files under {args.input}")
        if m["read"] == 0:
            raise JobError(f"no transaction rows in {args.input} ({m['files']} file(s), {m['files_empty']} empty)", m)
        work = args.work
        valid, rejected = validate.valid_rows(classified), validate.rejected_rows(classified)
        valid.write.mode("overwrite").parquet(contract.join_uri(work, "valid"))
        contract.write_schema(spark, valid.schema, contract.join_uri(work, "valid"))
        rejected.coalesce(1).write.mode("overwrite").parquet(contract.join_uri(work, "rejected"))
        contract.write_schema(spark, rejected.schema, contract.join_uri(work, "rejected"))
    finally:
        classified.unpersist()

    reasons = ", ".join(f"{r}={m['rejected_' + r]}" for r in validate.REASONS if m["rejected_" + r])
    if m["rejected"] > args.max_reject_rate * m["read"]:
        raise JobError(
            f"{m['rejected']} of {m['read']} rows rejected, more than "
            f"--max-reject-rate {args.max_reject_rate} ({reasons}); "
            f"see {contract.join_uri(args.work, 'rejected')}",
            m,
        )
    if m["files_empty"]:
        print(f"{JOB}: WARNING: {m['files_empty']} file(s) without rows", flush=True)
    summary = (
        f"read={m['read']} valid={m['valid']} rejected={m['rejected']}"
        + (f" ({reasons})" if reasons else "")
        + f" files={m['files']} as_of={as_of.isoformat()}"
    )
    return m, summary


if __name__ == "__main__":
    contract.bootstrap_main(JOB, build_parser, main)
