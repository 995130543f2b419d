"""One Airflow DAG per pipeline spec.

    prepare -> <stage 1> -> ... -> <stage n> -> publish
                    \\___________\\____________\\___> discard (when one failed)

prepare   computes the pipeline's fingerprint; when the published run
          is another pipeline's (its record names it) it fails: one output
          belongs to one pipeline.  When the published run already covers
          the fingerprint (and the run was not forced) it skips, and the
          whole run with it.  Otherwise it takes a run id (the one the
          provider passed in the run's conf, or a new one in the provider's
          format) and stages the run in the lake.  Its XCom: {run_id,
          work_uri, fingerprint}.
stages    local: one task each; when the spec names the provider's stage
          runner and the stages share their Spark settings, all of them run
          in ONE Spark application as in a direct run (one_app.py: the first
          stage's task starts it, each task follows its stage), otherwise
          one SparkSubmitOperator each against the spec's master;
          emr: a task group <stage> of `submit` (EmrAddStepsOperator, one
          command-runner.jar step as the provider builds it) and `wait`
          (EmrStepSensor, deferrable by default).  Each gets the job contract's
          --input/--work/--reference/--metrics; the metrics JSON goes inside
          the run, <work>/_sparkflow/metrics/<stage>.json.
publish   reads the metrics back, publishes the run atomically (lake.py),
          its record naming the spec's pipeline; the lake refuses it when
          another pipeline published there meanwhile.
          Its XCom: {run_id, fingerprint, output_uri, metrics}.
discard   runs only when something upstream failed: drops the staging area,
          then fails, so the DAG run is failed.

Scheduling: `watch.kind` "directory" — an AssetWatcher with
InputChangedTrigger (trigger.py); "sqs" — an AssetWatcher with the amazon
provider's SqsSensorTrigger on the queue S3 notifies; "none" — only runs
triggered through the API.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from typing import Any

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, Asset, AssetWatcher, BaseOperator, TaskGroup, TriggerRule
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from sparkflow_airflow import one_app
from sparkflow_airflow.lake import (
    Lake,
    LakeError,
    lake_for,
    new_run_id,
    owned_by_other,
    refuse_other,
    valid_run_id,
)
from sparkflow_airflow.spec import Spec, Stage, app_name, emr_step, metrics_uri, pipeline_fingerprint, stage_args

log = logging.getLogger(__name__)

PREPARE = "prepare"
PUBLISH = "publish"
DISCARD = "discard"
START_DATE = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

_X = "ti.xcom_pull(task_ids='prepare')"
RUN_ID = "{{ " + _X + "['run_id'] }}"
WORK_URI = "{{ " + _X + "['work_uri'] }}"
# Stand-ins for the run id and work URI in strings built before the run
# exists; _templated() turns them into the templates above.
_RUN_M, _WORK_M = "\0RUN\0", "\0WORK\0"
_MARKERS = {_RUN_M: RUN_ID, _WORK_M: WORK_URI}


def _literal(s: str) -> str:
    """A spec string inside a templated field, kept as written."""
    return "{% raw %}" + s + "{% endraw %}" if any(t in s for t in ("{{", "{%", "{#")) else s


def spark_conn_id(spec: Spec) -> str:
    return f"sparkflow_spark_{spec.pipeline}".replace("-", "_").replace(".", "_")


def _s3_client_factory(spec: Spec) -> Any:
    """A boto3 S3 client through the spec's Airflow AWS connection (endpoint, region, keys)."""
    if not spec.lake.lower().startswith("s3://"):
        return None

    def make() -> Any:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        conn = spec.emr.aws_conn_id if spec.emr else "aws_default"
        region = spec.emr.region if spec.emr else None
        return S3Hook(aws_conn_id=conn, region_name=region).get_conn()

    return make


def _lake(spec: Spec) -> Lake:
    return lake_for(spec.lake, _s3_client_factory(spec), log.info)


# ---- prepare, publish, discard -----------------------------------------------------------------


def prepare(spec: Spec, **context: Any) -> dict[str, str]:
    conf = (context.get("dag_run") and context["dag_run"].conf) or {}
    run_id = conf.get("sparkflow_run_id") or new_run_id()
    if not isinstance(run_id, str) or not valid_run_id(run_id):
        raise AirflowFailException(f"conf sparkflow_run_id {run_id!r} is not a valid run id")
    lake = _lake(spec)
    try:
        fp = pipeline_fingerprint(spec, lake, _s3_client_factory(spec))
        pub = lake.published(spec.output_uri)
        if pub and owned_by_other(pub.pipeline, spec.pipeline):
            # One output, one pipeline: refused before anything runs (publish
            # would refuse it too), as the provider's apply does.
            raise refuse_other(spec.output_uri, spec.pipeline, pub.pipeline, pub.run_id)
        if pub and pub.fingerprint == fp and not conf.get("force"):
            raise AirflowSkipException(f"the published run {pub.run_id} of {spec.output_uri} already covers {fp}")
        work = lake.stage(spec.output_uri, run_id)
    except LakeError as e:  # input missing, data in the way...: retrying will not help
        raise AirflowFailException(str(e)) from e
    log.info("sparkflow: run %s of %s staged at %s (%s)", run_id, spec.pipeline, work, fp)
    return {"run_id": run_id, "work_uri": work, "fingerprint": fp}


def _read_metrics(spec: Spec, work_uri: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for st in spec.stages:
        uri = metrics_uri(work_uri, st.name)
        try:
            if uri.startswith("s3://"):
                make = _s3_client_factory(spec)
                bucket, _, key = uri[5:].partition("/")
                text = make().get_object(Bucket=bucket, Key=key)["Body"].read()
            else:
                with open(uri[7:] if uri.startswith("file://") else uri, "rb") as f:
                    text = f.read()
            out[st.name] = json.loads(text)
        except Exception:  # a job that wrote no metrics has none
            out[st.name] = {}
    return out


def publish(spec: Spec, **context: Any) -> dict[str, Any]:
    ti = context["ti"]
    prep = ti.xcom_pull(task_ids=PREPARE)
    metrics = _read_metrics(spec, prep["work_uri"])
    try:
        outcome = _lake(spec).publish(
            spec.output_uri, prep["work_uri"], prep["run_id"], prep["fingerprint"], spec.pipeline
        )
    except LakeError as e:
        raise AirflowFailException(str(e)) from e
    for w in outcome.warnings:
        log.warning("sparkflow: %s", w)
    log.info("sparkflow: published run %s at %s", prep["run_id"], spec.output_uri)
    return {
        "run_id": prep["run_id"],
        "fingerprint": prep["fingerprint"],
        "output_uri": spec.output_uri,
        "metrics": metrics,
    }


def discard(spec: Spec, **context: Any) -> None:
    ti = context["ti"]
    prep = ti.xcom_pull(task_ids=PREPARE)
    if prep and prep.get("work_uri"):
        try:
            _lake(spec).discard(prep["work_uri"])
        except LakeError as e:
            log.warning("sparkflow: %s", e)
    raise AirflowFailException(
        f"the run of pipeline {spec.pipeline} failed (see the failed task); its staging area is discarded"
    )


# ---- stages ---------------------------------------------------------------------------------------


def _local_stage(spec: Spec, st: Stage) -> Any:
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    loc = spec.local
    assert loc is not None
    return SparkSubmitOperator(
        task_id=st.name,
        conn_id=spark_conn_id(spec),
        application=_literal(st.script),
        name=_templated(app_name(spec, st, _RUN_M), _MARKERS),
        conf={k: _literal(v) for k, v in one_app.submit_conf(spec, st).items()},
        py_files=_literal(st.py_files) if st.py_files else None,
        application_args=_templated(stage_args(spec, st, _WORK_M), _MARKERS),
        env_vars=one_app.submit_env(spec),
        spark_binary=os.path.basename(loc.spark_submit),
    )


class OneAppStageOperator(BaseOperator):
    """A stage of a run whose stages share one Spark application (one_app.py)."""

    ui_color = "#fdf1e0"

    def __init__(self, *, spec: Spec, index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec, self.index = spec, index
        self._hold: dict[str, one_app.AppRun] = {}

    def execute(self, context: Any) -> None:
        prep = context["ti"].xcom_pull(task_ids=PREPARE)
        try:
            one_app.run_stage_task(self.spec, self.index, prep, self.log, self._hold)
        except one_app.StageFailed as e:
            raise AirflowFailException(str(e)) from None

    def on_kill(self) -> None:
        run = self._hold.get("run")
        if run:
            run.stop()


def _templated(v: Any, markers: dict[str, str]) -> Any:
    """`v` with every marker replaced by its template and the rest kept literal."""
    if isinstance(v, str):
        pattern = "(" + "|".join(re.escape(m) for m in markers) + ")"
        return "".join(markers.get(part, _literal(part)) for part in re.split(pattern, v) if part)
    if isinstance(v, list):
        return [_templated(x, markers) for x in v]
    if isinstance(v, dict):
        return {k: _templated(x, markers) for k, x in v.items()}
    return v


def _emr_stage(spec: Spec, st: Stage) -> Any:
    from airflow.providers.amazon.aws.operators.emr import EmrAddStepsOperator
    from airflow.providers.amazon.aws.sensors.emr import EmrStepSensor

    emr = spec.emr
    assert emr is not None
    step = _templated(emr_step(spec, st, _RUN_M, _WORK_M), _MARKERS)
    with TaskGroup(group_id=st.name) as group:
        submit = EmrAddStepsOperator(
            task_id="submit",
            job_flow_id=emr.cluster_id,
            steps=[step],
            aws_conn_id=emr.aws_conn_id,
            region_name=emr.region,
        )
        # The operator reads strings ending in ".json" as template files; the
        # metrics URI is one.  The steps are given inline, never as a file.
        submit.template_ext = ()
        wait = EmrStepSensor(
            task_id="wait",
            job_flow_id=emr.cluster_id,
            step_id="{{ ti.xcom_pull(task_ids='" + st.name + ".submit')[0] }}",
            aws_conn_id=emr.aws_conn_id,
            region_name=emr.region,
            deferrable=emr.deferrable,
            poke_interval=emr.poke_interval_s,
            max_attempts=max(1, spec.timeout_s // max(1, emr.poke_interval_s)),
        )
        submit >> wait
    return group


# ---- the DAG --------------------------------------------------------------------------------------


def _schedule(spec: Spec) -> Any:
    w = spec.watch
    if w.kind == "none":
        return None
    name = f"sparkflow-input-{spec.pipeline}"
    if w.kind == "directory":
        from sparkflow_airflow.trigger import InputChangedTrigger

        trigger: Any = InputChangedTrigger(spec_path=spec.path, poke_interval=w.poke_interval_s)
    else:
        from airflow.providers.amazon.aws.triggers.sqs import SqsSensorTrigger

        trigger = SqsSensorTrigger(
            sqs_queue=w.queue_url or "",
            aws_conn_id=w.aws_conn_id,
            region_name=w.region,
            waiter_delay=max(1, int(w.poke_interval_s)),
            wait_time_seconds=1,
        )
    return [Asset(name=name, watchers=[AssetWatcher(name=f"{name}-watcher", trigger=trigger)])]


def _register_spark_connection(spec: Spec) -> None:
    """The master as an Airflow connection the SparkSubmitOperator reads: an
    environment variable of the process that parses this DAG (the DAG
    processor, and the task runner, which parses the file before running)."""
    if spec.local:
        os.environ["AIRFLOW_CONN_" + spark_conn_id(spec).upper()] = json.dumps(
            {"conn_type": "spark", "host": spec.local.master}
        )


def build_dag(spec: Spec, paused_upon_creation: bool = True) -> DAG:
    _register_spark_connection(spec)
    with DAG(
        dag_id=spec.dag_id,
        description=f"SparkFlow pipeline {spec.pipeline}: {' -> '.join(s.name for s in spec.stages)} on {spec.engine}",
        schedule=_schedule(spec),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=spec.max_active_runs,
        dagrun_timeout=dt.timedelta(seconds=spec.timeout_s),
        is_paused_upon_creation=paused_upon_creation,
        tags=["sparkflow", spec.engine, *spec.tags],
        default_args={"owner": "sparkflow", "retries": 0},
        doc_md=f"Built by dags/airflow/sparkflow_dags.py from `{spec.path}`.",
    ) as dag:
        prev: Any = PythonOperator(task_id=PREPARE, python_callable=lambda **ctx: prepare(spec, **ctx))
        first = prev
        shared = one_app.usable(spec)
        for i, st in enumerate(spec.stages):
            if shared:
                node = OneAppStageOperator(task_id=st.name, spec=spec, index=i)
            else:
                node = _local_stage(spec, st) if spec.engine == "local" else _emr_stage(spec, st)
            prev >> node
            prev = node
        pub = PythonOperator(task_id=PUBLISH, python_callable=lambda **ctx: publish(spec, **ctx))
        prev >> pub
        drop = PythonOperator(
            task_id=DISCARD, python_callable=lambda **ctx: discard(spec, **ctx), trigger_rule=TriggerRule.ONE_FAILED
        )
        [first, *[t for t in dag.tasks if t.task_id not in (PREPARE, PUBLISH, DISCARD)], pub] >> drop
    return dag
