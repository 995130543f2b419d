"""airflow_env — what the DAG tests run: Airflow from .venv-airflow and a
Spark standalone cluster from the main venv's pyspark, both real.

  AirflowHome    a throw-away AIRFLOW_HOME (SQLite, no examples, the DAG
                 folder dags/airflow, specs from its own folder): `airflow db
                 migrate` once, then `airflow dags test` per run; task states
                 and XComs are read from its SQLite database.
  SparkCluster   one master and one worker on 127.0.0.1 (ports chosen by
                 Spark), each in its own process group, stopped with it.

Nothing listens beyond loopback; everything started is stopped by its
process group.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags" / "airflow"
FIXTURES = ROOT / "tests" / "fixtures"
# The factory's package: its lake and spec modules need no Airflow.
if str(DAGS) not in sys.path:
    sys.path.insert(0, str(DAGS))
AIRFLOW_VENV = ROOT / ".venv-airflow"
AIRFLOW = AIRFLOW_VENV / "bin" / "airflow"
SPARK_VENV = ROOT / ".venv"
PYSPARK = SPARK_VENV / "lib" / "python3.11" / "site-packages" / "pyspark"
SPARK_SUBMIT = PYSPARK / "bin" / "spark-submit"
PYTHON = SPARK_VENV / "bin" / "python"
# JVM options of the test cluster's daemons, drivers and executors: the
# local engine's (lean, and Spark's class archive when bootstrap made one).
if str(ROOT / "tests" / "e2e") not in sys.path:
    sys.path.append(str(ROOT / "tests" / "e2e"))
from tfharness import spark_jvm_opts  # noqa: E402

QUICK_JVM = spark_jvm_opts()
# Small, quick Spark applications (as tests/e2e's FAST_CONF).
FAST_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "1",
    "spark.driver.extraJavaOptions": QUICK_JVM,
    "spark.executor.extraJavaOptions": QUICK_JVM,
    "spark.executor.memory": "512m",
}


def _stop_group(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """TERM the process group, then KILL what is left."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            # the leader is gone; others of the group may not be
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            pass


@dataclass
class RunResult:
    rc: int
    output: str
    run_id: str | None
    states: dict[str, str]
    xcom: dict[str, Any]

    def describe(self) -> str:
        """States, then each task's traceback (what a failed assertion should show)."""
        tracebacks = re.findall(r"Traceback \(most recent call last\):\n.*?\n(?=\S+Z \[)", self.output, re.DOTALL)
        return (
            f"rc={self.rc} run={self.run_id} states={self.states}\n"
            + "\n".join(t[-3000:] for t in tracebacks)
            + "\n--- tail ---\n"
            + self.output[-2000:]
        )


class AirflowHome:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.specs = home / "specs"
        self.specs.mkdir(parents=True, exist_ok=True)
        self.db = home / "airflow.db"
        self.extra_env: dict[str, str] = {}

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.db}",
                "AIRFLOW__CORE__PARALLELISM": "2",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "SPARKFLOW_SPECS_DIR": str(self.specs),
                "PYTHONPATH": str(DAGS),
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def airflow(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(AIRFLOW), *args],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )

    def migrate(self) -> None:
        p = self.airflow("db", "migrate")
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]

    def write_spec(self, spec: dict[str, Any]) -> Path:
        path = self.specs / f"{spec['pipeline']}.json"
        path.write_text(json.dumps(spec, indent=1))
        return path

    def dags_test(self, dag_id: str, conf: dict[str, Any] | None = None, timeout: float = 600) -> RunResult:
        args = ["dags", "test", dag_id]
        if conf is not None:
            args += ["--conf", json.dumps(conf)]
        p = self.airflow(*args, timeout=timeout)
        run_id, states, xcom = self._last_run(dag_id)
        return RunResult(p.returncode, p.stdout + p.stderr, run_id, states, xcom)

    def _last_run(self, dag_id: str) -> tuple[str | None, dict[str, str], dict[str, Any]]:
        with sqlite3.connect(self.db) as db:
            row = db.execute(
                "SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
            ).fetchone()
            if not row:
                return None, {}, {}
            run_id = row[0]
            states = dict(
                db.execute("SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?", (dag_id, run_id))
            )
            xcom: dict[str, Any] = {}
            for task, value in db.execute(
                "SELECT task_id, value FROM xcom WHERE dag_id = ? AND run_id = ? AND key = 'return_value'",
                (dag_id, run_id),
            ):
                xcom[task] = json.loads(value) if isinstance(value, (str, bytes)) else value
        return run_id, states, xcom


class SparkCluster:
    """A standalone master and one worker (`cores` cores) on 127.0.0.1."""

    def __init__(self, workdir: Path, cores: int = 2, memory: str = "1g") -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen[Any]] = []
        self.cores, self.memory = cores, memory
        self.url = ""

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "PYSPARK_"))}
        env.update(
            {
                "SPARK_HOME": str(PYSPARK),
                "SPARK_LOCAL_IP": "127.0.0.1",
                "SPARK_LOG_DIR": str(self.dir),
                "SPARK_WORKER_DIR": str(self.dir / "work"),
                "SPARK_NO_DAEMONIZE": "1",
                "SPARK_DAEMON_JAVA_OPTS": QUICK_JVM,
                "PYSPARK_PYTHON": str(PYTHON),
            }
        )
        return env

    def _start(self, name: str, *args: str) -> tuple[subprocess.Popen[Any], Path]:
        log = self.dir / f"{name}.log"
        with open(log, "w") as out:
            p = subprocess.Popen(
                [str(PYSPARK / "bin" / "spark-class"), *args],
                env=self._env(),
                cwd=self.dir,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.procs.append(p)
        return p, log

    @staticmethod
    def _wait_for(log: Path, pattern: str, proc: subprocess.Popen[Any], timeout: float = 90) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, log.read_text(errors="replace"))
            if m:
                return m
            assert proc.poll() is None, f"{log.name} exited:\n{log.read_text()[-3000:]}"
            time.sleep(0.2)
        raise AssertionError(f"{log.name}: no {pattern!r} after {timeout}s:\n{log.read_text()[-3000:]}")

    def start(self) -> SparkCluster:
        m, mlog = self._start(
            "master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", "0", "--webui-port", "0"
        )
        self.url = self._wait_for(mlog, r"Starting Spark master at (spark://127\.0\.0\.1:\d+)", m).group(1)
        w, wlog = self._start(
            "worker",
            "org.apache.spark.deploy.worker.Worker",
            self.url,
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--webui-port",
            "0",
            "--cores",
            str(self.cores),
            "--memory",
            self.memory,
        )
        self._wait_for(wlog, r"Successfully registered with master", w)
        return self

    def stop(self) -> None:
        for p in reversed(self.procs):
            _stop_group(p)
        self.procs.clear()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveAirflow:
    """A running Airflow on an AirflowHome: api-server, scheduler, DAG
    processor and triggerer, each in its own process group, on free
    loopback ports, with a user `sparkflow` whose password is generated
    here (SimpleAuthManager's passwords file, mode 0600)."""

    COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")

    def __init__(self, home: AirflowHome) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.user = "sparkflow"
        self.password = os.urandom(12).hex()
        self.procs: dict[str, subprocess.Popen[Any]] = {}

    @property
    def env(self) -> dict[str, str]:
        pw = self.home.home / "passwords.json"
        if not pw.exists():
            pw.write_text(json.dumps({self.user: self.password}))
            pw.chmod(0o600)
        env = self.home.env
        env.update(
            {
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": f"http://localhost:{self.port}",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{self.user}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(pw),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "3",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3",
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
            }
        )
        return env

    def start(self, timeout: float = 120) -> LiveAirflow:
        env = self.env
        for name in self.COMPONENTS:
            with open(self.home.home / f"{name}.log", "w") as log:
                self.procs[name] = subprocess.Popen(
                    [str(AIRFLOW), *name.split()],
                    env=env,
                    cwd=self.home.home,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
        import urllib.request

        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            for name, p in self.procs.items():
                assert p.poll() is None, f"{name} exited:\n" + (self.home.home / f"{name}.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(self.url + "/api/v2/monitor/health", timeout=2) as r:
                    last = r.read().decode()
                    health = json.loads(last)
                    if all(v.get("status") == "healthy" for v in health.values() if isinstance(v, dict)):
                        return self
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"Airflow not healthy after {timeout}s: {last}")

    def stop(self) -> None:
        for p in self.procs.values():
            _stop_group(p)
        self.procs.clear()
