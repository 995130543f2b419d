"""End to end: generated lake -> validate -> process -> marts, and the
metrics equal the generator's manifest exactly; then a new bank export lands
and every count grows by exactly the manifest's delta.  The last tests run
the scripts as files, the way the provider does (spark-submit <script>)."""

import json
import os
import subprocess
import sys

import pytest

import build_marts
import generate
import process_transactions
import validate_transactions
from conftest import JOBS, file_uri, read_metrics, run_job

STAGES = (validate_transactions, process_transactions, build_marts)


def run_pipeline(spark, lake, work, metrics_dir, as_of):
    std = ["--input", file_uri(lake / "raw" / "transactions"), "--work", file_uri(work)]
    got = {}
    for job in STAGES:
        path = metrics_dir / f"{job.JOB}.json"
        extra = ["--as-of", as_of] if job is validate_transactions else []
        assert run_job(job, std + ["--metrics", str(path)] + extra, spark) == 0, job.JOB
        got[job.JOB] = read_metrics(path)
    return got


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    generate.main(["--out", str(root / "lake"), "--transactions", "2000", "--seed", "11", "--bad-files"])
    return root


def test_metrics_equal_manifest_then_grow_by_the_append(spark, lake):
    m0 = json.loads((lake / "lake" / "manifest.json").read_text())
    got0 = run_pipeline(spark, lake / "lake", lake / "work0", lake, m0["as_of_min"])
    assert got0 == m0["expected"]

    # what was written matches the metrics
    work = lake / "work0"
    assert spark.read.parquet(str(work / "valid")).count() == got0["validate"]["valid"]
    rej = {
        r["reject_reason"]: r["count"]
        for r in spark.read.parquet(str(work / "rejected")).groupBy("reject_reason").count().collect()
    }
    assert rej == {k[len("rejected_") :]: v for k, v in got0["validate"].items() if k.startswith("rejected_") and v}
    months = [p.name for p in (work / "transactions").iterdir() if p.name.startswith("month=")]
    assert len(months) == got0["process"]["transaction_months"] == 24
    page = (work / "report" / "index.html").read_text(encoding="utf-8")
    assert page.count("<svg") == got0["marts"]["report_charts"]

    # a new bank export lands: the counts grow by exactly the delta
    generate.main(["--out", str(lake / "lake"), "--append", "300"])
    m1 = json.loads((lake / "lake" / "manifest.json").read_text())
    got1 = run_pipeline(spark, lake / "lake", lake / "work1", lake, m1["as_of_min"])
    assert got1 == m1["expected"]
    delta = m1["appends"][-1]["delta"]
    for job in got1:
        for k in got1[job]:
            assert got1[job][k] == pytest.approx(got0[job][k] + delta[job][k]), (job, k)
    assert delta["validate"]["read"] == 300


def test_default_as_of_is_today_and_gives_the_same_counts(spark, lake):
    m = json.loads((lake / "lake" / "manifest.json").read_text())
    path = lake / "today.json"
    std = ["--input", file_uri(lake / "lake" / "raw" / "transactions"), "--work", file_uri(lake / "work-today")]
    assert run_job(validate_transactions, std + ["--metrics", str(path)], spark) == 0
    assert read_metrics(path) == m["expected"]["validate"]


def _spark_submit():
    exe = os.path.join(os.path.dirname(sys.executable), "spark-submit")
    if not os.path.exists(exe):
        pytest.skip("spark-submit is not installed next to this Python")
    return exe


@pytest.mark.parametrize("job", STAGES, ids=[j.JOB for j in STAGES])
def test_scripts_run_on_their_own(job):
    """Each script finds its shared package from its own folder (no PYTHONPATH)."""
    script = os.path.join(JOBS, os.path.basename(job.__file__))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    p = subprocess.run(
        [sys.executable, script, "--help"], env=env, capture_output=True, text=True, timeout=120, cwd="/"
    )
    assert p.returncode == 0, p.stderr
    assert "--work URI" in p.stdout and "--metrics PATH" in p.stdout


def test_scripts_under_spark_submit(tmp_path):
    """The provider's way: spark-submit <script> <standard args>.  One real
    run (validate) and one failure whose exit code must reach the caller."""
    exe = _spark_submit()
    lake = tmp_path / "lake"
    generate.main(["--out", str(lake), "--transactions", "1000", "--months", "6", "--seed", "2", "--end", "2025-06-30"])
    m = json.loads((lake / "manifest.json").read_text())
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    env.pop("PYTHONPATH", None)
    std = ["--input", file_uri(lake / "raw" / "transactions"), "--work", file_uri(tmp_path / "work")]
    path = tmp_path / "validate.json"
    cmd = (
        [
            exe,
            "--master",
            "local[2]",
            "--conf",
            "spark.ui.enabled=false",
            "--driver-java-options",
            "-XX:TieredStopAtLevel=1",
            os.path.join(JOBS, "validate_transactions.py"),
        ]
        + std
        + ["--metrics", str(path)]
    )
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-4000:]
    summary = [ln for ln in p.stdout.splitlines() if ln.startswith("validate: ")]
    assert len(summary) == 1 and summary[0].startswith("validate: OK: read=1000 "), p.stdout
    assert read_metrics(path) == m["expected"]["validate"]

    cmd = [exe, "--master", "local[1]", os.path.join(JOBS, "build_marts.py")] + std + ["--top-merchants", "x"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert p.returncode == 2, p.stdout + p.stderr[-2000:]
    assert "marts: FAILED: bad arguments: argument --top-merchants: invalid int value: 'x'" in p.stdout
