"""single_job.py -- the quickstart pipeline's three stages in ONE Spark application.

The reference for bench/bench_quickstart: what a person would write by hand
instead of the sparkflow_pipeline resource.  One spark-submit, one driver JVM,
one SparkSession and one set of executors run validate -> process -> marts,
calling the very same job code the pipeline's stages run
(dags/jobs/{validate_transactions,process_transactions,build_marts}.py through
sparkflow_jobs.contract.run, with the same standard arguments the provider
passes).  So the work done is identical; what differs is the provider's own
part (plan, fingerprint, staging, atomic publication, state) and how the
local engine runs the stages (one application for stages that share their
settings, with a clean session per stage; see engines/local/run.c).

    spark-submit --master spark://... single_job.py \
        --input file:///lake/raw/transactions --reference file:///lake/reference \
        --work file:///out --metrics-dir /tmp/m [--jobs dags/jobs]

writes <work>/{valid,rejected,transactions,marts,report} like the pipeline's
run directory, and <metrics-dir>/<stage>.metrics.json like the provider's run
directory.  Exits 0 when all three stages succeeded, else the failing stage's
exit code (the later stages are not run).
"""

import argparse
import importlib
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_JOBS = os.path.normpath(os.path.join(HERE, "..", "..", "dags", "jobs"))

STAGES = (("validate", "validate_transactions"), ("process", "process_transactions"), ("marts", "build_marts"))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--input", required=True, metavar="URI")
    p.add_argument("--reference", required=True, metavar="URI")
    p.add_argument("--work", required=True, metavar="URI")
    p.add_argument("--metrics-dir", required=True, metavar="DIR")
    p.add_argument(
        "--jobs",
        default=DEFAULT_JOBS,
        metavar="DIR",
        help="folder of the job scripts (default: dags/jobs of this checkout)",
    )
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    sys.path.insert(0, args.jobs)
    from sparkflow_jobs import contract

    t0 = time.monotonic()
    spark = contract.spark_session("sparkflow-single-job")
    print(f"single_job: session up in {time.monotonic() - t0:.1f}s", flush=True)
    os.makedirs(args.metrics_dir, exist_ok=True)
    try:
        for name, module in STAGES:
            job = importlib.import_module(module)
            # The standard arguments, as the provider passes them to every stage.
            std = [
                "--input",
                args.input,
                "--work",
                args.work,
                "--reference",
                args.reference,
                "--metrics",
                os.path.join(args.metrics_dir, f"{name}.metrics.json"),
            ]
            rc = contract.run(job.JOB, job.build_parser, job.main, argv=std, spark=spark)
            if rc != 0:
                print(f"single_job: stage {name} failed (exit {rc})", flush=True)
                return rc
    finally:
        spark.stop()
    print(f"single_job: OK in {time.monotonic() - t0:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
