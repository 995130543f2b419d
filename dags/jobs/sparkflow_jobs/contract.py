"""The contract between the SparkFlow provider and every job.

The provider runs each stage as

    spark-submit --master <url> <script> <standard args> <user args>

and, once the job has exited 0, reads back the metrics file.  This module is
the one place that knows that contract:

  --input <uri>      raw zone of the pipeline (validate reads it)
  --work <uri>       this run's staging root; every table goes to <work>/<table>
  --reference <uri>  reference data (accounts.csv, rules.csv, budgets.csv);
                     default: <input>/../../reference
  --metrics <path>   LOCAL file the job writes its metrics JSON to (flat object
                     of numbers; optional when a job is run by hand)

plus per-job user arguments.  Exit codes: 0 success, 2 bad arguments, bad
input or a data-quality gate, 1 anything unexpected.  Every run prints one
summary line on stdout starting with the job's name.

Data always moves through Spark readers/writers or the Hadoop FileSystem API,
so any Hadoop URI works (file:// here, s3a:// on EMR).  Only the metrics file
is written with plain Python, because it is local by contract.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import posixpath
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

if TYPE_CHECKING:  # pyspark is imported when a session is made (spark_session)
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StructType

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2

# Runtime SQL settings applied unless the submitter set them: few shuffle
# partitions for household-sized data on a small machine, and the JVM's own
# case mapping for upper()/lower() (Spark 4 otherwise loads ICU, seconds of
# start-up for identical results on the Latin scripts bank exports use).
SMALL_DATA_DEFAULTS = {
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.icu.caseMappings.enabled": "false",
}


class JobError(Exception):
    """A failure the user can act on (bad input, bad reference, gate).

    The message is printed as is; `metrics`, when given, is still written so
    the counts that led to the failure can be inspected.
    """

    def __init__(self, message: str, metrics: Mapping[str, float] | None = None) -> None:
        super().__init__(message)
        self.metrics = metrics


# --------------------------------------------------------------------------
# URIs
# --------------------------------------------------------------------------


def join_uri(base: str, *parts: str) -> str:
    """Append path parts to a URI or path with exactly one '/' between them."""
    out = base.rstrip("/")
    for part in parts:
        out += "/" + part.strip("/")
    return out


def default_reference_uri(input_uri: str) -> str:
    """<input>/../../reference, e.g. file:///lake/raw/transactions ->
    file:///lake/reference.  Raises JobError when the input path is too
    short to have a grandparent folder."""
    if "://" in input_uri:
        scheme, rest = input_uri.split("://", 1)
        authority, _, path = rest.partition("/")
        prefix, path = f"{scheme}://{authority}", "/" + path
    elif input_uri.startswith("file:"):
        prefix, path = "file:", input_uri[len("file:") :]
    else:
        prefix, path = "", input_uri
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2:
        raise JobError(
            f"cannot derive the reference folder from --input {input_uri!r} "
            "(it needs two parent folders: <lake>/raw/<dataset>); pass --reference"
        )
    parent = "/".join(parts[:-2])
    lead = "/" if path.startswith("/") else ""
    ref = lead + (parent + "/" if parent else "") + "reference"
    return prefix + ref


def local_path(uri: str) -> str | None:
    """The local filesystem path of a file:// URI or plain path, else None."""
    sp = urlsplit(uri)
    if sp.scheme == "file":
        return sp.path
    return uri if sp.scheme == "" else None


# --------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------


def iso_date(text: str) -> _dt.date:
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # exit code 2 with a one-line reason
        self.print_usage(sys.stderr)
        print(f"{self.prog}: FAILED: bad arguments: {message}", file=sys.stderr)
        print(f"{self.prog}: FAILED: bad arguments: {message}")
        sys.exit(EXIT_BAD_INPUT)


def parser(job_name: str, description: str, needs_input: bool) -> argparse.ArgumentParser:
    """An ArgumentParser with the standard arguments; add user args to it."""
    p = _Parser(prog=job_name, description=description)
    std = p.add_argument_group("standard arguments (passed by the provider)")
    std.add_argument(
        "--input",
        required=needs_input,
        metavar="URI",
        help="raw zone of the pipeline, e.g. file:///lake/raw/transactions",
    )
    std.add_argument(
        "--work", required=True, metavar="URI", help="staging root of this run; tables go to <work>/<table>"
    )
    std.add_argument("--reference", metavar="URI", help="reference data folder (default: <input>/../../reference)")
    std.add_argument("--metrics", metavar="PATH", help="local file to write the metrics JSON to")
    return p


def resolve_reference(args: argparse.Namespace) -> str:
    reference: str | None = args.reference
    input_uri: str | None = args.input
    if reference:
        return reference.rstrip("/")
    if not input_uri:
        raise JobError("--reference is required when --input is not given")
    return default_reference_uri(input_uri)


# --------------------------------------------------------------------------
# Spark
# --------------------------------------------------------------------------


def spark_session(app_name: str) -> SparkSession:
    """The job's SparkSession, tuned for a small (2-core) machine unless the
    submitter configured otherwise.  The master comes from spark-submit
    (--master); run with plain `python` it defaults to local[*]."""
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName(app_name).config("spark.ui.showConsoleProgress", "false").getOrCreate()
    conf = spark.sparkContext.getConf()
    for key, value in SMALL_DATA_DEFAULTS.items():
        if not conf.contains(key):
            spark.conf.set(key, value)
    spark.sparkContext.setLogLevel(os.environ.get("SPARKFLOW_LOG_LEVEL", "WARN"))
    return spark


def _hadoop(spark: SparkSession, uri: str) -> tuple[Any, Any, Any]:
    """The JVM view, the Hadoop FileSystem of `uri` and its Path (Py4J
    objects, untyped)."""
    jvm = spark._jvm
    if jvm is None:  # a Spark Connect session: no JVM on this side
        raise RuntimeError("the Hadoop FileSystem API needs a classic Spark session, not Spark Connect")
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return jvm, path.getFileSystem(spark._jsc.hadoopConfiguration()), path


def uri_exists(spark: SparkSession, uri: str) -> bool:
    """True when the file or folder exists (any Hadoop FileSystem)."""
    _, fs, path = _hadoop(spark, uri)
    return bool(fs.exists(path))


def read_small_file(spark: SparkSession, uri: str) -> bytes:
    """The bytes of one small file through the Hadoop FileSystem API (no Spark
    job).  Raises JobError naming the file when it does not exist."""
    jvm, fs, path = _hadoop(spark, uri)
    if not fs.exists(path):
        raise JobError(f"file not found: {uri}")
    stream = fs.open(path)
    try:
        return bytes(jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
    finally:
        stream.close()


def put_bytes(spark: SparkSession, data: bytes, uri: str, force_hadoop: bool = False) -> None:
    """Write `data` to `uri`: directly for local paths and file:// URIs,
    otherwise to a local temp file copied with the Hadoop FileSystem API (so
    s3a:// works).  `force_hadoop` takes the Hadoop route for file:// too."""
    lp = None if force_hadoop else local_path(uri)
    if lp is not None:
        os.makedirs(os.path.dirname(os.path.abspath(lp)), exist_ok=True)
        tmp = lp + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, lp)
        return
    jvm, fs, path = _hadoop(spark, uri)
    fd, tmp = tempfile.mkstemp(prefix="sparkflow-", suffix=posixpath.basename(uri))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        parent = path.getParent()
        if parent is not None:
            fs.mkdirs(parent)
        fs.copyFromLocalFile(False, True, jvm.org.apache.hadoop.fs.Path("file://" + tmp), path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


SCHEMA_FILE = "_sparkflow_schema.json"


def write_schema(spark: SparkSession, schema: StructType, table_uri: str, partition_by: Sequence[str] = ()) -> None:
    """Write the table's schema next to its Parquet files, as
    `<table_uri>/_sparkflow_schema.json`: {"format": "parquet", "partition_by":
    [...], "schema": <the StructType's JSON>} (partition columns included).
    The catalog of an s3:// lake (Glue) takes its columns from it, so they
    are the ones Spark wrote, never a list kept by hand.  Readers skip the
    file (Spark, Athena and DuckDB ignore names starting with '_').  Call it
    after the table's write (an overwrite would remove it); `schema` is the
    written DataFrame's `.schema`."""
    doc = {"format": "parquet", "partition_by": list(partition_by), "schema": schema.jsonValue()}
    put_bytes(spark, (json.dumps(doc, sort_keys=True) + "\n").encode("utf-8"), join_uri(table_uri, SCHEMA_FILE))


# --------------------------------------------------------------------------
# Metrics and the run wrapper
# --------------------------------------------------------------------------

# A job's main: (spark, parsed arguments) -> (metrics, summary line).
JobMain = Callable[["SparkSession", argparse.Namespace], tuple[Mapping[str, float], str]]


def _number(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"metric {key!r} is not a number: {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise TypeError(f"metric {key!r} is not finite: {value!r}")
    return value


def write_metrics(path: str, metrics: Mapping[str, object], spark: SparkSession | None = None) -> None:
    """Write the flat {key: number} object to `path`: a local path or
    file:// URI (atomically), or any URI the Hadoop FileSystem takes (on EMR
    the provider passes s3://...; then `spark` is needed)."""
    clean = {k: _number(k, v) for k, v in metrics.items()}
    text = json.dumps(clean, indent=1, sort_keys=True) + "\n"
    lp = local_path(path)
    if lp is None:
        if spark is None:
            raise JobError(f"cannot write metrics to {path}: no Spark session to reach it")
        put_bytes(spark, text.encode("utf-8"), path)
        return
    d = os.path.dirname(os.path.abspath(lp))
    os.makedirs(d, exist_ok=True)
    tmp = lp + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, lp)


def _short_error(exc: BaseException) -> str:
    """First meaningful line of an exception (Spark's are pages long)."""
    text = str(exc).strip() or type(exc).__name__
    first = text.splitlines()[0]
    return first[:500]


def run(
    job_name: str,
    build_parser: Callable[[], argparse.ArgumentParser],
    main: JobMain,
    argv: Sequence[str] | None = None,
    spark: SparkSession | None = None,
) -> int:
    """Parse arguments, run `main(spark, args) -> (metrics, summary)`, write
    metrics, print the summary line, and return the exit code.

    `spark` lets tests run a job in-process on a shared session (it is then
    not stopped).  Never raises: every failure becomes a message and an exit
    code."""
    t0 = time.monotonic()
    args = build_parser().parse_args(argv)
    own_session = spark is None
    try:
        if spark is None:
            spark = spark_session(f"sparkflow-{job_name}")
        result, summary = main(spark, args)
        metrics = dict(result)
        metrics["duration_ms"] = int((time.monotonic() - t0) * 1000)
        if args.metrics:
            write_metrics(args.metrics, metrics, spark)
        print(f"{job_name}: OK: {summary} in {metrics['duration_ms'] / 1000:.1f}s", flush=True)
        return EXIT_OK
    except JobError as e:
        if e.metrics is not None and args.metrics:
            m = dict(e.metrics)
            m["duration_ms"] = int((time.monotonic() - t0) * 1000)
            try:
                write_metrics(args.metrics, m, spark)
            except Exception as we:  # noqa: BLE001 - the job's own failure is the one to report
                print(f"{job_name}: could not write metrics: {_short_error(we)}", file=sys.stderr)
        _fail(job_name, str(e))
        return EXIT_BAD_INPUT
    except Exception as e:  # noqa: BLE001 - the wrapper is the last line
        msg = _short_error(e)
        kind = _classify_spark_error(msg)
        if kind:
            _fail(job_name, f"{kind}: {msg}")
            return EXIT_BAD_INPUT
        traceback.print_exc(file=sys.stderr)
        _fail(job_name, f"internal error: {type(e).__name__}: {msg}")
        return EXIT_INTERNAL
    finally:
        if own_session and spark is not None:
            try:
                spark.stop()
            except Exception:  # noqa: BLE001
                pass


def _classify_spark_error(msg: str) -> str | None:
    """Spark errors that are really the user's input, worth exit code 2."""
    for marker, kind in (
        ("PATH_NOT_FOUND", "input not found"),
        ("Path does not exist", "input not found"),
        ("UNABLE_TO_INFER_SCHEMA", "no readable data"),
        ("No FileSystem for scheme", "unsupported URI scheme"),
    ):
        if marker in msg:
            return kind
    return None


def _fail(job_name: str, message: str) -> None:
    line = f"{job_name}: FAILED: {message}"
    print(line, file=sys.stderr, flush=True)
    print(line, flush=True)


def bootstrap_main(job_name: str, build_parser: Callable[[], argparse.ArgumentParser], main: JobMain) -> NoReturn:
    """Entry point for `if __name__ == "__main__"` in a job script."""
    sys.exit(run(job_name, build_parser, main))
