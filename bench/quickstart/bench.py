"""bench.py -- the quickstart pipeline benchmark; bench/bench_quickstart runs it.

What the issue asks: the quickstart's `terraform apply` wall time, the sum of
the stages' own durations, and the provider's overhead (the rest, minus the
cluster start), compared in the same run with one hand-written spark-submit
of a single script doing the same three stages' work.  Targets: apply <= 60 s,
provider overhead <= 2 % of the apply's wall time.

One run of the benchmark:

  1. Generates the data set once (dags/sample_data/generate.py, seed 42) into
     a scratch directory; its manifest holds the metrics every stage must
     report, which both sides are checked against.
  2. Sets up Terraform the way the e2e tests do: a temporary HOME with the
     provider in the implied local mirror, an empty CLI config of its own
     (TF_CLI_CONFIG_FILE), CHECKPOINT_DISABLE=1, TF_IN_AUTOMATION=1.  The
     configuration is examples/quickstart/main.tf copied byte for byte next
     to a `dags` symlink, so its `../../dags/jobs` resolves to this checkout.
     `terraform init` once (not measured).
  3. RUNS times, taking turns:
     a. SparkFlow: a fresh copy of the lake; `terraform apply -json` (timed:
        wall of the whole command); `terraform show -json` for the stages'
        duration_ms and metrics; `terraform destroy` (cluster stopped, lake
        copy deleted).  Every Spark process is checked to be gone.
     b. Reference: a Spark standalone cluster of the same shape (master + 2
        workers, 1 core / 1g each, same daemon JVM options) started by hand
        with spark-class (timed separately: start -> 2 workers ALIVE), then
        ONE spark-submit of bench/quickstart/single_job.py (timed), then the
        cluster is stopped.
  4. Prints medians and the verdicts, writes bench/results/quickstart-<UTC
     timestamp>.json (every sample) and, when BENCH_JSON is set, the summary
     in bench/run's format.

Where the apply's time goes (all from Terraform's -json event timestamps and
the provider's own INFO log lines, TF_LOG_PROVIDER=INFO):

  plan phase        process start -> cluster "Creating...": Terraform start,
                    provider start-ups (Terraform starts the plugin several
                    times), schema, validate, plan (the provider fingerprints
                    the stage scripts and lists the input and reference files)
  cluster create    cluster "Creating..." -> "Creation complete": Spark/Java
                    lookup, master and worker JVM start, polling until ALIVE
  pipeline apply    pipeline "Creating..." -> "Creation complete"
    stages          sum of the stages' duration_ms (spark-submit spawn ->
                    driver exit seen; JVM start, SparkContext, executors,
                    the job itself, spark.stop and <= 25 ms of polling are
                    all inside)
    in-provider     pipeline apply - stages: fingerprint re-check, cluster
                    health check, lake stage, publish (fsync of every output
                    file), metrics parsing
  between/after     Terraform between the two resources, and after the last
                    one (state write, outputs, plugin shutdown)

  provider overhead = wall - cluster create - stages
                    = plan phase + in-provider + between/after
Only part of it is the provider's own code: Terraform's own work and its
plugin start-ups are in it too; the breakdown shows which is which.
"""

import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH_DIR)

CLUSTER_ADDR = "sparkflow_cluster.dev"
PIPELINE_ADDR = "sparkflow_pipeline.finances"
STAGES = ("validate", "process", "marts")
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
# As the provider starts its daemons (engines/local/daemons.c).
DAEMON_JAVA_OPTS = "-Dspark.port.maxRetries=0 -XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
WORKERS, WORKER_CORES, WORKER_MEMORY = 2, 1, "1g"
TARGET_APPLY_S = 30.0
TARGET_OVERHEAD_PCT = 2.0
APPLY_TIMEOUT_S = 3600
SUBMIT_TIMEOUT_S = 3600


def say(msg):
    print(msg, file=sys.stderr, flush=True)


def die(msg):
    say("bench_quickstart: error: " + msg)
    sys.exit(1)


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


def stats(xs):
    xs = [float(x) for x in xs if x is not None]
    if not xs:
        return None
    return {"n": len(xs), "median": statistics.median(xs), "min": min(xs), "max": max(xs), "samples": xs}


def ts(event):
    """Epoch seconds of a Terraform JSON event's @timestamp (microseconds)."""
    s = event["@timestamp"].replace("Z", "+00:00")
    return dt.datetime.fromisoformat(s).timestamp()


# ---------------------------------------------------------------------------
# Processes: everything started here is tracked and stopped by pid.
# ---------------------------------------------------------------------------


class Procs:
    """Process groups this benchmark started (each in its own session)."""

    def __init__(self):
        self.groups = set()

    def popen(self, argv, **kw):
        p = subprocess.Popen(argv, start_new_session=True, **kw)
        self.groups.add(p.pid)
        return p

    def stop(self, pid, grace=10.0):
        """SIGTERM the group, SIGKILL it after `grace` seconds."""
        self._signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and self._group_alive(pid):
            time.sleep(0.1)
        if self._group_alive(pid):
            self._signal(pid, signal.SIGKILL)
        self.groups.discard(pid)

    def stop_all(self):
        for pid in list(self.groups):
            self.stop(pid, grace=5.0)

    @staticmethod
    def _signal(pgid, sig):
        try:
            os.killpg(pgid, sig)
        except OSError:
            pass

    @staticmethod
    def _group_alive(pgid):
        try:
            os.killpg(pgid, 0)
        except OSError:
            return False
        # Zombies of our own children count as gone.
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            rest = stat[stat.rindex(b")") + 2 :].split()
            if int(rest[2]) == pgid and rest[0] not in (b"Z", b"X"):
                return True
        return False


def processes_under(path):
    """(pid, argv) of live processes whose HOME, cwd or argv mention `path`:
    what Terraform, the provider and Spark started for this benchmark."""
    out = []
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        pid = int(name)
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
            if stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] in (b"Z", b"X"):
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().decode(errors="replace")
        except (OSError, ValueError):
            continue
        if path in " ".join(argv) or f"HOME={path}" in env:
            out.append((pid, argv))
    return out


def kill_leftovers(path, what):
    """Stop (by pid) whatever still runs under `path`; returns a problem
    description or None."""
    left = processes_under(path)
    if not left:
        return None
    for pid, _ in left:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and processes_under(path):
        time.sleep(0.2)
    for pid, _ in processes_under(path):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return "%s: %d process(es) left running, stopped: %s" % (
        what,
        len(left),
        "; ".join("%d %s" % (p, " ".join(a)[:160]) for p, a in left),
    )


# ---------------------------------------------------------------------------
# Set-up
# ---------------------------------------------------------------------------


def provider_version():
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        m = re.search(r"project\(sparkflow VERSION ([0-9.]+)", f.read())
    if not m:
        die("no project(sparkflow VERSION ...) in CMakeLists.txt")
    return m.group(1)


def os_arch():
    machine = os.uname().machine
    return "linux_" + {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def job_python():
    """The Python the provider gives drivers and executors (run.c job_python)."""
    for var in ("SPARKFLOW_PYTHON", "PYSPARK_PYTHON"):
        if os.environ.get(var):
            return os.environ[var]
    venv = os.path.join(ROOT, ".venv", "bin", "python")
    return venv if os.access(venv, os.X_OK) else "python3"


def spark_home(python):
    if os.environ.get("SPARK_HOME") and os.access(
        os.path.join(os.environ["SPARK_HOME"], "bin", "spark-class"), os.X_OK
    ):
        return os.environ["SPARK_HOME"]
    code = "import importlib.util as u; print(list(u.find_spec('pyspark').submodule_search_locations)[0])"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True)
    home = out.stdout.strip().splitlines()[-1] if out.returncode == 0 and out.stdout.strip() else ""
    if not home or not os.access(os.path.join(home, "bin", "spark-class"), os.X_OK):
        die(f"no Spark: {python} has no pyspark with bin/spark-class and SPARK_HOME is not set")
    return home


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class Terraform:
    """The Terraform CLI in its own HOME and CLI config, the provider in the
    implied local mirror, the quickstart configuration copied verbatim."""

    def __init__(self, tf, provider, scratch, procs):
        self.tf, self.procs = tf, procs
        self.extra_env = {}  # added to every command's environment
        self.home = os.path.join(scratch, "home")
        ver = provider_version()
        plugdir = os.path.join(
            self.home, ".terraform.d", "plugins", "registry.terraform.io", "sparkflow", "sparkflow", ver, os_arch()
        )
        os.makedirs(plugdir)
        dst = os.path.join(plugdir, f"terraform-provider-sparkflow_v{ver}")
        shutil.copy2(provider, dst)
        os.chmod(dst, 0o755)
        self.cli_config = os.path.join(self.home, ".terraformrc")
        with open(self.cli_config, "w") as f:
            f.write("# bench_quickstart: no settings; the provider comes from the implied local mirror\n")
        # <scratch>/tf/examples/quickstart/main.tf with <scratch>/tf/dags -> the
        # checkout's dags/, so the unmodified file's ../../dags/jobs resolves.
        tfroot = os.path.join(scratch, "tf")
        self.dir = os.path.join(tfroot, "examples", "quickstart")
        os.makedirs(self.dir)
        os.symlink(os.path.join(ROOT, "dags"), os.path.join(tfroot, "dags"))
        shutil.copy2(os.path.join(ROOT, "examples", "quickstart", "main.tf"), self.dir)

    def env(self, log_path=None):
        env = {
            "HOME": self.home,
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "TF_CLI_CONFIG_FILE": self.cli_config,
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "LANG": os.environ.get("LANG", "C.UTF-8"),
        }
        for k in ("JAVA_HOME", "TMPDIR", "SPARK_HOME", "SPARKFLOW_PYTHON", "PYSPARK_PYTHON"):
            if os.environ.get(k):
                env[k] = os.environ[k]
        env.update(self.extra_env)
        if log_path:
            env["TF_LOG_PROVIDER"] = "INFO"
            env["TF_LOG_PATH"] = log_path
        return env

    def run(self, args, out_path, log_path=None, timeout=600):
        """Runs one command; returns (exit code, seconds, epoch start, epoch end)."""
        with open(out_path, "w") as out:
            t_epoch0 = time.time()
            t0 = time.perf_counter()
            p = self.procs.popen(
                [self.tf] + args,
                cwd=self.dir,
                env=self.env(log_path),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            try:
                rc = p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.procs._signal(p.pid, signal.SIGINT)
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    pass
                self.procs.stop(p.pid)
                p.wait()
                rc = "timeout"
            t1 = time.perf_counter()
            t_epoch1 = time.time()
        self.procs.groups.discard(p.pid)
        return rc, t1 - t0, t_epoch0, t_epoch1

    def has_resources(self):
        try:
            with open(os.path.join(self.dir, "terraform.tfstate")) as f:
                return bool(json.load(f).get("resources"))
        except (OSError, ValueError):
            return False

    def check(self, what, rc, out_path):
        if rc != 0:
            with open(out_path, errors="replace") as f:
                tail = f.read()[-6000:]
            die(f"terraform {what} failed (exit {rc}); output ({out_path}):\n{tail}")


# ---------------------------------------------------------------------------
# Checks against the generator's manifest
# ---------------------------------------------------------------------------


def expected_metrics(manifest):
    """{metric: value} every stage must report, from the manifest."""
    exp = {}
    for stage in STAGES:
        exp.update(manifest["expected"][stage])
    return exp


def compare_metrics(what, got, expected):
    """Problems (list of str) where got differs from expected."""
    bad = []
    for k, v in expected.items():
        g = got.get(k)
        if g is None:
            bad.append(f"{what}: metric {k} missing")
        elif isinstance(v, float) or isinstance(g, float):
            if abs(float(g) - float(v)) > 0.005:
                bad.append(f"{what}: {k} = {g}, expected {v}")
        elif int(g) != int(v):
            bad.append(f"{what}: {k} = {g}, expected {v}")
    return bad


def output_listing(root):
    """Relative paths of the data files of a run's outputs (Spark's own
    bookkeeping files and SparkFlow's run record left out), with row-group
    independent facts only: the set of tables, partitions and file kinds."""
    out = set()
    for d, _dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        for f in files:
            if f.startswith((".", "_")):
                continue
            kind = f.rsplit(".", 1)[-1] if "." in f else f
            if kind == "crc":
                continue
            out.add(os.path.join(rel, "*." + kind) if kind == "parquet" else os.path.join(rel, f))
    return sorted(out)


# ---------------------------------------------------------------------------
# One SparkFlow run
# ---------------------------------------------------------------------------

PROVIDER_LINE = re.compile(
    r"provider\.terraform-provider-sparkflow[^:]*: (.*): @module=sparkflow "
    r"timestamp=(\S+)"
)


def provider_events(log_path):
    """(epoch, message) of the provider's INFO lines in the Terraform log."""
    out = []
    try:
        with open(log_path, errors="replace") as f:
            for line in f:
                m = PROVIDER_LINE.search(line)
                if m:
                    t = dt.datetime.fromisoformat(m.group(2).replace("Z", "+00:00")).timestamp()
                    out.append((t, m.group(1)))
    except OSError:
        pass
    return out


def parse_apply(json_path):
    """Timestamps of the apply's events: version, per resource apply_start
    and apply_complete, and the last event."""
    events = []
    with open(json_path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    events.append(json.loads(line))
                except ValueError:
                    pass
    res = {"first": ts(events[0]) if events else None, "last": ts(events[-1]) if events else None}
    for e in events:
        addr = e.get("hook", {}).get("resource", {}).get("addr")
        if e.get("type") in ("apply_start", "apply_complete", "apply_errored") and addr:
            res[(addr, e["type"])] = ts(e)
        if e.get("type") == "version":
            res["version"] = ts(e)
    return res


def sparkflow_run(i, tf, data, scratch, manifest, tag="sparkflow"):
    rundir = os.path.join(scratch, f"{tag}-{i}")
    os.makedirs(rundir)
    lake = os.path.join(scratch, f"lake-{tag}-{i}")
    shutil.copytree(data, lake, symlinks=True)
    apply_json = os.path.join(rundir, "apply.json")
    apply_log = os.path.join(rundir, "apply.tf.log")
    load0 = loadavg()
    rc, wall, e0, e1 = tf.run(
        ["apply", "-input=false", "-no-color", "-auto-approve", "-json", "-var", f"lake_dir={lake}"],
        apply_json,
        apply_log,
        timeout=APPLY_TIMEOUT_S,
    )
    load1 = loadavg()
    tf.check("apply", rc, apply_json)
    show_out = os.path.join(rundir, "show.json")
    rc, _, _, _ = tf.run(["show", "-json", "-no-color"], show_out)
    tf.check("show", rc, show_out)
    with open(show_out) as f:
        state = json.load(f)
    values = {r["address"]: r["values"] for r in state.get("values", {}).get("root_module", {}).get("resources", [])}
    pipe, cluster = values[PIPELINE_ADDR], values[CLUSTER_ADDR]
    problems = []
    if pipe.get("status") != "succeeded":
        problems.append(f"pipeline status {pipe.get('status')!r}")
    stages = {s["name"]: s for s in pipe.get("stages") or []}
    stage_ms = {n: stages[n]["duration_ms"] if n in stages else None for n in STAGES}
    metrics = pipe.get("metrics") or {}
    problems += compare_metrics("sparkflow", metrics, expected_metrics(manifest))
    published = os.path.realpath(os.path.join(lake, "curated"))
    listing = output_listing(published)

    ev = parse_apply(apply_json)
    pev = provider_events(apply_log)
    c0, c1 = ev.get((CLUSTER_ADDR, "apply_start")), ev.get((CLUSTER_ADDR, "apply_complete"))
    p0, p1 = ev.get((PIPELINE_ADDR, "apply_start")), ev.get((PIPELINE_ADDR, "apply_complete"))
    cluster_s = c1 - c0 if c0 and c1 else None
    pipeline_s = p1 - p0 if p0 and p1 else None
    stages_s = (
        sum(v for v in stage_ms.values() if v is not None) / 1000
        if all(v is not None for v in stage_ms.values())
        else None
    )
    overhead_s = wall - cluster_s - stages_s if cluster_s is not None and stages_s is not None else None
    # The provider's own log lines split the pipeline apply further.
    run_start = next((t for t, m in pev if re.search(r"^pipeline .*: run \S+, \d+ stages", m)), None)
    first_stage = next((t for t, m in pev if re.search(r"stage \S+ started", m)), None)
    last_stage_end = max((t for t, m in pev if re.search(r"stage \S+ succeeded in", m)), default=None)
    cluster_up_ms = next(
        (int(m.group(1)) for _, msg in pev for m in [re.search(r"local cluster .* up: .*, (\d+) ms$", msg)] if m), None
    )
    breakdown = {
        "plan_phase_s": c0 - e0 if c0 else None,
        "cluster_create_s": cluster_s,
        "cluster_engine_ms": cluster_up_ms,
        "between_resources_s": p0 - c1 if p0 and c1 else None,
        "pipeline_apply_s": pipeline_s,
        "stages_sum_s": stages_s,
        "in_provider_s": pipeline_s - stages_s if pipeline_s is not None and stages_s is not None else None,
        "pipeline_before_first_stage_s": first_stage - p0 if first_stage and p0 else None,
        "pipeline_before_engine_run_s": run_start - p0 if run_start and p0 else None,
        "pipeline_after_last_stage_s": p1 - last_stage_end if p1 and last_stage_end else None,
        "after_last_resource_s": e1 - p1 if p1 else None,
    }

    destroy_out = os.path.join(rundir, "destroy.txt")
    rc, destroy_s, _, _ = tf.run(
        ["destroy", "-input=false", "-no-color", "-auto-approve", "-var", f"lake_dir={lake}"], destroy_out
    )
    tf.check("destroy", rc, destroy_out)
    time.sleep(1)
    left = kill_leftovers(tf.home, f"sparkflow run {i} after destroy")
    if left:
        problems.append(left)
    shutil.rmtree(lake, ignore_errors=True)
    return {
        "wall_s": wall,
        "stage_ms": stage_ms,
        "overhead_s": overhead_s,
        "overhead_pct": 100 * overhead_s / wall if overhead_s is not None else None,
        "breakdown": breakdown,
        "destroy_s": destroy_s,
        "cluster_created_at": cluster.get("created_at"),
        "stages": [
            {k: s.get(k) for k in ("name", "status", "started_at", "finished_at", "duration_ms")}
            for s in pipe.get("stages") or []
        ],
        "metrics": metrics,
        "outputs": listing,
        "problems": problems,
        "loadavg_before": load0,
        "loadavg_after": load1,
    }


# ---------------------------------------------------------------------------
# One reference run: a hand-started cluster, one spark-submit
# ---------------------------------------------------------------------------


class HandCluster:
    """Master + workers started with spark-class, like the provider does."""

    def __init__(self, spark, workdir, procs):
        self.spark, self.dir, self.procs = spark, workdir, procs
        self.pids = []
        os.makedirs(os.path.join(workdir, "logs"))

    def _env(self, local_dirs=None):
        env = {
            k: v
            for k, v in os.environ.items()
            if k
            not in (
                "SPARK_LOCAL_IP",
                "SPARK_LOG_DIR",
                "SPARK_DAEMON_JAVA_OPTS",
                "SPARK_LOCAL_DIRS",
                "SPARK_WORKER_DIR",
                "SPARK_PUBLIC_DNS",
            )
        }
        env.update(
            {
                "SPARK_HOME": self.spark,
                "SPARK_LOCAL_IP": "127.0.0.1",
                "SPARK_PUBLIC_DNS": "127.0.0.1",
                "SPARK_NO_DAEMONIZE": "1",
                "SPARK_LOG_DIR": os.path.join(self.dir, "logs"),
                "SPARK_DAEMON_JAVA_OPTS": DAEMON_JAVA_OPTS,
            }
        )
        if local_dirs:
            env["SPARK_LOCAL_DIRS"] = local_dirs
        return env

    def _spawn(self, argv, log, env):
        with open(os.path.join(self.dir, "logs", log), "w") as f:
            p = self.procs.popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, cwd=self.dir
            )
        self.pids.append(p.pid)
        return p

    def _status(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.webui}/json/", timeout=2) as r:
                return json.load(r)
        except (OSError, ValueError):
            return None

    def _wait(self, pred, procs, what, timeout=600):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self._status()
            if st and pred(st):
                return
            for p in procs:
                if p.poll() is not None:
                    die(f"reference cluster: {what}: a daemon exited (logs in {self.dir}/logs)")
            time.sleep(0.05)
        die(f"reference cluster: {what}: not ready after {timeout}s (logs in {self.dir}/logs)")

    def start(self):
        """Starts master, waits for ALIVE, starts the workers, waits until the
        master lists them ALIVE (polling every 50 ms).  Returns seconds."""
        cls = os.path.join(self.spark, "bin", "spark-class")
        t0 = time.perf_counter()
        self.port, self.webui = free_ports(2)
        self.url = f"spark://127.0.0.1:{self.port}"
        m = self._spawn(
            [cls, MASTER_CLASS, "--host", "127.0.0.1", "--port", str(self.port), "--webui-port", str(self.webui)],
            "master.log",
            self._env(),
        )
        self._wait(lambda st: st.get("status") == "ALIVE" and st.get("url") == self.url, [m], "master")
        workers = []
        for i in range(WORKERS):
            port, webui = free_ports(2)
            wdir = os.path.join(self.dir, f"worker-{i}")
            os.makedirs(os.path.join(wdir, "local"))
            workers.append(
                self._spawn(
                    [
                        cls,
                        WORKER_CLASS,
                        "--host",
                        "127.0.0.1",
                        "--cores",
                        str(WORKER_CORES),
                        "--memory",
                        WORKER_MEMORY,
                        "--port",
                        str(port),
                        "--webui-port",
                        str(webui),
                        "--work-dir",
                        wdir,
                        self.url,
                    ],
                    f"worker-{i}.log",
                    self._env(os.path.join(wdir, "local")),
                )
            )
        self._wait(
            lambda st: sum(w.get("state") == "ALIVE" for w in st.get("workers", [])) == WORKERS,
            [m] + workers,
            "workers",
        )
        return time.perf_counter() - t0

    def stop(self):
        for pid in reversed(self.pids):
            self.procs.stop(pid)
        self.pids = []


def reference_run(i, data, scratch, spark, python, procs, manifest):
    rundir = os.path.join(scratch, f"reference-{i}")
    os.makedirs(rundir)
    cluster = HandCluster(spark, os.path.join(rundir, "cluster"), procs)
    problems = []
    try:
        load0 = loadavg()
        start_s = cluster.start()
        work = os.path.join(rundir, "out")
        mdir = os.path.join(rundir, "metrics")
        argv = [
            os.path.join(spark, "bin", "spark-submit"),
            "--master",
            cluster.url,
            "--name",
            f"quickstart-single-job-{i}",
            "--conf",
            f"spark.pyspark.python={python}",
            "--conf",
            "spark.driver.host=127.0.0.1",
            os.path.join(HERE, "single_job.py"),
            "--input",
            "file://" + os.path.join(data, "raw", "transactions"),
            "--reference",
            "file://" + os.path.join(data, "reference"),
            "--work",
            "file://" + work,
            "--metrics-dir",
            mdir,
        ]
        env = dict(os.environ)
        env.update({"SPARK_HOME": spark, "PYSPARK_PYTHON": python, "SPARK_LOCAL_IP": "127.0.0.1"})
        log = os.path.join(rundir, "submit.log")
        with open(log, "w") as f:
            t0 = time.perf_counter()
            p = procs.popen(argv, env=env, cwd=rundir, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
            try:
                rc = p.wait(timeout=SUBMIT_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                procs.stop(p.pid)
                rc = p.wait()
            wall = time.perf_counter() - t0
        procs.groups.discard(p.pid)
        load1 = loadavg()
        if rc != 0:
            with open(log, errors="replace") as f:
                die(f"reference spark-submit failed (exit {rc}); log {log}:\n{f.read()[-6000:]}")
        metrics, stage_ms = {}, {}
        for s in STAGES:
            with open(os.path.join(mdir, f"{s}.metrics.json")) as f:
                m = json.load(f)
            stage_ms[s] = m.pop("duration_ms", None)
            metrics.update(m)
        problems += compare_metrics("reference", metrics, expected_metrics(manifest))
        listing = output_listing(work)
    finally:
        cluster.stop()
    left = kill_leftovers(rundir, f"reference run {i}")
    if left:
        problems.append(left)
    shutil.rmtree(work, ignore_errors=True)
    return {
        "wall_s": wall,
        "cluster_start_s": start_s,
        "stage_ms": stage_ms,
        "metrics": metrics,
        "outputs": listing,
        "problems": problems,
        "loadavg_before": load0,
        "loadavg_after": load1,
    }


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def fmt(x, unit=""):
    if x is None:
        return "-"
    if unit == "x":
        return "%.2f×" % x
    if unit == "%":
        return "%.1f %%" % x
    return "%.1f" % x if abs(x) >= 10 else "%.2f" % x


def table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    lines = [
        "  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)) for r in rows]
    return "\n".join(lines)


def summarize(sf_runs, ref_runs, cfg, nocds_runs=()):
    def col(runs, key, sub=None):
        return [(r[key] if sub is None else r[key].get(sub)) for r in runs]

    sf = {
        "apply_wall_s": stats(col(sf_runs, "wall_s")),
        "overhead_s": stats(col(sf_runs, "overhead_s")),
        "overhead_pct": stats(col(sf_runs, "overhead_pct")),
        "destroy_s": stats(col(sf_runs, "destroy_s")),
    }
    for k in sf_runs[0]["breakdown"]:
        sf[k] = stats(col(sf_runs, "breakdown", k))
    for s in STAGES:
        sf[f"stage_{s}_s"] = stats(
            [r["stage_ms"].get(s) / 1000 if r["stage_ms"].get(s) is not None else None for r in sf_runs]
        )
    ref = {"submit_wall_s": stats(col(ref_runs, "wall_s")), "cluster_start_s": stats(col(ref_runs, "cluster_start_s"))}
    for s in STAGES:
        ref[f"job_{s}_s"] = stats(
            [r["stage_ms"].get(s) / 1000 if r["stage_ms"].get(s) is not None else None for r in ref_runs]
        )

    def med(d, k):
        return d[k]["median"] if d.get(k) else None

    apply_m, ref_m = med(sf, "apply_wall_s"), med(ref, "submit_wall_s")
    over_pct = med(sf, "overhead_pct")
    cluster_m, ref_cluster = med(sf, "cluster_create_s"), med(ref, "cluster_start_s")
    stages_m = med(sf, "stages_sum_s")
    by_hand = ref_m + ref_cluster if ref_m is not None and ref_cluster is not None else None

    def ratio(a, b):
        return a / b if a is not None and b else None

    def row(metric, unit, a, b=None, target=None, ok=None):
        return {
            "metric": metric,
            "unit": unit,
            "sparkflow": a,
            "reference": b,
            "ratio": ratio(a, b),
            "target": target,
            "pass": ok,
        }

    summary = [
        row(
            "quickstart apply wall (median) vs one spark-submit",
            "s",
            apply_m,
            ref_m,
            "<= 60 s",
            apply_m is not None and apply_m <= TARGET_APPLY_S,
        ),
        row(
            "provider overhead: wall - cluster create - stages (median)",
            "%",
            over_pct,
            None,
            "<= 2 %",
            over_pct is not None and over_pct <= TARGET_OVERHEAD_PCT,
        ),
        row("provider overhead (median)", "s", med(sf, "overhead_s")),
        row("cluster create vs by hand (median)", "s", cluster_m, ref_cluster),
        row("sum of stage durations vs one spark-submit (median)", "s", stages_m, ref_m),
        row("apply vs cluster by hand + one spark-submit (median)", "s", apply_m, by_hand),
    ]

    print(
        "quickstart: %d transactions, %d run(s) each, taking turns; load average %s at start"
        % (cfg["transactions"], cfg["runs"], " ".join("%.2f" % x for x in cfg["loadavg_start"] or []))
    )
    print()
    rows = [["apply wall (terraform apply, init excluded)", fmt(apply_m), _mm(sf, "apply_wall_s")]]
    rows += [
        ["  plan phase (start -> cluster Creating...)", fmt(med(sf, "plan_phase_s")), _mm(sf, "plan_phase_s")],
        ["  cluster create (Creating -> complete)", fmt(cluster_m), _mm(sf, "cluster_create_s")],
        ["  between the two resources", fmt(med(sf, "between_resources_s")), _mm(sf, "between_resources_s")],
        ["  pipeline apply (Creating -> complete)", fmt(med(sf, "pipeline_apply_s")), _mm(sf, "pipeline_apply_s")],
    ]
    for s in STAGES:
        rows.append([f"    stage {s} (duration_ms)", fmt(med(sf, f"stage_{s}_s")), _mm(sf, f"stage_{s}_s")])
    rows += [
        ["    sum of stages", fmt(stages_m), _mm(sf, "stages_sum_s")],
        ["    in provider, outside stages", fmt(med(sf, "in_provider_s")), _mm(sf, "in_provider_s")],
        [
            "      before the engine runs stage 1",
            fmt(med(sf, "pipeline_before_engine_run_s")),
            _mm(sf, "pipeline_before_engine_run_s"),
        ],
        [
            "      before stage 1's spark-submit",
            fmt(med(sf, "pipeline_before_first_stage_s")),
            _mm(sf, "pipeline_before_first_stage_s"),
        ],
        [
            "      after the last stage (publish)",
            fmt(med(sf, "pipeline_after_last_stage_s")),
            _mm(sf, "pipeline_after_last_stage_s"),
        ],
        [
            "  after the last resource (state, exit)",
            fmt(med(sf, "after_last_resource_s")),
            _mm(sf, "after_last_resource_s"),
        ],
        ["provider overhead = wall - cluster - stages", fmt(med(sf, "overhead_s")), _mm(sf, "overhead_s")],
        ["terraform destroy (not in the targets)", fmt(med(sf, "destroy_s")), _mm(sf, "destroy_s")],
        ["reference: cluster start by hand (50 ms polls)", fmt(ref_cluster), _mm(ref, "cluster_start_s")],
        ["reference: one spark-submit, 3 stages", fmt(ref_m), _mm(ref, "submit_wall_s")],
    ]
    for s in STAGES:
        rows.append([f"  job {s} in it (its duration_ms)", fmt(med(ref, f"job_{s}_s")), _mm(ref, f"job_{s}_s")])
    nocds_m = None
    if nocds_runs:
        nocds = {"apply_wall_s": stats(col(nocds_runs, "wall_s"))}
        for k in ("cluster_create_s", "stages_sum_s"):
            nocds[k] = stats(col(nocds_runs, "breakdown", k))
        for s in STAGES:
            nocds[f"stage_{s}_s"] = stats(
                [r["stage_ms"].get(s) / 1000 if r["stage_ms"].get(s) is not None else None for r in nocds_runs]
            )
        nocds_m = med(nocds, "apply_wall_s")
        rows.append(["without the class archive (SPARKFLOW_SPARK_CDS=off):", "", ""])
        rows.append(["  apply wall", fmt(nocds_m), _mm(nocds, "apply_wall_s")])
        rows.append(["  cluster create", fmt(med(nocds, "cluster_create_s")), _mm(nocds, "cluster_create_s")])
        for s in STAGES:
            rows.append([f"  stage {s}", fmt(med(nocds, f"stage_{s}_s")), _mm(nocds, f"stage_{s}_s")])
        summary.append(row("quickstart apply with vs without the class archive (median)", "s", apply_m, nocds_m))
    print(table(["what", "median s", "min - max s"], rows))
    print()
    print("ratio apply / one spark-submit:            %s" % fmt(ratio(apply_m, ref_m), "x"))
    print("ratio stages sum / one spark-submit:       %s" % fmt(ratio(stages_m, ref_m), "x"))
    print("ratio apply / (cluster by hand + submit):  %s" % fmt(ratio(apply_m, by_hand), "x"))
    if nocds_runs:
        print("ratio apply / apply without class archive: %s" % fmt(ratio(apply_m, nocds_m), "x"))
    print("apply <= %.0f s:            %s (median %s s)" % (TARGET_APPLY_S, _verdict(summary[0]["pass"]), fmt(apply_m)))
    print(
        "provider overhead <= %.0f %%: %s (median %s)"
        % (TARGET_OVERHEAD_PCT, _verdict(summary[1]["pass"]), fmt(over_pct, "%"))
    )
    return summary, {"sparkflow": sf, "reference": ref, **({"no_cds": nocds} if nocds_runs else {})}


def _mm(d, k):
    s = d.get(k)
    return "%s - %s" % (fmt(s["min"]), fmt(s["max"])) if s else "-"


def _verdict(ok):
    return "PASS" if ok else "MISS"


def git_commit():
    try:
        return subprocess.run(
            ["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=20
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


# ---------------------------------------------------------------------------


def main(argv):
    ap = argparse.ArgumentParser(
        prog="bench/bench_quickstart", description="Quickstart apply vs one hand-written spark-submit."
    )
    quick = os.environ.get("BENCH_QUICK") == "1"
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_QUICKSTART_RUNS", 1 if quick else 3)))
    ap.add_argument("--transactions", type=int, default=int(os.environ.get("BENCH_QUICKSTART_TRANSACTIONS", 100000)))
    ap.add_argument(
        "--without-cds",
        action="store_true",
        default=os.environ.get("BENCH_QUICKSTART_WITHOUT_CDS") == "1",
        help="also apply with SPARKFLOW_SPARK_CDS=off in the same turns (Spark's class archive off)",
    )
    args = ap.parse_args(argv)
    # SIGTERM (bench/run stopped, a CI timeout) cleans up like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    provider, terraform = os.environ.get("BENCH_PROVIDER"), os.environ.get("BENCH_TERRAFORM")
    if not provider or not terraform:
        die(
            "BENCH_PROVIDER and BENCH_TERRAFORM must name the provider binary and the Terraform CLI "
            "(bench/bench_quickstart sets them)"
        )
    if args.runs < 1 or args.transactions < 1:
        die("--runs and --transactions must be at least 1")

    python = job_python()
    spark = spark_home(python)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    cfg = {
        "runs": args.runs,
        "transactions": args.transactions,
        "provider": provider,
        "terraform": terraform,
        "python": python,
        "spark_home": spark,
        "command": " ".join(["bench/bench_quickstart"] + argv),
        "loadavg_start": loadavg(),
        "started": stamp,
        "git_commit": git_commit(),
        "cpus": os.cpu_count(),
    }
    scratch = tempfile.mkdtemp(prefix="sf-bench-quickstart.", dir=os.environ.get("TMPDIR"))
    procs = Procs()
    keep = os.environ.get("BENCH_KEEP") == "1"
    tf = None
    try:
        data = os.path.join(scratch, "data")
        say(f"generating {args.transactions} transactions (seed 42) ...")
        t0 = time.perf_counter()
        gen = subprocess.run(
            [
                python,
                os.path.join(ROOT, "dags", "sample_data", "generate.py"),
                "--out",
                data,
                "--transactions",
                str(args.transactions),
                "--months",
                "24",
                "--accounts",
                "4",
                "--seed",
                "42",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        if gen.returncode != 0:
            die("generate.py failed:\n" + gen.stdout + gen.stderr)
        cfg["generate_s"] = time.perf_counter() - t0
        with open(os.path.join(data, "manifest.json")) as f:
            manifest = json.load(f)

        tf = Terraform(terraform, provider, scratch, procs)
        init_out = os.path.join(scratch, "init.txt")
        rc, init_s, _, _ = tf.run(["init", "-input=false", "-no-color"], init_out)
        tf.check("init", rc, init_out)
        cfg["init_s"] = init_s
        say(f"terraform init: {init_s:.1f} s (not measured); {args.runs} run(s) each, taking turns")

        sf_runs, ref_runs, nocds_runs = [], [], []
        sides = ["sparkflow", "reference"] + (["no-cds"] if args.without_cds else [])
        for i in range(args.runs):
            # Rotate who goes first, so a drift in load hits every side alike.
            order = sides[i % len(sides) :] + sides[: i % len(sides)]
            for who in order:
                if who in ("sparkflow", "no-cds"):
                    tf.extra_env = {"SPARKFLOW_SPARK_CDS": "off"} if who == "no-cds" else {}
                    r = sparkflow_run(i, tf, data, scratch, manifest, tag=who)
                    tf.extra_env = {}
                    (sf_runs if who == "sparkflow" else nocds_runs).append(r)
                    say(
                        "  run %d %s: apply %.1f s (cluster %s s, stages %s s, overhead %s s = %s); "
                        "load %s"
                        % (
                            i,
                            who,
                            r["wall_s"],
                            fmt(r["breakdown"]["cluster_create_s"]),
                            fmt(r["breakdown"]["stages_sum_s"]),
                            fmt(r["overhead_s"]),
                            fmt(r["overhead_pct"], "%"),
                            r["loadavg_after"],
                        )
                    )
                else:
                    r = reference_run(i, data, scratch, spark, python, procs, manifest)
                    ref_runs.append(r)
                    say(
                        "  run %d reference: cluster by hand %.1f s, spark-submit %.1f s; load %s"
                        % (i, r["cluster_start_s"], r["wall_s"], r["loadavg_after"])
                    )
                for p in r["problems"]:
                    say("  PROBLEM: " + p)

        problems = [p for r in sf_runs + ref_runs + nocds_runs for p in r["problems"]]
        # Same work: the same metrics and the same tables on both sides.
        keys = set(expected_metrics(manifest))
        for a, b in zip(sf_runs, ref_runs, strict=False):
            problems += compare_metrics(
                "sparkflow vs reference", a["metrics"], {k: b["metrics"][k] for k in keys if k in b["metrics"]}
            )
            if a["outputs"] != b["outputs"]:
                problems.append(
                    "sparkflow and reference output listings differ: %s vs %s"
                    % (
                        sorted(set(a["outputs"]) - set(b["outputs"]))[:5],
                        sorted(set(b["outputs"]) - set(a["outputs"]))[:5],
                    )
                )
        cfg["loadavg_end"] = loadavg()
        summary, medians = summarize(sf_runs, ref_runs, cfg, nocds_runs)
        print(
            "load average: %s at start, %s at end (%d CPUs)" % (cfg["loadavg_start"], cfg["loadavg_end"], cfg["cpus"])
        )
        print(
            "same outputs: %s (every run's metrics equal the generator's manifest on both sides, "
            "same tables/partitions/files)" % ("no" if problems else "yes")
        )
        for p in problems:
            print("PROBLEM: " + p)

        result = {
            "name": "quickstart",
            "summary": summary,
            "details": {
                "config": cfg,
                "medians": medians,
                "sparkflow_runs": sf_runs,
                "no_cds_runs": nocds_runs,
                "reference_runs": ref_runs,
                "problems": problems,
            },
        }
        os.makedirs(os.path.join(BENCH_DIR, "results"), exist_ok=True)
        out = os.path.join(BENCH_DIR, "results", f"quickstart-{stamp}.json")
        with open(out, "w") as f:
            json.dump(result, f, indent=2)
        print("results: " + os.path.relpath(out, os.getcwd()))
        if os.environ.get("BENCH_JSON"):
            with open(os.environ["BENCH_JSON"], "w") as f:
                json.dump(result, f, indent=2)
        return 1 if problems else 0
    finally:
        procs.stop_all()
        if tf is not None and tf.has_resources():
            say("bench_quickstart: destroying what the interrupted run left ...")
            rc, _, _, _ = tf.run(
                [
                    "destroy",
                    "-input=false",
                    "-no-color",
                    "-auto-approve",
                    "-var",
                    "lake_dir=" + os.path.join(scratch, "data"),
                ],
                os.path.join(scratch, "cleanup-destroy.txt"),
            )
            procs.stop_all()
        left = kill_leftovers(scratch, "at exit")
        if left:
            say("bench_quickstart: " + left)
        if keep:
            say(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
