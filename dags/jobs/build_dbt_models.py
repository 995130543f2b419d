"""Stage 4 (optional) of the household-finance pipeline: the dbt dashboards.

Runs `dbt build` on the dbt project (dags/dbt/, dbt-duckdb) against the
tables the earlier stages wrote into the work dir, and adds a dbt section to
the report.  Writes

  <work>/dbt/<model>/data_*.parquet   monthly_trends, savings_rate,
                                      category_trends, budget_variance,
                                      unusual_spending, data_quality
  <work>/report/index.html            + savings rate chart and unusual
                                      spending table (section "dbt-models")

dbt runs as a subprocess from its own venv (.venv-dbt, made by
scripts/bootstrap; sparkflow_jobs/dbt_build.py says where else it looks) on a
scratch DuckDB database in a temporary directory, which also holds dbt's
target/ and logs/: nothing of dbt's but the models' Parquet reaches the work
dir.  Any failed dbt test or model fails the stage (exit 2) with the names
and dbt's messages in its summary line, so the run publishes nothing.  The
work dir must be on this machine (a file:// URI or a path).

User arguments:
  --income-categories LIST   comma-separated (default "Income"); as the marts stage
  --transfer-categories LIST comma-separated (default "Transfer"); as the marts stage
  --dbt PATH                 the dbt executable (default: found, see dbt_build.find_dbt)
  --project DIR              the dbt project (default: dags/dbt next to this folder)
  --threads N                dbt threads (default 2)
  --dbt-vars JSON            more project vars, a JSON object, e.g.
                             '{"unusual_min_score": 4}'

Metrics: dbt_models_built, dbt_models_failed, dbt_models_skipped,
dbt_tests_passed, dbt_tests_failed, dbt_tests_warned, dbt_tests_skipped,
dbt_build_ms, report_dbt_charts, duration_ms.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sparkflow_jobs import contract, dbt_build, report  # noqa: E402
from sparkflow_jobs.contract import JobError  # noqa: E402

JOB = "dbt"


def _csv_list(text):
    return tuple(x.strip() for x in text.split(",") if x.strip())


def _json_object(text):
    try:
        value = json.loads(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not JSON: {e}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("not a JSON object")
    return value


def build_parser():
    p = contract.parser(JOB, "Build the dbt dashboard models and add them to the report.", needs_input=False)
    user = p.add_argument_group("user arguments")
    user.add_argument("--income-categories", type=_csv_list, default=("Income",), metavar="LIST")
    user.add_argument("--transfer-categories", type=_csv_list, default=("Transfer",), metavar="LIST")
    user.add_argument("--dbt", metavar="PATH", help="the dbt executable")
    user.add_argument("--project", default=dbt_build.DEFAULT_PROJECT, metavar="DIR", help="the dbt project")
    user.add_argument("--threads", type=int, default=2, metavar="N")
    user.add_argument("--dbt-vars", type=_json_object, default={}, metavar="JSON", help="more dbt project vars")
    return p


def _check(args):
    """The local work dir, after checking what the build needs."""
    work_dir = contract.local_path(args.work)
    if work_dir is None:
        raise JobError(
            f"--work {args.work}: the dbt stage runs dbt-duckdb on this machine and needs a file:// work dir"
        )
    if args.threads < 1:
        raise JobError("--threads must be at least 1")
    overlap = set(args.income_categories) & set(args.transfer_categories)
    if overlap:
        raise JobError(f"categories both income and transfer: {', '.join(sorted(overlap))}")
    if not os.path.isfile(os.path.join(args.project, "dbt_project.yml")):
        raise JobError(f"--project {args.project}: no dbt_project.yml there")
    missing = dbt_build.missing_sources(work_dir)
    if missing:
        raise JobError(f"no Parquet in {work_dir} for: {', '.join(missing)}; run those stages first")
    return os.path.abspath(work_dir)


def _add_report_section(spark, work_dir):
    """Add the dbt section to <work>/report/index.html; returns its charts
    (0 when the marts stage wrote no report)."""
    page_path = os.path.join(work_dir, "report", "index.html")
    if not os.path.exists(page_path):
        return 0
    out = os.path.join(work_dir, dbt_build.OUTPUT_DIR)
    savings = [r.asDict() for r in spark.read.parquet(os.path.join(out, "savings_rate")).collect()]
    unusual = [r.asDict() for r in spark.read.parquet(os.path.join(out, "unusual_spending")).collect()]
    section, charts = report.dbt_section(savings, unusual)
    with open(page_path, encoding="utf-8") as f:
        page = f.read()
    contract.put_bytes(spark, report.add_section(page, section).encode("utf-8"), page_path)
    return charts


def main(spark, args):
    work_dir = _check(args)
    dbt = dbt_build.find_dbt(args.dbt)
    # <work>/dbt is this stage's: what a build before left there goes, so the
    # catalog finds exactly the models of this build.
    out_dir = os.path.join(work_dir, dbt_build.OUTPUT_DIR)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    dbt_vars = dbt_build.vars_for(args.income_categories, args.transfer_categories, args.dbt_vars)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sparkflow-dbt-") as scratch:
        build = dbt_build.run(dbt, os.path.abspath(args.project), work_dir, scratch, dbt_vars, args.threads)
    out = dbt_build.outcome(build.results) if build.results is not None else None
    metrics = dict(out.metrics) if out else {}
    metrics["dbt_build_ms"] = int((time.monotonic() - t0) * 1000)
    if build.exit_code != 0 or out is None or out.failures:
        raise JobError(dbt_build.failure_message(build, out), metrics)

    metrics["report_dbt_charts"] = _add_report_section(spark, work_dir)
    summary = (
        f"models={metrics['dbt_models_built']} tests_passed={metrics['dbt_tests_passed']} "
        f"tests_warned={metrics['dbt_tests_warned']} dbt_build={metrics['dbt_build_ms'] / 1000:.1f}s "
        f"out={contract.join_uri(args.work, dbt_build.OUTPUT_DIR)}"
    )
    return metrics, summary


if __name__ == "__main__":
    contract.bootstrap_main(JOB, build_parser, main)
