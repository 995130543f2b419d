"""End-to-end: sparkflow_pipeline running through a local sparkflow_airflow,
with a real Terraform CLI, a real Airflow 3 and real Spark.

One class, one sandbox, one cluster and one Airflow, steps in order, on
examples/airflow-local/main.tf as written (its `jobs` pointing at a copy):

  01  the quickstart pipeline with `airflow = sparkflow_airflow.ops`: apply
      installs the DAG and runs it as a DAG run; the metrics equal the
      generator's manifest, as for a direct run; the stages point at the
      Airflow tasks; the DAG run is Airflow's record of it
  02  re-plan: No changes
  03  a new bank export lands in the input: Airflow starts a run by itself,
      publishes it, and the next plan says No changes (refresh adopts the
      run, its metrics grown by exactly the export's rows)
  04  a failing stage: the diagnostic carries the task's log, fetched
      through the API; the published outputs stay
  05  Ctrl-C mid-run: the DAG run is failed, Spark stops, and the next
      apply completes
  06  destroy: no Airflow, Spark or driver process left

The Airflow-specific host lifecycle (health, secrets, loopback, drift) is
test_airflow.py's.  Runs on the primary Terraform client only.
"""

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline_support import (
    FAST_CONF,
    FIXTURE_JOBS,
    RUN_TIMEOUT,
    app_processes,
    append,
    assert_metrics,
    copy_jobs,
    describe,
    expected_metrics,
    generate,
    manifest,
    pipeline_block,
    plan_exitcode,
    published,
    sum_deltas,
)
from tfharness import ROOT, discover_clients, owned_processes, wait_for

pytestmark = pytest.mark.once  # conftest.py: one pass per scripts/test run

QS = "sparkflow_pipeline.finances"
FX = "sparkflow_pipeline.fx"
BOOM = "SPARKFLOW-AF-BOOM-41c2"

EXAMPLE = ROOT / "examples" / "airflow-local" / "main.tf"
AF = "sparkflow_airflow.ops"
JOBS_LOCAL = re.compile(r'^(\s*jobs\s*=\s*)"\$\{abspath\(path\.module\)\}/\.\./\.\./dags/jobs"\s*$', re.MULTILINE)


def flat(text):
    return " ".join(text.split())


def example_config(jobs: Path) -> str:
    """examples/airflow-local/main.tf with its `jobs` local pointing at jobs."""
    text = EXAMPLE.read_text()
    new, n = JOBS_LOCAL.subn(lambda m: f'{m.group(1)}"{jobs}"', text)
    assert n == 1, f"the example's `jobs` local is not where the test expects it:\n{text}"
    assert "airflow = sparkflow_airflow.ops" in new, new
    return new


def fx_block(w, args=()) -> str:
    stage = {"name": "count", "script": FIXTURE_JOBS / "line_count.py", "spark_conf": FAST_CONF}
    if args:
        stage["args"] = list(args)
    block = pipeline_block(
        "fx",
        name="fx-af",
        cluster_id="${sparkflow_cluster.dev.id}",
        lake=w.fxlake,
        input="raw/events",
        output="lines",
        stages=[stage],
    )
    block = block.replace('"${sparkflow_cluster.dev.id}"', "sparkflow_cluster.dev.id")
    return block.replace("{\n", "{\n  airflow = sparkflow_airflow.ops\n", 1)


def write_config(w, fx_args=None):
    text = w.base
    if fx_args is not None:
        text += "\n" + fx_block(w, fx_args)
    (w.d / "main.tf").write_text(text)


class Api:
    """Airflow's REST API as the test sees it (urllib, a token from the
    sensitive output)."""

    def __init__(self, url, password):
        self.url = url
        body = json.dumps({"username": "sparkflow", "password": password}).encode()
        req = urllib.request.Request(
            url + "/auth/token", data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            self.token = json.loads(r.read())["access_token"]

    def get(self, path):
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def runs(self, dag_id):
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns?order_by=-start_date&limit=50")["dag_runs"]


@pytest.fixture(scope="class")
def world(class_sandbox):
    sb = class_sandbox
    primary = next(iter(discover_clients()), None)
    if os.environ.get("SF_AIRFLOW_CLIENTS") != "all" and primary and sb.client.path != primary.path:
        pytest.skip(f"Airflow-heavy: runs on the primary Terraform client only ({primary.id})")
    lake = sb.root / "lake"
    generate(lake, "--transactions", "3000", "--months", "6", "--end", "2025-06-30", "--seed", "11")
    jobs = copy_jobs(sb.root / "jobs")
    base = example_config(jobs)
    d = sb.workdir("qa", base)
    (d / "terraform.tfvars").write_text(f'lake_dir = "{lake}"\n')
    fxlake = sb.root / "fxlake"
    (fxlake / "raw" / "events").mkdir(parents=True)
    (fxlake / "raw" / "events" / "a.txt").write_text("x\n" * 40)
    (fxlake / "reference").mkdir()
    sb.init(d)
    return SimpleNamespace(sb=sb, d=d, lake=lake, fxlake=fxlake, base=base, done=set(), api=None)


def res(w, address):
    return w.sb.resources(w.d)[address]


def api(w):
    if w.api is None:
        out = w.sb.run("output", "-raw", "airflow_password", cwd=w.d).stdout
        w.api = Api(res(w, AF)["url"], out)
    return w.api


def needs(w, *steps):
    missing = [s for s in steps if s not in w.done]
    if missing:
        pytest.fail(f"needs the earlier step(s) {missing}, which did not complete", pytrace=False)


def airflow_group_processes(w):
    details = res(w, AF)["details"]
    pgid = int(details["pgid"])
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if os.getpgid(int(p.name)) == pgid:
                    out.append(int(p.name))
            except ProcessLookupError:
                pass
    return out


def all_finished(w, dag_id="sparkflow_household-finances"):
    return all(r["state"] in ("success", "failed") for r in api(w).runs(dag_id))


class TestPipelineThroughAirflow:
    def test_01_quickstart_through_airflow(self, world):
        w, sb = world, world.sb
        t0 = time.monotonic()
        r = sb.run("apply", cwd=w.d, timeout=RUN_TIMEOUT)
        print(f"\napply (cluster + Airflow + quickstart through Airflow): {time.monotonic() - t0:.1f} s")
        assert "Apply complete! Resources: 3 added, 0 changed, 0 destroyed." in r.output, r.describe()
        outs = {
            k: v for k, v in ((k, sb.run("output", "-raw", k, cwd=w.d).stdout) for k in ("airflow_url", "dag_runs_url"))
        }
        assert outs["dag_runs_url"] == outs["airflow_url"] + "/dags/sparkflow_household-finances", outs
        qs = res(w, QS)
        assert_metrics(qs["metrics"], expected_metrics(manifest(w.lake)), "metrics through Airflow")
        pub = published(w.lake, "curated")
        assert pub["run_id"] == qs["run_id"] and pub["record"]["fingerprint"] == qs["fingerprint"], pub["record"]
        af_url = res(w, AF)["url"]
        dag_run_id = f"sparkflow__{qs['run_id']}"
        for st in qs["stages"]:
            assert st["status"] == "succeeded", st
            assert st["step_id"] == f"sparkflow_household-finances/{dag_run_id}/{st['name']}", st
            assert st["log"] == f"{af_url}/dags/sparkflow_household-finances/runs/{dag_run_id}/tasks/{st['name']}"
            assert st["started_at"] and st["finished_at"] and st["duration_ms"] > 0, st
        runs = {r["dag_run_id"]: r for r in api(w).runs("sparkflow_household-finances")}
        assert runs[dag_run_id]["state"] == "success", runs
        # Unpausing arms the input watcher, which sees input the (then
        # unpublished) outputs did not cover and may queue a run of its own
        # behind ours: that run finds the inputs covered and skips.
        others = set(runs) - {dag_run_id}
        assert all(r.startswith("asset_triggered__") for r in others), others
        assert wait_for(lambda: all_finished(w), 300), api(w).runs("sparkflow_household-finances")
        assert published(w.lake, "curated")["run_id"] == qs["run_id"]
        dag = api(w).get("/api/v2/dags/sparkflow_household-finances")
        assert dag["is_paused"] is False, dag
        # The password never reaches the plan, the output or the logs.
        password = sb.run("output", "-raw", "airflow_password", cwd=w.d).stdout
        assert password and password not in r.output
        w.done.add("qs")

    def test_02_replan_no_changes(self, world):
        w = world
        needs(w, "qs")
        r = plan_exitcode(w.sb, w.d)
        assert r.rc == 0 and "No changes." in r.output, r.output

    def test_03_a_new_export_runs_by_itself(self, world):
        w, sb = world, world.sb
        needs(w, "qs")
        before = res(w, QS)
        first = manifest(w.lake)
        known = {r["dag_run_id"] for r in api(w).runs("sparkflow_household-finances")}
        t0 = time.monotonic()
        append(w.lake, 400)
        started = wait_for(
            lambda: [r for r in api(w).runs("sparkflow_household-finances") if r["dag_run_id"] not in known], 120
        )
        assert started, "no DAG run started within 120 s of the new export"
        t_start = time.monotonic() - t0
        run = started[0]
        path = f"/api/v2/dags/sparkflow_household-finances/dagRuns/{run['dag_run_id']}"
        done = wait_for(lambda: (lambda s: s if s["state"] in ("success", "failed") else None)(api(w).get(path)), 900)
        assert done and done["state"] == "success", done
        t_done = time.monotonic() - t0
        print(f"\nexport lands -> DAG run started {t_start:.1f} s, -> published {t_done:.1f} s")
        pub = published(w.lake, "curated")
        assert pub["run_id"] != before["run_id"]
        # Nobody ran Terraform; the next plan records the run and proposes
        # none (only the outputs that show the metrics move with it)...
        sb.run("plan", "-out=after-export.tfplan", cwd=w.d, timeout=600)
        plan = sb.show_json(w.d, "after-export.tfplan")
        actions = {rc["address"]: rc["change"]["actions"] for rc in plan["resource_changes"]}
        assert all(a == ["no-op"] for a in actions.values()), actions
        # ...and once that is recorded, there is nothing at all to do.
        sb.run("apply", "-refresh-only", "-auto-approve", cwd=w.d, timeout=600)
        r = plan_exitcode(sb, w.d)
        assert r.rc == 0 and "No changes." in r.output, r.output
        now = res(w, QS)
        assert now["run_id"] == pub["run_id"] and now["fingerprint"] == pub["record"]["fingerprint"], now
        delta = sum_deltas(manifest(w.lake), len(first["appends"]))
        assert delta["read"] == 400, delta
        grown = {k: before["metrics"][k] + delta[k] for k in before["metrics"]}
        assert_metrics(now["metrics"], grown, "metrics after the export (before + delta)")
        assert [s["status"] for s in now["stages"]] == ["succeeded"] * 3, now["stages"]
        w.done.add("export")

    def test_04_failing_stage_has_its_task_log(self, world):
        w, sb = world, world.sb
        needs(w, "qs")
        write_config(w, fx_args=[])
        r = sb.run("apply", cwd=w.d, timeout=RUN_TIMEOUT)
        assert "Apply complete! Resources: 1 added" in r.output, r.describe()
        good = res(w, FX)
        assert good["metrics"]["fixture_lines"] == 40, good
        write_config(w, fx_args=["--fail-with", f"{BOOM}: failing on purpose"])
        r = sb.run("apply", cwd=w.d, timeout=RUN_TIMEOUT, ok=False)
        t = flat(r.output)
        assert "Error: Pipeline stage failed" in t, r.output
        assert 'Stage "count" of pipeline "fx-af" failed: Airflow task count of DAG run sparkflow__' in t, r.output
        assert f"{BOOM}: failing on purpose" in t, r.output  # the task log's last lines, through the API
        bad = res(w, FX)
        assert bad["status"] == "failed" and bad["run_id"] == good["run_id"], bad
        assert published(w.fxlake, "lines")["run_id"] == good["run_id"]
        w.done.add("fx")

    def test_05_interrupt_fails_the_dag_run(self, world, tmp_path):
        w, sb = world, world.sb
        needs(w, "fx")
        hold = tmp_path / "hold"
        hold.write_text("hold")
        write_config(w, fx_args=["--hold-file", str(hold), "--hold-max", "300"])
        out = tmp_path / "apply.out"
        with open(out, "w") as f:
            proc = subprocess.Popen(
                [str(sb.client.path), "apply", "-auto-approve", "-no-color"],
                cwd=w.d,
                env=sb.env,
                stdout=f,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            running = wait_for(
                lambda: [
                    r
                    for r in api(w).runs("sparkflow_fx-af")
                    if r["dag_run_id"].startswith("sparkflow__")
                    and r["state"] == "running"
                    and any(p for p in app_processes(sb) if "line_count" in " ".join(p.argv))
                ],
                300,
            )
            assert running, "the held run never got going:\n" + out.read_text()
            os.killpg(proc.pid, signal.SIGINT)
            assert proc.wait(timeout=180) != 0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        run = api(w).get(f"/api/v2/dags/sparkflow_fx-af/dagRuns/{running[0]['dag_run_id']}")
        assert run["state"] == "failed", run
        gone = wait_for(lambda: not [p for p in app_processes(sb) if "line_count" in " ".join(p.argv)], 120)
        assert gone, describe(app_processes(sb))
        hold.unlink()
        write_config(w, fx_args=[])
        r = sb.run("apply", cwd=w.d, timeout=RUN_TIMEOUT)
        assert "Apply complete!" in r.output, r.describe()
        assert res(w, FX)["status"] == "succeeded"

    def test_06_destroy_leaves_nothing(self, world):
        w, sb = world, world.sb
        needs(w, "qs")
        pids = airflow_group_processes(w)
        assert pids
        sb.run("destroy", "-auto-approve", cwd=w.d, timeout=900)
        assert wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for p in pids), 30)
        left = [p for p in owned_processes(str(sb.root)) if p.role or "airflow" in " ".join(p.argv)]
        assert not left, describe(left)
