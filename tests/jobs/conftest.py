"""Shared fixtures for the PySpark job tests: one local SparkSession for the
whole session, and import paths for the jobs and the sample-data generator."""

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JOBS = ROOT / "dags" / "jobs"
SAMPLE = ROOT / "dags" / "sample_data"
for p in (str(JOBS), str(SAMPLE)):
    if p not in sys.path:
        sys.path.insert(0, p)


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("sparkflow-job-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def run_job(module, argv, spark):
    """Run a job script's main in-process on the shared session; returns the
    exit code (the job's own wrapper, exactly as spark-submit runs it)."""
    from sparkflow_jobs import contract

    return contract.run(module.JOB, module.build_parser, module.main, argv, spark=spark)


def read_metrics(path):
    with open(path, encoding="utf-8") as f:
        m = json.load(f)
    assert isinstance(m.pop("duration_ms"), int)
    return m


@pytest.fixture
def job_runner(spark):
    return lambda module, argv: run_job(module, argv, spark)


def file_uri(path):
    return "file://" + os.path.abspath(str(path))
