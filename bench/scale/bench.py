"""bench.py -- the pipeline at growing sizes, Spark vs DuckDB; bench/bench_scale runs it.

Issue #13 asks how the pipeline's cost grows with the data (100k, 1 M, 10 M
transactions on one 2-core machine) and how it compares with what such a
user would otherwise pick: DuckDB on the same files (bench/duckdb/pipeline.py,
the same rules in SQL).  For every size:

  1. The lake is generated once (dags/sample_data/generate.py --seed 42
     --bad-files; its wall time and peak RSS are recorded too: the generator
     is the first thing that has to scale).
  2. RUNS times, taking turns:
     a. Spark: a standalone cluster of the provider's shape (master + 2
        workers, 1 core each, started by hand with spark-class exactly as
        bench/quickstart does it; --spark local uses local[2] instead), then
        ONE spark-submit of bench/quickstart/single_job.py running the three
        real jobs (timed: submit wall; the cluster start is timed apart).
     b. DuckDB: `python bench/duckdb/pipeline.py` (timed: process wall).
     Peak memory is the largest sum of RSS over each side's process trees
     (cluster daemons, driver, executors, Python workers / the DuckDB
     process), sampled every --sample-ms.  Both sides' metrics must equal the
     manifest's expected counts.
  3. The last run's tables are compared (bench/duckdb/compare.py): row for
     row up to --compare-rows (default 100k), schema and row counts above.

rows/s/core = rows read / wall / cores used (2).  Results: medians (min-max)
printed, every sample in bench/results/scale-<UTC timestamp>.json and, when
BENCH_JSON is set, the summary rows for bench/run (sparkflow = Spark,
reference = DuckDB; target: Spark <= 3x DuckDB at 10 M rows).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, NoReturn

HERE = Path(__file__).resolve().parent
BENCH_DIR = HERE.parent
ROOT = BENCH_DIR.parent
GENERATOR = ROOT / "dags" / "sample_data" / "generate.py"
PIPELINE = BENCH_DIR / "duckdb" / "pipeline.py"
SINGLE_JOB = BENCH_DIR / "quickstart" / "single_job.py"
TARGET_RATIO = 3.0
TARGET_ROWS = 10_000_000
TIMEOUT_S = 4 * 3600
# What the local engine gives the driver and executors unless a stage's
# spark_conf sets their extraJavaOptions (engines/local/submit.c).
LEAN_JAVA_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


sys.path.insert(0, str(BENCH_DIR / "lib"))
import common  # noqa: E402
import report  # noqa: E402

say = common.say


def die(msg: str) -> NoReturn:
    common.die(msg, "bench_scale")


# The quickstart bench's process handling and hand-started cluster, reused.
qs = common.load("sparkflow_bench_quickstart", BENCH_DIR / "quickstart" / "bench.py")
compare = common.load("sparkflow_bench_compare", BENCH_DIR / "duckdb" / "compare.py")


# ---------------------------------------------------------------------------
# Peak memory: sum of RSS over process trees, sampled
# ---------------------------------------------------------------------------

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def tree_usage(roots: list[int]) -> tuple[int, dict[int, int]]:
    """(bytes resident, {pid: CPU clock ticks used}) of `roots` and all their
    descendants right now."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(name))
    seen, todo, total, ticks = set(), list(roots), 0, {}
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
            fields = stat[stat.rindex(b")") + 2 :].split()
            ticks[pid] = int(fields[11]) + int(fields[12])  # utime + stime
        except (OSError, ValueError, IndexError):
            pass
        todo.extend(children.get(pid, ()))
    return total, ticks


def mem_available() -> int:
    """The kernel's MemAvailable in bytes: how close the machine came to
    running out (it has no swap; running out means the OOM killer)."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


class RssSampler(threading.Thread):
    """Samples tree_usage(roots()) until stopped: the peak of the RSS sum,
    and the CPU time of every process seen (its last sample: a process that
    ends between two samples loses at most one interval, so the CPU seconds
    are a slight under-count)."""

    def __init__(self, roots: Any, interval_s: float) -> None:
        super().__init__(daemon=True)
        self.roots, self.interval_s = roots, interval_s
        self.peak, self.samples = 0, 0
        self.min_available = mem_available()
        self.ticks: dict[int, int] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            rss, ticks = tree_usage(self.roots())
            self.peak = max(self.peak, rss)
            self.min_available = min(self.min_available, mem_available())
            self.ticks.update(ticks)
            self.samples += 1
            self._stop_event.wait(self.interval_s)

    def stop(self) -> tuple[int, float, int]:
        """(peak RSS bytes, CPU seconds, lowest MemAvailable bytes)."""
        self._stop_event.set()
        self.join()
        return self.peak, sum(self.ticks.values()) / TICKS, self.min_available


def timed(
    argv: list[str],
    log: Path,
    procs: Any,
    extra_roots: Any,
    interval_s: float,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[int, float, int, float, int]:
    """Run argv to completion (own process group): exit code, wall seconds,
    peak RSS bytes and CPU seconds of its tree plus extra_roots(), and the
    machine's lowest MemAvailable meanwhile."""
    with open(log, "w") as f:
        t0 = time.perf_counter()
        p = procs.popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
        sampler = RssSampler(lambda: [p.pid] + list(extra_roots()), interval_s)
        sampler.start()
        try:
            rc = p.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            procs.stop(p.pid)
            rc = p.wait()
        wall = time.perf_counter() - t0
        peak, cpu, low = sampler.stop()
    procs.groups.discard(p.pid)
    return rc, wall, peak, cpu, low


def tail(path: Path, n: int = 4000) -> str:
    return path.read_text(errors="replace")[-n:]


# ---------------------------------------------------------------------------
# The two sides
# ---------------------------------------------------------------------------


def expected_flat(manifest: dict[str, Any], drop: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for job in manifest["expected"].values():
        out.update({k: v for k, v in job.items() if k not in drop})
    return out


def metrics_problems(what: str, got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    bad = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
    return [f"{what}: metrics differ from the manifest (got, expected): {bad}"] if bad else []


def reused(rows: int, lake: Path, cfg: argparse.Namespace) -> dict[str, Any] | None:
    """With --lakes: the lake made earlier with the same arguments, if any
    (its generation is then not timed)."""
    try:
        manifest = json.loads((lake / "manifest.json").read_text())
        gen, appends = manifest["generator"], manifest["appends"]
    except (OSError, ValueError, KeyError):
        return None
    if gen.get("transactions") != rows or gen.get("seed") != cfg.seed or not gen.get("bad_files") or appends:
        return None
    say(f"scale: reusing the lake in {lake}")
    return {"wall_s": None, "peak_rss_mb": None, "cpu_s": None, "reused": str(lake)}


def generate(rows: int, lake: Path, procs: Any, cfg: argparse.Namespace) -> dict[str, Any]:
    say(f"scale: generating {rows} rows into {lake}")
    argv = [
        sys.executable,
        str(GENERATOR),
        "--out",
        str(lake),
        "--transactions",
        str(rows),
        "--seed",
        str(cfg.seed),
        "--bad-files",
        "--force",
    ]
    log = lake.parent / f"generate-{rows}.log"
    log.parent.mkdir(parents=True, exist_ok=True)  # --lakes may name a folder not made yet
    rc, wall, peak, cpu, _ = timed(argv, log, procs, list, cfg.sample_ms / 1000)
    if rc != 0:
        die(f"generator failed (exit {rc}):\n{tail(log)}")
    return {"wall_s": wall, "peak_rss_mb": peak / 1e6, "cpu_s": cpu}


def spark_knobs(cfg: argparse.Namespace) -> list[str]:
    """spark-submit --conf arguments for the knobs left at Spark's or the
    jobs' own defaults unless given: shuffle partitions (the jobs set 4
    unless the submitter does) and the driver's and executors' JVM options
    (the local engine's lean ones: --java-opts lean)."""
    out = []
    if cfg.shuffle_partitions:
        out += ["--conf", f"spark.sql.shuffle.partitions={cfg.shuffle_partitions}"]
    opts = LEAN_JAVA_OPTS if cfg.java_opts == "lean" else cfg.java_opts
    if opts:
        out += ["--conf", f"spark.driver.extraJavaOptions={opts}", "--conf", f"spark.executor.extraJavaOptions={opts}"]
    return out


def spark_run(
    i: int, lake: Path, rundir: Path, procs: Any, cfg: argparse.Namespace, manifest: dict[str, Any]
) -> dict[str, Any]:
    spark = qs.spark_home(cfg.python)
    rundir.mkdir(parents=True)
    work, mdir = rundir / "out", rundir / "metrics"
    cluster, start_s, roots = None, 0.0, []
    if cfg.spark == "standalone":
        qs.WORKER_MEMORY = cfg.worker_memory  # type: ignore[attr-defined]  # read by HandCluster.start
        cluster = qs.HandCluster(spark, str(rundir / "cluster"), procs)
        start_s = cluster.start()
        master, roots = cluster.url, list(cluster.pids)
    else:
        master = f"local[{cfg.cores}]"
    argv = [
        os.path.join(spark, "bin", "spark-submit"),
        "--master",
        master,
        "--name",
        f"scale-{i}",
        "--driver-memory",
        cfg.driver_memory,
        "--executor-memory",
        cfg.executor_memory,
        "--conf",
        f"spark.pyspark.python={cfg.python}",
        "--conf",
        "spark.driver.host=127.0.0.1",
        "--conf",
        "spark.ui.enabled=false",
        *spark_knobs(cfg),
        str(SINGLE_JOB),
        "--input",
        "file://" + str(lake / "raw" / "transactions"),
        "--reference",
        "file://" + str(lake / "reference"),
        "--work",
        "file://" + str(work),
        "--metrics-dir",
        str(mdir),
    ]
    env = dict(os.environ, SPARK_HOME=spark, PYSPARK_PYTHON=cfg.python, SPARK_LOCAL_IP="127.0.0.1")
    try:
        rc, wall, peak, cpu, low = timed(
            argv, rundir / "submit.log", procs, lambda: roots, cfg.sample_ms / 1000, env=env, cwd=rundir
        )
    finally:
        if cluster is not None:
            cluster.stop()
    problems = []
    left = qs.kill_leftovers(str(rundir), f"spark run {i}")
    if left:
        problems.append(left)
    if rc != 0:
        die(f"spark-submit failed (exit {rc}); log {rundir / 'submit.log'}:\n{tail(rundir / 'submit.log')}")
    metrics, stage_s = {}, {}
    for stage in ("validate", "process", "marts"):
        m = json.loads((mdir / f"{stage}.metrics.json").read_text())
        stage_s[stage] = m.pop("duration_ms") / 1000
        metrics.update(m)
    problems += metrics_problems(f"spark run {i}", metrics, expected_flat(manifest))
    return {
        "wall_s": wall,
        "cluster_start_s": start_s,
        "peak_rss_mb": peak / 1e6,
        "cpu_s": cpu,
        "min_available_mb": low / 1e6,
        "stage_s": stage_s,
        "problems": problems,
        "work": str(work),
    }


def duckdb_run(
    i: int, lake: Path, rundir: Path, procs: Any, cfg: argparse.Namespace, manifest: dict[str, Any]
) -> dict[str, Any]:
    rundir.mkdir(parents=True)
    work, mpath = rundir / "out", rundir / "metrics.json"
    argv = [
        cfg.python,
        str(PIPELINE),
        "--lake",
        str(lake),
        "--out",
        str(work),
        "--metrics",
        str(mpath),
        "--threads",
        str(cfg.cores),
    ]
    rc, wall, peak, cpu, low = timed(argv, rundir / "duckdb.log", procs, list, cfg.sample_ms / 1000)
    if rc != 0:
        die(f"duckdb pipeline failed (exit {rc}):\n{tail(rundir / 'duckdb.log')}")
    got = json.loads(mpath.read_text())
    stage_s = {s: m.pop("duration_ms") / 1000 for s, m in got.items()}
    flat = {k: v for m in got.values() for k, v in m.items()}
    problems = metrics_problems(f"duckdb run {i}", flat, expected_flat(manifest, drop=("report_charts",)))
    return {
        "wall_s": wall,
        "peak_rss_mb": peak / 1e6,
        "cpu_s": cpu,
        "min_available_mb": low / 1e6,
        "stage_s": stage_s,
        "problems": problems,
        "work": str(work),
    }


# ---------------------------------------------------------------------------
# One size, all sizes, the report
# ---------------------------------------------------------------------------


def one_size(rows: int, runs: int, scratch: Path, procs: Any, cfg: argparse.Namespace) -> dict[str, Any]:
    lake = (cfg.lakes or scratch) / f"lake-{rows}"
    gen = reused(rows, lake, cfg) or generate(rows, lake, procs, cfg)
    manifest = json.loads((lake / "manifest.json").read_text())
    read = manifest["expected"]["validate"]["read"]
    sides: dict[str, list[dict[str, Any]]] = {"spark": [], "duckdb": []}
    for i in range(runs):
        for side, fn in (("spark", spark_run), ("duckdb", duckdb_run)):
            say(f"scale: {rows} rows, run {i + 1}/{runs}: {side}")
            r = fn(i, lake, scratch / f"{side}-{rows}-{i}", procs, cfg, manifest)
            say(
                f"scale:   wall {r['wall_s']:.2f} s, peak RSS {r['peak_rss_mb']:.0f} MB"
                + (f", cluster start {r['cluster_start_s']:.2f} s" if side == "spark" else "")
            )
            for p in r["problems"]:
                say(f"scale:   PROBLEM: {p}")
            sides[side].append(r)
    full = rows <= cfg.compare_rows
    diffs = compare.compare(Path(sides["spark"][-1]["work"]), Path(sides["duckdb"][-1]["work"]), rows=full)
    say(
        f"scale: tables {'row for row' if full else 'schema and counts'}: "
        + ("agree" if not diffs else f"{len(diffs)} difference(s)")
    )
    for d in diffs:
        say("scale:   " + d[:2000])
    if not cfg.keep and not cfg.lakes:
        shutil.rmtree(lake, ignore_errors=True)
        for rs in sides.values():
            for r in rs:
                shutil.rmtree(Path(r["work"]).parent, ignore_errors=True)
    out: dict[str, Any] = {
        "rows": rows,
        "read": read,
        "runs": runs,
        "generate": gen,
        "comparison": "rows" if full else "counts",
        "differences": diffs,
    }
    for side, rs in sides.items():
        walls = [r["wall_s"] for r in rs]
        med = report.stats(walls)["median"]
        out[side] = {
            "wall_s": report.stats(walls),
            "peak_rss_mb": report.stats([r["peak_rss_mb"] for r in rs]),
            "cpu_s": report.stats([r["cpu_s"] for r in rs]),
            "min_available_mb": min(r["min_available_mb"] for r in rs),
            "rows_per_s_per_core": read / med / cfg.cores,
            "stage_s": {s: report.stats([r["stage_s"][s] for r in rs]) for s in rs[0]["stage_s"]},
            "problems": [p for r in rs for p in r["problems"]],
        }
        if side == "spark":
            out[side]["cluster_start_s"] = report.stats([r["cluster_start_s"] for r in rs])
    return out


def summarize(results: list[dict[str, Any]], cfg: argparse.Namespace) -> list[dict[str, Any]]:
    rows, summary = [], []
    for r in results:
        s, d = r["spark"], r["duckdb"]
        sw, dw = s["wall_s"]["median"], d["wall_s"]["median"]
        ok = None
        if r["rows"] >= TARGET_ROWS:
            ok = report.ratio(sw, dw) is not None and sw / dw <= TARGET_RATIO
        agree = not r["differences"] and not s["problems"] and not d["problems"]
        summary += [
            report.row(
                f"pipeline wall at {r['rows']:,} rows (median of {r['runs']}), Spark vs DuckDB",
                "s",
                sw,
                dw,
                "<= 3x at 10 M" if r["rows"] >= TARGET_ROWS else None,
                ok,
            ),
            report.row(
                f"rows/s/core at {r['rows']:,} rows", "rows/s", s["rows_per_s_per_core"], d["rows_per_s_per_core"]
            ),
            report.row(
                f"peak RSS at {r['rows']:,} rows (median)", "MB", s["peak_rss_mb"]["median"], d["peak_rss_mb"]["median"]
            ),
            report.row(
                f"CPU seconds at {r['rows']:,} rows (median, sampled)", "s", s["cpu_s"]["median"], d["cpu_s"]["median"]
            ),
            report.row(f"outputs agree at {r['rows']:,} rows ({r['comparison']})", "", None, None, "agree", agree),
        ]
        rows.append(
            [
                f"{r['rows']:,}",
                report.fmt(sw),
                report.fmt(dw),
                report.fmt(report.ratio(sw, dw), "x"),
                "%.0f" % s["rows_per_s_per_core"],
                "%.0f" % d["rows_per_s_per_core"],
                "%.0f" % s["peak_rss_mb"]["median"],
                "%.0f" % d["peak_rss_mb"]["median"],
                "%.1f" % s["cpu_s"]["median"],
                "%.1f" % d["cpu_s"]["median"],
                report.fmt(s["cluster_start_s"]["median"]),
                "reused"
                if r["generate"].get("reused")
                else "%.1f / %.0f" % (r["generate"]["wall_s"], r["generate"]["peak_rss_mb"]),
                ("agree" if agree else "DIFFER") + f" ({r['comparison']})",
            ]
        )
    print(
        report.table(
            [
                "rows",
                "spark s",
                "duckdb s",
                "ratio",
                "spark r/s/core",
                "duckdb r/s/core",
                "spark MB",
                "duckdb MB",
                "spark cpu s",
                "duckdb cpu s",
                "cluster s",
                "gen s / MB",
                "outputs",
            ],
            rows,
        )
    )
    # Linearity: the cost of each further million rows between two sizes
    # (start-up paid in both), size after size; equal figures = linear.
    for side in ("spark", "duckdb"):
        lowest = min(r[side]["min_available_mb"] for r in results)
        parts = []
        for a, b in zip(results, results[1:], strict=False):
            wa, wb = a[side]["wall_s"]["median"], b[side]["wall_s"]["median"]
            ca, cb = a[side]["cpu_s"]["median"], b[side]["cpu_s"]["median"]
            million = (b["read"] - a["read"]) / 1e6
            if million > 0:
                parts.append(
                    f"{a['rows']:,} -> {b['rows']:,}: {wb / wa:.1f}x the wall for {b['read'] / a['read']:.0f}x "
                    f"the rows, {(wb - wa) / million:.2f} s and {(cb - ca) / million:.2f} CPU s per further "
                    "million rows"
                )
        print(f"{side}: " + "; ".join(parts) + f"; lowest MemAvailable {lowest:.0f} MB")
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--rows",
        default=os.environ.get("BENCH_SCALE_ROWS", "100000,1000000,10000000"),
        help="comma-separated sizes (default 100000,1000000,10000000)",
    )
    p.add_argument(
        "--runs",
        default=os.environ.get("BENCH_SCALE_RUNS", "3,1,1"),
        help="runs per size: one number, or one per size (default 3,1,1)",
    )
    p.add_argument("--spark", choices=("standalone", "local"), default="standalone")
    p.add_argument("--cores", type=int, default=2, help="cores both sides use (default 2)")
    p.add_argument("--worker-memory", default=os.environ.get("BENCH_SCALE_WORKER_MEMORY", "2g"))
    p.add_argument("--executor-memory", default=os.environ.get("BENCH_SCALE_EXECUTOR_MEMORY", "1g"))
    p.add_argument("--driver-memory", default=os.environ.get("BENCH_SCALE_DRIVER_MEMORY", "1g"))
    p.add_argument(
        "--shuffle-partitions",
        type=int,
        default=int(os.environ.get("BENCH_SCALE_SHUFFLE_PARTITIONS", "0")),
        help="spark.sql.shuffle.partitions (default: the jobs' own, 4)",
    )
    p.add_argument(
        "--java-opts",
        default=os.environ.get("BENCH_SCALE_JAVA_OPTS", ""),
        help=f"driver and executor JVM options; 'lean' = the local engine's ({LEAN_JAVA_OPTS}); default: the JVM's own",
    )
    p.add_argument(
        "--compare-rows",
        type=int,
        default=100_000,
        help="compare tables row for row up to this size, counts above (default 100000)",
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--sample-ms", type=int, default=200, help="RSS sampling interval (default 200)")
    p.add_argument("--keep", action="store_true", default=os.environ.get("BENCH_KEEP") == "1")
    p.add_argument(
        "--lakes",
        type=Path,
        default=os.environ.get("BENCH_SCALE_LAKES") or None,
        help="keep the generated lakes in DIR/lake-<rows> and reuse them in later runs",
    )
    a = p.parse_args(argv)
    sizes = [int(x) for x in a.rows.split(",") if x]
    runs = [int(x) for x in a.runs.split(",") if x]
    runs = (runs + [runs[-1]] * len(sizes))[: len(sizes)] if len(runs) > 1 else runs * len(sizes)
    a.python = qs.job_python()
    procs = qs.Procs()
    scratch = Path(tempfile.mkdtemp(prefix="sparkflow-scale-"))
    say(f"scale: sizes {sizes}, runs {runs}, spark {a.spark}, scratch {scratch}")
    results, load0 = [], qs.loadavg()
    out = BENCH_DIR / "results" / f"scale-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(exist_ok=True)
    doc = {
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["bench/bench_scale"] + (argv if argv is not None else sys.argv[1:])),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(a).items()},
        "loadavg_start": load0,
        "host": report.host_facts(),
        "results": results,
    }
    try:
        for rows, n in zip(sizes, runs, strict=True):
            results.append(one_size(rows, n, scratch, procs, a))
            # every size as it ends: a later size that fails keeps the earlier ones
            out.write_text(json.dumps(dict(doc, loadavg_end=qs.loadavg(), complete=False), indent=2))
    finally:
        procs.stop_all()
        if not a.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    results.sort(key=lambda r: r["rows"])
    summary = summarize(results, a)
    doc.update(loadavg_end=qs.loadavg(), complete=True, summary=summary)
    out.write_text(json.dumps(doc, indent=2))
    report.write_result({"summary": summary, "results": results})
    say(f"scale: results in {out}")
    bad = any(r["differences"] or r["spark"]["problems"] or r["duckdb"]["problems"] for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
