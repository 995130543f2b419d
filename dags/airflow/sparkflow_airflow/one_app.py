"""The stages of a local run in one Spark application, as a direct run does.

A direct local run whose stages share their Spark settings submits the
provider's stage runner once (engines/local/run_one_app.c,
engines/local/stage_runner.py): one driver JVM, one SparkContext and one
set of executors for the run instead of one per stage.  The DAG does the
same with the same runner, which the provider writes into the cluster's
runs folder (`local.stage_runner`, `local.runs_dir` in the spec), and keeps
one task per stage, so that each stage keeps its own Airflow task (state,
times, log) as with one spark-submit per stage:

- the first stage's task writes the run's files in
  `<runs_dir>/<pipeline>/<run id>/` (the direct runs' layout: `_run.json`,
  `_events.jsonl`, `_spark.log`, `<stage>.log`) and starts the driver as
  the leader of its own session, so that it outlives this task;
- every stage's task follows the runner's events until its stage ends,
  copies the stage's own output into its task log and ends as the stage
  did (its exit code, or the driver's death during it, with the tail of
  Spark's log); the last one also waits for the driver to exit, as a
  direct run counts the application's stop into its last stage;
- stopping a task (a failed DAG run, Ctrl-C in apply) stops the driver's
  process group; and while a stage task follows the run it renews a lease
  the runner watches, so a driver whose DAG run was failed between two
  tasks stops by itself after LEASE_TIMEOUT_S.

Needs only the standard library (and Airflow for the operator).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sparkflow_airflow.spec import Spec, Stage, stage_args

POLL_S = 0.2
LEASE_EVERY_S = 1.0
# Longer than the scheduler's gap between one stage's task and the next,
# even on a busy machine.
LEASE_TIMEOUT_S = 120
LOG_TAIL_LINES = 25


class StageFailed(Exception):
    """The stage did not succeed: why, in one line."""


def usable(spec: Spec) -> bool:
    """One application for the run, as engines/local/run.c decides: the
    local engine with a runner, more than one stage, all with the same
    Spark settings, every script readable."""
    loc = spec.local
    if not loc or not loc.runs_dir or not loc.stage_runner or len(spec.stages) < 2:
        return False
    first = dict(spec.stages[0].conf)
    return all(dict(s.conf) == first and os.access(s.script, os.R_OK) for s in spec.stages)


def submit_env(spec: Spec) -> dict[str, str]:
    """The environment spark-submit runs with (the same for every stage)."""
    loc = spec.local
    assert loc is not None
    bindir = os.path.dirname(loc.spark_submit)
    return {
        "PATH": bindir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
        "SPARK_HOME": os.path.dirname(bindir),
        "PYSPARK_PYTHON": loc.python,
        "SPARK_LOCAL_IP": "127.0.0.1",
        **({"JAVA_HOME": loc.java_home} if loc.java_home else {}),
        **loc.env,
    }


def submit_conf(spec: Spec, st: Stage) -> dict[str, str]:
    """A stage's Spark settings: the engine's defaults, then its own."""
    loc = spec.local
    assert loc is not None
    return {"spark.pyspark.python": loc.python, "spark.driver.host": "127.0.0.1", **loc.conf, **st.conf}


class AppRun:
    """The files of one run in one application, and its driver."""

    def __init__(self, spec: Spec, run_id: str, work_uri: str) -> None:
        loc = spec.local
        assert loc is not None and loc.runs_dir and loc.stage_runner
        self.spec, self.run_id, self.work_uri = spec, run_id, work_uri
        self.dir = Path(loc.runs_dir) / spec.pipeline / run_id
        self.events = self.dir / "_events.jsonl"
        self.app_log = self.dir / "_spark.log"
        self.pid_file = self.dir / "_driver.pid"
        self.lease = self.dir / "_lease"

    def stage_log(self, i: int) -> Path:
        return self.dir / f"{self.spec.stages[i].name}.log"

    def _run_json(self) -> dict[str, Any]:
        return {
            "app": f"{self.spec.pipeline}-{self.run_id}",
            "events": str(self.events),
            "lease": {"path": str(self.lease), "timeout_s": LEASE_TIMEOUT_S},
            "stages": [
                {
                    "name": st.name,
                    "script": os.path.realpath(st.script),
                    "log": str(self.stage_log(i)),
                    "argv": stage_args(self.spec, st, self.work_uri),
                }
                for i, st in enumerate(self.spec.stages)
            ],
        }

    def argv(self) -> list[str]:
        loc = self.spec.local
        assert loc is not None and loc.stage_runner
        out = [loc.spark_submit, "--master", loc.master, "--name", f"{self.spec.pipeline}-{self.run_id}"]
        for k, v in submit_conf(self.spec, self.spec.stages[0]).items():
            out += ["--conf", f"{k}={v}"]
        return [*out, loc.stage_runner, str(self.dir / "_run.json")]

    def start(self) -> int:
        """Write the run's files and start the driver; its pid."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.touch_lease()
        (self.dir / "_run.json").write_text(json.dumps(self._run_json(), indent=1))
        self.events.write_text("")
        with open(self.app_log, "ab") as out:
            proc = subprocess.Popen(
                self.argv(),
                cwd=self.dir,
                env={**os.environ, **submit_env(self.spec)},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{proc.pid} {_start_time(proc.pid)}\n")
        # Reaped by a thread while this task lives; by init after.
        threading.Thread(target=proc.wait, daemon=True).start()
        return proc.pid

    def touch_lease(self) -> None:
        self.lease.touch()

    def driver(self) -> tuple[int, str] | None:
        try:
            pid, start = self.pid_file.read_text().split()
            return int(pid), start
        except (OSError, ValueError):
            return None

    def driver_alive(self) -> bool:
        d = self.driver()
        return d is not None and _start_time(d[0]) == d[1]

    def stop(self) -> None:
        """Stop the driver and everything it started (its process group)."""
        d = self.driver()
        if d and self.driver_alive():
            try:
                os.killpg(d[0], signal.SIGTERM)
            except ProcessLookupError:
                pass

    def read_events(self) -> list[Mapping[str, Any]]:
        try:
            text = self.events.read_text()
        except OSError:
            return []
        out = []
        for line in text.splitlines(keepends=True):
            if line.endswith("\n"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def stage_exit(self, i: int) -> int | None:
        for ev in self.read_events():
            if ev.get("stage") == i and ev.get("event") == "end":
                code = ev.get("exit")
                return code if isinstance(code, int) else 1
        return None

    def wait_stage(self, i: int) -> int:
        """Follow the run until stage i ends; its exit code.  StageFailed
        when the driver ended without ending it."""
        while True:
            code = self.stage_exit(i)
            if code is not None:
                return code
            if not self.driver_alive():
                code = self.stage_exit(i)  # ended just before the driver exited
                if code is not None:
                    return code
                raise StageFailed(f"the Spark application ended during stage {self.spec.stages[i].name}")
            time.sleep(POLL_S)

    def wait_exit(self) -> None:
        while self.driver_alive():
            time.sleep(POLL_S)


def _start_time(pid: int) -> str:
    """The process's start time (/proc), '' when it is gone or a zombie:
    a pid counts only with its start time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return ""
    fields = stat[stat.rindex(b")") + 2 :].split()
    return "" if fields[0] in (b"Z", b"X") else fields[19].decode()


def _tail(path: Path, lines: int) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def run_stage_task(spec: Spec, index: int, prep: Mapping[str, str], log: Any, hold: dict[str, AppRun]) -> None:
    """What the task of stage `index` does (see the module's comment).
    `hold` receives the AppRun, for the task's on_kill."""
    run = AppRun(spec, prep["run_id"], prep["work_uri"])
    hold["run"] = run
    st = spec.stages[index]
    if index == 0:
        pid = run.start()
        log.info(
            "sparkflow: %d stages in one Spark application: driver pid %d, Spark's log %s, the stages' own output in %s",
            len(spec.stages),
            pid,
            run.app_log,
            run.dir,
        )
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(LEASE_EVERY_S):
            try:
                run.touch_lease()
            except OSError:
                pass

    threading.Thread(target=renew, name="sparkflow-lease", daemon=True).start()
    try:
        run.touch_lease()
        died = None
        try:
            code = run.wait_stage(index)
        except StageFailed as e:
            code, died = None, e
        # The stage's own output says why it failed; when the application
        # died under it, Spark's log does (it goes last, in the log's tail).
        log.info("sparkflow: stage %s's output (%s):", st.name, run.stage_log(index))
        for line in _tail(run.stage_log(index), 10_000):
            log.info("%s", line)
        if died is not None:
            log.info("sparkflow: the end of Spark's log (%s):", run.app_log)
            for line in _tail(run.app_log, LOG_TAIL_LINES):
                log.info("%s", line)
            raise StageFailed(f"{died} (Spark's log: {run.app_log})")
        if code != 0:
            raise StageFailed(f"stage {st.name} exited with status {code}")
        if index == len(spec.stages) - 1:
            run.wait_exit()
    finally:
        stop.set()
