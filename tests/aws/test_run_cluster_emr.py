"""End-to-end: per-run EMR clusters (`run_cluster { emr {} }`) with the real
Terraform CLI and the real provider against moto; the step executor
(executor.py) runs the steps with the local Spark and terminates a cluster
made with KeepJobFlowAliveWhenNoSteps false after its last step, as EMR does.

  test_per_run_cluster           the plan names what is launched; one
                                 RunJobFlow carries the steps (TERMINATE_CLUSTER,
                                 no keep-alive, no idle policy, run tags); no
                                 AddJobFlowSteps, no TerminateJobFlows (EMR ends
                                 it); TERMINATED before apply returns; state's
                                 launched_cluster; re-plan clean; a second run
                                 launches a second cluster
  test_failed_step               the cluster terminates, nothing is published,
                                 staging is cleaned, the error names the step
  test_ctrl_c                    Ctrl-C while the step runs: TerminateJobFlows,
                                 TERMINATED before the provider exits
  test_run_now_action_on_a_per_run_cluster
                                 `-invoke` of sparkflow_pipeline_run on EMR launches
                                 its own cluster, TERMINATED when it returns; the
                                 refresh follows its run (no run proposed)
"""

from __future__ import annotations

import re
import time

import pytest

from executor import BOOT, active_clusters, emr_clusters
from pipeline_support import RUN_TIMEOUT, check_background, interrupt, plan_exitcode, wait_exit
from test_emr_e2e import BUCKET, _blocks, example_config, plain_lake, s3_keys, workdir
from tfharness import wait_for

PIPELINE = "sparkflow_pipeline.plain"
STEP_TERMINAL = ("COMPLETED", "FAILED", "CANCELLED", "INTERRUPTED")


def flat(text: str) -> str:
    return " ".join(text.split())


def config(endpoint: str, script) -> str:
    """examples/aws's provider block alone, and a one-stage pipeline on a
    cluster launched for each run."""
    base = "".join(b for b in _blocks(example_config(endpoint, pipeline=False)) if "sparkflow_cluster" not in b)
    return (
        base
        + f'''
resource "sparkflow_pipeline" "plain" {{
  name      = "plain"
  lake      = "s3://${{var.lake_bucket}}"
  input     = "raw/events"
  reference = "reference"
  output    = "counted"

  run_cluster {{
    emr {{
      core_instance_type  = "m5.large"
      core_instance_count = 3
      log_uri             = "s3://${{var.lake_bucket}}/logs/"
    }}
  }}

  stage {{
    name   = "count"
    script = "{script}"
  }}
}}
'''
    )


def run_job_flows(proxy) -> list[dict]:
    return [c.json_body() for c in proxy.select("emr", "RunJobFlow") if c.fault is None]


def cluster(cid: str):
    return next(c for _, _, c in emr_clusters() if c.id == cid)


def test_per_run_cluster(aws_sandbox, moto, proxy, executor, tmp_path):
    sb = aws_sandbox
    s3 = moto.client("s3")
    script = plain_lake(s3, tmp_path)
    d = workdir(sb, "per-run", proxy, main=config(proxy.url, script))
    sb.init(d)
    p = sb.run("plan", cwd=d)
    t = flat(p.output)
    assert "A cluster is launched for this run" in t, p.describe()
    assert "an EMR cluster of 1 × m5.xlarge primary + 3 × m5.large core (emr-7.13.0, on demand)" in t, p.describe()

    BOOT["seconds"] = 2.0  # the cluster is STARTING a while, as EMR's are
    proxy.reset_counts()
    r = sb.run("apply", cwd=d, timeout=RUN_TIMEOUT)
    assert "Apply complete! Resources: 1 added" in r.output, r.describe()
    state = sb.resources(d)[PIPELINE]
    launched = state["launched_cluster"]

    # What was sent: one RunJobFlow with the steps, nothing kept alive.
    bodies = run_job_flows(proxy)
    assert len(bodies) == 1, bodies
    body = bodies[0]
    assert body["Instances"]["KeepJobFlowAliveWhenNoSteps"] is False, body["Instances"]
    assert "AutoTerminationPolicy" not in body, body
    groups = {g["InstanceRole"]: (g["InstanceType"], g["InstanceCount"]) for g in body["Instances"]["InstanceGroups"]}
    assert groups == {"MASTER": ("m5.xlarge", 1), "CORE": ("m5.large", 3)}, groups
    steps = body["Steps"]
    assert [s["ActionOnFailure"] for s in steps] == ["TERMINATE_CLUSTER"], steps
    assert steps[0]["Name"] == f"sparkflow plain {state['run_id']} count", steps[0]
    args = steps[0]["HadoopJarStep"]["Args"]
    assert args[:3] == ["spark-submit", "--deploy-mode", "cluster"] and re.search(
        r"s3://sf-lake/_sparkflow/code/", " ".join(args)
    )
    tags = {t["Key"]: t["Value"] for t in body["Tags"]}
    assert tags["sparkflow:managed"] == "true" and tags["sparkflow:pipeline"] == "plain", tags
    assert tags["sparkflow:run"] == state["run_id"], tags
    counts = proxy.counts()
    assert counts.get("emr.AddJobFlowSteps", 0) == 0, counts
    assert counts.get("emr.TerminateJobFlows", 0) == 0, counts  # EMR ended it after the last step

    # Gone before apply returned, and the state says so.
    assert active_clusters() == [], [c.id for c in active_clusters()]
    cid = launched["id"]
    assert cid.startswith("j-") and cluster(cid).state == "TERMINATED", launched
    assert launched["state"] == "TERMINATED", launched
    for k in ("requested_at", "ready_at", "last_step_at", "gone_at"):
        assert launched[k], (k, launched)
    assert launched["requested_at"] <= launched["last_step_at"] <= launched["gone_at"], launched
    st = state["stages"][0]
    assert st["status"] == "succeeded" and st["metrics"]["plain_lines"] == 42, st
    assert st["log"] == f"s3://sf-lake/logs/{cid}/steps/{st['step_id']}/stderr.gz", st
    assert s3_keys(s3, "_sparkflow/tmp/") == []

    p = plan_exitcode(sb, d)
    assert p.rc == 0 and "No changes." in p.output, p.describe()

    # New input: the next run launches a new cluster.
    s3.put_object(Bucket=BUCKET, Key="raw/events/c.txt", Body=b"late 1\nlate 2\n")
    BOOT["seconds"] = 0.0
    sb.run("apply", cwd=d, timeout=RUN_TIMEOUT)
    again = sb.resources(d)[PIPELINE]
    assert again["stages"][0]["metrics"]["plain_lines"] == 44, again["stages"]
    assert again["launched_cluster"]["id"] not in (cid, None), again["launched_cluster"]
    assert active_clusters() == []
    sb.run("destroy", cwd=d, timeout=300)
    assert active_clusters() == []


def test_failed_step(aws_sandbox, moto, proxy, executor, tmp_path):
    sb = aws_sandbox
    s3 = moto.client("s3")
    script = plain_lake(s3, tmp_path)
    d = workdir(sb, "per-run-fail", proxy, main=config(proxy.url, script))
    sb.init(d)
    executor.fail_next(1, "planted failure 5d1e")
    r = sb.run("apply", cwd=d, timeout=RUN_TIMEOUT, ok=False)
    assert r.rc != 0, r.describe()
    t = flat(r.output)
    assert 'Stage "count" of pipeline "plain" failed' in t and "planted failure 5d1e" in t, r.describe()
    assert active_clusters() == [], [c.id for c in active_clusters()]
    assert s3_keys(s3, "counted") == [] and s3_keys(s3, "_sparkflow/tmp/") == []
    (body,) = run_job_flows(proxy)
    assert body["Steps"][0]["ActionOnFailure"] == "TERMINATE_CLUSTER"


def test_ctrl_c(aws_sandbox, moto, proxy, executor, tmp_path):
    sb = aws_sandbox
    s3 = moto.client("s3")
    script = plain_lake(s3, tmp_path)
    d = workdir(sb, "per-run-int", proxy, main=config(proxy.url, script))
    sb.init(d)
    executor.gate.clear()  # the step stays RUNNING until the gate opens
    out = tmp_path / "apply.out"
    proc = sb.popen(["apply"], d, out)
    try:
        assert wait_for(lambda: executor.seen_running.is_set() or proc.poll() is not None, 300), out.read_text()
        assert proc.poll() is None, out.read_text()
        t = time.monotonic()
        assert wait_for(lambda: proxy.count("emr", "ListSteps", since=t), 60)
        interrupt(proc)
        rc = wait_exit(proc, 120)
    finally:
        if proc.poll() is None:
            interrupt(proc, 9)
        executor.gate.set()
    assert rc is not None, "apply did not stop within 120 s of Ctrl-C"
    text = check_background(sb, proc, out)
    assert rc != 0, text
    assert proxy.count("emr", "TerminateJobFlows") >= 1, proxy.counts()
    # Terminated before the provider returned, not merely asked to.
    assert active_clusters() == [], [c.id for c in active_clusters()]
    rec = next(iter(executor.records.values()))
    assert wait_for(lambda: rec.state in STEP_TERMINAL, 30) and rec.state in ("CANCELLED", "INTERRUPTED"), rec.state
    assert s3_keys(s3, "_sparkflow/tmp/") == []


def test_run_now_action_on_a_per_run_cluster(aws_sandbox, moto, proxy, executor, tmp_path):
    """`terraform apply -invoke` of sparkflow_pipeline_run on EMR: the action
    launches its own cluster, reports the run, and the cluster is
    TERMINATED when the invoke returns; the next plan of the pipeline has no
    changes (its refresh follows the action's run)."""
    sb = aws_sandbox
    major, minor = (int(x) for x in sb.client.version.split(".")[:2])
    if sb.client.flavor != "tf" or (major, minor) < (1, 14):
        pytest.skip(f"{sb.client.id} does not know actions")
    s3 = moto.client("s3")
    script = plain_lake(s3, tmp_path)
    main = config(proxy.url, script)
    body = main[main.index('resource "sparkflow_pipeline" "plain" {') :]
    body = body[body.index("{") + 1 : body.rindex("}")]
    action = 'action "sparkflow_pipeline_run" "now" {\n  config {\n' + body + "    progress_interval = 2\n  }\n}\n"
    d = workdir(sb, "per-run-act", proxy, main=main + "\n" + action)
    sb.init(d)
    sb.run("apply", cwd=d, timeout=RUN_TIMEOUT)
    before = sb.resources(d)[PIPELINE]
    proxy.reset_counts()
    r = sb.run("apply", "-invoke=action.sparkflow_pipeline_run.now", cwd=d, timeout=RUN_TIMEOUT)
    out = flat(r.output)
    assert "pipeline plain: run started on a cluster launched for it (1 stage)" in out, r.describe()
    assert "stage count succeeded in" in out and "plain_lines=42" in out, r.describe()
    m = re.search(r"pipeline plain: cluster (j-\w+) launched for the run is TERMINATED", out)
    assert m, r.describe()
    assert m.group(1) != before["launched_cluster"]["id"]
    assert proxy.count("emr", "RunJobFlow") == 1, proxy.counts()
    assert active_clusters() == [], [c.id for c in active_clusters()]
    # The refresh follows the action's run: no run is proposed.  On an s3://
    # lake the Glue tables still point at the run before (S3 has no link to
    # switch), so the plan repairs the catalog, and only that: the apply
    # launches nothing.
    p = plan_exitcode(sb, d)
    assert p.rc == 2 and "+ tables" in p.output and "run_id" not in p.output, p.describe()
    proxy.reset_counts()
    sb.run("apply", cwd=d, timeout=RUN_TIMEOUT)
    assert proxy.count("emr", "RunJobFlow") == 0, proxy.counts()
    p = plan_exitcode(sb, d)
    assert p.rc == 0 and "No changes." in p.output, p.describe()
    sb.run("destroy", cwd=d, timeout=300)
