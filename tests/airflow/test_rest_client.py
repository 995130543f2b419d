"""The provider's Airflow REST client (airflow/api.h), through its test
command sf-airflow-call, against a real Airflow 3 (api-server, scheduler,
DAG processor, triggerer) and a real Spark master: login and its refusal,
errors that say what was asked, a DAG from a spec found and reparsed,
unpaused, triggered (twice with one run id: one run), followed to the end,
its task instances, the publish task's XCom, and a failed task's log."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_env import AIRFLOW, FAST_CONF, PYTHON, ROOT, SPARK_SUBMIT, AirflowHome, LiveAirflow, SparkCluster

pytestmark = pytest.mark.skipif(
    not AIRFLOW.exists() and os.environ.get("CI") != "true", reason="no .venv-airflow (scripts/airflow-venv)"
)

BUILD = Path(os.environ.get("SF_PROVIDER_BUILD") or ROOT / "build")
if not BUILD.is_absolute():
    BUILD = ROOT / BUILD
CLI = BUILD / "sf-airflow-call"

METRICS_JOB = """
import argparse, json, sys
p = argparse.ArgumentParser()
for a in ("--input", "--work", "--reference", "--metrics"):
    p.add_argument(a)
p.add_argument("--fail", action="store_true")
a, _ = p.parse_known_args()
if a.fail:
    print("sparkflow-test: the stage fails on purpose", file=sys.stderr)
    sys.exit(3)
import urllib.parse, pathlib
path = pathlib.Path(urllib.parse.urlparse(a.metrics).path)
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(json.dumps({"rows_read": 7, "rows_written": 5}))
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAirflow]:
    home = AirflowHome(tmp_path_factory.mktemp("airflow-live"))
    home.migrate()
    af = LiveAirflow(home)
    try:
        yield af.start()
    finally:
        af.stop()


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkCluster]:
    cluster = SparkCluster(tmp_path_factory.mktemp("spark"), cores=1)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def call(
    af: LiveAirflow, *args: str, password: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    assert CLI.exists(), f"{CLI} not built"
    env = dict(os.environ, SF_AF_USER=af.user, SF_AF_PASSWORD=af.password if password is None else password)
    p = subprocess.run([str(CLI), af.url, *args], env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert p.returncode == 0, (args, p.returncode, p.stderr)
    return p


def answer(af: LiveAirflow, *args: str) -> Any:
    return json.loads(call(af, *args).stdout)


def wait_for(what: str, probe: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = probe()
        if got:
            return got
        time.sleep(1)
    raise AssertionError(f"no {what} after {timeout}s")


def write_spec(af: LiveAirflow, spark: SparkCluster, tmp: Path, name: str, args: list[str]) -> str:
    lake = tmp / "lake"
    (lake / "raw" / "transactions").mkdir(parents=True, exist_ok=True)
    (lake / "raw" / "transactions" / "a.csv").write_text("x\n1\n")
    (lake / "reference").mkdir(exist_ok=True)
    job = tmp / "job.py"
    job.write_text(METRICS_JOB)
    spec = {
        "format": 1,
        "pipeline": name,
        "engine": "local",
        "lake": f"file://{lake}",
        "input": "raw/transactions",
        "output": "curated",
        "reference": "reference",
        "stages": [{"name": "only", "script": str(job), "args": args, "conf": FAST_CONF}],
        "local": {"master": spark.url, "spark_submit": str(SPARK_SUBMIT), "python": str(PYTHON)},
        "watch": {"kind": "none"},
    }
    af.home.write_spec(spec)
    return f"sparkflow_{name}"


def finished_run(af: LiveAirflow, dag_id: str, run_id: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        run = answer(af, "run", dag_id, run_id)
        return run if run["state"] in ("success", "failed") else None

    return wait_for(f"end of {run_id}", probe, timeout=240)


def test_health_and_version_need_no_login(live: LiveAirflow) -> None:
    assert call(live, "health", password="").returncode == 0
    version = call(live, "version").stdout.strip()
    installed = subprocess.run([str(AIRFLOW), "version"], capture_output=True, text=True, env=live.env).stdout
    assert version and version in installed


def test_a_wrong_password_is_refused_without_echoing_it(live: LiveAirflow) -> None:
    p = call(live, "dag", "anything", password="not-the-password-x9", check=False)
    assert p.returncode == 1
    assert 'refused the login of user "sparkflow"' in p.stderr
    assert "not-the-password-x9" not in p.stderr + p.stdout


def test_errors_say_what_was_asked(live: LiveAirflow) -> None:
    p = call(live, "dag", "sparkflow_no_such_dag", check=False)
    assert p.returncode == 1
    assert p.stderr.startswith("HTTP 404: GET ")
    assert "/api/v2/dags/sparkflow_no_such_dag" in p.stderr
    assert live.password not in p.stderr


def test_a_dag_from_a_spec_runs_to_the_end(live: LiveAirflow, spark: SparkCluster, tmp_path: Path) -> None:
    dag_id = write_spec(live, spark, tmp_path, "rest_ok", [])
    dag = wait_for("the DAG", lambda: json.loads(call(live, "dag", dag_id, check=False).stdout or "null"))
    assert dag["is_paused"] is True  # created paused: the provider unpauses
    call(live, "reparse", dag["file_token"])
    call(live, "pause", dag_id, "0")
    assert answer(live, "dag", dag_id)["is_paused"] is False

    run_id = "sparkflow__20261207T000000Z-abc123"
    conf = json.dumps({"sparkflow_run_id": "20261207T000000Z-abc123", "force": True})
    call(live, "trigger", dag_id, run_id, conf)
    call(live, "trigger", dag_id, run_id, conf)  # a repeated trigger is harmless
    runs = answer(live, "call", "GET", f"/api/v2/dags/{dag_id}/dagRuns")
    assert [r["dag_run_id"] for r in runs["dag_runs"]] == [run_id]

    run = finished_run(live, dag_id, run_id)
    assert run["state"] == "success", answer(live, "tis", dag_id, run_id)
    states = {t["task_id"]: t["state"] for t in answer(live, "tis", dag_id, run_id)}
    assert states == {"prepare": "success", "only": "success", "publish": "success", "discard": "skipped"}
    published = answer(live, "xcom", dag_id, run_id, "publish", "return_value")
    assert published["run_id"] == "20261207T000000Z-abc123"
    assert published["metrics"]["only"]["rows_read"] == 7


def test_a_failed_task_has_its_log(live: LiveAirflow, spark: SparkCluster, tmp_path: Path) -> None:
    dag_id = write_spec(live, spark, tmp_path, "rest_fail", ["--fail"])
    wait_for("the DAG", lambda: json.loads(call(live, "dag", dag_id, check=False).stdout or "null"))
    call(live, "pause", dag_id, "0")
    run_id = "sparkflow__20261207T000001Z-def456"
    call(live, "trigger", dag_id, run_id, json.dumps({"sparkflow_run_id": "20261207T000001Z-def456", "force": True}))
    assert finished_run(live, dag_id, run_id)["state"] == "failed"
    tis = {t["task_id"]: t for t in answer(live, "tis", dag_id, run_id)}
    assert tis["only"]["state"] == "failed"
    log = call(live, "log", dag_id, run_id, "only", str(tis["only"]["try_number"])).stdout
    assert "the stage fails on purpose" in log
