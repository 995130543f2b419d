"""End-to-end: sparkflow_pipeline with a real Terraform CLI and real Spark
on a local cluster made by sparkflow_cluster.

The scenarios are the steps of one class, in order, sharing one sandbox and
one cluster — the quickstart's own (examples/quickstart/main.tf, with
lake_dir set to a generated lake and its jobs pointing at an editable copy)
— to keep the suite short on a 2-core machine:

  01-06  the quickstart: metrics equal the generator's manifest; no changes
         on re-plan; an edited script plans a re-run; inputs that change
         between plan and apply are refused; an appended export re-runs and
         every count grows by exactly the manifest's delta
  07-11  a one-stage fixture pipeline (tests/e2e/fixtures/jobs/line_count.py)
         on a lake of its own: an edited script re-runs; a failing stage
         keeps the published outputs and a retry succeeds; Ctrl-C during a
         run stops Spark and the next apply completes; outputs deleted
         outside Terraform are re-created
  12     input the jobs do not expect (wrong columns, empty, binary)
  13     two pipelines in one apply, at the same time, on the one cluster
  14-15  destroy keeps outputs (with a warning) or deletes them when asked,
         and leaves no process behind

Each step runs on the primary Terraform client, the first found (every
client with SF_PIPELINE_CLIENTS=all): Spark makes the suite minutes long,
and test_cluster.py covers the protocol paths on every client.  For the
same reason the module is `once`: scripts/test runs it in one pass only,
its sanitizer pass when it has one (conftest.py).  The
sandbox's cleanup destroys whatever a failed step left and fails the run if a process
survives; every Terraform command is checked for provider-bug output
(tfharness.BUG_PATTERNS: "inconsistent", "invalid plan", "panic", ...).
"""

import os
import random
import re
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from pipeline_support import (
    FAST_CONF,
    FIXTURE_JOBS,
    RUN_TIMEOUT,
    app_processes,
    append,
    assert_metrics,
    check_background,
    config,
    copy_jobs,
    describe,
    expected_metrics,
    generate,
    interrupt,
    is_driver,
    is_executor,
    load_generator,
    manifest,
    outputs,
    pipeline_block,
    plan_change,
    plan_exitcode,
    published,
    quickstart_config,
    run_dirs,
    stage_logs,
    store_entries,
    sum_deltas,
    tree,
    wait_exit,
)
from tfharness import VENV, CommandFailed, discover_clients, owned_processes, spark_processes, wait_for

pytestmark = pytest.mark.once

QS = "sparkflow_pipeline.finances"
QS_NAME = "household-finances"
QS_STAGES = ("validate", "process", "marts")
QS_MARTS = ("monthly_summary", "spend_by_category", "cash_flow", "budget_vs_actual", "top_merchants")
FX = "sparkflow_pipeline.fx"
FX_LINES = {"a.txt": 100, "b.txt": 50}
FX_METRICS = {"fixture_lines": sum(FX_LINES.values()), "fixture_files": len(FX_LINES)}
BOOM = "SPARKFLOW-E2E-BOOM-7f3a"
FP_RE = r"sha256:[0-9a-f]{64}"


def reader_loop(db, query):
    """Run `query` on a read-only DuckDB connection to `db` in a loop on a
    thread; returns (answers, stop), stop() -> (answers, error texts)."""
    answers, errors, done = [], [], threading.Event()
    con = duckdb.connect(str(db), read_only=True)

    def loop():
        while not done.is_set():
            try:
                answers.append(con.execute(query).fetchone()[0])
            except duckdb.Error as e:
                errors.append(str(e).splitlines()[0])
            done.wait(0.05)

    t = threading.Thread(target=loop, daemon=True)
    t.start()

    def stop():
        done.set()
        t.join(30)
        con.close()
        return answers, errors

    return answers, stop


def flat(text):
    """Terraform wraps diagnostics to its width: compare with whitespace
    collapsed."""
    return " ".join(text.split())


# ---------------------------------------------------------------------------
# The shared world
# ---------------------------------------------------------------------------


@pytest.fixture(scope="class")
def world(class_sandbox):
    """A generated lake, an editable copy of the jobs, the quickstart
    configuration pointing at them, and a small lake for the fixture
    pipeline.  Steps record what later steps need (cluster, manifests)."""
    sb = class_sandbox
    primary = next(iter(discover_clients()), None)
    if os.environ.get("SF_PIPELINE_CLIENTS") != "all" and primary and sb.client.path != primary.path:
        pytest.skip(
            f"Spark-heavy: runs on the primary Terraform client only ({primary.id}); "
            "SF_PIPELINE_CLIENTS=all runs it on every client"
        )
    lake = sb.root / "lake"
    # Small on purpose (CI: 2 cores, several clients, a sanitizer build);
    # --bad-files adds an empty file, a header-only file, an unknown bank's
    # export (other columns) and binary garbage, all part of the expected
    # counts.
    generate(lake, "--transactions", "3000", "--months", "6", "--end", "2025-06-30", "--seed", "7", "--bad-files")
    jobs = copy_jobs(sb.root / "jobs")
    qs = sb.workdir("quickstart", quickstart_config(jobs))
    # -var lake_dir=... for every command, the cleanup's destroy included.
    (qs / "terraform.tfvars").write_text(f'lake_dir = "{lake}"\n')

    fxlake = sb.root / "fxlake"
    for name, n in FX_LINES.items():
        p = fxlake / "raw" / "events" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("".join(f"event {i} of {name}\n" for i in range(n)))
    (fxlake / "reference").mkdir()
    (fxlake / "reference" / "notes.txt").write_text("nothing to see\n")
    fxjobs = sb.root / "fxjobs"
    fxjobs.mkdir()
    fx_script = fxjobs / "line_count.py"
    shutil.copy2(FIXTURE_JOBS / "line_count.py", fx_script)
    return SimpleNamespace(
        sb=sb,
        lake=lake,
        jobs=jobs,
        qs=qs,
        fxlake=fxlake,
        fx_script=fx_script,
        fx=None,
        cluster=None,
        m0=None,
        reader=None,
        done=set(),
    )


def needs(w, *steps):
    missing = [s for s in steps if s not in w.done]
    if missing:
        pytest.fail(f"needs the earlier step(s) {missing}, which did not complete", pytrace=False)


def state_of(w, d, address):
    return w.sb.resources(d).get(address)


def fx_config(w, args=(), **attrs):
    stage = {"name": "count", "script": w.fx_script, "spark_conf": FAST_CONF}
    if args:
        stage["args"] = list(args)
    return config(
        pipeline_block(
            "fx",
            name="fx",
            cluster_id=w.cluster["id"],
            lake=w.fxlake,
            input="raw/events",
            output="lines",
            stages=[stage],
            **attrs,
        )
    )


def assert_qs_run(w, res, m):
    """The quickstart pipeline in state really ran and published: every
    stage succeeded with its log where the local engine keeps it, the
    merged and per-stage metrics are what the manifest `m` says, and the
    published link names the run state records, with a run record carrying
    the plan's fingerprint."""
    assert res["status"] == "succeeded", res
    assert [s["name"] for s in res["stages"]] == list(QS_STAGES), res["stages"]
    logs = stage_logs(w.cluster, QS_NAME, res["run_id"])
    for s in res["stages"]:
        assert s["status"] == "succeeded", s
        assert Path(s["log"]) == logs / f"{s['name']}.log" and Path(s["log"]).is_file(), s
        assert s["started_at"] <= s["finished_at"] and s["duration_ms"] >= 0, s
    assert_metrics(res["metrics"], expected_metrics(m), "state metrics")
    for job, s in zip(QS_STAGES, res["stages"], strict=True):
        got = dict(s["metrics"])
        assert got.pop("duration_ms", 0) >= 0
        assert_metrics(got, m["expected"][job], f"stage {job} metrics")
    pub = published(w.lake, "curated")
    assert pub["run_id"] == res["run_id"], (pub["run_id"], res["run_id"])
    assert pub["record"]["run_id"] == res["run_id"], pub["record"]
    assert pub["record"]["fingerprint"] == res["fingerprint"], (pub["record"], res["fingerprint"])
    assert res["output_uri"] == f"file://{w.lake}/curated", res["output_uri"]
    for t in ("valid", "rejected", "transactions", "marts/monthly_summary", "report/index.html"):
        assert (pub["run_dir"] / t).exists(), f"{t} missing from the published run {pub['run_dir']}"
    return pub


def assert_fx_run(w, res):
    assert res["status"] == "succeeded", res
    (s,) = res["stages"]
    assert s["status"] == "succeeded" and Path(s["log"]).is_file(), s
    assert Path(s["log"]) == stage_logs(w.cluster, "fx", res["run_id"]) / "count.log", s
    assert_metrics(res["metrics"], FX_METRICS, "fx metrics")
    pub = published(w.fxlake, "lines")
    assert pub["run_id"] == res["run_id"] == pub["record"]["run_id"], (pub, res["run_id"])
    assert pub["record"]["fingerprint"] == res["fingerprint"]
    assert any(f.endswith(".parquet") for f in pub["files"]), pub["files"]
    return pub


def assert_no_app_processes(sb, timeout=60):
    """No Spark driver, executor or Python worker of this sandbox is left
    (the cluster's master and workers may run)."""
    gone = wait_for(lambda: not app_processes(sb), timeout)
    assert gone, f"Spark application processes still running: {describe(app_processes(sb))}"


def assert_plans_rerun(change, prior_fp):
    """A planned update that re-runs: a new fingerprint, known at plan time,
    and the run's results unknown until apply."""
    assert change["actions"] == ["update"], change["actions"]
    assert change["before"]["fingerprint"] == prior_fp
    new = change["after"]["fingerprint"]
    assert isinstance(new, str) and re.fullmatch(FP_RE, new) and new != prior_fp, new
    for k in ("run_id", "status", "stages", "metrics"):
        assert change["after_unknown"].get(k) is True, (k, change["after_unknown"])
    return new


def assert_fp_change_shown(text, res_name):
    t = flat(text)
    assert f"# {res_name} will be updated in-place" in t, text
    assert re.search(rf'~ fingerprint = "{FP_RE}" -> "{FP_RE}"', t), text


class TestPipeline:
    # -- 01. the quickstart on a generated lake ----------------------------------
    def test_01_quickstart_metrics_equal_manifest(self, world):
        w, sb = world, world.sb
        sb.init(w.qs)
        r = sb.run("apply", cwd=w.qs, timeout=RUN_TIMEOUT)
        assert "Apply complete! Resources: 2 added, 0 changed, 0 destroyed." in r.output, r.output
        w.cluster, res = state_of(w, w.qs, "sparkflow_cluster.dev"), state_of(w, w.qs, QS)
        w.m0 = manifest(w.lake)
        assert w.m0["injected"]["bad_files"] == 4, w.m0["injected"]
        # What the user sees: `terraform output rows`, the merged metrics.
        out = outputs(sb, w.qs)
        assert_metrics(out["rows"], expected_metrics(w.m0), "terraform output rows")
        assert out["tables"] == f"file://{w.lake}/curated"
        assert Path(out["report"]).is_file(), out["report"]
        assert re.fullmatch(FP_RE, res["fingerprint"]), res["fingerprint"]
        assert res["id"] == QS_NAME and res["cluster_id"] == w.cluster["id"], res
        assert_qs_run(w, res, w.m0)
        assert_no_app_processes(sb)
        w.done.add("quickstart")

    # -- 01b. the catalog: SQL on the published tables, numbers = metrics ---------
    def test_01b_catalog_answers_sql(self, world):
        """Every published table is a view in lake/finances.duckdb (the
        quickstart's `catalog` block) and the numbers a query returns are the
        ones the stages counted."""
        w = world
        needs(w, "quickstart")
        res = state_of(w, w.qs, QS)
        db = w.lake / "finances.duckdb"
        assert res["catalog_database"] == str(db) and db.is_file(), res["catalog_database"]
        assert res["catalog_workgroup"] is None
        want = {
            t: f"file://{w.lake}/curated/{p}"
            for t, p in [("valid", "valid"), ("rejected", "rejected"), ("transactions", "transactions")]
            + [(m, f"marts/{m}") for m in QS_MARTS]
        }
        assert res["tables"] == want, res["tables"]
        m = res["metrics"]
        con = duckdb.connect(str(db), read_only=True)
        try:
            count = lambda t: con.execute(f"select count(*) from {t}").fetchone()[0]  # noqa: E731
            assert count("valid") == m["valid"] and count("rejected") == m["rejected"]
            assert count("transactions") == m["transactions"]
            for mart in QS_MARTS:
                assert count(mart) == m[f"mart_{mart}_rows"], mart
            reasons = dict(con.execute("select reject_reason, count(*) from rejected group by 1").fetchall())
            assert reasons == {k[len("rejected_") :]: v for k, v in m.items() if k.startswith("rejected_") and v}
            income, spend = con.execute("select sum(income), sum(spend) from monthly_summary").fetchone()
            assert abs(float(income) - m["total_income"]) < 0.005 and abs(float(spend) - m["total_spend"]) < 0.005
            months = con.execute("select count(distinct month) from transactions").fetchone()[0]
            assert months == m["transaction_months"]
        finally:
            con.close()
        # The command the README shows, with the real CLI.
        r = subprocess.run(
            [str(VENV / "bin" / "duckdb"), str(db), "-csv", "-c", "select count(*) as n from transactions"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0 and r.stdout.split() == ["n", str(m["transactions"])], (r.stdout, r.stderr)
        # A reader that stays open across the next publication (step 05).
        w.reader = duckdb.connect(str(db), read_only=True)
        w.done.add("catalog")

    # -- 02. nothing changed: no changes ----------------------------------------
    def test_02_replan_no_changes(self, world):
        needs(world, "quickstart")
        r = plan_exitcode(world.sb, world.qs)
        assert r.rc == 0 and "No changes." in r.output, r.describe()

    # -- 03. an edited script plans a re-run --------------------------------------
    def test_03_edited_script_plans_rerun(self, world):
        """The script's content is part of the fingerprint.  The run this
        plans is applied together with the appended export of step 05 (one
        full quickstart run less); step 08 applies a script edit alone."""
        w, sb = world, world.sb
        needs(w, "quickstart")
        prior = state_of(w, w.qs, QS)
        script = w.jobs / "process_transactions.py"
        with open(script, "a") as f:
            f.write("\n# edited by tests/e2e/test_pipeline.py: a comment only\n")
        r = sb.run("plan", "-out=edit.tfplan", cwd=w.qs, timeout=300)
        assert_fp_change_shown(r.output, QS)
        assert "Plan: 0 to add, 1 to change, 0 to destroy." in r.output, r.output
        w.edit_fp = assert_plans_rerun(plan_change(sb, w.qs, "edit.tfplan", QS), prior["fingerprint"])
        w.done.add("edited")

    # -- 04. inputs changed between plan and apply ----------------------------------
    def test_04_inputs_changed_between_plan_and_apply(self, world):
        w, sb = world, world.sb
        needs(w, "edited")
        prior = state_of(w, w.qs, QS)
        pub0, entries0 = published(w.lake, "curated"), store_entries(w.lake, "curated")
        runs0 = run_dirs(w.cluster, QS_NAME)
        w.append1 = append(w.lake, 200)  # lands after the plan of step 03
        w.done.add("appended")  # step 05 goes on from here either way
        try:
            r, refused = sb.run("apply", "edit.tfplan", cwd=w.qs, timeout=RUN_TIMEOUT, ok=False), None
        except CommandFailed as e:  # provider-bug output: still check what it did, then fail
            r, refused = None, e
        # Nothing ran, nothing was published, state is as before.
        assert run_dirs(w.cluster, QS_NAME) == runs0
        assert store_entries(w.lake, "curated") == entries0
        assert published(w.lake, "curated") == pub0
        after = state_of(w, w.qs, QS)
        for k in ("run_id", "fingerprint", "status", "metrics", "stages"):
            assert after[k] == prior[k], (k, prior[k], after[k])
        assert_no_app_processes(sb, timeout=5)
        if refused:
            raise refused
        t = flat(r.output)
        assert "Inputs changed since the plan" in t, r.output
        assert f'pipeline "{QS_NAME}" changed between plan and apply' in t and "Nothing was run." in t
        assert w.edit_fp in t, r.output  # the planned fingerprint is named

    # -- 05. an appended export re-runs; counts grow by exactly the delta -----------
    def test_05_append_reruns_and_counts_grow_by_the_delta(self, world):
        w, sb = world, world.sb
        needs(w, "appended")
        prior = state_of(w, w.qs, QS)
        pub0 = published(w.lake, "curated")
        r = sb.run("plan", "-out=append.tfplan", cwd=w.qs, timeout=300)
        assert_fp_change_shown(r.output, QS)
        fp = assert_plans_rerun(plan_change(sb, w.qs, "append.tfplan", QS), prior["fingerprint"])
        # The new export is in the fingerprint: not the one of the edit alone.
        assert fp != w.edit_fp
        # A reader queries the catalog all through the apply: every answer
        # is the old run's count or the new one's, never a mix.
        seen, stop = reader_loop(w.lake / "finances.duckdb", "select count(*) from transactions")
        try:
            r = sb.run("apply", "append.tfplan", cwd=w.qs, timeout=RUN_TIMEOUT)
        finally:
            answers, errors = stop()
        assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in r.output, r.output
        res = state_of(w, w.qs, QS)
        assert answers and set(answers) <= {prior["metrics"]["transactions"], res["metrics"]["transactions"]}, (
            sorted(set(answers)),
            errors,
        )
        # Only the documented race: a scan whose run was removed after the switch.
        assert all("No files found" in e or "No such file" in e for e in errors), errors
        # The connection opened before the re-run (step 01b) reads the new run
        # through views nobody touched.
        if "catalog" in w.done:
            n = w.reader.execute("select count(*) from transactions").fetchone()[0]
            w.reader.close()
            assert n == res["metrics"]["transactions"], (n, res["metrics"]["transactions"])
        assert res["fingerprint"] == fp and res["run_id"] != prior["run_id"], res
        m1 = manifest(w.lake)
        assert len(m1["appends"]) == len(w.m0["appends"]) + 1
        assert m1["appends"][-1]["file"] == w.append1["file"]
        delta = sum_deltas(m1, len(w.m0["appends"]))
        assert delta["read"] == 200, delta
        pub = assert_qs_run(w, res, m1)
        grown = {k: prior["metrics"][k] + delta[k] for k in prior["metrics"]}
        assert_metrics(res["metrics"], grown, "metrics after the append (prior + delta)")
        # The previous run's directory is gone (after the publish's grace).
        assert wait_for(lambda: not pub0["run_dir"].exists(), 10), pub0["run_dir"]
        assert pub["run_dir"] != pub0["run_dir"]
        assert_no_app_processes(sb)
        w.done.add("rerun")

    # -- 06. and again: no changes ----------------------------------------------
    def test_06_replan_after_rerun_no_changes(self, world):
        needs(world, "rerun")
        r = plan_exitcode(world.sb, world.qs)
        assert r.rc == 0 and "No changes." in r.output, r.describe()

    # -- 07. the fixture pipeline ---------------------------------------------
    def test_07_fixture_pipeline_runs(self, world):
        w, sb = world, world.sb
        needs(w, "quickstart")
        w.fx = sb.workdir("fixture", fx_config(w))
        sb.init(w.fx)
        r = sb.run("apply", cwd=w.fx, timeout=RUN_TIMEOUT)
        assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in r.output
        assert_fx_run(w, state_of(w, w.fx, FX))
        assert plan_exitcode(sb, w.fx).rc == 0
        w.done.add("fx")

    # -- 08. an edited script re-runs -------------------------------------------
    def test_08_edited_script_reruns(self, world):
        w, sb = world, world.sb
        needs(w, "fx")
        prior = state_of(w, w.fx, FX)
        with open(w.fx_script, "a") as f:
            f.write("\n# edited by tests/e2e/test_pipeline.py\n")
        r = sb.run("plan", "-detailed-exitcode", "-out=edit.tfplan", cwd=w.fx, ok=None)
        assert r.rc == 2, r.describe()
        assert_fp_change_shown(r.output, FX)
        fp = assert_plans_rerun(plan_change(sb, w.fx, "edit.tfplan", FX), prior["fingerprint"])
        runs0 = run_dirs(w.cluster, "fx")
        sb.run("apply", "edit.tfplan", cwd=w.fx, timeout=RUN_TIMEOUT)
        res = state_of(w, w.fx, FX)
        assert res["fingerprint"] == fp and res["run_id"] != prior["run_id"]
        assert run_dirs(w.cluster, "fx") == runs0 | {res["run_id"]}
        assert_fx_run(w, res)
        w.done.add("fx-edited")

    # -- 09. a failing stage keeps the outputs; a retry succeeds ------------------------
    def test_09_failing_stage_keeps_outputs_then_retry(self, world):
        w, sb = world, world.sb
        needs(w, "fx")
        prior = state_of(w, w.fx, FX)
        pub0, entries0 = published(w.fxlake, "lines"), store_entries(w.fxlake, "lines")
        (w.fx / "main.tf").write_text(fx_config(w, args=["--fail-with", f"{BOOM}: failing on purpose"]))
        r = sb.run("apply", cwd=w.fx, timeout=RUN_TIMEOUT, ok=False)
        t = flat(r.output)
        assert "Error: Pipeline stage failed" in t, r.output
        assert 'Stage "count" of pipeline "fx" failed: spark-submit exited with status 3.' in t, r.output
        assert f"{BOOM}: failing on purpose" in t, r.output  # the log's last lines
        res = state_of(w, w.fx, FX)
        (s,) = res["stages"]
        assert s["status"] == "failed" and s["log"] in t, (s, r.output)
        assert f"{BOOM}: failing on purpose" in Path(s["log"]).read_text()
        # The outputs published before are intact, and state still names them.
        assert published(w.fxlake, "lines") == pub0
        assert store_entries(w.fxlake, "lines") == entries0
        assert res["status"] == "failed", res
        for k in ("run_id", "fingerprint", "metrics"):
            assert res[k] == prior[k], (k, prior[k], res[k])
        assert_no_app_processes(sb)
        # The failed attempt is retried by the next plan even unchanged...
        assert plan_exitcode(sb, w.fx).rc == 2
        # ...and with the config fixed the retry succeeds.
        (w.fx / "main.tf").write_text(fx_config(w))
        r = sb.run("apply", cwd=w.fx, timeout=RUN_TIMEOUT)
        assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in r.output
        res = state_of(w, w.fx, FX)
        assert res["run_id"] != prior["run_id"]
        assert res["fingerprint"] == prior["fingerprint"]  # same config as the last good run
        assert_fx_run(w, res)
        assert plan_exitcode(sb, w.fx).rc == 0
        w.done.add("fx-retried")

    # -- 10. Ctrl-C during a run ------------------------------------------------
    def test_10_interrupt_stops_spark_then_apply_completes(self, world):
        w, sb = world, world.sb
        needs(w, "fx")
        prior = state_of(w, w.fx, FX)
        pub0, entries0 = published(w.fxlake, "lines"), store_entries(w.fxlake, "lines")
        daemons = {p.pid for p in spark_processes(str(sb.root))}
        assert len(daemons) == 3, describe(spark_processes(str(sb.root)))  # master + 2 workers
        hold = sb.root / "hold"
        hold.write_text("the fixture job's tasks sleep while this file exists\n")
        (w.fx / "main.tf").write_text(fx_config(w, args=["--hold-file", str(hold)]))
        out = sb.root / "interrupted-apply.out"
        proc = sb.popen(["apply"], w.fx, out)
        try:

            def busy():
                procs = app_processes(sb)
                return (
                    any(is_driver(p) for p in procs)
                    and any(is_executor(p) for p in procs)
                    and any("pyspark.daemon" in " ".join(p.argv) for p in procs)
                )

            assert wait_for(busy, RUN_TIMEOUT / 3, interval=1), (
                f"the held stage never got busy on the executors: {describe(app_processes(sb))}\n"
                + out.read_text(errors="replace")
            )
            logs = list(stage_logs(w.cluster, "fx").glob("*/count.log"))
            assert wait_for(
                lambda: any(
                    "holding while" in p.read_text(errors="replace")
                    for p in stage_logs(w.cluster, "fx").glob("*/count.log")
                ),
                60,
            )
            interrupt(proc)  # Ctrl-C
            rc = wait_exit(proc, 180)
            assert rc is not None, "terraform did not exit within 180 s of Ctrl-C"
        finally:
            if proc.poll() is None:
                interrupt(proc, signal.SIGKILL)
                proc.wait()
        text = check_background(sb, proc, out)
        assert rc != 0, text
        t = flat(text)
        assert 'Stage "count" of pipeline "fx" was stopped' in t, text
        # Nothing of the run is left running; the cluster's daemons are.
        assert_no_app_processes(sb, timeout=60)
        assert {p.pid for p in spark_processes(str(sb.root))} == daemons
        # The last good outputs are still published and state still says so.
        assert published(w.fxlake, "lines") == pub0
        assert store_entries(w.fxlake, "lines") == entries0, "the stopped run's staging was left"
        res = state_of(w, w.fx, FX)
        assert res["run_id"] == prior["run_id"] and res["status"] == "failed", res
        assert logs, "no stage log of the stopped run"
        # Apply again, same config: the run completes.
        hold.unlink()
        r = sb.run("apply", cwd=w.fx, timeout=RUN_TIMEOUT)
        assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in r.output
        res = state_of(w, w.fx, FX)
        assert res["run_id"] != prior["run_id"]
        assert_fx_run(w, res)
        assert_no_app_processes(sb)
        assert plan_exitcode(sb, w.fx).rc == 0
        w.done.add("fx-interrupted")

    # -- 11. outputs deleted outside Terraform are re-created ----------------------------
    def test_11_deleted_outputs_are_recreated(self, world):
        w, sb = world, world.sb
        needs(w, "fx")
        prior = state_of(w, w.fx, FX)
        (w.fxlake / "lines").unlink()
        shutil.rmtree(w.fxlake / "_sparkflow")
        r = sb.run("plan", "-detailed-exitcode", "-out=gone.tfplan", cwd=w.fx, ok=None)
        assert r.rc == 2, r.describe()
        t = flat(r.output)
        assert f"# {FX} will be created" in t and "Plan: 1 to add, 0 to change, 0 to destroy." in t, r.output
        assert plan_change(sb, w.fx, "gone.tfplan", FX)["actions"] == ["create"]
        sb.run("apply", "gone.tfplan", cwd=w.fx, timeout=RUN_TIMEOUT)
        res = state_of(w, w.fx, FX)
        assert res["run_id"] != prior["run_id"]
        assert res["fingerprint"] == prior["fingerprint"]  # same inputs and scripts
        assert_fx_run(w, res)
        assert plan_exitcode(sb, w.fx).rc == 0

    # -- 12. input the jobs do not expect -------------------------------------------
    def test_12_unexpected_input_is_rejected_or_a_clear_error(self, world):
        """Only files the validate job cannot use: a CSV with other columns,
        an empty file, binary garbage.  Lenient (--max-reject-rate 1): every
        row rejected as unknown_format, counted exactly.  Default: the
        job's quality gate fails the stage with a clear message."""
        w, sb = world, world.sb
        needs(w, "quickstart")
        gen = load_generator()
        lake = sb.root / "oddlake"
        raw = lake / "raw" / "exports"
        raw.mkdir(parents=True)
        shutil.copytree(w.lake / "reference", lake / "reference")
        rng = random.Random(12)
        files = {
            "other_columns.csv": (
                "posted,payee,value,memo\n" + "".join(f"2025-01-{d:02d},Shop {d},-{d}.50,x\n" for d in range(1, 8))
            ).encode(),
            "empty.csv": b"",
            "scan.csv": b"%PDF-1.7\n" + bytes(rng.randrange(256) for _ in range(3000)) + b"\n\n \n",
        }
        for name, data in files.items():
            (raw / name).write_bytes(data)
        counts = {n: gen.count_lines(d) for n, d in files.items()}
        rows = sum(nb for nb, _ in counts.values())
        reasons = {r: 0 for r in gen.REASONS}
        reasons["unknown_format"] = rows
        want = gen.validate_counts(
            rows,
            reasons,
            len(files),
            sum(1 for nb, _ in counts.values() if nb == 0),
            sum(1 for nb, _ in counts.values() if nb > 0),
            sum(bl for _, bl in counts.values()),
        )
        assert want["valid"] == 0 and rows > 7, want

        def odd(res, name, args, then_process=False):
            stage = {"name": "validate", "script": w.jobs / "validate_transactions.py", "spark_conf": FAST_CONF}
            if args:
                stage["args"] = args
            stages = [stage]
            if then_process:  # two stages with one spark_conf: one Spark application
                stages.append(
                    {"name": "process", "script": w.jobs / "process_transactions.py", "spark_conf": FAST_CONF}
                )
            return pipeline_block(
                res,
                name=name,
                cluster_id=w.cluster["id"],
                lake=lake,
                input="raw/exports",
                output=name.replace("-", "_"),
                stages=stages,
            )

        d = sb.workdir(
            "odd",
            config(
                odd("lenient", "odd-lenient", ["--max-reject-rate", "1"]),
                odd("strict", "odd-strict", None),
                odd("two", "odd-two", None, then_process=True),
            ),
        )
        sb.init(d)
        r = sb.run("apply", cwd=d, timeout=RUN_TIMEOUT, ok=False)
        t = flat(r.output)
        # strict: a clear stage error with the job's own reason
        assert 'Stage "validate" of pipeline "odd-strict" failed: spark-submit exited with status 2.' in t, r.output
        assert f"validate: FAILED: {rows} of {rows} rows rejected, more than --max-reject-rate 0.5" in t, r.output
        assert "odd-lenient" not in " ".join(t.split("Error:")[1:]), r.output  # only the strict ones failed
        assert not (lake / "odd_strict").exists()
        assert all(e.startswith(".") for e in store_entries(lake, "odd_strict")), store_entries(lake, "odd_strict")
        # the same failure in the first of two stages sharing one application:
        # the stage's own exit code and output, the next stage never started
        assert 'Stage "validate" of pipeline "odd-two" failed: the stage exited with status 2.' in t, r.output
        assert t.count(f"validate: FAILED: {rows} of {rows} rows rejected") >= 2, r.output
        assert not (lake / "odd_two").exists()
        two_logs = stage_logs(w.cluster, "odd-two")
        assert not list(two_logs.rglob("process.log")), sorted(two_logs.rglob("*"))
        # lenient: every row rejected with its reason, counted exactly
        res = state_of(w, d, "sparkflow_pipeline.lenient")
        assert res["status"] == "succeeded", res
        assert_metrics(res["metrics"], want, "odd-lenient metrics")
        pub = published(lake, "odd_lenient")
        assert pub["run_id"] == res["run_id"]
        assert_no_app_processes(sb)

    # -- 13. two pipelines at once on one cluster ----------------------------------
    def test_13_two_pipelines_in_parallel(self, world):
        w, sb = world, world.sb
        needs(w, "appended")  # the lake's last change: the manifest is final
        m = manifest(w.lake)

        def par(res, out, **attrs):
            stage = {"name": "validate", "script": w.jobs / "validate_transactions.py", "spark_conf": FAST_CONF}
            return pipeline_block(
                res,
                name=f"parallel-{res}",
                cluster_id=w.cluster["id"],
                lake=w.lake,
                input="raw/transactions",
                reference="reference",
                output=out,
                stages=[stage],
                **attrs,
            )

        w.par = sb.workdir(
            "parallel", config(par("a", "validated_a", delete_outputs_on_destroy=True), par("b", "validated_b"))
        )
        sb.init(w.par)
        r = sb.run("apply", cwd=w.par, timeout=RUN_TIMEOUT)
        assert "Apply complete! Resources: 2 added, 0 changed, 0 destroyed." in r.output
        got = {k: state_of(w, w.par, f"sparkflow_pipeline.{k}") for k in "ab"}
        for k, out in (("a", "validated_a"), ("b", "validated_b")):
            res = got[k]
            assert res["status"] == "succeeded", res
            assert_metrics(res["metrics"], m["expected"]["validate"], f"parallel-{k} metrics")
            pub = published(w.lake, out)
            assert pub["run_id"] == res["run_id"] and (pub["run_dir"] / "valid").is_dir()
        # They really ran at the same time (one core each: spark.cores.max=1).
        (sa,), (sb_,) = got["a"]["stages"], got["b"]["stages"]
        overlap = min(sa["finished_at"], sb_["finished_at"]) > max(sa["started_at"], sb_["started_at"])
        assert overlap, (
            f"the two runs did not overlap: a {sa['started_at']}..{sa['finished_at']}, "
            f"b {sb_['started_at']}..{sb_['finished_at']}"
        )
        assert_no_app_processes(sb)
        w.done.add("parallel")

    # -- 14. destroy keeps outputs, or deletes them when asked ---------------------------
    def test_14_destroy_keeps_or_deletes_outputs(self, world):
        w, sb = world, world.sb
        needs(w, "parallel")
        before = tree(w.lake)
        pub_b = published(w.lake, "validated_b")
        r = sb.run("destroy", cwd=w.par, timeout=300)
        t = flat(r.output)
        assert "Destroy complete! Resources: 2 destroyed." in t, r.output
        assert "Warning: Outputs are kept" in t, r.output
        assert 'Destroying pipeline "parallel-b" keeps its published outputs' in t, r.output
        assert 'Destroying pipeline "parallel-a" keeps' not in t, r.output
        # a: the link, its runs and its DuckDB catalog (kept with the data,
        # deleted with it) are gone; nothing else in the lake changed.
        assert not os.path.lexists(w.lake / "validated_a")
        assert not (w.lake / "_sparkflow" / "validated_a").exists()
        assert "parallel_a.duckdb" in before and not (w.lake / "parallel_a.duckdb").exists()
        assert (w.lake / "parallel_b.duckdb").is_file()  # b keeps its outputs, and so its catalog
        gone = {
            k for k in before if k in ("validated_a", "parallel_a.duckdb") or k.startswith("_sparkflow/validated_a")
        }
        after = tree(w.lake)
        want = {k: v for k, v in before.items() if k not in gone}
        changed = sorted(set(want) ^ set(after)) + sorted(k for k in want if k in after and want[k] != after[k])
        assert not changed, f"destroy touched more than parallel-a's outputs: {changed[:20]}"
        assert published(w.lake, "validated_b") == pub_b

    # -- 15. destroy everything: outputs kept, no process left ---------------------------
    def test_15_destroy_all_keeps_outputs_and_stops_everything(self, world):
        w, sb = world, world.sb
        needs(w, "quickstart")
        for d in (w.fx, sb.root / "odd"):
            if d and sb.state_has_resources(d):
                sb.run("destroy", cwd=d, timeout=300)
        pub = published(w.lake, "curated")
        r = sb.run("destroy", cwd=w.qs, timeout=300)
        t = flat(r.output)
        assert "Destroy complete! Resources: 2 destroyed." in t, r.output
        assert "Warning: Outputs are kept" in t and f'Destroying pipeline "{QS_NAME}" keeps' in t, r.output
        assert published(w.lake, "curated") == pub
        if w.fx:
            published(w.fxlake, "lines")  # kept too
        left = wait_for(lambda: not owned_processes(str(sb.root)), 30)
        assert left, f"processes left after destroy: {describe(owned_processes(str(sb.root)))}"
