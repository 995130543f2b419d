"""End-to-end: a pipeline whose cluster exists only while it runs
(`run_cluster { local {} }`), with the real Terraform CLI and real Spark.

  - `terraform validate` refuses a pipeline with both cluster_id and
    run_cluster, with neither, and run_cluster with Airflow (no Spark);
  - the plan says a cluster is launched for the run and what it is made of;
    apply starts a Spark standalone cluster, runs the stage on it, stops it:
    no Spark process of the sandbox is left, the cluster's record is gone,
    the state's launched_cluster says `stopped` with its times, the stage's
    log is kept under $HOME/.sparkflow/runs/; the re-plan has no changes;
  - new input: the next plan re-runs with a new cluster (another id);
  - a failing stage: apply fails with the stage's log tail, the cluster is
    stopped, the published outputs are the previous run's;
  - Ctrl-C while the stage runs: the apply stops, nothing of Spark is left.

The per-run EMR cluster is tested against moto in tests/aws/test_run_cluster_emr.py.
"""

import signal
from pathlib import Path

import pytest

from pipeline_support import (
    FAST_CONF,
    FIXTURE_JOBS,
    RUN_TIMEOUT,
    app_processes,
    check_background,
    config,
    describe,
    events_lake,
    hcl,
    interrupt,
    plan_exitcode,
    published,
    wait_exit,
)
from tfharness import owned_processes, wait_for

pytestmark = pytest.mark.once

PIPELINE = "sparkflow_pipeline.fx"


def flat(text: str) -> str:
    return " ".join(text.split())


def pipeline(lake: Path, args=(), where="run_cluster {\n    local {\n      workers = 1\n    }\n  }", extra="") -> str:
    return f"""resource "sparkflow_pipeline" "fx" {{
  name   = "fx"
  lake   = {hcl("file://" + str(lake))}
  input  = "raw/events"
  output = "lines"
  {where}
  {extra}

  stage {{
    name       = "count"
    script     = {hcl(str(FIXTURE_JOBS / "line_count.py"))}
    args       = {hcl(list(args))}
    spark_conf = {hcl(FAST_CONF)}
  }}
}}
"""


def leftovers(sb) -> list:
    """Every process of the sandbox that is not Terraform or the provider:
    a per-run cluster leaves none (daemons included)."""
    return [p for p in owned_processes(str(sb.root)) if p.role] + app_processes(sb)


@pytest.fixture(scope="class")
def world(class_sandbox):
    sb = class_sandbox
    lake = sb.root / "rclake"
    events_lake(lake)
    d = sb.workdir("main", config(pipeline(lake)))
    sb.init(d)
    return type("World", (), {"sb": sb, "d": d, "lake": lake})


class TestRunCluster:
    def test_validate_refuses_both_neither_and_airflow(self, world):
        sb = world.sb
        cases = {
            "both": (pipeline(world.lake, extra='cluster_id = "local-0123456789ab"'), "Two places to run"),
            "neither": (pipeline(world.lake, where=""), "No cluster to run on"),
            "airflow": (
                pipeline(
                    world.lake,
                    extra='airflow = { id = "airflow-local-0123456789ab", url = "http://127.0.0.1:1", user = "u", '
                    'password = "p", details = {} }',
                ),
                "Airflow needs a kept cluster",
            ),
        }
        for what, (body, summary) in cases.items():
            d = sb.workdir(f"invalid-{what}", config(body))
            sb.init(d)
            r = sb.run("validate", cwd=d, ok=False)
            assert r.rc != 0 and summary in r.output, (what, r.describe())

    def test_apply_launches_runs_and_stops_the_cluster(self, world):
        sb, d = world.sb, world.d
        p = sb.run("plan", cwd=d)
        t = flat(p.output)
        assert "A cluster is launched for this run" in t, p.describe()
        assert "a Spark standalone master and 1 worker of 1 core and 1g each, on this machine" in t, p.describe()
        r = sb.run("apply", cwd=d, timeout=RUN_TIMEOUT)
        assert "Apply complete! Resources: 1 added" in r.output, r.describe()
        state = sb.resources(d)[PIPELINE]
        assert state["status"] == "succeeded" and state["metrics"]["fixture_lines"] == 50, state
        launched = state["launched_cluster"]
        assert launched["id"].startswith("local-") and launched["state"] == "stopped", launched
        for k in ("requested_at", "ready_at", "last_step_at", "gone_at"):
            assert launched[k], (k, launched)
        assert launched["requested_at"] <= launched["ready_at"] <= launched["last_step_at"] <= launched["gone_at"]
        assert published(world.lake, "lines")["run_id"] == state["run_id"]
        # Nothing of the cluster is left: no process, no record.
        assert not leftovers(sb), describe(leftovers(sb))
        assert not (sb.home / ".sparkflow" / "local" / launched["id"]).exists()
        # The stage's log outlives the cluster.
        log = Path(state["stages"][0]["log"])
        assert log == sb.home / ".sparkflow" / "runs" / "fx" / state["run_id"] / "count.log", log
        assert log.is_file() and log.stat().st_size > 0
        p = plan_exitcode(sb, d)
        assert p.rc == 0 and "No changes." in p.output, p.describe()
        world.first = state

    def test_new_input_reruns_on_a_new_cluster(self, world):
        sb, d = world.sb, world.d
        (world.lake / "raw" / "events" / "c.txt").write_text("".join(f"late {i}\n" for i in range(7)))
        p = plan_exitcode(sb, d)
        assert p.rc == 2 and "A cluster is launched for this run" in flat(p.output), p.describe()
        sb.run("apply", cwd=d, timeout=RUN_TIMEOUT)
        state = sb.resources(d)[PIPELINE]
        assert state["metrics"]["fixture_lines"] == 57, state
        assert state["launched_cluster"]["id"] != world.first["launched_cluster"]["id"], state["launched_cluster"]
        assert state["launched_cluster"]["state"] == "stopped"
        assert not leftovers(sb), describe(leftovers(sb))
        world.second = state

    def test_failing_stage_stops_the_cluster_and_keeps_outputs(self, world):
        sb, d = world.sb, world.d
        before = published(world.lake, "lines")
        (d / "main.tf").write_text(config(pipeline(world.lake, args=["--fail-with", "planted failure 7f3a"])))
        r = sb.run("apply", cwd=d, timeout=RUN_TIMEOUT, ok=False)
        assert r.rc != 0, r.describe()
        t = flat(r.output)
        assert 'Stage "count" of pipeline "fx" failed' in t and "planted failure 7f3a" in t, r.describe()
        assert published(world.lake, "lines")["run_id"] == before["run_id"]
        state = sb.resources(d)[PIPELINE]
        assert state["status"] == "failed" and state["run_id"] == before["run_id"], state
        assert state["launched_cluster"]["state"] == "stopped", state["launched_cluster"]
        assert not leftovers(sb), describe(leftovers(sb))

    def test_ctrl_c_stops_the_run_and_the_cluster(self, world):
        sb, d = world.sb, world.d
        before = published(world.lake, "lines")
        hold = sb.root / "hold"
        hold.write_text("the fixture job's tasks sleep while this file exists\n")
        (d / "main.tf").write_text(config(pipeline(world.lake, args=["--hold-file", str(hold)])))
        out = sb.root / "interrupted.out"
        proc = sb.popen(["apply"], d, out)
        try:
            runs = sb.home / ".sparkflow" / "runs" / "fx"

            def holding():
                return any("holding while" in p.read_text(errors="replace") for p in runs.glob("*/count.log"))

            assert wait_for(holding, RUN_TIMEOUT / 3, interval=1), out.read_text(errors="replace")
            interrupt(proc)  # Ctrl-C
            rc = wait_exit(proc, 180)
            assert rc is not None, "terraform did not exit within 180 s of Ctrl-C"
        finally:
            if proc.poll() is None:
                interrupt(proc, signal.SIGKILL)
                proc.wait()
            hold.unlink(missing_ok=True)
        text = check_background(sb, proc, out)
        assert rc != 0, text
        assert 'Stage "count" of pipeline "fx" was stopped' in flat(text), text
        assert wait_for(lambda: not leftovers(sb), 30), describe(leftovers(sb))
        assert published(world.lake, "lines")["run_id"] == before["run_id"]
        registry = sb.home / ".sparkflow" / "local"
        assert not list(registry.glob("local-*")), list(registry.glob("local-*"))
