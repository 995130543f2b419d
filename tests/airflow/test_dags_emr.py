"""The DAG factory's EMR shape, run by `airflow dags test` against moto: the
step EmrAddStepsOperator sends is the one the provider builds
(engines/emr/steps.c), tests/aws's step executor runs it with local Spark,
the deferrable EmrStepSensor follows it, and publish writes the S3 lake's
pointer; a failed step fails the DAG run and discards the staging area."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_env import AIRFLOW, ROOT, AirflowHome
from sparkflow_airflow.lake import Published, S3Lake
from sparkflow_airflow.spec import emr_step, parse_spec, pipeline_fingerprint

for _d in ("e2e", "aws"):
    sys.path.insert(0, str(ROOT / "tests" / _d))
from awsenv import REGION, Moto  # noqa: E402
from executor import StepExecutor, install_moto_patches  # noqa: E402

LINE_COUNT = ROOT / "tests" / "e2e" / "fixtures" / "jobs" / "line_count.py"
BUCKET = "lake"

pytestmark = pytest.mark.skipif(
    not AIRFLOW.exists() and os.environ.get("CI") != "true", reason="no .venv-airflow (scripts/airflow-venv)"
)


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    from moto.server import ThreadedMotoServer

    install_moto_patches()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    m = Moto(host, port)
    m.reset()
    try:
        yield m
    finally:
        server.stop()


@pytest.fixture(scope="module")
def executor(moto: Moto, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StepExecutor]:
    ex = StepExecutor(lambda: moto.client("s3"), tmp_path_factory.mktemp("executor")).start()
    try:
        yield ex
    finally:
        ex.stop()
    assert not ex.errors, "step executor errors:\n" + "\n".join(ex.errors)


@pytest.fixture
def aws_airflow(airflow_home: AirflowHome, moto: Moto) -> Iterator[AirflowHome]:
    """The session's Airflow with its aws_default connection pointing at moto."""
    conn = {
        "conn_type": "aws",
        "login": moto.key,
        "password": moto.secret,
        "extra": {"endpoint_url": moto.url, "region_name": REGION},
    }
    airflow_home.extra_env = {
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(conn),
        "AWS_ACCESS_KEY_ID": moto.key,
        "AWS_SECRET_ACCESS_KEY": moto.secret,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    try:
        yield airflow_home
    finally:
        airflow_home.extra_env = {}


def _cluster(emr: Any) -> str:
    r = emr.run_job_flow(
        Name="airflow-dags",
        ReleaseLabel="emr-7.13.0",
        Applications=[{"Name": "Spark"}],
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
        Tags=[{"Key": "sparkflow:managed", "Value": "true"}],
    )
    return str(r["JobFlowId"])


def _keys(s3: Any, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def test_emr_pipeline_steps_publish_and_failure(moto: Moto, executor: StepExecutor, aws_airflow: AirflowHome) -> None:
    s3, emr, sqs = moto.client("s3"), moto.client("emr"), moto.client("sqs")
    s3.create_bucket(Bucket=BUCKET)
    for name, n in (("a.txt", 100), ("b.txt", 50)):
        s3.put_object(Bucket=BUCKET, Key=f"lake/raw/events/{name}", Body="".join(f"e{i}\n" for i in range(n)).encode())
    s3.put_object(Bucket=BUCKET, Key="lake/reference/notes.txt", Body=b"n\n")
    s3.put_object(Bucket=BUCKET, Key="lake/_sparkflow/code/line_count.py", Body=LINE_COUNT.read_bytes())
    queue = sqs.create_queue(QueueName="sparkflow-events")["QueueUrl"]
    cluster = _cluster(emr)
    spec_json = {
        "format": 1,
        "pipeline": "events",
        "engine": "emr",
        "lake": f"s3://{BUCKET}/lake",
        "input": "raw/events",
        "output": "counted",
        "stages": [
            {
                "name": "count",
                "script": f"s3://{BUCKET}/lake/_sparkflow/code/line_count.py",
                "args": ["--hold-max", "5"],
                "conf": {"spark.sql.shuffle.partitions": "2"},
            }
        ],
        "emr": {"cluster_id": cluster, "region": REGION, "deferrable": True, "poke_interval_seconds": 1},
        "watch": {"kind": "sqs", "queue_url": queue, "region": REGION},
    }
    aws_airflow.write_spec(spec_json)
    spec = parse_spec(spec_json)

    r = aws_airflow.dags_test("sparkflow_events")
    assert r.rc == 0, r.describe()
    assert r.states == {
        "prepare": "success",
        "count.submit": "success",
        "count.wait": "success",
        "publish": "success",
        "discard": "skipped",
    }, r.describe()
    run_id, work = r.xcom["prepare"]["run_id"], r.xcom["prepare"]["work_uri"]
    assert work == f"s3://{BUCKET}/lake/_sparkflow/tmp/{run_id}"

    # What reached EMR is the provider's step for this stage and run.
    steps = emr.list_steps(ClusterId=cluster)["Steps"]
    assert len(steps) == 1 and steps[0]["Status"]["State"] == "COMPLETED"
    want = emr_step(spec, spec.stages[0], run_id, work)
    assert steps[0]["Name"] == want["Name"] == f"sparkflow events {run_id} count"
    assert steps[0]["ActionOnFailure"] == "CANCEL_AND_WAIT"
    assert steps[0]["Config"]["Jar"] == "command-runner.jar"
    assert steps[0]["Config"]["Args"] == want["HadoopJarStep"]["Args"]

    # Published through the pointer, staging area gone, metrics read back.
    pointer = json.loads(s3.get_object(Bucket=BUCKET, Key="lake/counted/_sparkflow/published.json")["Body"].read())
    lake = S3Lake(s3)
    assert pointer["run_id"] == run_id
    assert pointer["pipeline"] == "events"  # one output, one pipeline: the provider's plan reads it
    assert lake.published("s3://lake/lake/counted") == Published(run_id, pointer["fingerprint"], "events")
    assert pointer["prefix"] == f"lake/counted/_sparkflow/runs/{run_id}/"
    assert pointer["fingerprint"] == pipeline_fingerprint(spec, lake, lambda: s3)
    assert any(k.startswith(f"lake/counted/_sparkflow/runs/{run_id}/lines/") for k in _keys(s3, "lake/counted/"))
    assert _keys(s3, "lake/_sparkflow/tmp/") == []
    metrics = r.xcom["publish"]["metrics"]["count"]
    assert (metrics["fixture_lines"], metrics["fixture_files"]) == (150, 2)

    # A failed step (forced run, the provider's run id): the run fails, its
    # staging area is discarded, the published run stays.
    executor.fail_next(1, "injected: boom")
    forced = "20260101T000000Z-0000ff"
    r2 = aws_airflow.dags_test("sparkflow_events", conf={"force": True, "sparkflow_run_id": forced})
    assert r2.rc != 0, r2.describe()
    assert r2.states == {
        "prepare": "success",
        "count.submit": "success",
        "count.wait": "failed",
        "publish": "upstream_failed",
        "discard": "failed",
    }, r2.describe()
    assert r2.xcom["prepare"]["run_id"] == forced
    assert _keys(s3, f"lake/_sparkflow/tmp/{forced}/") == []
    assert lake.published(spec.output_uri).run_id == run_id  # type: ignore[union-attr]


SQS_SCRIPT = r"""
import asyncio, json, sys
import sparkflow_dags

dag = getattr(sparkflow_dags, sys.argv[1])
[asset] = dag.timetable.asset_condition.objects
[watcher] = asset.watchers

async def first_event():
    return await asyncio.wait_for(anext(watcher.trigger.run()), 60)

event = asyncio.run(first_event())
print("EVENT " + json.dumps(event.payload, default=str))
"""


def test_sqs_watcher_fires_on_an_s3_notification(moto: Moto, aws_airflow: AirflowHome) -> None:
    """The DAG's AssetWatcher (SqsSensorTrigger through aws_default) fires on
    the S3 event notification of a new input object."""
    import subprocess

    sqs = moto.client("sqs")
    queue = sqs.create_queue(QueueName="sparkflow-watch")["QueueUrl"]
    spec_json = {
        "format": 1,
        "pipeline": "watched",
        "engine": "emr",
        "lake": f"s3://{BUCKET}/watched",
        "input": "raw",
        "output": "out",
        "stages": [{"name": "count", "script": f"s3://{BUCKET}/code/job.py"}],
        "emr": {"cluster_id": "j-NOTUSED", "region": REGION},
        "watch": {"kind": "sqs", "queue_url": queue, "region": REGION, "poke_interval_seconds": 1},
    }
    aws_airflow.write_spec(spec_json)
    note = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": BUCKET}, "object": {"key": "watched/raw/new.csv"}},
            }
        ]
    }
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(note))
    p = subprocess.run(
        [str(AIRFLOW.parent / "python"), "-c", SQS_SCRIPT, "sparkflow_watched"],
        env=aws_airflow.env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    events = [json.loads(line[6:]) for line in p.stdout.splitlines() if line.startswith("EVENT ")]
    assert p.returncode == 0 and events, p.stdout[-3000:] + p.stderr[-3000:]
    [message] = events[0]["message_batch"]
    assert json.loads(message["Body"]) == note
    # Read messages are deleted: the next notification is the next run.
    assert "Messages" not in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)
