"""stage_runner.py -- several pipeline stages in one Spark application.

The local engine embeds this file in the provider and submits it once per
run when the stages share their Spark settings: each stage is a PySpark
script run as __main__ in this process, on the SparkSession this runner
made, so the run pays one driver JVM, one SparkContext and one set of
executors instead of one per stage.  A stage still sees exactly what
spark-submit would give it: its argv, its own stdout/stderr (its log
file), `getOrCreate()` returning a session, runtime SQL settings reset to
the submitted ones, no cached data or temporary views left by the stage
before.  `spark.stop()` in a stage is ignored until the run ends.

usage: spark-submit stage_runner.py RUN_JSON

RUN_JSON: {"app": name, "events": path, "stages": [{"name", "script",
"argv": [...], "log": path}, ...], "lease": {"path", "timeout_s"}}.
Progress goes to `events`, one JSON object per line: {"stage": i, "event":
"start", "ts_ms": ...} and {"stage": i, "event": "end", "exit": code,
"ts_ms": ...}.  Stages run in order; the first that exits non-zero ends the
run with its exit code.

`lease` (optional; Airflow's stage tasks, dags/airflow/sparkflow_airflow/
one_app.py): whoever follows the run touches that file while it does.
When it has not been touched for `timeout_s` seconds (the DAG run was
failed between two tasks, the Airflow host went away), nobody will read the
run's results: the runner stops its process group (the follower started it
as the leader of its own session), which ends the application.  The
provider's own runs follow their driver as its parent and pass no lease.
"""

import json
import os
import runpy
import signal
import sys
import threading
import time
import traceback


def now_ms():
    return int(time.time() * 1000)


class Events:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1, encoding="utf-8")
        self.lock = threading.Lock()  # the lease watcher emits too

    def emit(self, **event):
        event["ts_ms"] = now_ms()
        with self.lock:
            self.f.write(json.dumps(event) + "\n")
            self.f.flush()


class OutputTo:
    """Point this process's stdout and stderr (file descriptors 1 and 2,
    so native code is covered too) at a log file for the block."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        sys.stdout.flush()
        sys.stderr.flush()
        self.saved = (os.dup(1), os.dup(2))
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        return self

    def __exit__(self, *exc):
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, saved in zip((1, 2), self.saved):
            os.dup2(saved, fd)
            os.close(saved)
        return False


def exit_code(e):
    """What `python script.py` would exit with for SystemExit(e.code)."""
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code
    print(e.code, file=sys.stderr)
    return 1


def run_stage(stage):
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [stage["script"]] + list(stage["argv"])
    sys.path.insert(0, os.path.dirname(os.path.abspath(stage["script"])))
    try:
        runpy.run_path(stage["script"], run_name="__main__")
        return 0
    except SystemExit as e:
        return exit_code(e)
    except BaseException:  # noqa: BLE001 -- the stage's failure, reported as python would
        traceback.print_exc()
        return 1
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path


def tidy(spark):
    """What one stage leaves in the session must not reach the next."""
    spark.catalog.clearCache()
    for table in spark.catalog.listTables():
        if table.isTemporary:
            spark.catalog.dropTempView(table.name)
    spark.sql("RESET")


def watch_lease(lease, events):
    """Stop the run when its follower has not touched the lease for a while."""
    path, timeout_s = lease["path"], float(lease["timeout_s"])

    def loop():
        while True:
            time.sleep(1)
            try:
                age = time.time() - os.stat(path).st_mtime
            except OSError:
                age = float("inf")
            if age > timeout_s:
                events.emit(event="abandoned", lease_age_s=round(age, 1))
                os.killpg(os.getpgrp(), signal.SIGTERM)
                return

    threading.Thread(target=loop, name="sparkflow-lease", daemon=True).start()


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        run = json.load(f)
    events = Events(run["events"])
    if run.get("lease"):
        watch_lease(run["lease"], events)

    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName(run["app"]).getOrCreate()
    # A stage's stop() waits for the end of the run.
    real_stops = (SparkSession.stop, SparkContext.stop)
    SparkSession.stop = SparkContext.stop = lambda self: None
    code = 0
    try:
        for i, stage in enumerate(run["stages"]):
            events.emit(stage=i, event="start")
            with OutputTo(stage["log"]):
                code = run_stage(stage)
                # Tidying after a stage is that stage's work: its "end"
                # comes after (stage durations then cover the whole
                # application, the provider's time is only its own).
                if code == 0:
                    tidy(spark)
            events.emit(stage=i, event="end", exit=code)
            if code != 0:
                break
    finally:
        SparkSession.stop, SparkContext.stop = real_stops
        spark.stop()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
