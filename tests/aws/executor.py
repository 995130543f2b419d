"""executor — a test-only EMR step runner for moto.

moto's EMR accepts steps but never runs them (they stay PENDING/RUNNING
forever).  StepExecutor is a thread in the test process (where the
ThreadedMotoServer runs, so moto's backend objects are reachable) that plays
the part of the EMR master node:

  * polls every EMR backend (every account, every region) for steps that
    are PENDING/STARTING/RUNNING and that it has not run yet, oldest first,
    one step per cluster at a time (EMR's default StepConcurrencyLevel 1);
  * marks the step RUNNING (cluster RUNNING), then runs it: only
    `command-runner.jar` steps whose Args start with `spark-submit` are
    supported.  The spark-submit options are rewritten for this machine
    (`--master local[2]`, small driver memory, no YARN/deploy-mode options);
    the script, --py-files/--files and every s3:// / s3a:// URI in the
    arguments are copied from moto's S3 to a temp dir and the arguments are
    rewritten to the local paths;
  * after the run, every file the job created, changed or deleted under
    those local copies is written back to (or deleted from) moto's S3 under
    the same keys (Spark's .crc side files excepted) — the `--work` tables
    and the `--metrics` JSON included; stdout/stderr go to the cluster's
    log_uri like EMR's step logs (<log_uri>/<cluster>/steps/<step>/std*.gz);
  * marks the step COMPLETED (exit 0) or FAILED with
    Status.FailureDetails{Reason, Message, LogFile}, then applies the
    step's ActionOnFailure (CANCEL_AND_WAIT / TERMINATE_CLUSTER cancel the
    steps after it; TERMINATE_CLUSTER also terminates the cluster) and, when
    no step is left, puts the cluster back to WAITING or terminates it when
    it was created with KeepJobFlowAliveWhenNoSteps false;
  * CancelSteps (which moto 5.2 does not implement: install_moto_patches()
    adds it) moves a pending step to CANCELLED and a running one to
    CANCEL_PENDING; the executor then stops the spark-submit process group
    and marks it CANCELLED.  A cluster terminated while a step runs stops the
    step too (INTERRUPTED; pending steps CANCELLED).

Test hooks: `gate` (a threading.Event; while cleared, a started step stays
RUNNING without running anything — a step that takes as long as the test
wants, at no CPU cost), `min_running_s` (a step is reported RUNNING at
least that long), `fail_next(n, message)`.  Every step run is recorded in
`executor.records` with the monotonic time it was marked RUNNING and
COMPLETED/FAILED (to measure how fast a client notices).
"""

from __future__ import annotations

import datetime as _dt
import gzip
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv"

ACTIVE_STATES = ("PENDING", "STARTING", "RUNNING", "CANCEL_PENDING")
TERMINAL_STATES = ("COMPLETED", "CANCELLED", "FAILED", "INTERRUPTED")

# spark-submit options that take a value (everything else starting with --
# before the primary resource is a flag).
_VALUE_OPTS = {
    "--master",
    "--deploy-mode",
    "--class",
    "--name",
    "--jars",
    "--packages",
    "--exclude-packages",
    "--repositories",
    "--py-files",
    "--files",
    "--archives",
    "--conf",
    "-c",
    "--properties-file",
    "--driver-memory",
    "--driver-java-options",
    "--driver-library-path",
    "--driver-class-path",
    "--executor-memory",
    "--proxy-user",
    "--driver-cores",
    "--total-executor-cores",
    "--executor-cores",
    "--num-executors",
    "--principal",
    "--keytab",
    "--queue",
}
# options dropped: this machine decides where and how big
_DROP_OPTS = {
    "--master",
    "--deploy-mode",
    "--driver-memory",
    "--executor-memory",
    "--num-executors",
    "--executor-cores",
    "--total-executor-cores",
    "--queue",
    "--driver-cores",
    "--principal",
    "--keytab",
    "--proxy-user",
    "--properties-file",
}
_DROP_CONF = re.compile(
    r"^(spark\.yarn\.|spark\.submit\.deployMode|spark\.master|spark\.driver\.memory"
    r"|spark\.executor\.(memory|instances|cores)|spark\.dynamicAllocation\.)"
)
_S3_URI = re.compile(r"\bs3[an]?://([a-z0-9][a-z0-9.\-]{1,62})(/[^\s,]*)?")

# The driver's JVM options: the local engine's (lean, and Spark's class
# archive when bootstrap made one), so that a step starts as fast as a local
# stage does.
if str(ROOT / "tests" / "e2e") not in sys.path:
    sys.path.append(str(ROOT / "tests" / "e2e"))
from tfharness import spark_jvm_opts  # noqa: E402

QUICK_JVM = spark_jvm_opts()


def now_utc():
    return _dt.datetime.now(_dt.UTC)


@dataclass
class StepRecord:
    cluster_id: str
    step_id: str
    name: str
    args: list
    account: str
    region: str
    local_argv: list = field(default_factory=list)
    t_running: float | None = None  # monotonic: marked RUNNING
    t_done: float | None = None  # monotonic: marked terminal
    state: str = "PENDING"
    returncode: int | None = None
    log: str = ""  # local combined stdout+stderr
    uploaded: list = field(default_factory=list)
    deleted: list = field(default_factory=list)
    failure: dict | None = None


# ---------------------------------------------------------------------------
# moto patches: steps start PENDING, FailureDetails, CancelSteps
# ---------------------------------------------------------------------------

_PATCHED = False
_registry_lock = threading.RLock()
_started: set = set()  # step ids the executor has actually started
# Cluster boot: moto makes a cluster WAITING inside RunJobFlow.  With
# BOOT["seconds"] > 0 a new cluster stays STARTING that long (as EMR's take
# minutes), then the executor finishes its boot (WAITING, or TERMINATED for a
# cluster with no steps that is not kept alive).
BOOT = {"seconds": 0.0}
_booting: dict = {}  # cluster id -> (cluster, monotonic time it is due)


def install_moto_patches() -> None:
    """Make moto's EMR behave like EMR where the tests depend on it:
    - every new step is PENDING (moto makes the first one RUNNING at once);
    - Status.FailureDetails is returned for failed steps;
    - CancelSteps exists (moto 5.2 answers it with an error);
    - a step gets its StartDateTime when it runs, not in RunJobFlow."""
    global _PATCHED
    if _PATCHED:
        return
    from moto.core.responses import ActionResult
    from moto.emr import models as emr_models
    from moto.emr.responses import ElasticMapReduceResponse

    orig_add_steps = emr_models.Cluster.add_steps

    def add_steps(self, steps):
        before = getattr(self, "state", None)
        added = orig_add_steps(self, steps)
        for s in added:
            s.state = "PENDING"
        if before in ("STARTING", "BOOTSTRAPPING"):
            self.state = before
        return added

    emr_models.Cluster.add_steps = add_steps

    orig_boot = emr_models.Cluster.run_bootstrap_actions

    def run_bootstrap_actions(self):
        if BOOT["seconds"] > 0 and self.id not in _booting:
            self.state = "STARTING"
            _booting[self.id] = (self, time.monotonic() + BOOT["seconds"])
            return
        orig_boot(self)

    emr_models.Cluster.run_bootstrap_actions = run_bootstrap_actions

    # EMR gives a step a StartDateTime when it runs; moto stamps the first
    # step inside RunJobFlow, before the cluster has booted.  The executor
    # marks a step RUNNING, then calls start().
    orig_start = emr_models.Step.start

    def start(self):
        if self.state == "RUNNING":
            orig_start(self)

    emr_models.Step.start = start
    emr_models.Cluster._sf_finish_boot = orig_boot

    def status(self):
        d = {
            "State": self.state,
            "StateChangeReason": {"Message": getattr(self, "last_state_change_reason", None)},
            "Timeline": {
                "CreationDateTime": self.creation_date_time,
                "EndDateTime": self.end_date_time,
                "StartDateTime": self.start_date_time,
            },
        }
        fd = getattr(self, "failure_details", None)
        if fd:
            d["FailureDetails"] = fd
        return d

    emr_models.Step.status = property(status)

    def cancel_steps(self):
        cluster_id = self._get_param("ClusterId")
        step_ids = self._get_param("StepIds", []) or []
        cluster = self.backend.clusters.get(cluster_id)
        if cluster is None:
            from moto.emr.exceptions import ResourceNotFoundException

            raise ResourceNotFoundException(f"Cluster {cluster_id} not found")
        out = []
        by_id = {s.id: s for s in cluster.steps}
        for sid in step_ids:
            s = by_id.get(sid)
            with _registry_lock:
                if s is None:
                    out.append({"StepId": sid, "Status": "FAILED", "Reason": "step not found"})
                elif s.state in ("PENDING", "STARTING") or (s.state == "RUNNING" and sid not in _started):
                    s.state = "CANCELLED"
                    s.end_date_time = now_utc()
                    s.last_state_change_reason = "Cancelled by CancelSteps"
                    out.append({"StepId": sid, "Status": "SUBMITTED"})
                elif s.state in ("RUNNING", "CANCEL_PENDING"):
                    s.state = "CANCEL_PENDING"
                    out.append({"StepId": sid, "Status": "SUBMITTED"})
                else:
                    out.append({"StepId": sid, "Status": "FAILED", "Reason": f"step is already {s.state}"})
        return ActionResult({"CancelStepsInfoList": out})

    ElasticMapReduceResponse.cancel_steps = cancel_steps

    # With signature verification on, moto crashes (500, KeyError
    # 'HTTP_AUTHORIZATION') on the calls AWS accepts unsigned.
    from moto.core.authorization import ActionAuthenticatorMixin

    orig_auth = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action

    def auth(self, resource="*"):
        if "Authorization" not in self.headers and self._get_action() in (
            "AssumeRoleWithWebIdentity",
            "AssumeRoleWithSAML",
        ):
            return
        return orig_auth(self, resource)

    ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = auth
    _PATCHED = True


def emr_clusters():
    """(account, region, cluster) of every cluster in every moto EMR backend."""
    from moto.emr.models import emr_backends

    out = []
    try:
        for account, per_region in list(dict.items(emr_backends)):
            for region, backend in list(dict.items(per_region)):
                for c in list(backend.clusters.values()):
                    if getattr(c, "state", None) is not None:  # else still being constructed
                        out.append((account, region, c))
    except RuntimeError:  # a dict changed size while a request created a backend
        return emr_clusters()
    return out


def active_clusters():
    return [c for _, _, c in emr_clusters() if c.state not in ("TERMINATED", "TERMINATED_WITH_ERRORS")]


# ---------------------------------------------------------------------------
# S3 mirror
# ---------------------------------------------------------------------------


class _Mirror:
    """Local copies of s3 prefixes for one step, and the write-back."""

    def __init__(self, s3, root: Path):
        self.s3 = s3
        self.root = root
        self.fetched: set = set()  # (bucket, prefix) already mirrored
        self.before: dict = {}  # local path -> (size, mtime_ns)

    def local(self, bucket: str, key: str) -> Path:
        return self.root / bucket / key.lstrip("/")

    def fetch(self, bucket: str, key: str) -> Path:
        """Mirror an object or every object under a prefix; returns the local path."""
        key = key.lstrip("/")
        if (bucket, key) in self.fetched:
            return self.local(bucket, key)
        self.fetched.add((bucket, key))
        exact = False
        if key and not key.endswith("/"):
            try:
                self.s3.head_object(Bucket=bucket, Key=key)
                exact = True
            except Exception:  # noqa: BLE001 - not an object: a prefix
                exact = False
        if exact:
            self._get(bucket, key)
        else:
            prefix = key.rstrip("/") + "/" if key else ""
            token = None
            while True:
                kw = {"Bucket": bucket, "Prefix": prefix}
                if token:
                    kw["ContinuationToken"] = token
                try:
                    r = self.s3.list_objects_v2(**kw)
                except Exception:  # noqa: BLE001 - no such bucket: nothing to fetch
                    break
                for o in r.get("Contents", []):
                    if not o["Key"].endswith("/"):
                        self._get(bucket, o["Key"])
                if not r.get("IsTruncated"):
                    break
                token = r.get("NextContinuationToken")
        return self.local(bucket, key)

    def _get(self, bucket, key):
        p = self.local(bucket, key)
        p.parent.mkdir(parents=True, exist_ok=True)
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        p.write_bytes(body)
        st = p.stat()
        self.before[str(p)] = (st.st_size, st.st_mtime_ns)

    def snapshot(self):
        out = {}
        for dirpath, _, files in os.walk(self.root):
            for n in files:
                p = os.path.join(dirpath, n)
                st = os.stat(p)
                out[p] = (st.st_size, st.st_mtime_ns)
        return out

    def write_back(self, rec: StepRecord):
        now = self.snapshot()
        for p, sig in sorted(now.items()):
            name = os.path.basename(p)
            if name.endswith(".crc") or name.endswith(".tmp") and name.startswith("."):
                continue
            if self.before.get(p) == sig:
                continue
            rel = Path(p).relative_to(self.root)
            bucket, key = rel.parts[0], "/".join(rel.parts[1:])
            with open(p, "rb") as f:
                self.s3.put_object(Bucket=bucket, Key=key, Body=f.read())
            rec.uploaded.append(f"s3://{bucket}/{key}")
        for p in sorted(set(self.before) - set(now)):
            rel = Path(p).relative_to(self.root)
            bucket, key = rel.parts[0], "/".join(rel.parts[1:])
            self.s3.delete_object(Bucket=bucket, Key=key)
            rec.deleted.append(f"s3://{bucket}/{key}")


# ---------------------------------------------------------------------------
# The executor
# ---------------------------------------------------------------------------


def java_home() -> str | None:
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    for c in ("/usr/lib/jvm/java-17-openjdk-amd64", "/usr/lib/jvm/java-17-openjdk-arm64"):
        if os.path.isfile(os.path.join(c, "bin", "java")):
            return c
    return None


def spark_submit() -> str:
    p = VENV / "bin" / "spark-submit"
    if p.exists():
        return str(p)
    import pyspark

    return os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit")


class StepExecutor:
    def __init__(
        self,
        s3_factory,
        workdir: Path,
        poll_s: float = 0.1,
        master: str = "local[2]",
        driver_memory: str = "512m",
        nice: int = 10,
        step_timeout_s: float = 900,
    ):
        """s3_factory(): a boto3 S3 client talking to moto directly (not
        through the fault proxy)."""
        install_moto_patches()
        self._s3_factory = s3_factory
        self.s3 = None  # a fresh client per step (the test may change credentials)
        self.workdir = Path(workdir)
        self.poll_s = poll_s
        self.master = master
        self.driver_memory = driver_memory
        self.nice = nice
        self.step_timeout_s = step_timeout_s
        self.records: dict[str, StepRecord] = {}
        self.errors: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.min_running_s = 0.0
        self._fail_next: list = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self.seen_running = threading.Event()  # set whenever a step is marked RUNNING

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> StepExecutor:
        self._thread = threading.Thread(target=self._loop, name="emr-step-executor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.gate.set()
        p = self._proc
        if p and p.poll() is None:
            _kill_group(p)
        if self._thread:
            self._thread.join(60)

    def fail_next(self, n: int = 1, message: str = "injected step failure") -> None:
        """The next n steps fail (exit 1) without running anything."""
        with self._lock:
            self._fail_next += [message] * n

    # -- reading ------------------------------------------------------------------
    def wait_idle(self, timeout: float = 120) -> bool:
        """True once no step is pending or running anywhere."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._runnable() and self._proc is None:
                return True
            time.sleep(0.1)
        return False

    def done(self, state: str | None = None) -> list[StepRecord]:
        return [r for r in self.records.values() if r.t_done is not None and (state is None or r.state == state)]

    # -- the loop -------------------------------------------------------------------
    def _runnable(self):
        """(account, region, cluster, step) of the oldest not-yet-run step of
        each cluster that has no step running."""
        out = []
        for account, region, c in emr_clusters():
            if c.state in ("TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"):
                self._cancel_leftovers(c, "the cluster was terminated")
                continue
            if c.state in ("STARTING", "BOOTSTRAPPING"):
                continue
            steps = sorted(list(c.steps), key=lambda s: s.creation_date_time)
            for s in steps:
                if s.state in ACTIVE_STATES and s.id not in self.records:
                    out.append((account, region, c, s))
                    break
        return out

    def _boot(self):
        now = time.monotonic()
        for cid, (c, due) in list(_booting.items()):
            if c.state != "STARTING":
                _booting.pop(cid, None)
            elif now >= due:
                _booting.pop(cid, None)
                c._sf_finish_boot()
                if c.state == "WAITING" and any(s.state in ACTIVE_STATES for s in c.steps):
                    c.state = "RUNNING"

    def _loop(self):
        while not self._stop.is_set():
            try:
                self._boot()
                todo = self._runnable()
                if todo:
                    self._run(*todo[0])
                    continue
            except Exception as e:  # noqa: BLE001 - keep running; the test reads errors
                import traceback

                self.errors.append(traceback.format_exc())
                print(f"step executor error: {e}", file=sys.stderr)
            self._stop.wait(self.poll_s)

    def _cancel_leftovers(self, cluster, why):
        for s in cluster.steps:
            if s.state in ("PENDING", "STARTING") or (s.state == "RUNNING" and s.id not in _started):
                s.state = "CANCELLED"
                s.end_date_time = now_utc()
                s.last_state_change_reason = why

    def _finish(self, cluster, step, rec: StepRecord, state: str, failure: dict | None = None):
        with _registry_lock:
            step.state = state
            step.end_date_time = now_utc()
            if failure:
                step.failure_details = failure
                rec.failure = failure
            rec.state = state
            rec.t_done = time.monotonic()
            _started.discard(step.id)
        if state in ("FAILED", "CANCELLED", "INTERRUPTED") and state == "FAILED":
            aof = (step.action_on_failure or "").upper()
            if aof in ("CANCEL_AND_WAIT", "TERMINATE_CLUSTER", "TERMINATE_JOB_FLOW"):
                self._cancel_leftovers(cluster, f"step {step.id} failed (ActionOnFailure {aof})")
            if aof in ("TERMINATE_CLUSTER", "TERMINATE_JOB_FLOW"):
                cluster.terminate()
                return
        if cluster.state in ("TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"):
            return
        if not any(s.state in ACTIVE_STATES for s in cluster.steps):
            if getattr(cluster, "keep_job_flow_alive_when_no_steps", True) is False:
                cluster.terminate()
            else:
                cluster.state = "WAITING"

    def _run(self, account, region, cluster, step):
        rec = StepRecord(
            cluster_id=cluster.id, step_id=step.id, name=step.name, args=list(step.args), account=account, region=region
        )
        self.s3 = self._s3_factory()
        self.records[step.id] = rec
        with _registry_lock:
            if step.state not in ("PENDING", "STARTING", "RUNNING"):
                rec.state = step.state
                rec.t_done = time.monotonic()
                return
            _started.add(step.id)
            step.state = "RUNNING"
            step.start()
            cluster.state = "RUNNING"
        rec.t_running = time.monotonic()
        rec.state = "RUNNING"
        self.seen_running.set()
        tmp = Path(tempfile.mkdtemp(prefix=f"{step.id}-", dir=self.workdir))
        try:
            self._execute(cluster, step, rec, tmp)
        except Exception as e:  # noqa: BLE001 - the step fails, the executor goes on
            import traceback

            rec.log += "\n" + traceback.format_exc()
            self._finish(
                cluster, step, rec, "FAILED", {"Reason": "Unknown Error.", "Message": f"step executor: {e}"[:1000]}
            )
        finally:
            if os.environ.get("SF_AWS_KEEP_STEPS") != "1":
                shutil.rmtree(tmp, ignore_errors=True)

    def _interrupted(self, cluster, step):
        """None, or the terminal state a cancel/termination asks for."""
        if step.state == "CANCEL_PENDING":
            return "CANCELLED"
        if cluster.state in ("TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"):
            return "INTERRUPTED"
        if self._stop.is_set():
            return "INTERRUPTED"
        return None

    def _execute(self, cluster, step, rec: StepRecord, tmp: Path):
        t0 = time.monotonic()
        # the test's gate: stay RUNNING, doing nothing, until opened
        while not self.gate.is_set():
            why = self._interrupted(cluster, step)
            if why:
                self._finish(cluster, step, rec, why)
                return
            self.gate.wait(0.1)
        with self._lock:
            injected = self._fail_next.pop(0) if self._fail_next else None
        if injected is not None:
            rec.returncode = 1
            self._hold(cluster, step, t0)
            self._finish(
                cluster,
                step,
                rec,
                "FAILED",
                {"Reason": "Unknown Error.", "Message": injected, "LogFile": self._log_uri(cluster, step, "stderr.gz")},
            )
            return
        jar = (step.jar or "").strip()
        args = list(step.args or [])
        if not (jar.endswith("command-runner.jar") and args and args[0] == "spark-submit"):
            self._finish(
                cluster,
                step,
                rec,
                "FAILED",
                {
                    "Reason": "Unsupported step",
                    "Message": f"the test executor runs command-runner.jar spark-submit steps only "
                    f"(jar {jar!r}, args {args[:3]!r})",
                },
            )
            return
        mirror = _Mirror(self.s3, tmp / "s3")
        argv = self._local_argv(args[1:], mirror, tmp)
        rec.local_argv = argv
        mirror.before = mirror.snapshot()
        logpath = tmp / "step.log"
        env = dict(os.environ)
        for k in list(env):
            if k.startswith(("AWS_", "SPARKFLOW_AWS")):
                del env[k]
        if java_home():
            env["JAVA_HOME"] = java_home()
        env["PYSPARK_PYTHON"] = str(VENV / "bin" / "python")
        env["SPARK_LOCAL_IP"] = "127.0.0.1"
        with open(logpath, "wb") as logf:
            proc = subprocess.Popen(
                argv,
                cwd=tmp,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=(lambda: os.nice(self.nice)) if self.nice else None,
            )
            self._proc = proc
            why = None
            try:
                while proc.poll() is None:
                    why = self._interrupted(cluster, step)
                    if why or time.monotonic() - t0 > self.step_timeout_s:
                        why = why or "FAILED"
                        _kill_group(proc)
                        break
                    time.sleep(0.1)
                proc.wait()
            finally:
                self._proc = None
        rec.returncode = proc.returncode
        rec.log = logpath.read_text(errors="replace")
        self._upload_logs(cluster, step, rec)
        if why in ("CANCELLED", "INTERRUPTED"):
            self._finish(cluster, step, rec, why)
            return
        mirror.write_back(rec)
        if why == "FAILED":
            self._finish(
                cluster,
                step,
                rec,
                "FAILED",
                {
                    "Reason": "Step timed out",
                    "Message": f"ran longer than {self.step_timeout_s}s",
                    "LogFile": self._log_uri(cluster, step, "stderr.gz"),
                },
            )
            return
        self._hold(cluster, step, t0)
        if proc.returncode == 0:
            self._finish(cluster, step, rec, "COMPLETED")
        else:
            failed = [ln for ln in rec.log.splitlines() if "FAILED" in ln]
            msg = failed[-1] if failed else f"Step failed with exitCode {proc.returncode}."
            self._finish(
                cluster,
                step,
                rec,
                "FAILED",
                {
                    "Reason": "Unknown Error.",
                    "Message": msg[:1000],
                    "LogFile": self._log_uri(cluster, step, "stderr.gz"),
                },
            )

    def _hold(self, cluster, step, t0):
        while time.monotonic() - t0 < self.min_running_s and not self._interrupted(cluster, step):
            time.sleep(0.05)

    # -- argv -----------------------------------------------------------------------
    def _rewrite(self, text: str, mirror: _Mirror) -> str:
        def sub(m):
            bucket, key = m.group(1), (m.group(2) or "/")
            return str(mirror.fetch(bucket, key))

        return _S3_URI.sub(sub, text)

    def _local_argv(self, args: list, mirror: _Mirror, tmp: Path) -> list:
        opts, i = [], 0
        while i < len(args) and args[i].startswith("-"):
            a = args[i]
            name, eq, inline = a.partition("=")
            if name in _VALUE_OPTS:
                if eq:
                    val = inline
                    i += 1
                else:
                    val = args[i + 1] if i + 1 < len(args) else ""
                    i += 2
                if name in _DROP_OPTS:
                    continue
                if name in ("--conf", "-c"):
                    if _DROP_CONF.match(val):
                        continue
                    opts += ["--conf", self._rewrite(val, mirror)]
                elif name in ("--py-files", "--files", "--archives", "--jars"):
                    opts += [name, ",".join(self._rewrite(v, mirror) for v in val.split(","))]
                else:
                    opts += [name, self._rewrite(val, mirror)]
            else:
                opts.append(a)
                i += 1
        if i >= len(args):
            raise ValueError(f"spark-submit step without a script: {args}")
        script = self._rewrite(args[i], mirror)
        app = args[i + 1 :]
        # --input without --reference: the job derives <input>/../../reference
        if "--reference" not in app and "--input" in app:
            k = app.index("--input")
            if k + 1 < len(app):
                m = _S3_URI.match(app[k + 1])
                if m:
                    parts = [p for p in (m.group(2) or "").split("/") if p]
                    if len(parts) >= 2:
                        mirror.fetch(m.group(1), "/".join(parts[:-2] + ["reference"]))
        app = [self._rewrite(a, mirror) for a in app]
        # the job's metrics file is written by the job: its folder must exist
        for k, a in enumerate(app[:-1]):
            if a == "--metrics":
                os.makedirs(os.path.dirname(app[k + 1]) or ".", exist_ok=True)
        base = [
            spark_submit(),
            "--master",
            self.master,
            "--driver-memory",
            self.driver_memory,
            "--conf",
            "spark.ui.enabled=false",
            "--conf",
            "spark.ui.showConsoleProgress=false",
            "--conf",
            f"spark.driver.extraJavaOptions={QUICK_JVM}",
            "--conf",
            "spark.sql.shuffle.partitions=2",
            "--conf",
            "spark.driver.host=127.0.0.1",
            "--conf",
            f"spark.pyspark.python={VENV / 'bin' / 'python'}",
        ]
        return base + opts + [script] + app

    # -- logs -------------------------------------------------------------------------
    def _log_uri(self, cluster, step, name):
        base = getattr(cluster, "log_uri", None)
        if not base:
            return None
        return f"{base.rstrip('/')}/{cluster.id}/steps/{step.id}/{name}"

    def _upload_logs(self, cluster, step, rec):
        uri = self._log_uri(cluster, step, "stderr.gz")
        if not uri:
            return
        m = _S3_URI.match(uri)
        if not m:
            return
        bucket, key = m.group(1), (m.group(2) or "/").lstrip("/")
        try:
            for name in ("stderr.gz", "stdout.gz"):
                self.s3.put_object(
                    Bucket=bucket, Key=key.rsplit("/", 1)[0] + "/" + name, Body=gzip.compress(rec.log.encode())
                )
        except Exception as e:  # noqa: BLE001 - no log bucket: EMR would also just not have logs
            rec.log += f"\n(step executor: could not upload logs to {uri}: {e})"


def _kill_group(proc: subprocess.Popen, grace: float = 5):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except OSError:
        return
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
