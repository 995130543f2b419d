"""The DAG factory without running a DAG: the shapes it builds for both
engines (tasks, dependencies, templated arguments, the asset watchers), how it
treats bad specs, and InputChangedTrigger driven through its async run() on
a real lake.  One subprocess in .venv-airflow does all of it (importing
Airflow costs seconds) and reports JSON; the tests below read the report."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from airflow_env import AIRFLOW_VENV, DAGS, PYTHON, SPARK_SUBMIT

pytestmark = pytest.mark.skipif(
    not (AIRFLOW_VENV / "bin" / "python").exists() and os.environ.get("CI") != "true",
    reason="no .venv-airflow (scripts/airflow-venv)",
)

SCRIPT = r"""
import asyncio, json, logging, os, sys, time
from pathlib import Path

import jinja2

spec_dir, lake = Path(sys.argv[1]), Path(sys.argv[2])
report = {}

# ---- shapes, through the DAG file as Airflow imports it
import sparkflow_dags
from sparkflow_airflow.lake import FileLake
from sparkflow_airflow.spec import load_spec, pipeline_fingerprint
from sparkflow_airflow.trigger import InputChangedTrigger

def shape(dag):
    out = {"tasks": {}, "schedule": None}
    for t in dag.tasks:
        out["tasks"][t.task_id] = {
            "type": type(t).__name__, "up": sorted(t.upstream_task_ids), "rule": str(t.trigger_rule.value),
        }
    cond = getattr(dag.timetable, "asset_condition", None)
    for a in cond.objects if cond is not None else []:
        out["schedule"] = {"asset": a.name, "triggers": [w.trigger.serialize() for w in a.watchers]}
    out["max_active_runs"] = dag.max_active_runs
    out["paused"] = dag.is_paused_upon_creation
    return out

report["dags"] = sorted(k for k, v in vars(sparkflow_dags).items() if type(v).__name__ == "DAG")
local = sparkflow_dags.sparkflow_local_shape
report["local"] = shape(local)
v = local.get_task("validate")
render = lambda s: jinja2.Template(s).render(ti=None) if "xcom" not in s else s
report["local"]["validate"] = {
    "application": v.application, "name": v.name, "conf": v.conf, "args": v.application_args,
    "args_rendered": [render(a) for a in v.application_args], "binary": v._spark_binary,
    "env_path0": v.env_vars["PATH"].split(os.pathsep)[0], "spark_home": v.env_vars["SPARK_HOME"],
    "conn_id": v._conn_id, "conn": json.loads(os.environ["AIRFLOW_CONN_" + v._conn_id.upper()]),
}
emr = sparkflow_dags.sparkflow_emr_shape
report["emr"] = shape(emr)
sub, wait = emr.get_task("count.submit"), emr.get_task("count.wait")
report["emr"]["submit"] = {"steps": sub.steps, "cluster": sub.job_flow_id, "conn": sub.aws_conn_id}
report["emr"]["wait"] = {"step_id": wait.step_id, "deferrable": wait.deferrable, "poke": wait.poke_interval}

# ---- the trigger on a real lake
spec_path = str(spec_dir / "local_shape.json")
spec = load_spec(Path(spec_path))
events = []

async def consume():
    async for e in InputChangedTrigger(spec_path, poke_interval=0.1).run():
        events.append(e.payload)

async def scenario():
    task = asyncio.create_task(consume())
    obs = []
    def note(what):
        obs.append({"what": what, "events": len(events)})
    async def until(n, timeout=30.0):  # positive expectations wait as long as the machine needs
        t0 = time.monotonic()
        while len(events) < n and time.monotonic() - t0 < timeout:
            await asyncio.sleep(0.05)
    await until(1); note("start")
    await asyncio.sleep(0.6); note("same input")
    fp0 = pipeline_fingerprint(spec, FileLake())
    lk = FileLake()
    work = lk.stage(spec.output_uri, "r1")
    lk.publish(spec.output_uri, work, "r1", fp0)
    await asyncio.sleep(0.6); note("published")
    (lake / "raw" / "transactions" / "c.csv._COPYING_").write_text("partial")
    await asyncio.sleep(0.6); note("copying")
    (lake / "raw" / "transactions" / "c.csv").write_text("Date\n")
    await until(2); await asyncio.sleep(0.6); note("landed")
    fp1 = pipeline_fingerprint(spec, FileLake())
    task.cancel()
    return obs, fp0, fp1

obs, fp0, fp1 = asyncio.run(scenario())
report["trigger"] = {"observations": obs, "events": events, "fp0": fp0, "fp1": fp1}

# ---- the same with the provider's baseline: a new configuration is no news
base_json = json.loads(Path(spec_path).read_text())
base_json["pipeline"] = "local_baseline"
base_json["dag_id"] = "sparkflow_local_baseline"
base_json["output"] = "curated_baseline"
base_json["watch"]["input_fingerprint"] = FileLake().fingerprint(spec.input_uri)[0]
base_path = spec_dir / "local_baseline.json.later"  # not a spec of the DAG folder
base_path.write_text(json.dumps(base_json))
base_events = []

async def consume_base():
    async for e in InputChangedTrigger(str(base_path), poke_interval=0.1).run():
        base_events.append(e.payload)

async def baseline_scenario():
    task = asyncio.create_task(consume_base())
    await asyncio.sleep(1.0)
    quiet = len(base_events)  # nothing published, input as the provider saw it
    (lake / "raw" / "transactions" / "d.csv").write_text("Date\n")
    t0 = time.monotonic()
    while not base_events and time.monotonic() - t0 < 30:
        await asyncio.sleep(0.05)
    task.cancel()
    return quiet

report["baseline"] = {"quiet": asyncio.run(baseline_scenario()), "events": len(base_events)}
(lake / "raw" / "transactions" / "d.csv").unlink()  # the input as the next steps expect it

# ---- prepare(): skip what the published run covers, stage the rest
from types import SimpleNamespace
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from sparkflow_airflow.dags import prepare

def prep(conf):
    try:
        return prepare(spec, dag_run=SimpleNamespace(conf=conf))
    except (AirflowSkipException, AirflowFailException) as e:
        return {"raised": type(e).__name__, "message": str(e)}

res = {"uncovered": prep({})}
lk = FileLake()
lk.publish(spec.output_uri, res["uncovered"]["work_uri"], res["uncovered"]["run_id"], res["uncovered"]["fingerprint"])
res["covered"] = prep({})
res["forced"] = prep({"force": True, "sparkflow_run_id": "20260101T000000Z-abcdef"})
res["bad_run_id"] = prep({"force": True, "sparkflow_run_id": "../x"})
report["prepare"] = res

# ---- one output, one pipeline: publish() records the spec's pipeline; another pipeline's
# prepare and publish are refused, naming it
from dataclasses import replace
from sparkflow_airflow.dags import publish

def pull(prep):
    return SimpleNamespace(xcom_pull=lambda task_ids: prep)

def attempt(fn):
    try:
        return fn()
    except (AirflowSkipException, AirflowFailException) as e:
        return {"raised": type(e).__name__, "message": str(e)}

own = {"before": lk.published(spec.output_uri).pipeline}  # the uncovered run: published without one
own["publish"] = publish(spec, ti=pull(res["forced"]))["run_id"]
own["record"] = json.loads((lake / "curated" / "_sparkflow_run.json").read_text()).get("pipeline")
other = replace(spec, pipeline="other_shape", dag_id="sparkflow_other_shape")
own["other_prepare"] = attempt(lambda: prepare(other, dag_run=SimpleNamespace(conf={"force": True})))
work = lk.stage(other.output_uri, "20260102T000000Z-0000aa")
mine = {"run_id": "20260102T000000Z-0000aa", "work_uri": work, "fingerprint": "sha256:00"}
own["other_publish"] = attempt(lambda: publish(other, ti=pull(mine)))
own["after"] = lk.published(spec.output_uri).run_id
if own["after"] != mine["run_id"]:  # refused, as it should be: its staging area goes
    lk.discard(work)
report["ownership"] = own
print("REPORT " + json.dumps(report))
"""


def _spec(name: str, **kw: Any) -> dict[str, Any]:
    return {"format": 1, "pipeline": name, "input": "raw/transactions", "output": "curated", **kw}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("factory")
    specs, lake = tmp / "specs", tmp / "lake"
    for d in (specs, lake / "raw" / "transactions", lake / "reference"):
        d.mkdir(parents=True)
    (lake / "raw" / "transactions" / "a.csv").write_text("Date\n1\n")
    script = tmp / "job.py"
    script.write_text("print('job')\n")
    local = _spec(
        "local_shape",
        engine="local",
        lake=f"file://{lake}",
        stages=[
            {
                "name": "validate",
                "script": str(script),
                "args": ["--as-of", "{{ not a template }}"],
                "conf": {"spark.x": "1"},
            },
            {"name": "marts", "script": str(script)},
        ],
        local={"master": "spark://127.0.0.1:7077", "spark_submit": str(SPARK_SUBMIT), "python": str(PYTHON)},
        watch={"kind": "directory", "poke_interval_seconds": 0.5},
    )
    emr = _spec(
        "emr_shape",
        engine="emr",
        lake="s3://bucket/lake",
        stages=[
            {
                "name": "count",
                "script": "s3://bucket/code/job.py",
                "py_files": "s3://bucket/code/pkgs.zip",
                "conf": {"b": "2", "a": "1"},
            }
        ],
        emr={"cluster_id": "j-ABC", "region": "eu-west-1", "poke_interval_seconds": 5},
        watch={"kind": "sqs", "queue_url": "https://sqs.eu-west-1.amazonaws.com/1/q", "region": "eu-west-1"},
    )
    (specs / "local_shape.json").write_text(json.dumps(local))
    (specs / "emr_shape.json").write_text(json.dumps(emr))
    (specs / "broken.json").write_text('{"format": 1, "pipeline": "broken"}')
    (specs / "not-json.json").write_text("{")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(tmp / "home"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "SPARKFLOW_SPECS_DIR": str(specs),
            "PYTHONPATH": str(DAGS),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    p = subprocess.run(
        [str(AIRFLOW_VENV / "bin" / "python"), "-c", SCRIPT, str(specs), str(lake)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in p.stdout.splitlines() if line.startswith("REPORT ")]
    assert p.returncode == 0 and lines, p.stdout[-4000:] + p.stderr[-4000:]
    rep: dict[str, Any] = json.loads(lines[-1][len("REPORT ") :])
    rep["log"] = [line for line in (p.stdout + p.stderr).splitlines() if "spec skipped" in line]
    return rep


def test_bad_specs_are_skipped_and_logged(report: dict[str, Any]) -> None:
    assert report["dags"] == ["sparkflow_emr_shape", "sparkflow_local_shape"]
    log = "\n".join(report["log"])
    assert "broken.json: `engine` is required" in log and "not-json.json: not JSON" in log, log


def test_local_shape(report: dict[str, Any]) -> None:
    r = report["local"]
    assert {k: (t["type"], t["up"], t["rule"]) for k, t in r["tasks"].items()} == {
        "prepare": ("PythonOperator", [], "all_success"),
        "validate": ("SparkSubmitOperator", ["prepare"], "all_success"),
        "marts": ("SparkSubmitOperator", ["validate"], "all_success"),
        "publish": ("PythonOperator", ["marts"], "all_success"),
        "discard": ("PythonOperator", ["marts", "prepare", "publish", "validate"], "one_failed"),
    }
    assert r["max_active_runs"] == 1 and r["paused"] is True
    # Started by the input: the watcher's trigger is ours, with the spec's path.
    assert r["schedule"]["asset"] == "sparkflow-input-local_shape"
    [(classpath, kwargs)] = r["schedule"]["triggers"]
    assert classpath == "sparkflow_airflow.trigger.InputChangedTrigger"
    assert kwargs["spec_path"].endswith("/local_shape.json") and kwargs["poke_interval"] == 0.5
    v = r["validate"]
    work = "{{ ti.xcom_pull(task_ids='prepare')['work_uri'] }}"
    assert v["args"][:8] == [
        "--input",
        v["args"][1],
        "--work",
        work,
        "--reference",
        v["args"][5],
        "--metrics",
        work + "/_sparkflow/metrics/validate.json",
    ]
    assert v["args"][1].endswith("/lake/raw/transactions") and v["args"][5].endswith("/lake/reference")
    # A spec string that looks like a template is passed as written.
    assert v["args_rendered"][8:] == ["--as-of", "{{ not a template }}"]
    assert v["name"] == "local_shape-validate-{{ ti.xcom_pull(task_ids='prepare')['run_id'] }}"
    assert v["conf"]["spark.driver.host"] == "127.0.0.1" and v["conf"]["spark.x"] == "1"
    assert v["conf"]["spark.pyspark.python"] == str(PYTHON)
    assert v["binary"] == "spark-submit" and v["env_path0"] == str(SPARK_SUBMIT.parent)
    assert v["spark_home"] == str(SPARK_SUBMIT.parent.parent)
    assert v["conn"] == {"conn_type": "spark", "host": "spark://127.0.0.1:7077"}


def test_emr_shape(report: dict[str, Any]) -> None:
    r = report["emr"]
    assert {k: (t["type"], t["up"]) for k, t in r["tasks"].items()} == {
        "prepare": ("PythonOperator", []),
        "count.submit": ("EmrAddStepsOperator", ["prepare"]),
        "count.wait": ("EmrStepSensor", ["count.submit"]),
        "publish": ("PythonOperator", ["count.wait"]),
        "discard": ("PythonOperator", ["count.submit", "count.wait", "prepare", "publish"]),
    }
    [(classpath, kwargs)] = r["schedule"]["triggers"]
    assert classpath.endswith("SqsSensorTrigger")
    assert kwargs["sqs_queue"] == "https://sqs.eu-west-1.amazonaws.com/1/q" and kwargs["region_name"] == "eu-west-1"
    [step] = r["submit"]["steps"]
    run = "{{ ti.xcom_pull(task_ids='prepare')['run_id'] }}"
    work = "{{ ti.xcom_pull(task_ids='prepare')['work_uri'] }}"
    assert step["Name"] == f"sparkflow emr_shape {run} count"
    assert step["ActionOnFailure"] == "CANCEL_AND_WAIT"
    assert step["HadoopJarStep"]["Jar"] == "command-runner.jar"
    assert step["HadoopJarStep"]["Args"] == [
        "spark-submit",
        "--deploy-mode",
        "cluster",
        "--name",
        f"emr_shape-count-{run}",
        "--conf",
        "a=1",
        "--conf",
        "b=2",
        "--py-files",
        "s3://bucket/code/pkgs.zip",
        "s3://bucket/code/job.py",
        "--input",
        "s3://bucket/lake/raw/transactions",
        "--work",
        work,
        "--reference",
        "s3://bucket/lake/reference",
        "--metrics",
        work + "/_sparkflow/metrics/count.json",
    ]
    assert r["submit"]["cluster"] == "j-ABC"
    assert r["wait"] == {"step_id": "{{ ti.xcom_pull(task_ids='count.submit')[0] }}", "deferrable": True, "poke": 5}


def test_input_trigger(report: dict[str, Any]) -> None:
    """Fires once for input the published run does not cover, not again for
    the same fingerprint (a run going on), not for a file still being copied,
    and again when a new file lands."""
    t = report["trigger"]
    seen = {o["what"]: o["events"] for o in t["observations"]}
    assert seen == {"start": 1, "same input": 1, "published": 1, "copying": 1, "landed": 2}, t
    assert t["events"][0] == {"fingerprint": t["fp0"], "published": None}
    assert t["events"][1] == {"fingerprint": t["fp1"], "published": t["fp0"]}
    assert t["fp0"] != t["fp1"]


def test_input_trigger_ignores_a_new_configuration(report: dict[str, Any]) -> None:
    """With the provider's baseline in the spec (the input when it wrote
    the spec), unpublished outputs alone start nothing; a new file does."""
    assert report["baseline"] == {"quiet": 0, "events": 1}, report["baseline"]


def test_prepare_skips_what_the_published_run_covers(report: dict[str, Any]) -> None:
    r = report["prepare"]
    fp1 = report["trigger"]["fp1"]
    staged = r["uncovered"]
    assert staged["fingerprint"] == fp1 and staged["work_uri"].endswith(f"/lake/_sparkflow/curated/{staged['run_id']}")
    assert len(staged["run_id"]) == len("20260101T000000Z-abcdef")
    assert r["covered"]["raised"] == "AirflowSkipException" and staged["run_id"] in r["covered"]["message"]
    assert r["forced"]["run_id"] == "20260101T000000Z-abcdef" and r["forced"]["fingerprint"] == fp1
    assert r["bad_run_id"]["raised"] == "AirflowFailException"


def test_publish_records_the_pipeline_and_refuses_another(report: dict[str, Any]) -> None:
    """The DAG's publish names the spec's pipeline in the run record (replacing
    a record that named none); another pipeline on that output fails in
    prepare, before anything runs, and in publish, naming the owner."""
    own = report["ownership"]
    assert own["before"] is None and own["record"] == "local_shape", own
    assert own["publish"] == own["after"] == "20260101T000000Z-abcdef", own
    for step in ("other_prepare", "other_publish"):
        got = own[step]
        assert got.get("raised") == "AirflowFailException", (step, got)
        assert "Output published by another pipeline" in got["message"], (step, got)
        assert 'Pipeline "other_shape" cannot publish' in got["message"], (step, got)
        assert 'pipeline "local_shape" publishes there (run 20260101T000000Z-abcdef)' in got["message"], (step, got)


def test_spec_errors_name_the_field(tmp_path: Path) -> None:
    from sparkflow_airflow.spec import SpecError, parse_spec

    good = _spec(
        "p",
        engine="local",
        lake="file:///l",
        stages=[{"name": "s", "script": "/s.py"}],
        local={"master": "spark://h:1", "spark_submit": "/b/spark-submit", "python": "/p"},
    )
    assert parse_spec(good).dag_id == "sparkflow_p"
    bad = [
        ({"format": 2}, "`format` must be 1"),
        ({"engine": "yarn"}, "`engine` must be one of"),
        ({"stages": []}, "`stages` is empty"),
        ({"stages": [{"name": "publish", "script": "/s.py"}]}, "not prepare/publish/discard"),
        ({"stages": [{"name": "s", "script": "/s.py"}, {"name": "s", "script": "/t.py"}]}, "unique"),
        ({"lake": "hdfs://x"}, "`lake` must be"),
        ({"watch": {"kind": "sqs"}}, "`queue_url` is required"),
        ({"local": {"master": "spark://h:1", "python": "/p"}}, "local: `spark_submit` is required"),
        (
            {"local": {"master": "spark://h:1", "python": "/p", "spark_submit": "/b/submit.sh"}},
            "must end in spark-submit",
        ),
        ({"stages": [{"name": "s", "script": "/s.py", "args": [1]}]}, "`args` must be a list of strings"),
    ]
    for change, message in bad:
        with pytest.raises(SpecError, match=message.replace("`", ".").replace("(", ".")):
            parse_spec({**good, **change})
