"""Pipeline specs: the JSON the provider writes for each pipeline an Airflow runs.

One file per pipeline, `<dags folder>/specs/<pipeline>.json` (format in
dags/airflow/README.md).  This module reads and checks a spec, and computes
the two things every engine's tasks share: the standard arguments of a
stage (the job contract of dags/README.md) and the pipeline's fingerprint,
byte for byte the one `sparkflow_pipeline` computes (resources/pipeline.c),
so that a run published from Airflow is one the next `terraform plan`
recognises as covering the current inputs.

Needs only the standard library (boto3 to read an s3:// script).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkflow_airflow.lake import Lake, lake_join

SPEC_FORMAT = 1
ENGINES = ("local", "emr")
WATCH_KINDS = ("none", "directory", "sqs")
SPARK_SUBMITS = ("spark-submit", "spark2-submit", "spark3-submit")
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_DAG_ID = re.compile(r"[A-Za-z0-9_.-]{1,200}")


class SpecError(ValueError):
    """A spec file that cannot be used; names the file and the field."""


@dataclass(frozen=True)
class Stage:
    name: str
    script: str  # a local path (local engine) or an s3:// URI (emr)
    args: tuple[str, ...] = ()
    conf: Mapping[str, str] = field(default_factory=dict)
    py_files: str | None = None  # --py-files (emr: the packages zip in the lake)


@dataclass(frozen=True)
class LocalEngine:
    master: str  # spark://127.0.0.1:<port>
    spark_submit: str  # absolute path of spark-submit
    python: str  # the Python of drivers and executors
    java_home: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    # Spark settings every stage gets unless its own conf sets the key: the
    # engine's (not the pipeline's, so not part of the fingerprint).
    conf: Mapping[str, str] = field(default_factory=dict)
    # The cluster's runs folder and the provider's stage runner in it: with
    # both, stages that share their Spark settings run in one Spark
    # application, as direct runs do (one_app.py).
    runs_dir: str | None = None
    stage_runner: str | None = None


@dataclass(frozen=True)
class EmrEngine:
    cluster_id: str
    region: str
    aws_conn_id: str = "aws_default"
    deferrable: bool = True
    poke_interval_s: int = 10


@dataclass(frozen=True)
class Watch:
    kind: str = "none"
    poke_interval_s: float = 2.0
    queue_url: str | None = None
    region: str | None = None
    aws_conn_id: str = "aws_default"
    # The input's fingerprint when the provider wrote the spec (its own run
    # covers that input): only input that differs from it is news.  None:
    # any input the published run does not cover.
    input_fingerprint: str | None = None


@dataclass(frozen=True)
class Spec:
    path: str
    pipeline: str
    dag_id: str
    engine: str
    lake: str
    input: str
    output: str
    reference: str
    stages: tuple[Stage, ...]
    local: LocalEngine | None
    emr: EmrEngine | None
    watch: Watch
    max_active_runs: int = 1
    timeout_s: int = 2 * 60 * 60
    tags: tuple[str, ...] = ()

    @property
    def input_uri(self) -> str:
        return lake_join(self.lake, self.input)

    @property
    def output_uri(self) -> str:
        return lake_join(self.lake, self.output)

    @property
    def reference_uri(self) -> str:
        return lake_join(self.lake, self.reference)


def _req(j: Mapping[str, Any], key: str, where: str, kind: type = str) -> Any:
    v = j.get(key)
    if not isinstance(v, kind) or (kind is str and not v):
        raise SpecError(f"{where}: `{key}` is required ({kind.__name__})")
    return v


def _opt(j: Mapping[str, Any], key: str, where: str, kind: type, default: Any) -> Any:
    v = j.get(key, default)
    if v is None:
        return default
    if not isinstance(v, kind) or isinstance(v, bool) is not (kind is bool):
        raise SpecError(f"{where}: `{key}` must be a {kind.__name__}")
    return v


def _str_map(j: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    v = _opt(j, key, where, dict, {})
    if not all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()):
        raise SpecError(f"{where}: `{key}` must map strings to strings")
    return dict(v)


def parse_spec(j: Any, path: str = "<spec>") -> Spec:
    """A checked Spec from a parsed JSON document."""
    if not isinstance(j, dict):
        raise SpecError(f"{path}: not a JSON object")
    if j.get("format") != SPEC_FORMAT:
        raise SpecError(f"{path}: `format` must be {SPEC_FORMAT} (this DAG factory reads format {SPEC_FORMAT} only)")
    pipeline = _req(j, "pipeline", path)
    if not _NAME.fullmatch(pipeline):
        raise SpecError(f"{path}: `pipeline` must be 1 to 64 letters, digits, '-', '_' or '.'")
    dag_id = _opt(j, "dag_id", path, str, f"sparkflow_{pipeline}")
    if not _DAG_ID.fullmatch(dag_id):
        raise SpecError(f"{path}: `dag_id` must be letters, digits, '-', '_' or '.'")
    engine = _req(j, "engine", path)
    if engine not in ENGINES:
        raise SpecError(f"{path}: `engine` must be one of {', '.join(ENGINES)}")
    stages = []
    for i, s in enumerate(_req(j, "stages", path, list)):
        where = f"{path}: stages[{i}]"
        if not isinstance(s, dict):
            raise SpecError(f"{where}: not an object")
        name = _req(s, "name", where)
        if not _NAME.fullmatch(name) or name in ("prepare", "publish", "discard"):
            raise SpecError(
                f"{where}: `name` must be 1 to 64 letters, digits, '-', '_' or '.' (not prepare/publish/discard)"
            )
        args = _opt(s, "args", where, list, [])
        if not all(isinstance(a, str) for a in args):
            raise SpecError(f"{where}: `args` must be a list of strings")
        stages.append(
            Stage(
                name,
                _req(s, "script", where),
                tuple(args),
                _str_map(s, "conf", where),
                _opt(s, "py_files", where, str, None),
            )
        )
    if not stages:
        raise SpecError(f"{path}: `stages` is empty")
    if len({s.name for s in stages}) != len(stages):
        raise SpecError(f"{path}: stage names must be unique")
    local = emr = None
    if engine == "local":
        lj = _req(j, "local", path, dict)
        w = f"{path}: local"
        local = LocalEngine(
            _req(lj, "master", w),
            _req(lj, "spark_submit", w),
            _req(lj, "python", w),
            _opt(lj, "java_home", w, str, None),
            _str_map(lj, "env", w),
            _str_map(lj, "conf", w),
            _opt(lj, "runs_dir", w, str, None),
            _opt(lj, "stage_runner", w, str, None),
        )
        if Path(local.spark_submit).name not in SPARK_SUBMITS:
            # SparkSubmitOperator runs only these names (found on PATH).
            raise SpecError(f"{w}: `spark_submit` must end in spark-submit (or spark2-/spark3-submit)")
    else:
        ej = _req(j, "emr", path, dict)
        w = f"{path}: emr"
        emr = EmrEngine(
            _req(ej, "cluster_id", w),
            _req(ej, "region", w),
            _opt(ej, "aws_conn_id", w, str, "aws_default"),
            _opt(ej, "deferrable", w, bool, True),
            _opt(ej, "poke_interval_seconds", w, int, 10),
        )
    wj = _opt(j, "watch", path, dict, {})
    w = f"{path}: watch"
    watch = Watch(
        _opt(wj, "kind", w, str, "none"),
        float(_opt(wj, "poke_interval_seconds", w, (int, float), 2.0)),  # type: ignore[arg-type]
        _opt(wj, "queue_url", w, str, None),
        _opt(wj, "region", w, str, None),
        _opt(wj, "aws_conn_id", w, str, "aws_default"),
        _opt(wj, "input_fingerprint", w, str, None),
    )
    if watch.kind not in WATCH_KINDS:
        raise SpecError(f"{w}: `kind` must be one of {', '.join(WATCH_KINDS)}")
    if watch.kind == "sqs" and not watch.queue_url:
        raise SpecError(f"{w}: `queue_url` is required for kind sqs")
    if watch.poke_interval_s <= 0:
        raise SpecError(f"{w}: `poke_interval_seconds` must be positive")
    lake = _req(j, "lake", path)
    if lake.split(":", 1)[0].lower() not in ("file", "s3"):
        raise SpecError(f"{path}: `lake` must be a file:// or s3:// URI")
    tags = _opt(j, "tags", path, list, [])
    return Spec(
        path=path,
        pipeline=pipeline,
        dag_id=dag_id,
        engine=engine,
        lake=lake,
        input=_req(j, "input", path),
        output=_req(j, "output", path),
        reference=_opt(j, "reference", path, str, "reference"),
        stages=tuple(stages),
        local=local,
        emr=emr,
        watch=watch,
        max_active_runs=_opt(j, "max_active_runs", path, int, 1),
        timeout_s=_opt(j, "timeout_seconds", path, int, 2 * 60 * 60),
        tags=tuple(str(t) for t in tags),
    )


def load_spec(path: Path) -> Spec:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SpecError(f"{path}: cannot read: {e.strerror}") from e
    try:
        j = json.loads(text)
    except ValueError as e:
        raise SpecError(f"{path}: not JSON: {e}") from e
    return parse_spec(j, str(path))


def load_specs(folder: Path) -> tuple[list[Spec], list[SpecError]]:
    """Every *.json spec in `folder` (sorted by name); the bad ones as errors."""
    specs: list[Spec] = []
    errors: list[SpecError] = []
    seen: dict[str, str] = {}
    for p in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            spec = load_spec(p)
        except SpecError as e:
            errors.append(e)
            continue
        if spec.dag_id in seen:
            errors.append(SpecError(f"{p}: dag_id {spec.dag_id} is already used by {seen[spec.dag_id]}"))
            continue
        seen[spec.dag_id] = str(p)
        specs.append(spec)
    return specs, errors


# ---- the job contract -------------------------------------------------------------------------


def metrics_uri(work_uri: str, stage: str) -> str:
    """Where a stage writes its metrics: inside the run (hidden from Spark by the '_')."""
    return f"{work_uri.rstrip('/')}/_sparkflow/metrics/{stage}.json"


def stage_args(spec: Spec, stage: Stage, work_uri: str) -> list[str]:
    """The arguments after the script: --input, --work, --reference, --metrics, then the stage's own."""
    return [
        "--input",
        spec.input_uri,
        "--work",
        work_uri,
        "--reference",
        spec.reference_uri,
        "--metrics",
        metrics_uri(work_uri, stage.name),
        *stage.args,
    ]


def app_name(spec: Spec, stage: Stage, run_id: str) -> str:
    return f"{spec.pipeline}-{stage.name}-{run_id}"


def conf_pairs(stage: Stage) -> list[str]:
    return [f"{k}={v}" for k, v in sorted(stage.conf.items())]


def emr_step(spec: Spec, st: Stage, run_id: str, work_uri: str) -> dict[str, Any]:
    """The command-runner.jar step of a stage, as engines/emr/steps.c builds it."""
    args = ["spark-submit", "--deploy-mode", "cluster", "--name", app_name(spec, st, run_id)]
    for c in conf_pairs(st):
        args += ["--conf", c]
    if st.py_files:
        args += ["--py-files", st.py_files]
    args += [st.script, *stage_args(spec, st, work_uri)]
    return {
        "Name": f"sparkflow {spec.pipeline} {run_id} {st.name}",
        "ActionOnFailure": "CANCEL_AND_WAIT",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": args},
    }


# ---- the pipeline fingerprint (resources/pipeline.c) --------------------------------------------


def _hash_str(md: Any, label: str, s: str | None) -> None:
    md.update(label.encode() + b"\0")
    md.update(s.encode() + b"\0" if s is not None else b"\xff")


def read_script(script: str, s3_client: Callable[[], Any] | None = None) -> bytes:
    """A stage script's bytes: a local path, file:// URI or s3:// URI."""
    if script.startswith("s3://"):
        bucket, _, key = script[5:].partition("/")
        client = s3_client() if s3_client else importlib.import_module("boto3").client("s3")
        body: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body
    return Path(script[7:] if script.startswith("file://") else script).read_bytes()


def pipeline_fingerprint(spec: Spec, lake: Lake, s3_client: Callable[[], Any] | None = None) -> str:
    """sha256 over locations, each stage (name, script bytes, args, conf) and
    the input and reference fingerprints: what `sparkflow_pipeline` records."""
    md = hashlib.sha256()
    for key, value in (
        ("lake", spec.lake),
        ("input", spec.input),
        ("output", spec.output),
        ("reference", spec.reference),
    ):
        _hash_str(md, key, value)
    for st in spec.stages:
        _hash_str(md, "stage", st.name)
        md.update(read_script(st.script, s3_client))
        _hash_str(md, "args", None)
        for a in st.args:
            _hash_str(md, "", a)
        _hash_str(md, "spark_conf", None)
        for k, v in sorted(st.conf.items(), key=lambda kv: kv[0].encode()):
            _hash_str(md, k, v)
    _hash_str(md, "input", lake.fingerprint(spec.input_uri)[0])
    _hash_str(md, "reference", lake.fingerprint(spec.reference_uri)[0])
    return "sha256:" + md.hexdigest()
