"""The DAG factory's local shape, run by `airflow dags test` (real Airflow,
SQLite) against a real Spark standalone master and worker: the household
pipeline's validate and process jobs on generated data give the manifest's
metrics, and the run is published atomically with the provider's
fingerprint.  (The skip of a run whose inputs the published run covers is
tested on prepare() itself, test_dag_factory.py: one DAG run less.)"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_env import AIRFLOW, FAST_CONF, PYTHON, ROOT, SPARK_SUBMIT, AirflowHome, SparkCluster
from sparkflow_airflow.lake import FileLake
from sparkflow_airflow.spec import parse_spec, pipeline_fingerprint

sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from pipeline_support import assert_metrics, generate, manifest  # noqa: E402

JOBS = ROOT / "dags" / "jobs"

pytestmark = pytest.mark.skipif(
    not AIRFLOW.exists() and os.environ.get("CI") != "true", reason="no .venv-airflow (scripts/airflow-venv)"
)


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkCluster]:
    cluster = SparkCluster(tmp_path_factory.mktemp("spark"))
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def local_spec(name: str, lake: Path, master: str, stages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": 1,
        "pipeline": name,
        "engine": "local",
        "lake": f"file://{lake}",
        "input": "raw/transactions",
        "output": "curated",
        "reference": "reference",
        "stages": stages,
        "local": {"master": master, "spark_submit": str(SPARK_SUBMIT), "python": str(PYTHON)},
        "watch": {"kind": "directory", "poke_interval_seconds": 2},
    }


def test_local_pipeline_publishes_the_manifests_metrics(
    airflow_home: AirflowHome, spark: SparkCluster, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    generate(lake, "--transactions", "300", "--months", "3", "--accounts", "2", "--seed", "5")
    stages = [
        {
            "name": "validate",
            "script": str(JOBS / "validate_transactions.py"),
            "args": ["--max-reject-rate", "0.9"],
            "conf": FAST_CONF,
        },
        {"name": "process", "script": str(JOBS / "process_transactions.py"), "conf": FAST_CONF},
    ]
    spec_json = local_spec("household", lake, spark.url, stages)
    airflow_home.write_spec(spec_json)

    r = airflow_home.dags_test("sparkflow_household")
    assert r.rc == 0, r.describe()
    assert r.states == {
        "prepare": "success",
        "validate": "success",
        "process": "success",
        "publish": "success",
        "discard": "skipped",
    }, r.describe()

    # Published atomically, as the provider would: a relative link to the run,
    # the run record with the fingerprint the provider plans.
    run_id = r.xcom["prepare"]["run_id"]
    assert os.readlink(lake / "curated") == f"_sparkflow/curated/{run_id}"
    record = json.loads((lake / "curated" / "_sparkflow_run.json").read_text())
    spec = parse_spec(spec_json)
    assert record["run_id"] == run_id
    assert record["fingerprint"] == pipeline_fingerprint(spec, FileLake())
    assert record["pipeline"] == "household"  # one output, one pipeline: the provider's plan reads it
    owner = json.loads((lake / "_sparkflow" / "curated" / f".{run_id}.owner").read_text())
    assert owner["pid"] == 0  # a task process does not outlive the run
    assert (lake / "curated" / "transactions").is_dir()
    assert (lake / "curated" / "_sparkflow" / "metrics" / "process.json").is_file()

    # The metrics the jobs wrote, read back by publish: the manifest's.
    pub = r.xcom["publish"]
    merged = {k: v for m in pub["metrics"].values() for k, v in m.items() if k != "duration_ms"}
    expected = manifest(lake)["expected"]
    assert_metrics(merged, {**expected["validate"], **expected["process"]})
    assert pub["run_id"] == run_id and pub["output_uri"] == f"file://{lake}/curated"
