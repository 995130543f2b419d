"""glue_moto.py -- the Glue + Athena half of bench/catalog/bench.py: apply
return -> the first Athena query accepted, against moto.

Set up as tests/aws does it (its modules are imported, not copied): a moto
server in this process (moto.server.ThreadedMotoServer, with
executor.install_moto_patches()), the fault proxy in front of it with no
faults (it only records what the provider sent), and the EMR step executor
(tests/aws/executor.py) running the stages' spark-submit with the local
Spark.  The configuration is examples/aws/main.tf as tests/aws uses it
(test_emr_e2e.example_config: its endpoints block pointed at the proxy), the
lake a generated data set uploaded to moto's S3.

Per apply (real Terraform CLI, the provider under test, TF_LOG_PROVIDER=INFO):
the moment the apply process exits, Athena StartQueryExecution of
`select count(*) from transactions` in the pipeline's workgroup and Glue
database (their names are known at plan: the test's DATABASE/WORKGROUP,
checked against the state afterwards), signed JSON 1.1 as the test does it,
then GetQueryExecution; then Glue GetTable of every published table.
Reported: apply exit -> StartQueryExecution accepted, whether that first
call succeeded (target: always, 0 s of extra waiting; a failure is probed
for, explicitly, never retried silently), the Glue/Athena sync inside apply
(the provider's "catalog sync" INFO lines) and the Glue/Athena calls the
provider sent during apply (the proxy's record).

moto runs no SQL: the query is accepted and reported SUCCEEDED at once, so
only the catalog's readiness is measured here, not Athena's speed.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import urllib.error
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COUNT_SQL = "select count(*) from transactions"
PROBE_LIMIT_S = 60.0
PROBE_EVERY_S = 0.2
# A few thousand rows take a minute or two; a step the executor cannot run
# leaves the provider polling until this.
APPLY_TIMEOUT_S = 1200


def _import_tests_aws() -> dict[str, Any]:
    """tests/aws's modules, with its folder first on sys.path (as its
    conftest.py does), and botocore kept away from this machine's AWS
    settings in this process."""
    for p in (str(ROOT / "tests" / "e2e"), str(ROOT / "tests" / "aws")):
        if p in sys.path:
            sys.path.remove(p)
        sys.path.insert(0, p)
    for k in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[k]
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    import awsenv
    import executor
    import faultproxy
    import test_catalog_glue
    import test_emr_e2e

    return {
        "awsenv": awsenv,
        "executor": executor,
        "faultproxy": faultproxy,
        "glue_test": test_catalog_glue,
        "emr_test": test_emr_e2e,
    }


def _first_call(fn: Any, t_exit: float, say: Any, what: str) -> dict[str, Any]:
    """fn() once, now; on failure an explicit probe until it answers."""
    t0 = time.perf_counter()
    try:
        answer, err = fn(), None
    except Exception as e:  # urllib's HTTPError (Athena's error answer), a reset, ...
        answer, err = None, f"{type(e).__name__}: {e}"
        if isinstance(e, urllib.error.HTTPError):
            err += " " + e.read().decode(errors="replace")[:400]
    t1 = time.perf_counter()
    res = {
        "call": what,
        "started_after_exit_s": t0 - t_exit,
        "answer_after_exit_s": t1 - t_exit if err is None else None,
        "own_s": t1 - t0,
        "first_attempt_ok": err is None,
        "error": err,
        "extra_wait_s": 0.0 if err is None else None,
        "answer": answer,
    }
    if err is not None:
        say(f"  FIRST CALL FAILED ({what}, {t1 - t_exit:.2f} s after apply exit): {err}")
        deadline, attempts = time.perf_counter() + PROBE_LIMIT_S, 0
        while time.perf_counter() < deadline:
            time.sleep(PROBE_EVERY_S)
            attempts += 1
            try:
                res["answer"] = fn()
            except Exception:
                continue
            res["extra_wait_s"] = time.perf_counter() - t1
            say(f"  ... {what} answered after {res['extra_wait_s']:.2f} s of extra waiting ({attempts} probes)")
            break
        res["probe_attempts"] = attempts
    return res


def run(
    qs: Any,
    sync_events: Any,
    terraform: str,
    provider: str,
    python: str,
    scratch: Path,
    procs: Any,
    applies: int,
    transactions: int,
    say: Any,
) -> dict[str, Any]:
    """`applies` applies (each followed by its first Athena query, then a
    destroy) of examples/aws against moto; every sample."""
    m = _import_tests_aws()
    awsenv, executor, faultproxy = m["awsenv"], m["executor"], m["faultproxy"]
    glue_test, emr_test = m["glue_test"], m["emr_test"]
    from moto.server import ThreadedMotoServer

    scratch.mkdir(parents=True)
    lake = scratch / "data"
    say(f"moto: generating {transactions} transactions (--months 24 --accounts 4 --seed 42) ...")
    gen = subprocess.run(
        [
            python,
            str(ROOT / "dags" / "sample_data" / "generate.py"),
            "--out",
            str(lake),
            "--transactions",
            str(transactions),
            "--months",
            "24",
            "--accounts",
            "4",
            "--seed",
            "42",
        ],
        capture_output=True,
        text=True,
    )
    if gen.returncode != 0:
        raise RuntimeError("generate.py failed: " + gen.stdout + gen.stderr)

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # as tests/aws/conftest.py
    executor.install_moto_patches()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    proxy = ex = tf = None
    out: dict[str, Any] = {"status": "measured", "transactions": transactions, "applies": [], "problems": []}
    try:
        host, port = server.get_host_and_port()
        moto = awsenv.Moto(host, port)
        moto.reset(verify=False)  # a benchmark, not the signature test: any key
        proxy = faultproxy.FaultProxy(moto.host, moto.port, seed=1).start()  # no faults: a recorder
        (scratch / "executor").mkdir()
        ex = executor.StepExecutor(lambda: moto.client("s3"), scratch / "executor").start()
        creds = awsenv.Creds("AKIABENCHCATALOG0001", "bench-catalog-secret")
        s3, glue = moto.client("s3"), moto.client("glue")
        s3.create_bucket(Bucket=emr_test.BUCKET)
        emr_test.upload_tree(s3, lake)

        tf = _MotoTerraform(qs, terraform, provider, scratch, procs, awsenv.provider_env(proxy.url, creds))
        tf.write_config(emr_test, proxy.url)
        init_out = str(scratch / "init.txt")
        rc, _, _, _ = tf.run(["init", "-input=false", "-no-color"], init_out)
        tf.check("init", rc, init_out)

        def start_query() -> dict[str, Any]:
            q = glue_test.athena(
                moto,
                "StartQueryExecution",
                QueryString=COUNT_SQL,
                WorkGroup=glue_test.WORKGROUP,
                QueryExecutionContext={"Database": glue_test.DATABASE},
            )
            return {"QueryExecutionId": q["QueryExecutionId"]}

        for i in range(applies):
            rundir = scratch / f"apply-{i}"
            rundir.mkdir()
            apply_json, apply_log = str(rundir / "apply.json"), str(rundir / "apply.tf.log")
            since = time.monotonic()
            rc, wall, _, e1 = tf.run(
                ["apply", "-input=false", "-no-color", "-auto-approve", "-json"],
                apply_json,
                apply_log,
                timeout=APPLY_TIMEOUT_S,
            )
            t_exit = time.perf_counter()
            first = None
            if rc == 0:
                first = _first_call(start_query, t_exit, say, "athena StartQueryExecution")
            tf.check("apply", rc, apply_json)
            a: dict[str, Any] = {"apply_wall_s": wall, "first_query": first, "problems": []}
            if first and first["first_attempt_ok"]:
                qid = first["answer"]["QueryExecutionId"]
                ge = glue_test.athena(moto, "GetQueryExecution", QueryExecutionId=qid)["QueryExecution"]
                a["query_state"] = ge["Status"]["State"]
                if ge["Status"]["State"] != "SUCCEEDED" or ge.get("WorkGroup") != glue_test.WORKGROUP:
                    a["problems"].append(f"apply {i}: the query is {ge['Status']['State']} in {ge.get('WorkGroup')}")
            elif first:
                a["problems"].append(f"apply {i}: the first StartQueryExecution after apply failed: {first['error']}")
            t0 = time.perf_counter()
            missing = []
            for name in glue_test.TABLES:
                try:
                    glue.get_table(DatabaseName=glue_test.DATABASE, Name=name)
                except glue.exceptions.EntityNotFoundException:
                    missing.append(name)
            a["get_tables_s"] = time.perf_counter() - t0
            a["get_tables_after_exit_s"] = time.perf_counter() - t_exit
            if missing:
                a["problems"].append(f"apply {i}: Glue has no table {missing} right after apply")
            # What the provider sent during the apply (the proxy's record).
            calls = [c for c in proxy.select(since=since) if c.service in ("glue", "athena")]
            a["catalog_calls"] = len(calls)
            a["catalog_calls_by_action"] = {}
            for c in calls:
                a["catalog_calls_by_action"][c.action] = a["catalog_calls_by_action"].get(c.action, 0) + 1
            a["sync"] = sync_events(apply_log)
            if "end_epoch" in a["sync"]:
                a["sync"]["end_to_apply_exit_s"] = e1 - a["sync"]["end_epoch"]
            else:
                a["problems"].append(f"apply {i}: no 'catalog sync done' line in the provider log")
            # The names queried are the ones the state reports.
            show = str(rundir / "show.json")
            rc, _, _, _ = tf.run(["show", "-json", "-no-color"], show)
            tf.check("show", rc, show)
            pipe = tf.resource(show, emr_test.PIPELINE)
            if (pipe.get("catalog_database"), pipe.get("catalog_workgroup")) != (
                glue_test.DATABASE,
                glue_test.WORKGROUP,
            ):
                a["problems"].append(
                    f"apply {i}: the state names {pipe.get('catalog_database')}/{pipe.get('catalog_workgroup')}"
                )
            if pipe.get("status") != "succeeded":
                a["problems"].append(f"apply {i}: pipeline status {pipe.get('status')!r}")
            a["tables"] = pipe.get("tables")
            destroy_out = str(rundir / "destroy.txt")
            rc, a["destroy_s"], _, _ = tf.run(["destroy", "-input=false", "-no-color", "-auto-approve"], destroy_out)
            tf.check("destroy", rc, destroy_out)
            left = executor.active_clusters()
            if left:
                a["problems"].append(f"apply {i}: EMR clusters left active in moto: {[c.id for c in left]}")
            say(
                "  moto apply %d: %.1f s; catalog sync %s ms (%d Glue/Athena calls); StartQueryExecution %s"
                % (
                    i,
                    wall,
                    a["sync"].get("sync_ms"),
                    a["catalog_calls"],
                    "%.3f s after exit" % first["answer_after_exit_s"]
                    if first and first["first_attempt_ok"]
                    else "FAILED FIRST",
                )
            )
            for p in a["problems"]:
                say("  PROBLEM: " + p)
            out["applies"].append(a)
            out["problems"] += a["problems"]
        if ex.errors:
            out["problems"] += ["step executor: " + e for e in ex.errors]
    finally:
        if tf is not None and tf.has_resources():
            tf.run(["destroy", "-input=false", "-no-color", "-auto-approve"], str(scratch / "cleanup-destroy.txt"))
        if ex is not None:
            ex.stop()
        if proxy is not None:
            proxy.stop()
        server.stop()
    return out


class _MotoTerraform:
    """bench/quickstart's Terraform (own HOME, CLI config, the provider in
    the implied local mirror) with the AWS environment tests/aws gives the
    provider, in a directory holding examples/aws as tests/aws writes it."""

    def __init__(self, qs: Any, terraform: str, provider: str, scratch: Path, procs: Any, aws_env: dict[str, str]):
        self._tf = qs.Terraform(terraform, provider, str(scratch), procs)
        self._aws_env = aws_env
        base_env = self._tf.env

        def env(log_path: str | None = None) -> dict[str, str]:
            e = base_env(log_path)
            e.update(self._aws_env)
            return e

        self._tf.env = env
        self.dir = Path(self._tf.dir)

    def write_config(self, emr_test: Any, endpoint: str) -> None:
        (self.dir / "main.tf").write_text(emr_test.example_config(endpoint))
        (self.dir / "variables.tf").write_text((emr_test.EXAMPLE / "variables.tf").read_text())
        (self.dir / "terraform.tfvars").write_text(f'lake_bucket = "{emr_test.BUCKET}"\n')

    def run(self, *a: Any, **kw: Any) -> Any:
        return self._tf.run(*a, **kw)

    def check(self, *a: Any) -> None:
        self._tf.check(*a)

    def has_resources(self) -> bool:
        return self._tf.has_resources()

    @staticmethod
    def resource(show_json: str, address: str) -> dict[str, Any]:
        with open(show_json) as f:
            state = json.load(f)
        for r in state.get("values", {}).get("root_module", {}).get("resources", []):
            if r["address"] == address:
                return r["values"]
        return {}
