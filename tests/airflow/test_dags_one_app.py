"""The DAG factory's local shape when the spec names the provider's stage
runner (`local.stage_runner`, `local.runs_dir`): the stages of a run share
ONE Spark application, as in a direct run (engines/local/run_one_app.c),
and each stage keeps its own task.  Run by `airflow dags test` (real
Airflow, SQLite) against a real Spark standalone master and worker, with
the runner the provider embeds (engines/local/stage_runner.py, the same
bytes):

- the household pipeline's three jobs: every task succeeds, the metrics
  are the manifest's, the run is published, ONE application ran the three
  stages (one SparkContext in Spark's log, the runner's events for each
  stage), and each stage's own output is in its task's log;
- a stage that fails: its task fails with the stage's output (its tail is
  what the provider shows), the stages after it do not run, the staging
  area is discarded and no driver is left;
- the factory keeps one spark-submit per stage when the stages' Spark
  settings differ (a Spark application's settings cannot change between
  stages), as run.c does;
- without Airflow, on one_app.py itself: stopping a stage's task (on_kill)
  stops the driver, and a run nobody follows any more (its lease not
  renewed) stops by itself.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_env import AIRFLOW, AIRFLOW_VENV, DAGS, FAST_CONF, PYTHON, ROOT, SPARK_SUBMIT, AirflowHome, SparkCluster

sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from pipeline_support import FIXTURE_JOBS, assert_metrics, generate, manifest  # noqa: E402

JOBS = ROOT / "dags" / "jobs"
RUNNER = ROOT / "engines" / "local" / "stage_runner.py"
BOOM = "SPARKFLOW-ONE-APP-BOOM-7f3e"

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


def spec(name: str, lake: Path, master: str, runs: Path, stages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": 1,
        "pipeline": name,
        "engine": "local",
        "lake": f"file://{lake}",
        "input": "raw/transactions",
        "output": "curated",
        "reference": "reference",
        "stages": stages,
        "local": {
            "master": master,
            "spark_submit": str(SPARK_SUBMIT),
            "python": str(PYTHON),
            "runs_dir": str(runs),
            "stage_runner": str(RUNNER),
        },
        "watch": {"kind": "none"},
    }


def events(run_dir: Path) -> list[tuple[int, str, int | None]]:
    out = []
    for line in (run_dir / "_events.jsonl").read_text().splitlines():
        e = json.loads(line)
        out.append((e["stage"], e["event"], e.get("exit")))
    return out


def driver_gone(run_dir: Path) -> bool:
    pid, start = (run_dir / "_driver.pid").read_text().split()
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return True
    fields = stat[stat.rindex(b")") + 2 :].split()
    return fields[0] in (b"Z", b"X") or fields[19].decode() != start


def test_stages_share_one_application(airflow_home: AirflowHome, spark: SparkCluster, tmp_path: Path) -> None:
    lake, runs = tmp_path / "lake", tmp_path / "runs"
    generate(lake, "--transactions", "300", "--months", "3", "--accounts", "2", "--seed", "5")
    stages = [
        {
            "name": "validate",
            "script": str(JOBS / "validate_transactions.py"),
            "args": ["--max-reject-rate", "0.9"],
            "conf": FAST_CONF,
        },
        {"name": "process", "script": str(JOBS / "process_transactions.py"), "conf": FAST_CONF},
        {"name": "marts", "script": str(JOBS / "build_marts.py"), "conf": FAST_CONF},
    ]
    airflow_home.write_spec(spec("oneapp", lake, spark.url, runs, stages))

    r = airflow_home.dags_test("sparkflow_oneapp")
    assert r.rc == 0, r.describe()
    assert r.states == {
        "prepare": "success",
        "validate": "success",
        "process": "success",
        "marts": "success",
        "publish": "success",
        "discard": "skipped",
    }, r.describe()

    run_id = r.xcom["prepare"]["run_id"]
    assert os.readlink(lake / "curated") == f"_sparkflow/curated/{run_id}"
    pub = r.xcom["publish"]
    assert pub["run_id"] == run_id
    merged = {k: v for m in pub["metrics"].values() for k, v in m.items() if k != "duration_ms"}
    expected = manifest(lake)["expected"]
    assert_metrics(merged, {**expected["validate"], **expected["process"], **expected["marts"]})

    # One application for the three stages, in the direct runs' layout.
    run_dir = runs / "oneapp" / run_id
    assert events(run_dir) == [(0, "start", None), (0, "end", 0), (1, "start", None), (1, "end", 0),
                               (2, "start", None), (2, "end", 0)]  # fmt: skip
    spark_log = (run_dir / "_spark.log").read_text()
    assert len(re.findall(r"SparkContext: Running Spark version", spark_log)) == 1, spark_log[-3000:]
    assert f"Submitted application: oneapp-{run_id}" in spark_log, spark_log[-3000:]
    for st in ("validate", "process", "marts"):
        assert (run_dir / f"{st}.log").is_file()
        assert f"sparkflow: stage {st}'s output ({run_dir}/{st}.log):" in r.output, r.output[-5000:]
    assert driver_gone(run_dir)


def test_a_failing_stage_fails_its_task(airflow_home: AirflowHome, spark: SparkCluster, tmp_path: Path) -> None:
    lake, runs = tmp_path / "lake", tmp_path / "runs"
    generate(lake, "--transactions", "100", "--months", "2", "--accounts", "1", "--seed", "6")
    stages = [
        {"name": "count", "script": str(FIXTURE_JOBS / "line_count.py"), "conf": FAST_CONF},
        {
            "name": "boom",
            "script": str(FIXTURE_JOBS / "line_count.py"),
            "args": ["--fail-with", f"{BOOM}: failing on purpose"],
            "conf": FAST_CONF,
        },
        {"name": "after", "script": str(FIXTURE_JOBS / "line_count.py"), "conf": FAST_CONF},
    ]
    airflow_home.write_spec(spec("oneappfail", lake, spark.url, runs, stages))

    r = airflow_home.dags_test("sparkflow_oneappfail")
    assert r.rc != 0, r.describe()
    assert r.states == {
        "prepare": "success",
        "count": "success",
        "boom": "failed",
        "after": "upstream_failed",
        "publish": "upstream_failed",
        "discard": "failed",
    }, r.describe()
    assert f"{BOOM}: failing on purpose" in r.output, r.output[-5000:]
    assert "stage boom exited with status 3" in r.output, r.output[-5000:]
    run_id = r.xcom["prepare"]["run_id"]
    run_dir = runs / "oneappfail" / run_id
    assert events(run_dir) == [(0, "start", None), (0, "end", 0), (1, "start", None), (1, "end", 3)]
    assert driver_gone(run_dir)
    assert not (lake / "curated").exists()
    assert not (lake / "_sparkflow" / "curated" / run_id).exists()  # discarded


SHAPE = r"""
import json, sparkflow_dags
out = {}
for name in ("sparkflow_shared", "sparkflow_mixed", "sparkflow_single"):
    dag = getattr(sparkflow_dags, name)
    out[name] = {t.task_id: [type(t).__name__, sorted(t.upstream_task_ids)] for t in dag.tasks}
print("REPORT " + json.dumps(out))
"""


def test_shapes(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    script = tmp_path / "job.py"
    script.write_text("print('job')\n")
    runs = tmp_path / "runs"
    two = [{"name": "a", "script": str(script), "conf": {"x": "1"}}, {"name": "b", "script": str(script)}]
    for name, stages in (
        ("shared", [{**s, "conf": {"x": "1"}} for s in two]),
        ("mixed", two),  # b's settings differ: one application each
        ("single", two[:1]),  # one stage: nothing to share
    ):
        (specs / f"{name}.json").write_text(json.dumps(spec(name, tmp_path, "spark://127.0.0.1:7077", runs, stages)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(tmp_path / "home"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "SPARKFLOW_SPECS_DIR": str(specs),
            "PYTHONPATH": str(DAGS),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    p = subprocess.run(
        [str(AIRFLOW_VENV / "bin" / "python"), "-c", SHAPE], env=env, capture_output=True, text=True, timeout=300
    )
    lines = [line for line in p.stdout.splitlines() if line.startswith("REPORT ")]
    assert p.returncode == 0 and lines, p.stdout[-4000:] + p.stderr[-4000:]
    rep = json.loads(lines[-1][len("REPORT ") :])
    common = {"prepare": ["PythonOperator", []], "publish": ["PythonOperator", ["b"]]}
    assert rep["sparkflow_shared"] == {
        **common,
        "a": ["OneAppStageOperator", ["prepare"]],
        "b": ["OneAppStageOperator", ["a"]],
        "discard": ["PythonOperator", ["a", "b", "prepare", "publish"]],
    }, rep
    assert rep["sparkflow_mixed"] == {
        **common,
        "a": ["SparkSubmitOperator", ["prepare"]],
        "b": ["SparkSubmitOperator", ["a"]],
        "discard": ["PythonOperator", ["a", "b", "prepare", "publish"]],
    }, rep
    assert rep["sparkflow_single"] == {
        "prepare": ["PythonOperator", []],
        "a": ["SparkSubmitOperator", ["prepare"]],
        "publish": ["PythonOperator", ["a"]],
        "discard": ["PythonOperator", ["a", "prepare", "publish"]],
    }, rep


def held_spec(lake: Path, master: str, runs: Path, hold: Path) -> Any:
    from sparkflow_airflow.spec import parse_spec

    stage = {"script": str(FIXTURE_JOBS / "line_count.py"), "conf": FAST_CONF}
    stages = [
        {"name": "held", **stage, "args": ["--hold-file", str(hold), "--hold-max", "300"]},
        {"name": "after", **stage},
    ]
    return parse_spec(spec("held", lake, master, runs, stages))


def test_stopping_the_task_stops_the_driver(spark: SparkCluster, tmp_path: Path) -> None:
    """What on_kill does (the provider fails the DAG run on Ctrl-C): the
    driver's process group stops, and the stage's task fails."""
    import logging
    import threading

    from sparkflow_airflow import one_app

    lake, runs, hold = tmp_path / "lake", tmp_path / "runs", tmp_path / "hold"
    generate(lake, "--transactions", "50", "--months", "1", "--accounts", "1", "--seed", "7")
    hold.write_text("hold")
    sp = held_spec(lake, spark.url, runs, hold)
    prep = {"run_id": "20261207T000000Z-abcdef", "work_uri": f"file://{tmp_path}/work"}
    held: dict[str, Any] = {}
    failed: list[BaseException] = []

    def task() -> None:
        try:
            one_app.run_stage_task(sp, 0, prep, logging.getLogger("one_app_test"), held)
        except BaseException as e:  # noqa: BLE001 -- the test looks at it
            failed.append(e)

    t = threading.Thread(target=task)
    t.start()
    run_dir = runs / "held" / prep["run_id"]
    deadline = time.monotonic() + 180

    def started() -> bool:
        try:
            return bool(events(run_dir))
        except OSError:
            return False

    while not started():
        assert time.monotonic() < deadline, "stage 0 never started"
        time.sleep(0.2)
    held["run"].stop()
    t.join(60)
    assert not t.is_alive()
    assert failed and isinstance(failed[0], one_app.StageFailed), failed
    assert "the Spark application ended during stage held" in str(failed[0])
    assert driver_gone(run_dir)
    assert events(run_dir) == [(0, "start", None)]


def test_an_abandoned_run_stops_by_itself(spark: SparkCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nobody follows the run (a DAG run failed between two tasks): once the
    lease is older than its timeout the runner stops its process group."""
    from sparkflow_airflow import one_app

    monkeypatch.setattr(one_app, "LEASE_TIMEOUT_S", 3)
    lake, runs, hold = tmp_path / "lake", tmp_path / "runs", tmp_path / "hold"
    generate(lake, "--transactions", "50", "--months", "1", "--accounts", "1", "--seed", "8")
    hold.write_text("hold")
    run = one_app.AppRun(held_spec(lake, spark.url, runs, hold), "20261207T000001Z-abcdef", f"file://{tmp_path}/w")
    run.start()
    deadline = time.monotonic() + 120
    while run.driver_alive():
        assert time.monotonic() < deadline, "the abandoned driver is still running"
        time.sleep(0.5)
    abandoned = [json.loads(line) for line in run.events.read_text().splitlines()]
    assert [e["event"] for e in abandoned if "stage" not in e] == ["abandoned"], abandoned
    assert not [e for e in abandoned if e.get("event") == "end"], abandoned
