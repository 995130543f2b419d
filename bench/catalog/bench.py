"""bench.py -- the catalog benchmark (issue #11); bench/bench_catalog runs it.

Two questions about the catalog of published tables (the DuckDB database
<lake>/finances.duckdb the quickstart's `catalog { database = "finances" }`
makes at the end of apply):

1. Is it ready when `terraform apply` returns?  The quickstart
   (examples/quickstart/main.tf, copied byte for byte, real Terraform CLI,
   the provider in the implied local mirror: bench/quickstart's Terraform
   class) is applied on a fresh copy of the generated lake, and the moment
   the apply process has exited the first query runs:
   `select count(*) from transactions` through the DuckDB CLI exactly as the
   README runs it (.venv/bin/duckdb <db> -c ..., a new process) and through
   the Python `duckdb` package (a new process); the order alternates between
   applies.  Reported: apply exit -> answer, whether the FIRST attempt
   answered (target: always, 0 s of extra waiting) and whether the count
   equals the pipeline's `transactions` metric.  A failed first query is a
   miss; the bench then probes (every 0.2 s, at most 60 s) to report how
   long a user would have had to wait, and says so -- it never retries
   silently.  The catalog sync inside apply is timed from the provider's
   INFO lines (TF_LOG_PROVIDER=INFO: "catalog sync started" / "catalog sync
   done: N tables in X ms", resources/pipeline_catalog.c), and, as a
   cross-check, catalogs/duckdb_catalog.py sync is run the way the provider
   runs it (the project's Python, a new process) into a scratch database.

2. How fast is a dashboard query through the views, against a fresh Spark
   session on the same cluster?  At each size (default 100k and 1 M
   generated transactions, the demo's generator flags), after the last
   apply and while the quickstart's cluster still runs, DASHBOARD_SQL
   (outflows by month and category over `transactions`, the curated table,
   partitioned by month) runs N times, taking turns:
     - DuckDB CLI, fresh process: .venv/bin/duckdb <db> -csv -c SQL (spawn
       -> exit; also the bare CLI binary, without the duckdb-cli package's
       Python launcher, for information);
     - DuckDB Python, fresh process: spawn -> answer, and the query alone
       (the first query of a new connection, timed inside);
     - Spark, fresh: spark-submit of bench/catalog/spark_query.py against
       the quickstart's master (master_url from the state), with the
       settings the provider gives its stages (spark.pyspark.python,
       spark.driver.host, the lean driver/executor JVM options); spawn ->
       answer (the answer is printed before spark.stop(), so Spark's
       shutdown is not counted), the session start and the first query
       alone (read of <lake>/curated/transactions + SQL + collect), and
       REPEAT warm runs in the same session;
   then DuckDB warm: one connection in this process, one warm-up, N runs.
   Every side must return the same rows (asserted: the bench fails
   otherwise).  Ratios are Spark / DuckDB (summary: sparkflow = Spark,
   reference = DuckDB, like bench_scale).

3. Against moto (Glue + Athena): glue_apply_to_first_athena_query()
   (bench/catalog/glue_moto.py, set up as tests/aws does it: moto server,
   fault proxy as a recorder, the EMR step executor, examples/aws applied
   with the real Terraform CLI): apply exit -> the first Athena
   StartQueryExecution accepted in the pipeline's workgroup (target: the
   first call, 0 s of extra waiting), Glue GetTable of every table, the
   sync's time inside apply and the Glue/Athena calls sent.  Reported as
   pending when the checkout has no catalogs/glue.c.

Results: a table on stdout, every sample in bench/results/catalog-<UTC
timestamp>.json, and with BENCH_JSON the summary for bench/run.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import decimal
import io
import json
import os
import shutil
import signal
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
SYNC_SCRIPT = ROOT / "catalogs" / "duckdb_catalog.py"
SPARK_QUERY = HERE / "spark_query.py"
DATABASE = "finances"  # examples/quickstart/main.tf: catalog { database = "finances" }
PIPELINE_NAME = "household-finances"
LEAN_JVM_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"  # engines/local/local.h SF_LOCAL_LEAN_JVM_OPTS
COUNT_SQL = "select count(*) from transactions"
# A dashboard's "spend by category per month": outflows of the curated
# transactions, per month, category and currency.  Plain SQL both engines
# read the same way (the cast pins the result type on both).
DASHBOARD_SQL = (
    "select month, category, currency, cast(-sum(amount) as decimal(18,2)) as spend, count(*) as transactions "
    "from transactions where amount < 0 group by month, category, currency order by month, category, currency"
)
PROBE_LIMIT_S = 60.0
PROBE_EVERY_S = 0.2
QUERY_TIMEOUT_S = 600
MOTO_PENDING = "pending: no catalogs/glue.c (Glue + Athena) in this checkout"


sys.path.insert(0, str(BENCH_DIR / "lib"))
import common  # noqa: E402
import report  # noqa: E402

say, med = common.say, common.med


def die(msg: str) -> NoReturn:
    common.die(msg, "bench_catalog")


# The quickstart bench's Terraform set-up, process handling, provider log
# parsing and Spark lookup, reused.
qs = common.load("sparkflow_bench_quickstart", BENCH_DIR / "quickstart" / "bench.py")


def summary_stats(xs: list[float | None]) -> dict[str, Any] | None:
    return report.stats([x for x in xs if x is not None])


# ---------------------------------------------------------------------------
# Rows: one normal form for the CLI's CSV, DuckDB's and Spark's values
# ---------------------------------------------------------------------------


def norm_row(row: list[Any]) -> tuple[str, str, str, str, int]:
    month, category, currency, spend, n = row
    return (
        str(month),
        str(category),
        str(currency),
        str(decimal.Decimal(str(spend)).quantize(decimal.Decimal("0.01"))),
        int(n),
    )


def norm_rows(rows: list[list[Any]]) -> list[tuple[str, str, str, str, int]]:
    return [norm_row(r) for r in rows]


def csv_rows(text: str) -> list[list[str]]:
    """The DuckDB CLI's -csv output (header line first) as lists of fields."""
    got = list(csv.reader(io.StringIO(text)))
    return got[1:] if got else []


# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------


def duckdb_cli() -> str:
    cli = ROOT / ".venv" / "bin" / "duckdb"
    if not os.access(cli, os.X_OK):
        die(f"no DuckDB CLI at {cli}: run 'make bootstrap' (duckdb-cli is pinned in requirements.txt)")
    return str(cli)


def duckdb_bare_cli(python: str) -> str | None:
    """The CLI binary the duckdb-cli package's launcher runs."""
    code = "import duckdb_cli.__main__ as m; print(m._find_binary())"
    p = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    path = p.stdout.strip()
    return path if p.returncode == 0 and os.access(path, os.X_OK) else None


# A fresh Python process: connect, one query, print the answer as JSON.
PY_QUERY = r"""
import json, sys, time
t0 = time.perf_counter()
import duckdb
t1 = time.perf_counter()
con = duckdb.connect(sys.argv[1], read_only=True)
t2 = time.perf_counter()
rows = [[str(v) if not isinstance(v, (int, str)) else v for v in r] for r in con.execute(sys.argv[2]).fetchall()]
t3 = time.perf_counter()
sys.stdout.write(json.dumps({"import_s": t1 - t0, "connect_s": t2 - t1, "query_s": t3 - t2, "rows": rows}) + "\n")
sys.stdout.flush()
con.close()
"""


def run_timed(argv: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run argv to its end: {rc, wall_s, stdout, stderr}."""
    t0 = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=QUERY_TIMEOUT_S, stdin=subprocess.DEVNULL)
    return {"rc": p.returncode, "wall_s": time.perf_counter() - t0, "stdout": p.stdout, "stderr": p.stderr}


def cli_count(cli: str, db: str) -> tuple[bool, int | None, str]:
    """The README's command form (no -readonly): (answered, count, error)."""
    p = subprocess.run(
        [cli, db, "-csv", "-noheader", "-c", COUNT_SQL],
        capture_output=True,
        text=True,
        timeout=QUERY_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    out = p.stdout.strip()
    if p.returncode == 0 and out.isdigit():
        return True, int(out), ""
    return False, None, (p.stderr or p.stdout).strip()[-600:]


def py_count(python: str, db: str) -> tuple[bool, int | None, str]:
    p = subprocess.run(
        [python, "-c", PY_QUERY, db, COUNT_SQL],
        capture_output=True,
        text=True,
        timeout=QUERY_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    try:
        rows = json.loads(p.stdout.strip().splitlines()[-1])["rows"]
        return True, int(rows[0][0]), ""
    except (ValueError, IndexError, KeyError):
        return False, None, (p.stderr or p.stdout).strip()[-600:]


# ---------------------------------------------------------------------------
# Part 1: apply -> first query
# ---------------------------------------------------------------------------


def first_query(who: str, fn: Any, t_exit: float) -> dict[str, Any]:
    """One client's first query, started now; on failure, an explicit probe
    of how long until it would have answered (reported, never hidden)."""
    t0 = time.perf_counter()
    ok, count, err = fn()
    t1 = time.perf_counter()
    res = {
        "client": who,
        "started_after_exit_s": t0 - t_exit,
        "answer_after_exit_s": t1 - t_exit if ok else None,
        "own_s": t1 - t0,
        "first_attempt_ok": ok,
        "count": count,
        "error": err or None,
        "extra_wait_s": 0.0 if ok else None,
    }
    if not ok:
        say(f"  FIRST QUERY FAILED ({who}, {t1 - t_exit:.2f} s after apply exit): {err}")
        deadline = time.perf_counter() + PROBE_LIMIT_S
        attempts = 0
        while time.perf_counter() < deadline:
            time.sleep(PROBE_EVERY_S)
            attempts += 1
            ok2, count2, _ = fn()
            if ok2:
                t2 = time.perf_counter()
                res.update({"extra_wait_s": t2 - t1, "probe_attempts": attempts, "count": count2})
                say(f"  ... {who} answered after {t2 - t1:.2f} s of extra waiting ({attempts} probes)")
                break
        else:
            res["probe_attempts"] = attempts
            say(f"  ... {who} still not answering after {PROBE_LIMIT_S:.0f} s")
    return res


def sync_events(log_path: str) -> dict[str, Any]:
    """The catalog sync's start/end from the provider's INFO lines."""
    ev = qs.provider_events(log_path)
    start = next((t for t, m in ev if "catalog sync started" in m), None)
    done = [(t, m) for t, m in ev if "catalog sync done:" in m]
    failed = [(t, m) for t, m in ev if "catalog sync failed" in m]
    out: dict[str, Any] = {"start_epoch": start, "log_found": start is not None}
    if done:
        t, m = done[-1]
        out["end_epoch"] = t
        out["sync_ms"] = int(m.rsplit(" in ", 1)[1].split()[0])
        out["tables"] = int(m.split("done:", 1)[1].split()[0])
    if failed:
        out["failed"] = failed[-1][1]
    return out


def apply_once(
    tag: str, tf: Any, data: Path, scratch: Path, cli: str, python: str, order: tuple[str, str]
) -> dict[str, Any]:
    """Apply the quickstart on a fresh lake copy and query at once.  The
    cluster and the state are left for the caller (destroy())."""
    rundir = scratch / f"apply-{tag}"
    rundir.mkdir()
    lake = scratch / f"lake-{tag}"
    shutil.copytree(data, lake, symlinks=True)
    db = str(lake / f"{DATABASE}.duckdb")
    apply_json, apply_log = str(rundir / "apply.json"), str(rundir / "apply.tf.log")
    load0 = qs.loadavg()
    # tf.run returns when the apply process has exited: the clock starts there.
    rc, wall, e0, e1 = tf.run(
        ["apply", "-input=false", "-no-color", "-auto-approve", "-json", "-var", f"lake_dir={lake}"],
        apply_json,
        apply_log,
        timeout=qs.APPLY_TIMEOUT_S,
    )
    t_exit = time.perf_counter()
    firsts = []
    if rc == 0:
        clients = {"duckdb_cli": lambda: cli_count(cli, db), "duckdb_python": lambda: py_count(python, db)}
        for who in order:
            firsts.append(first_query(who, clients[who], t_exit))
    load1 = qs.loadavg()
    tf.check("apply", rc, apply_json)

    show_out = str(rundir / "show.json")
    rc, _, _, _ = tf.run(["show", "-json", "-no-color"], show_out)
    tf.check("show", rc, show_out)
    with open(show_out) as f:
        state = json.load(f)
    values = {r["address"]: r["values"] for r in state.get("values", {}).get("root_module", {}).get("resources", [])}
    pipe, cluster = values[qs.PIPELINE_ADDR], values[qs.CLUSTER_ADDR]
    # problems: a target missed (reported); fatal: nothing to measure.
    problems, fatal = [], []
    if pipe.get("status") != "succeeded":
        fatal.append(f"apply {tag}: pipeline status {pipe.get('status')!r}")
    expected = (pipe.get("metrics") or {}).get("transactions")
    if expected is None:
        fatal.append(f"apply {tag}: no `transactions` metric in the state")
    for fq in firsts:
        fq["expected"] = expected
        fq["count_ok"] = fq["count"] is not None and expected is not None and int(fq["count"]) == int(expected)
        if not fq["first_attempt_ok"]:
            problems.append(f"apply {tag}: {fq['client']}: first query after apply failed: {fq['error']}")
        elif not fq["count_ok"]:
            problems.append(f"apply {tag}: {fq['client']}: count(*) = {fq['count']}, metric transactions = {expected}")
    if pipe.get("catalog_database") != db:
        fatal.append(f"apply {tag}: catalog_database is {pipe.get('catalog_database')!r}, expected {db}")
    sync = sync_events(apply_log)
    if not sync["log_found"]:
        fatal.append(f"apply {tag}: no 'catalog sync started' line in the provider log (build without it?)")
    if "end_epoch" in sync:
        sync["end_to_apply_exit_s"] = e1 - sync["end_epoch"]
    ev = qs.parse_apply(apply_json)
    p0, p1 = ev.get((qs.PIPELINE_ADDR, "apply_start")), ev.get((qs.PIPELINE_ADDR, "apply_complete"))
    return {
        "tag": tag,
        "lake": str(lake),
        "db": db,
        "apply_wall_s": wall,
        "pipeline_apply_s": p1 - p0 if p0 and p1 else None,
        "first_queries": firsts,
        "sync": sync,
        "tables": pipe.get("tables"),
        "master_url": cluster.get("master_url"),
        "metrics": pipe.get("metrics"),
        "problems": problems,
        "fatal": fatal,
        "loadavg_before": load0,
        "loadavg_after": load1,
    }


def destroy(tf: Any, run: dict[str, Any], scratch: Path) -> float:
    out = str(scratch / f"destroy-{run['tag']}.txt")
    rc, secs, _, _ = tf.run(
        ["destroy", "-input=false", "-no-color", "-auto-approve", "-var", f"lake_dir={run['lake']}"], out
    )
    tf.check("destroy", rc, out)
    time.sleep(1)
    left = qs.kill_leftovers(tf.home, f"after destroy of apply {run['tag']}")
    if left:
        run["problems"].append(left)
    return secs


def standalone_sync(python: str, lake: str, scratch: Path, runs: int) -> list[float]:
    """catalogs/duckdb_catalog.py sync the way the provider runs it (the
    project's Python, a new process) into a scratch database, from scratch
    each time (as at a first apply): wall seconds per run."""
    out = []
    db = scratch / "sync-check" / f"{DATABASE}.duckdb"
    db.parent.mkdir(exist_ok=True)
    for _ in range(runs):
        if db.exists():
            db.unlink()
        argv = [
            python,
            str(SYNC_SCRIPT),
            "sync",
            "--db",
            str(db),
            "--pipeline",
            PIPELINE_NAME,
            "--output",
            os.path.join(lake, "curated"),
        ]
        r = run_timed(argv)
        if r["rc"] != 0:
            die(f"duckdb_catalog.py sync failed (exit {r['rc']}): {r['stdout']}{r['stderr']}")
        out.append(r["wall_s"])
    return out


# ---------------------------------------------------------------------------
# Part 2: the dashboard query, DuckDB views vs a fresh Spark session
# ---------------------------------------------------------------------------


def spark_fresh(
    procs: Any, spark_home: str, python: str, master: str, table: str, repeat: int, log: Path
) -> dict[str, Any]:
    """spark-submit spark_query.py: spawn -> answer line, the inner
    timings, and spawn -> exit."""
    argv = [
        os.path.join(spark_home, "bin", "spark-submit"),
        "--master",
        master,
        "--name",
        "bench-catalog-query",
        "--conf",
        f"spark.pyspark.python={python}",
        "--conf",
        "spark.driver.host=127.0.0.1",
        "--conf",
        f"spark.driver.extraJavaOptions={LEAN_JVM_OPTS}",
        "--conf",
        f"spark.executor.extraJavaOptions={LEAN_JVM_OPTS}",
        str(SPARK_QUERY),
        "--table",
        "file://" + table,
        "--sql",
        DASHBOARD_SQL,
        "--repeat",
        str(repeat),
    ]
    env = dict(os.environ)
    env.update({"SPARK_HOME": spark_home, "PYSPARK_PYTHON": python, "SPARK_LOCAL_IP": "127.0.0.1"})
    first = warm = None
    answer_s = None
    with open(log, "w") as err:
        t0 = time.perf_counter()
        p = procs.popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1
        )
        # A hung submit is stopped (its process group) after QUERY_TIMEOUT_S.
        watchdog = threading.Timer(QUERY_TIMEOUT_S, procs.stop, [p.pid])
        watchdog.start()
        try:
            assert p.stdout is not None
            for line in p.stdout:
                if not line.startswith("SFBENCH "):
                    continue
                obj = json.loads(line[len("SFBENCH ") :])
                if obj["phase"] == "first":
                    answer_s = time.perf_counter() - t0
                    first = obj
                elif obj["phase"] == "warm":
                    warm = obj
            rc = p.wait()
            exit_s = time.perf_counter() - t0
        finally:
            watchdog.cancel()
        procs.groups.discard(p.pid)
    if rc != 0 or first is None or warm is None:
        die(f"spark-submit of spark_query.py failed (exit {rc}); log {log}:\n{log.read_text(errors='replace')[-4000:]}")
    return {
        "answer_s": answer_s,
        "exit_s": exit_s,
        "session_s": first["session_s"],
        "first_query_s": first["query_s"],
        "warm_query_s": warm["query_s"],
        "rows": first["rows"],
    }


def query_speed(
    run: dict[str, Any],
    runs: int,
    repeat: int,
    tools: dict[str, Any],
    procs: Any,
    scratch: Path,
) -> dict[str, Any]:
    cli, bare, python, spark_home = tools["cli"], tools["bare"], tools["python"], tools["spark"]
    db, table = run["db"], os.path.join(run["lake"], "curated", "transactions")
    master = run["master_url"]
    if not master:
        die("no master_url in the cluster's state")
    samples: dict[str, list[Any]] = {
        k: []
        for k in (
            "duckdb_cli_s",
            "duckdb_bare_cli_s",
            "duckdb_py_fresh_s",
            "duckdb_py_query_s",
            "spark_answer_s",
            "spark_exit_s",
            "spark_session_s",
            "spark_first_query_s",
            "spark_warm_query_s",
            "duckdb_warm_s",
        )
    }
    answers: dict[str, list[tuple[str, str, str, str, int]]] = {}
    problems: list[str] = []

    def agree(who: str, rows: list[Any]) -> None:
        got = norm_rows(rows)
        if not got:
            problems.append(f"{who}: the dashboard query returned no rows")
        ref = answers.setdefault("first", got)
        answers.setdefault(who, got)
        if got != ref:
            diff = sorted(set(got) ^ set(ref))[:5]
            problems.append(f"{who}: rows differ from the first answer ({len(got)} vs {len(ref)} rows; e.g. {diff})")

    def duckdb_round() -> None:
        r = run_timed([cli, db, "-csv", "-c", DASHBOARD_SQL])
        if r["rc"] != 0:
            die(f"duckdb CLI failed: {r['stderr']}")
        agree("duckdb CLI", csv_rows(r["stdout"]))
        samples["duckdb_cli_s"].append(r["wall_s"])
        if bare:
            r = run_timed([bare, db, "-csv", "-c", DASHBOARD_SQL])
            if r["rc"] != 0:
                die(f"bare duckdb CLI failed: {r['stderr']}")
            agree("duckdb CLI (bare binary)", csv_rows(r["stdout"]))
            samples["duckdb_bare_cli_s"].append(r["wall_s"])
        r = run_timed([python, "-c", PY_QUERY, db, DASHBOARD_SQL])
        if r["rc"] != 0:
            die(f"python duckdb query failed: {r['stderr']}")
        obj = json.loads(r["stdout"].strip().splitlines()[-1])
        agree("duckdb python (fresh)", obj["rows"])
        samples["duckdb_py_fresh_s"].append(r["wall_s"])
        samples["duckdb_py_query_s"].append(obj["query_s"])

    def spark_round(i: int) -> None:
        s = spark_fresh(procs, spark_home, python, master, table, repeat, scratch / f"spark-{run['tag']}-{i}.log")
        agree("spark", s["rows"])
        samples["spark_answer_s"].append(s["answer_s"])
        samples["spark_exit_s"].append(s["exit_s"])
        samples["spark_session_s"].append(s["session_s"])
        samples["spark_first_query_s"].append(s["first_query_s"])
        samples["spark_warm_query_s"].extend(s["warm_query_s"])

    # Warm-up: page cache and the JIT-free parts (not measured).
    duckdb_round()
    for k in samples:
        samples[k].clear()
    for i in range(runs):
        for side in ("spark", "duckdb") if i % 2 == 0 else ("duckdb", "spark"):
            if side == "spark":
                spark_round(i)
            else:
                duckdb_round()
        say(
            "    round %d: spark answer %.2f s (session %.2f, query %.2f), duckdb CLI %.3f s, python %.3f s"
            % (
                i,
                samples["spark_answer_s"][-1],
                samples["spark_session_s"][-1],
                samples["spark_first_query_s"][-1],
                samples["duckdb_cli_s"][-1],
                samples["duckdb_py_fresh_s"][-1],
            )
        )

    import duckdb  # the venv's, pinned in requirements.txt

    con = duckdb.connect(db, read_only=True)
    try:
        agree("duckdb warm", [list(r) for r in con.execute(DASHBOARD_SQL).fetchall()])  # warm-up
        for _ in range(max(runs, repeat * runs)):
            t0 = time.perf_counter()
            rows = con.execute(DASHBOARD_SQL).fetchall()
            samples["duckdb_warm_s"].append(time.perf_counter() - t0)
            agree("duckdb warm", [list(r) for r in rows])
    finally:
        con.close()
    return {
        "samples": samples,
        "stats": {k: summary_stats(v) for k, v in samples.items()},
        "rows": len(answers.get("first", [])),
        "same_rows": not problems,
        "problems": problems,
    }


# ---------------------------------------------------------------------------
# Part 3: against moto (Glue + Athena)
# ---------------------------------------------------------------------------


def glue_apply_to_first_athena_query(
    cfg: dict[str, Any], scratch: Path, procs: Any, applies: int, transactions: int
) -> dict[str, Any]:
    """Apply return -> the first Athena StartQueryExecution accepted, against
    moto (bench/catalog/glue_moto.py: moto server, fault proxy as a recorder,
    tests/aws/executor.py running the EMR steps, examples/aws applied with
    the real Terraform CLI).  Pending, and said so, when this checkout has
    no Glue catalog (catalogs/glue.c)."""
    if not (ROOT / "catalogs" / "glue.c").exists():
        return {"status": "pending", "reason": MOTO_PENDING}
    if applies < 1:
        return {"status": "skipped", "reason": "skipped (--moto-applies 0)"}
    glue_moto = common.load("sparkflow_bench_glue_moto", HERE / "glue_moto.py")
    return glue_moto.run(
        qs,
        sync_events,
        cfg["terraform"],
        cfg["provider"],
        cfg["python"],
        scratch / "moto",
        procs,
        applies,
        transactions,
        say,
    )


# ---------------------------------------------------------------------------
# Data and the report
# ---------------------------------------------------------------------------


def generate(rows: int, out: Path, python: str) -> dict[str, Any]:
    say(f"generating {rows} transactions (the demo's flags: --months 24 --accounts 4 --seed 42) ...")
    argv = [
        python,
        str(GENERATOR),
        "--out",
        str(out),
        "--transactions",
        str(rows),
        "--months",
        "24",
        "--accounts",
        "4",
        "--seed",
        "42",
    ]
    r = run_timed(argv)
    if r["rc"] != 0:
        die("generate.py failed:\n" + r["stdout"] + r["stderr"])
    return {"generate_s": r["wall_s"]}


def fmt(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "-"
    return f"{x:.{digits}f}"


def mm(s: dict[str, Any] | None, digits: int = 2) -> str:
    return f"{fmt(s['min'], digits)} - {fmt(s['max'], digits)}" if s else "-"


def label(rows: int) -> str:
    return f"{rows // 1_000_000} M" if rows >= 1_000_000 and rows % 1_000_000 == 0 else f"{rows // 1000}k"


def summarize(cfg: dict[str, Any], sizes: list[dict[str, Any]], moto: dict[str, Any]) -> list[dict[str, Any]]:
    applies = [a for s in sizes for a in s["applies"]]
    firsts = [fq for a in applies for fq in a["first_queries"]]
    all_ok = bool(firsts) and all(fq["first_attempt_ok"] and fq["count_ok"] for fq in firsts)
    waits = [fq["extra_wait_s"] for fq in firsts]
    max_wait = max((w for w in waits if w is not None), default=None)
    if any(w is None for w in waits):
        max_wait = None
    rows = []
    print(
        "catalog: quickstart (DuckDB catalog %s.duckdb), sizes %s, %d apply(s) at the first size; "
        "load average %s at start"
        % (DATABASE, ", ".join(label(s["rows"]) for s in sizes), cfg["applies"], cfg["loadavg_start"])
    )
    print()
    print("1. apply exit -> first query (target: the first query answers, 0 s of extra waiting)")
    t = []
    for s in sizes:
        for client in ("duckdb_cli", "duckdb_python"):
            fqs = [fq for a in s["applies"] for fq in a["first_queries"] if fq["client"] == client]
            # Apply exit -> answer means something only for the client that
            # went first; the other's own time is reported for all runs.
            went_first = [a["first_queries"][0] for a in s["applies"] if a["first_queries"][:1]]
            went_first = [fq for fq in went_first if fq["client"] == client]
            st = summary_stats([fq["answer_after_exit_s"] for fq in went_first])
            own = summary_stats([fq["own_s"] for fq in fqs if fq["first_attempt_ok"]])
            ok = sum(1 for fq in fqs if fq["first_attempt_ok"] and fq["count_ok"])
            t.append(
                [
                    label(s["rows"]),
                    client,
                    f"{ok}/{len(fqs)}",
                    str(len(went_first)),
                    fmt(st["median"] if st else None),
                    mm(st),
                    fmt(own["median"] if own else None),
                    fmt(max((fq["extra_wait_s"] or 0.0 for fq in fqs), default=None)),
                ]
            )
            if st:
                rows.append(
                    report.row(
                        f"apply exit -> first answer, {client.replace('_', ' ')} first ({label(s['rows'])}, median)",
                        "s",
                        st["median"],
                    )
                )
    print(
        report.table(
            [
                "rows",
                "client",
                "first attempt ok",
                "went first",
                "exit -> answer s (when first)",
                "min - max s",
                "its own time s (all)",
                "extra wait s",
            ],
            t,
        )
    )
    rows.insert(
        0,
        report.row(
            "first query after apply answers at once (all applies, both clients); max extra wait",
            "s",
            max_wait,
            None,
            "first attempt ok, 0 s",
            all_ok and max_wait == 0.0,
        ),
    )
    print()
    t = []
    for s in sizes:
        sync_ms = [a["sync"].get("sync_ms") for a in s["applies"]]
        end_exit = [a["sync"].get("end_to_apply_exit_s") for a in s["applies"]]
        walls = [a["apply_wall_s"] for a in s["applies"]]
        share = [
            100 * (a["sync"]["sync_ms"] / 1000) / a["apply_wall_s"] for a in s["applies"] if a["sync"].get("sync_ms")
        ]
        ss = summary_stats([x / 1000 if x is not None else None for x in sync_ms])
        alone = summary_stats(s["standalone_sync_s"])
        t.append(
            [
                label(s["rows"]),
                fmt(med(walls), 1),
                fmt(ss["median"] if ss else None),
                mm(ss),
                fmt(med(share), 1),
                fmt(med(end_exit)),
                fmt(alone["median"] if alone else None),
                mm(alone),
            ]
        )
        rows.append(
            report.row(
                f"catalog sync inside apply vs the script alone ({label(s['rows'])}, median)",
                "s",
                ss["median"] if ss else None,
                alone["median"] if alone else None,
            )
        )
    print("catalog sync inside apply (provider INFO lines) and duckdb_catalog.py sync run alone")
    print(
        report.table(
            [
                "rows",
                "apply s",
                "sync in apply s",
                "min - max s",
                "% of apply",
                "sync end -> apply exit s",
                "script alone s",
                "min - max s",
            ],
            t,
        )
    )
    print()
    print(
        "2. dashboard query (outflows by month and category over `transactions`): Spark / DuckDB, "
        "%d fresh runs each, %d warm repeats per Spark session" % (cfg["runs"], cfg["repeat"])
    )
    t = []
    for s in sizes:
        q = s["query"]["stats"]

        def m(k: str, q: dict[str, Any] = q) -> float | None:
            return q[k]["median"] if q.get(k) else None

        pairs = [
            ("fresh: spark-submit -> answer / duckdb CLI process", "spark_answer_s", "duckdb_cli_s"),
            ("fresh: spark-submit -> answer / python duckdb process", "spark_answer_s", "duckdb_py_fresh_s"),
            ("query alone: first query of a session / of a connection", "spark_first_query_s", "duckdb_py_query_s"),
            ("warm: same session / same connection", "spark_warm_query_s", "duckdb_warm_s"),
        ]
        for what, sk, dk in pairs:
            sv, dv = m(sk), m(dk)
            t.append(
                [
                    label(s["rows"]),
                    what,
                    fmt(sv, 3),
                    mm(q.get(sk), 3),
                    fmt(dv, 3),
                    mm(q.get(dk), 3),
                    fmt(report.ratio(sv, dv), 1),
                ]
            )
            rows.append(
                report.row(f"dashboard query, Spark vs DuckDB, {what} ({label(s['rows'])}, median)", "s", sv, dv)
            )
        t.append(
            [
                label(s["rows"]),
                "  (info) spark session start / bare duckdb CLI binary",
                fmt(m("spark_session_s"), 3),
                mm(q.get("spark_session_s"), 3),
                fmt(m("duckdb_bare_cli_s"), 3),
                mm(q.get("duckdb_bare_cli_s"), 3),
                "",
            ]
        )
        t.append(
            [
                label(s["rows"]),
                "  (info) spark-submit -> exit (with spark.stop)",
                fmt(m("spark_exit_s"), 3),
                mm(q.get("spark_exit_s"), 3),
                "",
                "",
                "",
            ]
        )
    print(
        report.table(["rows", "what", "spark median s", "min - max", "duckdb median s", "min - max", "spark/duckdb"], t)
    )
    same = all(s["query"]["same_rows"] for s in sizes)
    print(
        "same rows on every side: %s (%s result rows)"
        % ("yes" if same else "NO", ", ".join(f"{label(s['rows'])}: {s['query']['rows']}" for s in sizes))
    )
    print()
    print()
    rows += summarize_moto(cfg, moto)
    return rows


def summarize_moto(cfg: dict[str, Any], moto: dict[str, Any]) -> list[dict[str, Any]]:
    """Part 3's table and summary rows."""
    metric = "apply exit -> first Athena StartQueryExecution accepted, moto (median)"
    if moto["status"] != "measured":
        print("3. against moto (Glue + Athena): " + moto["reason"])
        return [report.row(f"{metric}: {moto['status']}", "s", None, None, "first call ok, 0 s", None)]
    applies = moto["applies"]
    firsts = [a["first_query"] for a in applies if a["first_query"]]
    ok = bool(firsts) and len(firsts) == len(applies) and all(f["first_attempt_ok"] for f in firsts)
    waits = [f["extra_wait_s"] for f in firsts]
    max_wait = None if any(w is None for w in waits) else max(waits, default=None)
    st = summary_stats([f["answer_after_exit_s"] for f in firsts])
    sync = summary_stats([a["sync"]["sync_ms"] / 1000 for a in applies if a["sync"].get("sync_ms") is not None])
    gt = summary_stats([a["get_tables_s"] for a in applies])
    walls = summary_stats([a["apply_wall_s"] for a in applies])
    calls = summary_stats([a["catalog_calls"] for a in applies])
    print(
        "3. against moto (Glue + Athena): examples/aws, %d generated transactions, %d apply(s); "
        "moto runs no SQL (the query is accepted and SUCCEEDED at once)" % (moto["transactions"], len(applies))
    )
    t = [
        ["apply wall (EMR steps by tests/aws/executor.py, local Spark)", fmt(walls["median"], 1), mm(walls, 1)],
        [
            "apply exit -> StartQueryExecution accepted (first call ok %d/%d)"
            % (sum(1 for f in firsts if f["first_attempt_ok"]), len(applies)),
            fmt(st["median"] if st else None, 3),
            mm(st, 3),
        ],
        ["extra wait (max)", fmt(max_wait, 3), ""],
        [
            "then Glue GetTable of each of the %d tables (all found; their own time)" % len(applies[0]["tables"] or {}),
            fmt(gt["median"] if gt else None, 3),
            mm(gt, 3),
        ],
        ["catalog sync inside apply (Glue + Athena)", fmt(sync["median"] if sync else None, 3), mm(sync, 3)],
        ["Glue/Athena calls the provider sent per apply", fmt(calls["median"], 0) if calls else "-", mm(calls, 0)],
    ]
    print(report.table(["what", "median s", "min - max"], t))
    if applies:
        print("  calls of the first apply: " + json.dumps(applies[0]["catalog_calls_by_action"], sort_keys=True))
    return [
        report.row(
            "first Athena query after apply (moto) accepted at once; max extra wait",
            "s",
            max_wait,
            None,
            "first call ok, 0 s",
            ok and max_wait == 0.0,
        ),
        report.row(metric, "s", st["median"] if st else None),
        report.row(
            "catalog sync inside apply, Glue + Athena against moto (median)", "s", sync["median"] if sync else None
        ),
    ]


def git_commit() -> str:
    return qs.git_commit()


def main(argv: list[str]) -> int:
    quick = os.environ.get("BENCH_QUICK") == "1"
    ap = argparse.ArgumentParser(prog="bench/bench_catalog", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--sizes",
        default=os.environ.get("BENCH_CATALOG_SIZES", "100000,1000000"),
        help="generated transactions per size, comma-separated (default 100000,1000000)",
    )
    ap.add_argument(
        "--applies",
        type=int,
        default=int(os.environ.get("BENCH_CATALOG_APPLIES", 1 if quick else 3)),
        help="applies (each with its first queries) at the first size; 1 at the others (default 3; quick 1)",
    )
    ap.add_argument(
        "--runs",
        type=int,
        default=int(os.environ.get("BENCH_CATALOG_RUNS", 3 if quick else 5)),
        help="fresh query runs per side and size (default 5; quick 3)",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=int(os.environ.get("BENCH_CATALOG_REPEAT", 3)),
        help="warm Spark runs per Spark session (default 3)",
    )
    ap.add_argument(
        "--sync-runs",
        type=int,
        default=int(os.environ.get("BENCH_CATALOG_SYNC_RUNS", 5)),
        help="runs of duckdb_catalog.py sync alone per size (default 5)",
    )
    ap.add_argument(
        "--moto-applies",
        type=int,
        default=int(os.environ.get("BENCH_CATALOG_MOTO_APPLIES", 1 if quick else 3)),
        help="applies of examples/aws against moto (default 3; quick 1; 0: skip)",
    )
    ap.add_argument(
        "--moto-transactions",
        type=int,
        default=int(os.environ.get("BENCH_CATALOG_MOTO_TRANSACTIONS", 5000)),
        help="generated transactions in the moto lake (default 5000)",
    )
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    provider, terraform = os.environ.get("BENCH_PROVIDER"), os.environ.get("BENCH_TERRAFORM")
    if not provider or not terraform:
        die("BENCH_PROVIDER and BENCH_TERRAFORM must be set (bench/bench_catalog sets them)")
    try:
        sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    except ValueError:
        die(f"--sizes: not a list of numbers: {args.sizes}")
    if not sizes or min(sizes) < 1 or args.applies < 1 or args.runs < 1 or args.repeat < 1 or args.sync_runs < 1:
        die("--sizes, --applies, --runs, --repeat and --sync-runs must be at least 1")

    python = qs.job_python()
    spark = qs.spark_home(python)
    cli = duckdb_cli()
    bare = duckdb_bare_cli(python)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    cfg = {
        "sizes": sizes,
        "applies": args.applies,
        "runs": args.runs,
        "repeat": args.repeat,
        "sync_runs": args.sync_runs,
        "moto_applies": args.moto_applies,
        "moto_transactions": args.moto_transactions,
        "provider": provider,
        "terraform": terraform,
        "python": python,
        "spark_home": spark,
        "duckdb_cli": cli,
        "duckdb_bare_cli": bare,
        "dashboard_sql": DASHBOARD_SQL,
        "count_sql": COUNT_SQL,
        "command": " ".join(["bench/bench_catalog"] + argv),
        "loadavg_start": qs.loadavg(),
        "started": stamp,
        "git_commit": git_commit(),
        "cpus": os.cpu_count(),
    }
    scratch = Path(tempfile.mkdtemp(prefix="sf-bench-catalog.", dir=os.environ.get("TMPDIR")))
    procs = qs.Procs()
    keep = os.environ.get("BENCH_KEEP") == "1"
    tf = None
    live: dict[str, Any] | None = None
    try:
        tf = qs.Terraform(terraform, provider, str(scratch), procs)
        init_out = str(scratch / "init.txt")
        rc, init_s, _, _ = tf.run(["init", "-input=false", "-no-color"], init_out)
        tf.check("init", rc, init_out)
        results = []
        for si, rows in enumerate(sizes):
            data = scratch / f"data-{rows}"
            gen = generate(rows, data, python)
            n_applies = args.applies if si == 0 else 1
            applies = []
            for i in range(n_applies):
                order = ("duckdb_cli", "duckdb_python") if (si + i) % 2 == 0 else ("duckdb_python", "duckdb_cli")
                say(f"{label(rows)}: apply {i + 1}/{n_applies} (first query: {order[0]}) ...")
                live = apply_once(f"{rows}-{i}", tf, data, scratch, cli, python, order)
                a = live
                applies.append(a)
                say(
                    "  apply %.1f s; catalog sync %s ms; first answers %s; load %s"
                    % (
                        a["apply_wall_s"],
                        a["sync"].get("sync_ms"),
                        ", ".join(
                            "%s %s s%s"
                            % (
                                fq["client"],
                                fmt(fq["answer_after_exit_s"]),
                                "" if fq["first_attempt_ok"] else " (FAILED FIRST)",
                            )
                            for fq in a["first_queries"]
                        ),
                        a["loadavg_after"],
                    )
                )
                for p in a["problems"] + a["fatal"]:
                    say("  PROBLEM: " + p)
                if a["fatal"]:
                    die("cannot measure: " + "; ".join(a["fatal"]))
                if i < n_applies - 1:
                    a["destroy_s"] = destroy(tf, a, scratch)
                    live = None
            last = applies[-1]
            say(f"{label(rows)}: duckdb_catalog.py sync alone, {args.sync_runs} run(s) ...")
            standalone = standalone_sync(python, last["lake"], scratch, args.sync_runs)
            say(f"{label(rows)}: dashboard query, {args.runs} fresh run(s) per side, cluster {last['master_url']} ...")
            tools = {"cli": cli, "bare": bare, "python": python, "spark": spark}
            q = query_speed(last, args.runs, args.repeat, tools, procs, scratch)
            for p in q["problems"]:
                say("  PROBLEM: " + p)
            last["destroy_s"] = destroy(tf, last, scratch)
            live = None
            shutil.rmtree(last["lake"], ignore_errors=True)
            for a in applies:
                shutil.rmtree(a["lake"], ignore_errors=True)
            shutil.rmtree(data, ignore_errors=True)
            results.append(
                {"rows": rows, "generate": gen, "applies": applies, "standalone_sync_s": standalone, "query": q}
            )

        say(f"moto (Glue + Athena): {args.moto_applies} apply(s) of examples/aws ...")
        moto = glue_apply_to_first_athena_query(cfg, scratch, procs, args.moto_applies, args.moto_transactions)
        cfg["loadavg_end"] = qs.loadavg()
        summary = summarize(cfg, results, moto)
        problems = [p for s in results for a in s["applies"] for p in a["problems"]]
        problems += [p for s in results for p in s["query"]["problems"]]
        problems += moto.get("problems", [])
        print()
        print(
            "load average: %s at start, %s at end (%d CPUs)" % (cfg["loadavg_start"], cfg["loadavg_end"], cfg["cpus"])
        )
        for p in problems:
            print("PROBLEM: " + p)
        result = {
            "name": "catalog",
            "summary": summary,
            "details": {"config": cfg, "sizes": results, "moto": moto, "problems": problems},
        }
        os.makedirs(BENCH_DIR / "results", exist_ok=True)
        out = BENCH_DIR / "results" / f"catalog-{stamp}.json"
        with open(out, "w") as f:
            json.dump(result, f, indent=2)
        print("results: " + os.path.relpath(out, os.getcwd()))
        if os.environ.get("BENCH_JSON"):
            with open(os.environ["BENCH_JSON"], "w") as f:
                json.dump(result, f, indent=2)
        # Different rows on the two engines: the timings compare nothing.
        return 1 if any(not s["query"]["same_rows"] for s in results) else 0
    finally:
        procs.stop_all()
        if tf is not None and tf.has_resources():
            say("bench_catalog: destroying what the interrupted run left ...")
            lake = live["lake"] if live else str(scratch / "none")
            tf.run(
                ["destroy", "-input=false", "-no-color", "-auto-approve", "-var", f"lake_dir={lake}"],
                str(scratch / "cleanup-destroy.txt"),
            )
            procs.stop_all()
        left = qs.kill_leftovers(str(scratch), "at exit")
        if left:
            say("bench_catalog: " + left)
        if keep:
            say(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
