"""End-to-end: provider-defined actions (Terraform 1.14+) with the real CLI.

One local cluster and a one-stage fixture pipeline (line_count.py), made by
`apply`, with the action blocks written from the same locals as the
pipeline:
  - `terraform apply -invoke=action.sparkflow_pipeline_run.now` prints the
    action's progress (run started, the stage's result with its metrics,
    the published run), publishes a new run in the lake, and the next plan
    of the pipeline has no changes (the refresh follows the new run);
  - after new input landed (the plan would re-run the pipeline), the
    action's run is taken by the next refresh too: no changes;
  - the same action on a cluster id that names no cluster fails saying so,
    and publishes nothing;
  - `sparkflow_cluster_stop` wired through `action_trigger` stops the
    cluster, and the next plan proposes to create it again.
Clients that do not know actions (OpenTofu, Terraform before 1.14) see the
provider as before: the cluster's plan/apply/re-plan work, and the schema
reads.
"""

import json
import re

import pytest

from pipeline_support import FAST_CONF, FIXTURE_JOBS, RUN_TIMEOUT, config, events_lake, hcl, plan_exitcode, published
from tfharness import discover_clients

PIPELINE = "sparkflow_pipeline.fx"
CLUSTER = "sparkflow_cluster.dev"


def knows_actions(client) -> bool:
    major, minor = (int(x) for x in client.version.split(".")[:2])
    return client.flavor == "tf" and (major, minor) >= (1, 14)


CLUSTER_BLOCK = """resource "sparkflow_cluster" "dev" {
  name = "e2e-act"

  local {
    workers = 1
  }
}
"""


def body(lake, script, cluster_id="sparkflow_cluster.dev.id") -> str:
    """The attributes and stage of the pipeline, shared by the resource and
    the action through locals."""
    return f"""  name       = local.name
  cluster_id = {cluster_id}
  lake       = local.lake
  input      = local.input
  output     = local.output

  stage {{
    name       = "count"
    script     = {hcl(str(script))}
    spark_conf = {hcl(FAST_CONF)}
  }}
"""


def world_config(lake, script, extra="") -> str:
    locals_ = f"""locals {{
  name   = "fx"
  lake   = {hcl("file://" + str(lake))}
  input  = "raw/events"
  output = "lines"
}}
"""
    pipeline = 'resource "sparkflow_pipeline" "fx" {\n' + body(lake, script) + "}\n"
    run_now = (
        'action "sparkflow_pipeline_run" "now" {\n  config {\n'
        + body(lake, script)
        + "    progress_interval = 2\n  }\n}\n"
    )
    bad = (
        'action "sparkflow_pipeline_run" "nowhere" {\n  config {\n'
        + body(lake, script, '"local-0123456789ab"')
        + "  }\n}\n"
    )
    return config(CLUSTER_BLOCK, locals_, pipeline, run_now, bad, extra)


@pytest.fixture(scope="class")
def world(class_sandbox):
    sb = class_sandbox
    if not knows_actions(sb.client):
        pytest.skip(f"{sb.client.id} does not know actions (Terraform 1.14 or later does)")
    primary = next((c for c in discover_clients() if knows_actions(c)), None)
    if primary and sb.client.path != primary.path:
        pytest.skip(f"Spark-heavy: runs on {primary.id} only")
    lake = sb.root / "actlake"
    events_lake(lake)
    script = FIXTURE_JOBS / "line_count.py"
    d = sb.workdir("main", world_config(lake, script))
    sb.init(d)
    r = sb.run("apply", cwd=d, timeout=RUN_TIMEOUT)
    assert "Apply complete! Resources: 2 added, 0 changed, 0 destroyed." in r.output, r.describe()
    return type("World", (), {"sb": sb, "d": d, "lake": lake, "script": script})


@pytest.mark.once  # Spark runs: one pass of scripts/test only (conftest.py)
class TestRunNow:
    def test_invoke_runs_publishes_and_next_plan_is_clean(self, world):
        sb, d = world.sb, world.d
        before = sb.resources(d)[PIPELINE]
        assert published(world.lake, "lines")["run_id"] == before["run_id"]
        r = sb.run("apply", "-invoke=action.sparkflow_pipeline_run.now", cwd=d, timeout=RUN_TIMEOUT)
        after = published(world.lake, "lines")
        assert after["run_id"] > before["run_id"], (before["run_id"], after)
        assert after["record"]["fingerprint"] == before["fingerprint"], after["record"]
        out = r.output
        assert "pipeline fx: run started on cluster" in out, r.describe()
        assert "stage count succeeded in" in out and "fixture_lines=50" in out, r.describe()
        # The engine reports stage results at the end: meanwhile, a line
        # every progress_interval (2 s) saying how long it has been running.
        ticks = re.findall(r"pipeline fx: still running, 0m(\d\d)s elapsed", out)
        assert ticks and int(ticks[0]) >= 2 and ticks == sorted(ticks), r.describe()
        assert out.index("still running") < out.index("stage count succeeded"), r.describe()
        assert f"pipeline fx: published run {after['run_id']}" in out, r.describe()
        # The invoke changed nothing in state; the refresh follows the run.
        assert sb.resources(d)[PIPELINE]["run_id"] == before["run_id"]
        p = plan_exitcode(sb, d)
        assert p.rc == 0 and "No changes." in p.output, p.describe()
        sb.run("apply", "-refresh-only", cwd=d)
        assert sb.resources(d)[PIPELINE]["run_id"] == after["run_id"]
        p = plan_exitcode(sb, d)
        assert p.rc == 0 and "No changes." in p.output, p.describe()

    def test_data_landed_then_invoke_then_next_plan_is_clean(self, world):
        """New input outside Terraform's view: the plan would re-run; after
        the action ran on it, the refresh takes that run (its fingerprint is
        the inputs' now) and the plan proposes nothing."""
        sb, d = world.sb, world.d
        (world.lake / "raw" / "events" / "c.txt").write_text("".join(f"late {i}\n" for i in range(7)))
        p = plan_exitcode(sb, d)
        assert p.rc == 2 and "sparkflow_pipeline.fx will be updated in-place" in p.output, p.describe()
        before = sb.resources(d)[PIPELINE]
        r = sb.run("apply", "-invoke=action.sparkflow_pipeline_run.now", cwd=d, timeout=RUN_TIMEOUT)
        assert "fixture_lines=57" in r.output, r.describe()
        after = published(world.lake, "lines")
        assert after["run_id"] > before["run_id"] and after["record"]["fingerprint"] != before["fingerprint"]
        p = plan_exitcode(sb, d)
        assert p.rc == 0 and "No changes." in p.output, p.describe()
        sb.run("apply", "-refresh-only", cwd=d)
        got = sb.resources(d)[PIPELINE]
        assert (got["run_id"], got["fingerprint"]) == (after["run_id"], after["record"]["fingerprint"]), got

    def test_invoke_on_a_missing_cluster_fails_clearly(self, world):
        sb, d = world.sb, world.d
        before = published(world.lake, "lines")["run_id"]
        r = sb.run("apply", "-invoke=action.sparkflow_pipeline_run.nowhere", cwd=d, ok=False)
        assert "Cluster not found" in r.output and "local-0123456789ab" in r.output, r.describe()
        assert published(world.lake, "lines")["run_id"] == before


@pytest.mark.once  # Spark runs: one pass of scripts/test only (conftest.py)
class TestStop:
    def test_action_trigger_stops_cluster_and_plan_recreates_it(self, world):
        sb, d = world.sb, world.d
        cluster = sb.resources(d)[CLUSTER]
        trigger = """action "sparkflow_cluster_stop" "after" {
  config {
    cluster_id = sparkflow_cluster.dev.id
  }
}

resource "terraform_data" "done" {
  input = sparkflow_pipeline.fx.run_id

  lifecycle {
    action_trigger {
      events  = [after_create]
      actions = [action.sparkflow_cluster_stop.after]
    }
  }
}
"""
        (d / "main.tf").write_text(world_config(world.lake, world.script, trigger))
        r = sb.run("apply", cwd=d, timeout=600)
        assert f"stopping local cluster {cluster['id']}" in r.output, r.describe()
        assert f"cluster {cluster['id']} stopped in" in r.output, r.describe()
        p = plan_exitcode(sb, d)
        assert p.rc == 2, p.describe()
        assert "sparkflow_cluster.dev will be created" in p.output, p.describe()


class TestOlderClients:
    def test_cluster_plan_apply_replan_unchanged(self, sandbox):
        sb = sandbox
        if knows_actions(sb.client):
            pytest.skip("covered above")
        d = sb.workdir("old", config(CLUSTER_BLOCK))
        sb.init(d)
        r = sb.run("providers", "schema", "-json", cwd=d)
        schema = json.loads(r.stdout)
        assert "sparkflow_pipeline" in json.dumps(schema), r.describe()
        try:
            r = sb.run("apply", cwd=d, timeout=600)
            assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in r.output, r.describe()
            p = plan_exitcode(sb, d)
            assert p.rc == 0 and "No changes." in p.output, p.describe()
        finally:
            sb.run("destroy", cwd=d, timeout=600, ok=None)
