"""bench.py -- billed cluster seconds of one run (issue #12, closing note);
bench/bench_per_run runs it.

One quickstart-shaped run (the three dags/jobs stages validate, process,
marts on a generated lake of a few thousand transactions in moto's S3) on
EMR, two ways, each applied with the real Terraform CLI and the provider
under test, in the same process against the same moto:

  persistent  examples/aws's sparkflow_cluster (its emr block without
              `idle_timeout`, so the default "1h") and the pipeline on its
              cluster_id; apply, then destroy.
  per_run     the pipeline with `run_cluster { emr { ... } }` (the same
              instance types, count, release and roles): apply (one
              RunJobFlow with the steps; EMR ends the cluster after the
              last one), then destroy.

Set up as tests/aws does it (its modules are imported, not copied, through
bench/catalog/glue_moto.py's loader): moto.server.ThreadedMotoServer in
this process with executor.install_moto_patches(), the fault proxy in front
of it with no faults (a recorder of every call the provider sent, with
monotonic times and EMR's answers) and the EMR step executor running the
steps with the local Spark.  executor.BOOT["seconds"] (--boot, the same in
both arms) keeps a new cluster STARTING that long, as EMR's take minutes.
install_moto_patches() also stamps a step's StartDateTime only once it runs,
as EMR does (moto stamps the first step inside RunJobFlow, before the
cluster has booted).

Clocks: the proxy and the executor run in this process and stamp with
time.monotonic(), so "RunJobFlow sent", "step RUNNING" and "step done" are
on one clock (ms).  The provider's own view of a per-run cluster is in the
state (launched_cluster requested_at/ready_at/last_step_at/gone_at, the
stages' started_at/finished_at: whole seconds) and in its INFO line "emr:
run ...: launch → first step N ms, last step → gone M ms; K API calls"
(TF_LOG_PROVIDER=INFO, engines/emr/launch.c), in milliseconds.

Billed seconds, per arm:
  persistent  RunJobFlow sent -> the run's last step done, plus the
              cluster's idle time until EMR's auto-termination ends it: the
              AutoTerminationPolicy.IdleTimeout the provider sent (moto
              never auto-terminates, so the idle time is EMR's documented
              behaviour, modelled, not observed).  For information also
              "destroyed right after apply": RunJobFlow -> the TERMINATED
              the destroy waited for, the best a person can do by hand.
  per_run     requested -> gone as the provider observed it: its log
              line's launch -> first step + the run (first step RUNNING ->
              last step done) + its last step -> gone; cross-checked against
              the state's requested_at -> gone_at (whole seconds, within
              2 s) and against this process's clock.  Idle = last step ->
              gone (target 0 s).
The ratio is persistent / per_run.  Also: EMR API calls per apply and per
destroy (the proxy's record, by action), and every check that the run did
what it should (three COMPLETED steps, the metrics the generator's manifest
expects, per-run: KeepJobFlowAliveWhenNoSteps false, no TerminateJobFlows,
no cluster left active).

Rounds alternate the order of the arms (persistent first in even rounds),
so a drift in the machine's load does not favour one.  Results: a table on
stdout, every sample in bench/results/per_run-<UTC timestamp>.json and,
with BENCH_JSON, the summary for bench/run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn

HERE = Path(__file__).resolve().parent
BENCH_DIR = HERE.parent
ROOT = BENCH_DIR.parent
APPLY_TIMEOUT_S = 1800
DESTROY_TIMEOUT_S = 600
ARMS = ("persistent", "per_run")
CLUSTER_ADDR = "sparkflow_cluster.emr"
PIPELINE_ADDR = "sparkflow_pipeline.finances"
STAGES = ("validate", "process", "marts")
# State and provider log against this process's clock: whole seconds in the
# state, so 1 s of truncation at each end, plus slack.
CROSS_CHECK_S = 2.0
LAUNCH_LINE = re.compile(
    r"emr: run (\S+): cluster (\S+) (\S+); launch → first step (-?\d+) ms, last step → gone (-?\d+) ms; "
    r"(\d+) API calls in (\d+) ms"
)


sys.path.insert(0, str(BENCH_DIR / "lib"))
import common  # noqa: E402
import report  # noqa: E402

say, med = common.say, common.med


def die(msg: str) -> NoReturn:
    common.die(msg, "bench_per_run")


# Terraform in its own HOME with the provider in the implied local mirror,
# process handling, provider log lines and the manifest checks: the
# quickstart bench's.  tests/aws's modules and the Terraform wrapper that
# gives the provider their AWS environment: the catalog bench's moto half.
qs = common.load("sparkflow_bench_quickstart", BENCH_DIR / "quickstart" / "bench.py")
glue_moto = common.load("sparkflow_bench_glue_moto", BENCH_DIR / "catalog" / "glue_moto.py")


def epoch(rfc3339: str | None) -> float | None:
    if not rfc3339:
        return None
    return dt.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


# ---------------------------------------------------------------------------
# Configurations
# ---------------------------------------------------------------------------

# The pipeline of examples/aws (the three dags/jobs stages) without its
# catalog block: the Glue/Athena sync is the same in both arms and not what
# is measured here.
PIPELINE_TF = """
resource "sparkflow_pipeline" "finances" {
%(placement)s
  name      = "household-finances"
  lake      = "s3://${var.lake_bucket}"
  input     = "raw/transactions"
  reference = "reference"
  output    = "curated"

  stage {
    name   = "validate"
    script = "${local.jobs}/validate_transactions.py"
  }
  stage {
    name   = "process"
    script = "${local.jobs}/process_transactions.py"
  }
  stage {
    name   = "marts"
    script = "${local.jobs}/build_marts.py"
  }

  timeouts {
    create = "2h"
    update = "2h"
  }
}
"""

# examples/aws's cluster shape, for the run: the same instance types,
# count, release, roles and log_uri as its sparkflow_cluster.
RUN_CLUSTER_TF = """  run_cluster {
    emr {
      release_label        = var.release_label
      master_instance_type = "m5.xlarge"
      core_instance_type   = "m5.xlarge"
      core_instance_count  = var.core_instance_count
      subnet_id            = var.subnet_id
      service_role         = var.service_role
      instance_profile     = var.instance_profile
      log_uri              = "s3://${var.lake_bucket}/logs/"
    }
  }"""


def config(emr_test: Any, endpoint: str, arm: str) -> str:
    """examples/aws pointed at `endpoint` (tests/aws's example_config),
    without its pipeline and outputs; persistent: its sparkflow_cluster with
    the default idle_timeout; per_run: no sparkflow_cluster.  Then the
    pipeline, on the cluster or on a cluster of its own."""
    blocks = emr_test._blocks(emr_test.example_config(endpoint, pipeline=False))
    keep = [b for b in blocks if not b.lstrip().startswith("output") and "sparkflow_cluster.emr" not in b]
    if arm == "persistent":
        text, n = re.subn(r"^ *idle_timeout *=.*\n", "", "".join(keep), flags=re.M)
        if n != 1:
            die("examples/aws/main.tf: no single idle_timeout line in its sparkflow_cluster to drop")
        return text + PIPELINE_TF % {"placement": "  cluster_id = sparkflow_cluster.emr.id"}
    base = "".join(b for b in keep if 'resource "sparkflow_cluster"' not in b)
    return base + PIPELINE_TF % {"placement": RUN_CLUSTER_TF}


# ---------------------------------------------------------------------------
# What the proxy and the executor saw
# ---------------------------------------------------------------------------


def emr_calls(calls: list[Any]) -> dict[str, Any]:
    emr = [c for c in calls if c.service == "emr"]
    by: dict[str, int] = {}
    for c in emr:
        by[c.action] = by.get(c.action, 0) + 1
    services: dict[str, int] = {}
    for c in calls:
        services[c.service] = services.get(c.service, 0) + 1
    return {"emr": len(emr), "emr_by_action": dict(sorted(by.items())), "all_by_service": services}


def answer(call: Any) -> dict[str, Any]:
    try:
        return json.loads(call.response_body or b"{}")
    except ValueError:
        return {}


def terminated_seen(calls: list[Any], cid: str) -> float | None:
    """When the provider got the first answer saying cluster `cid` is gone."""
    for c in calls:
        if c.service != "emr" or c.action not in ("DescribeCluster", "ListClusters") or c.fault is not None:
            continue
        a = answer(c)
        if c.action == "DescribeCluster":
            if c.json_body().get("ClusterId") != cid:
                continue
            state = (a.get("Cluster") or {}).get("Status", {}).get("State")
            if state in ("TERMINATED", "TERMINATED_WITH_ERRORS") or (c.status == 400 and "not found" in str(a)):
                return c.t_end
        else:
            for cl in a.get("Clusters", []):
                if cl.get("Id") == cid and cl.get("Status", {}).get("State", "").startswith("TERMINATED"):
                    return c.t_end
    return None


# ---------------------------------------------------------------------------
# One apply + destroy of one arm
# ---------------------------------------------------------------------------


class Arm:
    """One arm's Terraform directory, initialised once."""

    def __init__(self, name: str, m: dict[str, Any], ctx: dict[str, Any], scratch: Path):
        self.name = name
        self.m, self.ctx = m, ctx
        self.tf = glue_moto._MotoTerraform(qs, ctx["terraform"], ctx["provider"], scratch, ctx["procs"], ctx["aws_env"])
        emr_test = m["emr_test"]
        (self.tf.dir / "main.tf").write_text(config(emr_test, ctx["proxy"].url, name))
        (self.tf.dir / "variables.tf").write_text((emr_test.EXAMPLE / "variables.tf").read_text())
        (self.tf.dir / "terraform.tfvars").write_text(f'lake_bucket = "{emr_test.BUCKET}"\n')
        out = str(scratch / "init.txt")
        rc, _, _, _ = self.tf.run(["init", "-input=false", "-no-color"], out)
        self.tf.check("init", rc, out)

    def round(self, i: int, rundir: Path) -> dict[str, Any]:
        proxy, ex = self.ctx["proxy"], self.ctx["executor"]
        executor = self.m["executor"]
        rundir.mkdir(parents=True)
        r: dict[str, Any] = {"arm": self.name, "round": i, "problems": [], "loadavg_before": qs.loadavg()}
        apply_json, apply_log = str(rundir / "apply.json"), str(rundir / "apply.tf.log")
        t0 = time.monotonic()
        rc, r["apply_wall_s"], _, _ = self.tf.run(
            ["apply", "-input=false", "-no-color", "-auto-approve", "-json"],
            apply_json,
            apply_log,
            timeout=APPLY_TIMEOUT_S,
        )
        t_exit = time.monotonic()
        self.tf.check("apply", rc, apply_json)
        calls = proxy.select(since=t0, until=t_exit)
        r["apply_calls"] = emr_calls(calls)

        show = str(rundir / "show.json")
        rc, _, _, _ = self.tf.run(["show", "-json", "-no-color"], show)
        self.tf.check("show", rc, show)
        pipe = self.tf.resource(show, PIPELINE_ADDR)
        self._check_pipeline(pipe, r)

        # The cluster: the one RunJobFlow of this apply, what it asked for.
        rjf = [c for c in calls if c.service == "emr" and c.action == "RunJobFlow" and c.fault is None]
        if len(rjf) != 1:
            die(f"{self.name} round {i}: {len(rjf)} RunJobFlow calls in the apply, expected 1")
        body, cid = rjf[0].json_body(), answer(rjf[0]).get("JobFlowId")
        t_req = rjf[0].t_start
        r["cluster_id"] = cid
        steps = sorted((x for x in ex.records.values() if x.cluster_id == cid), key=lambda x: x.t_running or 0)
        if [x.state for x in steps] != ["COMPLETED"] * len(STAGES) or any(x.t_done is None for x in steps):
            die(f"{self.name} round {i}: steps of {cid}: {[(x.name, x.state) for x in steps]}")
        first_run, last_done = steps[0].t_running, steps[-1].t_done
        r["clock"] = {
            "launch_to_first_step_s": first_run - t_req,
            "run_s": last_done - first_run,
            "last_step_to_apply_exit_s": t_exit - last_done,
            "steps_s": {x.name.rsplit(" ", 1)[-1]: x.t_done - x.t_running for x in steps},
        }
        r["state_stages"] = [
            {k: s.get(k) for k in ("name", "status", "started_at", "finished_at", "duration_ms", "step_id")}
            for s in pipe.get("stages") or []
        ]
        if self.name == "persistent":
            self._persistent(r, body, show, t_req, last_done)
        else:
            self._per_run(r, body, pipe, calls, cid, t_req, first_run, last_done, apply_log)

        # destroy: what it sends, and for the persistent cluster when it is gone
        t1 = time.monotonic()
        destroy_out = str(rundir / "destroy.txt")
        rc, r["destroy_wall_s"], _, _ = self.tf.run(
            ["destroy", "-input=false", "-no-color", "-auto-approve"], destroy_out, timeout=DESTROY_TIMEOUT_S
        )
        t_dexit = time.monotonic()
        self.tf.check("destroy", rc, destroy_out)
        dcalls = proxy.select(since=t1, until=t_dexit)
        r["destroy_calls"] = emr_calls(dcalls)
        if self.name == "persistent":
            gone = terminated_seen(dcalls, cid)
            r["destroyed_right_after_apply_billed_s"] = (gone if gone is not None else t_dexit) - t_req
            if gone is None:
                r["problems"].append(f"round {i}: no TERMINATED answer seen during the destroy (apply exit used)")
        left = executor.active_clusters()
        if left:
            r["problems"].append(f"round {i}: EMR clusters left active after destroy: {[c.id for c in left]}")
        r["loadavg_after"] = qs.loadavg()
        return r

    def _check_pipeline(self, pipe: dict[str, Any], r: dict[str, Any]) -> None:
        if pipe.get("status") != "succeeded":
            r["problems"].append(f"pipeline status {pipe.get('status')!r}")
        names = [s.get("name") for s in pipe.get("stages") or []]
        if names != list(STAGES):
            r["problems"].append(f"stages {names}")
        r["problems"] += qs.compare_metrics(
            f"{self.name} metrics", pipe.get("metrics") or {}, qs.expected_metrics(self.ctx["manifest"])
        )

    def _persistent(self, r: dict[str, Any], body: dict[str, Any], show: str, t_req: float, last_done: float):
        idle = (body.get("AutoTerminationPolicy") or {}).get("IdleTimeout")
        cl = self.tf.resource(show, CLUSTER_ADDR)
        emr = cl.get("emr") or {}
        if isinstance(emr, list):
            emr = emr[0] if emr else {}
        r["idle_timeout"] = {"configured": emr.get("idle_timeout"), "sent_seconds": idle}
        if not isinstance(idle, int) or emr.get("idle_timeout") != "1h":
            die(f"persistent: idle_timeout {emr.get('idle_timeout')!r}, IdleTimeout sent {idle!r}: expected 1h, 3600")
        if body["Instances"].get("KeepJobFlowAliveWhenNoSteps") is not True:
            r["problems"].append(f"persistent: KeepJobFlowAliveWhenNoSteps {body['Instances']}")
        r["launch_to_first_step_s"] = r["clock"]["launch_to_first_step_s"]
        r["run_s"] = r["clock"]["run_s"]
        r["idle_s"] = float(idle)
        r["idle_observed"] = False  # moto never auto-terminates: EMR's documented behaviour, modelled
        r["billed_s"] = (last_done - t_req) + idle
        r["billed_without_idle_s"] = last_done - t_req

    def _per_run(
        self,
        r: dict[str, Any],
        body: dict[str, Any],
        pipe: dict[str, Any],
        calls: list[Any],
        cid: str,
        t_req: float,
        first_run: float,
        last_done: float,
        apply_log: str,
    ):
        inst = body.get("Instances") or {}
        if inst.get("KeepJobFlowAliveWhenNoSteps") is not False or "AutoTerminationPolicy" in body:
            r["problems"].append(f"per_run: RunJobFlow keeps the cluster: {inst}, {body.get('AutoTerminationPolicy')}")
        if len(body.get("Steps") or []) != len(STAGES):
            r["problems"].append(f"per_run: RunJobFlow carries {len(body.get('Steps') or [])} steps")
        if r["apply_calls"]["emr_by_action"].get("TerminateJobFlows", 0):
            r["problems"].append("per_run: the provider sent TerminateJobFlows (EMR should end the cluster)")
        lc = pipe.get("launched_cluster") or {}
        if isinstance(lc, list):
            lc = lc[0] if lc else {}
        r["launched_cluster"] = lc
        if lc.get("id") != cid or lc.get("state") != "TERMINATED":
            r["problems"].append(f"per_run: launched_cluster {lc} (RunJobFlow answered {cid})")
        req, gone, last = epoch(lc.get("requested_at")), epoch(lc.get("gone_at")), epoch(lc.get("last_step_at"))
        first = epoch((pipe.get("stages") or [{}])[0].get("started_at"))
        state = {
            "billed_s": gone - req if gone and req else None,
            "launch_to_first_step_s": first - req if first and req else None,
            "last_step_to_gone_s": gone - last if gone and last else None,
        }
        r["state"] = state
        line = None
        for _, msg in qs.provider_events(apply_log):
            m = LAUNCH_LINE.search(msg)
            if m and m.group(2) == cid:
                line = m
        if line is None:
            die(f"per_run: no 'emr: run ...: launch → first step' line for {cid} in {apply_log}")
        r["provider_line"] = {
            "final_state": line.group(3),
            "launch_to_first_step_ms": int(line.group(4)),
            "last_step_to_gone_ms": int(line.group(5)),
            "api_calls": int(line.group(6)),
            "follow_ms": int(line.group(7)),
        }
        seen = terminated_seen(calls, cid)
        r["clock"]["last_step_to_terminated_seen_s"] = seen - last_done if seen is not None else None
        r["launch_to_first_step_s"] = int(line.group(4)) / 1000.0
        r["run_s"] = r["clock"]["run_s"]
        r["idle_s"] = int(line.group(5)) / 1000.0
        r["idle_observed"] = True
        r["billed_s"] = r["launch_to_first_step_s"] + r["run_s"] + r["idle_s"]
        r["billed_without_idle_s"] = r["launch_to_first_step_s"] + r["run_s"]
        if state["billed_s"] is None or abs(state["billed_s"] - r["billed_s"]) > CROSS_CHECK_S:
            r["problems"].append(
                f"per_run: billed {r['billed_s']:.2f} s (provider line + run) vs the state's requested_at -> gone_at "
                f"{state['billed_s']} s: more than {CROSS_CHECK_S} s apart"
            )
        if abs(r["clock"]["launch_to_first_step_s"] - r["launch_to_first_step_s"]) > CROSS_CHECK_S:
            r["problems"].append(
                f"per_run: launch -> first step {r['launch_to_first_step_s']:.2f} s (provider) vs "
                f"{r['clock']['launch_to_first_step_s']:.2f} s (RunJobFlow sent -> step RUNNING)"
            )


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------


def summarize(rounds: list[dict[str, Any]], cfg: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    by = {a: [r for r in rounds if r["arm"] == a] for a in ARMS}

    def m(arm: str, key: str) -> float | None:
        return med([r.get(key) for r in by[arm]])

    def mcalls(arm: str, key: str) -> float | None:
        return med([r[key]["emr"] for r in by[arm]])

    def mclock(arm: str, key: str) -> float | None:
        return med([r["clock"].get(key) for r in by[arm]])

    pr, pe = m("per_run", "billed_s"), m("persistent", "billed_s")
    idle = m("per_run", "idle_s")
    ratio = pe / pr if pe is not None and pr else None
    summary = [
        report.row("billed cluster seconds per run (median)", "s", pr, pe),
        report.row("billed ratio persistent / per-run (median billed)", "x", ratio),
        report.row(
            "per-run: idle billed, last step -> TERMINATED (median)",
            "s",
            idle,
            None,
            "0 s (< 1 s)",
            idle is not None and idle < 1,
        ),
        report.row(
            "per-run: last step -> TERMINATED noticed (DescribeCluster answer, median)",
            "s",
            mclock("per_run", "last_step_to_terminated_seen_s"),
        ),
        report.row(
            "last step -> apply exit (median)",
            "s",
            mclock("per_run", "last_step_to_apply_exit_s"),
            mclock("persistent", "last_step_to_apply_exit_s"),
        ),
        report.row(
            "launch -> first step (median)",
            "s",
            m("per_run", "launch_to_first_step_s"),
            m("persistent", "launch_to_first_step_s"),
        ),
        report.row(
            "run: first step start -> last step end (median)", "s", m("per_run", "run_s"), m("persistent", "run_s")
        ),
        report.row(
            "billed without idle: launch -> last step end (median)",
            "s",
            m("per_run", "billed_without_idle_s"),
            m("persistent", "billed_without_idle_s"),
        ),
        report.row(
            "persistent destroyed right after apply: launch -> TERMINATED (median)",
            "s",
            None,
            m("persistent", "destroyed_right_after_apply_billed_s"),
        ),
        report.row(
            "EMR API calls per apply (median)",
            "calls",
            mcalls("per_run", "apply_calls"),
            mcalls("persistent", "apply_calls"),
        ),
        report.row(
            "EMR API calls per destroy (median)",
            "calls",
            mcalls("per_run", "destroy_calls"),
            mcalls("persistent", "destroy_calls"),
        ),
    ]
    t = []
    for label, key in (
        ("launch -> first step", "launch_to_first_step_s"),
        ("run (first step start -> last step end)", "run_s"),
        ("last step -> TERMINATED / idle until auto-termination", "idle_s"),
        ("billed", "billed_s"),
        ("billed without idle", "billed_without_idle_s"),
        ("apply wall", "apply_wall_s"),
    ):
        row = [label]
        for a in ARMS:
            s = report.stats([r[key] for r in by[a] if r.get(key) is not None])
            row.append(
                "-" if not s else "%s (%s - %s)" % (report.fmt(s["median"]), report.fmt(s["min"]), report.fmt(s["max"]))
            )
        t.append(row)
    for label, key in (
        ("last step -> TERMINATED noticed", "last_step_to_terminated_seen_s"),
        ("last step -> apply exit", "last_step_to_apply_exit_s"),
    ):
        t.append([label] + [report.fmt(mclock(a, key)) for a in ARMS])
    for label, key in (("EMR calls per apply", "apply_calls"), ("EMR calls per destroy", "destroy_calls")):
        t.append([label] + [report.fmt(mcalls(a, key)) for a in ARMS])
    t.append(["billed ratio persistent / per-run", report.fmt(ratio, "x"), ""])
    text = report.table(
        ["median (min - max) over %d round(s)" % cfg["rounds"], "persistent", "per-run"],
        t,
    )
    return summary, text


def git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def generate(python: str, lake: Path, transactions: int) -> dict[str, Any]:
    gen = subprocess.run(
        [
            python,
            str(ROOT / "dags" / "sample_data" / "generate.py"),
            "--out",
            str(lake),
            "--transactions",
            str(transactions),
            "--months",
            "6",
            "--end",
            "2025-06-30",
            "--seed",
            "7",
        ],
        capture_output=True,
        text=True,
    )
    if gen.returncode != 0:
        die("generate.py failed: " + gen.stdout + gen.stderr)
    with open(lake / "manifest.json") as f:
        return json.load(f)


def aws_env(awsenv: Any, url: str, creds: Any, poll_ms: int) -> dict[str, str]:
    """tests/aws's provider environment; poll_ms 0: without its poll
    settings, so the provider polls on its own schedule (as against EMR)."""
    env = awsenv.provider_env(url, creds, poll_ms=max(poll_ms, 1))
    if poll_ms == 0:
        env.pop("SPARKFLOW_AWS_POLL_MS")
        env.pop("SPARKFLOW_AWS_POLL_MAX_MS")
    return env


def measure(cfg: dict[str, Any], scratch: Path, procs: Any) -> list[dict[str, Any]]:
    m = glue_moto._import_tests_aws()
    awsenv, executor, faultproxy, emr_test = m["awsenv"], m["executor"], m["faultproxy"], m["emr_test"]
    import logging

    from moto.server import ThreadedMotoServer

    lake = scratch / "data"
    say(f"generating {cfg['transactions']} transactions (--months 6 --end 2025-06-30 --seed 7) ...")
    manifest = generate(cfg["python"], lake, cfg["transactions"])

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # as tests/aws/conftest.py
    executor.install_moto_patches()
    executor.BOOT["seconds"] = cfg["boot_s"]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    proxy = ex = None
    arms: dict[str, Arm] = {}
    rounds: list[dict[str, Any]] = []
    try:
        host, port = server.get_host_and_port()
        moto = awsenv.Moto(host, port)
        moto.reset(verify=False)  # a benchmark, not the signature test: any key
        proxy = faultproxy.FaultProxy(moto.host, moto.port, seed=1).start()  # no faults: a recorder
        (scratch / "executor").mkdir()
        ex = executor.StepExecutor(lambda: moto.client("s3"), scratch / "executor").start()
        s3 = moto.client("s3")
        s3.create_bucket(Bucket=emr_test.BUCKET)
        emr_test.upload_tree(s3, lake)
        creds = awsenv.Creds("AKIABENCHPERRUN00001", "bench-per-run-secret")
        ctx = {
            "terraform": cfg["terraform"],
            "provider": cfg["provider"],
            "procs": procs,
            "aws_env": aws_env(awsenv, proxy.url, creds, cfg["poll_ms"]),
            "proxy": proxy,
            "executor": ex,
            "manifest": manifest,
        }
        for a in ARMS:
            arms[a] = Arm(a, m, ctx, scratch / a)
        for i in range(cfg["rounds"]):
            order = ARMS if i % 2 == 0 else ARMS[::-1]
            for a in order:
                say(f"round {i + 1}/{cfg['rounds']}: {a} (BOOT {cfg['boot_s']} s) ...")
                r = arms[a].round(i, scratch / "rounds" / f"{i}-{a}")
                rounds.append(r)
                say(
                    "  launch -> first step %.2f s, run %.2f s, %s %.2f s, billed %.1f s; EMR calls: apply %d, "
                    "destroy %d; load %s"
                    % (
                        r["launch_to_first_step_s"],
                        r["run_s"],
                        "idle (modelled)" if a == "persistent" else "last step -> TERMINATED",
                        r["idle_s"],
                        r["billed_s"],
                        r["apply_calls"]["emr"],
                        r["destroy_calls"]["emr"],
                        r["loadavg_after"],
                    )
                )
                for p in r["problems"]:
                    say("  PROBLEM: " + p)
        if ex.errors:
            rounds[-1]["problems"] += ["step executor: " + e for e in ex.errors]
    finally:
        for a in arms.values():
            if a.tf.has_resources():
                a.tf.run(
                    ["destroy", "-input=false", "-no-color", "-auto-approve"], str(scratch / f"cleanup-{a.name}.txt")
                )
        if ex is not None:
            ex.stop()
        if proxy is not None:
            proxy.stop()
        server.stop()
    return rounds


def main(argv: list[str]) -> int:
    quick = os.environ.get("BENCH_QUICK") == "1"
    ap = argparse.ArgumentParser(prog="bench/bench_per_run", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--rounds",
        type=int,
        default=int(os.environ.get("BENCH_PER_RUN_ROUNDS", 1 if quick else 3)),
        help="rounds, each one apply + destroy of both arms (default 3; quick 1)",
    )
    ap.add_argument(
        "--boot",
        type=float,
        default=float(os.environ.get("BENCH_PER_RUN_BOOT", 5)),
        help="seconds a new cluster stays STARTING in moto, both arms (default 5)",
    )
    ap.add_argument(
        "--transactions",
        type=int,
        default=int(os.environ.get("BENCH_PER_RUN_TRANSACTIONS", 3000)),
        help="generated transactions in the lake (default 3000)",
    )
    ap.add_argument(
        "--poll-ms",
        type=int,
        default=int(os.environ.get("BENCH_PER_RUN_POLL_MS", 200)),
        help="SPARKFLOW_AWS_POLL_MS of the provider, as tests/aws sets it (default 200; the cap is max(this, 1000)); "
        "0: the provider's own schedule (1 s, growing to its caps)",
    )
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    provider, terraform = os.environ.get("BENCH_PROVIDER"), os.environ.get("BENCH_TERRAFORM")
    if not provider or not terraform:
        die("BENCH_PROVIDER and BENCH_TERRAFORM must be set (bench/bench_per_run sets them)")
    if args.rounds < 1 or args.transactions < 1 or args.boot < 0 or args.poll_ms < 0:
        die("--rounds and --transactions must be at least 1, --boot and --poll-ms at least 0")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    cfg = {
        "rounds": args.rounds,
        "boot_s": args.boot,
        "transactions": args.transactions,
        "poll_ms": args.poll_ms,
        "provider": provider,
        "terraform": terraform,
        "python": qs.job_python(),
        "command": " ".join(["bench/bench_per_run"] + argv),
        "loadavg_start": qs.loadavg(),
        "started": stamp,
        "git_commit": git_commit(),
        "cpus": os.cpu_count(),
        "idle_model": "persistent: EMR's auto-termination ends an idle cluster after idle_timeout (default 1h); "
        "moto never auto-terminates, so the idle time is the IdleTimeout sent, not observed",
    }
    scratch = Path(tempfile.mkdtemp(prefix="sf-bench-per-run.", dir=os.environ.get("TMPDIR")))
    procs = qs.Procs()
    try:
        rounds = measure(cfg, scratch, procs)
        cfg["loadavg_end"] = qs.loadavg()
        summary, text = summarize(rounds, cfg)
        problems = [f"{r['arm']}: {p}" for r in rounds for p in r["problems"]]
        print(text)
        print()
        print(
            "load average: %s at start, %s at end (%d CPUs)" % (cfg["loadavg_start"], cfg["loadavg_end"], cfg["cpus"])
        )
        for p in problems:
            print("PROBLEM: " + p)
        result = {
            "name": "per_run",
            "summary": summary,
            "details": {"config": cfg, "rounds": rounds, "problems": problems},
        }
        os.makedirs(BENCH_DIR / "results", exist_ok=True)
        out = BENCH_DIR / "results" / f"per_run-{stamp}.json"
        with open(out, "w") as f:
            json.dump(result, f, indent=2)
        print("results: " + os.path.relpath(out, os.getcwd()))
        report.write_result(result)
        return 1 if problems else 0
    finally:
        procs.stop_all()
        left = qs.kill_leftovers(str(scratch), "at exit")
        if left:
            say("bench_per_run: " + left)
        if os.environ.get("BENCH_KEEP") == "1":
            say(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
