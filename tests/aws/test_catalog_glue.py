"""End-to-end: the Glue + Athena catalog of an s3:// lake, through the real
Terraform CLI and the real provider, against moto (through the fault
proxy, which records what the provider sent), with the EMR steps run by
the step executor on the local Spark (conftest.py).

  test_catalog_follows_runs   examples/aws as shipped: after apply the Glue
                              database, its tables (columns = the Parquet
                              files' own, partition projection, serde,
                              locations under the published run) and the
                              Athena workgroup hold what the provider sent;
                              a query starts in the workgroup; a second run
                              moves every location; destroy drops database
                              and workgroup and keeps the data
  test_two_pipelines          two pipelines in one lake: two databases and
                              workgroups; removing one leaves the other's

What moto does not do, and what is checked instead:
  - Athena: this botocore speaks Athena's REST-JSON protocol, which moto
    does not serve; the provider (and this test, `athena()`) speak JSON 1.1
    (X-Amz-Target AmazonAthena.*), which moto serves.
  - moto runs no SQL: StartQueryExecution is accepted in the workgroup and
    reported SUCCEEDED; the query's numbers are the DuckDB tests' business.
  - moto keeps a workgroup's Configuration as sent and enforces none of it
    (the bytes-scanned cutoff cancels nothing): the settings are checked in
    what was sent and what GetWorkGroup reads back.
  - UpdateWorkGroup is not implemented by moto: a second apply with
    unchanged settings sends none (checked), and the C tests
    (tests/unit/test_catalog_glue.c) check the update's request body.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.request
from pathlib import Path

from awsenv import REGION
from executor import active_clusters
from pipeline_support import RUN_TIMEOUT, append, copy_jobs, generate, plan_exitcode
from test_emr_e2e import BUCKET, PIPELINE, example_config, s3_keys, upload_tree, workdir

DATABASE = "finances"  # the example's catalog { database = "finances" }
WORKGROUP = "sparkflow-finances"  # the default: sparkflow-<database>
TABLES = {
    "valid": "valid",
    "rejected": "rejected",
    "transactions": "transactions",
    "monthly_summary": "marts/monthly_summary",
    "spend_by_category": "marts/spend_by_category",
    "cash_flow": "marts/cash_flow",
    "budget_vs_actual": "marts/budget_vs_actual",
    "top_merchants": "marts/top_merchants",
}
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
DEFAULT_CUTOFF = 10 * 1024**3


# ---------------------------------------------------------------------------
# Reading Glue and Athena
# ---------------------------------------------------------------------------


def athena(moto, op: str, **body) -> dict:
    """An Athena call in JSON 1.1, signed with the test's own key."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"AmazonAthena.{op}"}
    req = AWSRequest(method="POST", url=moto.url + "/", data=data, headers=headers)
    SigV4Auth(Credentials(moto.key, moto.secret), "athena", REGION).add_auth(req)
    r = urllib.request.Request(moto.url + "/", data=data, headers=dict(req.headers.items()), method="POST")
    with urllib.request.urlopen(r, timeout=30) as resp:
        return json.loads(resp.read() or b"{}")


def workgroup(moto, name: str) -> dict | None:
    """GetWorkGroup (moto answers a missing one with null)."""
    return athena(moto, "GetWorkGroup", WorkGroup=name).get("WorkGroup")


def glue_tables(glue, db: str) -> dict[str, dict]:
    out, token = {}, None
    while True:
        kw = {"DatabaseName": db, **({"NextToken": token} if token else {})}
        r = glue.get_tables(**kw)
        out.update({t["Name"]: t for t in r["TableList"]})
        token = r.get("NextToken")
        if not token:
            return out


def database_exists(glue, db: str) -> bool:
    try:
        glue.get_database(Name=db)
        return True
    except glue.exceptions.EntityNotFoundException:
        return False


def sent(proxy, action: str, since: float | None = None) -> list[dict]:
    service = "athena" if action.endswith("WorkGroup") or action == "ListTagsForResource" else "glue"
    return [c.json_body() for c in proxy.select(service, action, since=since) if c.fault is None]


# DuckDB's names of Parquet column types -> the Hive types Glue must have.
_SCALAR = {
    "VARCHAR": "string",
    "BIGINT": "bigint",
    "INTEGER": "int",
    "SMALLINT": "smallint",
    "TINYINT": "tinyint",
    "DOUBLE": "double",
    "FLOAT": "float",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
    "TIMESTAMP_NS": "timestamp",
    "BLOB": "binary",
}


def hive_type(duck: str) -> str:
    if duck.endswith("[]"):
        return f"array<{hive_type(duck[:-2])}>"
    m = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", duck)
    if m:
        return f"decimal({m.group(1)},{m.group(2)})"
    assert duck in _SCALAR, f"no Hive type known for the Parquet column type {duck}"
    return _SCALAR[duck]


def parquet_columns(s3, key: str, tmp: Path) -> list[tuple[str, str]]:
    """(name, Hive type) of a Parquet file's columns, read from its footer by DuckDB."""
    import duckdb

    local = tmp / ("p-" + re.sub(r"[^A-Za-z0-9._-]", "_", key))
    local.write_bytes(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    rows = duckdb.sql(f"describe select * from read_parquet('{local}', hive_partitioning = false)").fetchall()
    return [(r[0].lower(), hive_type(r[1])) for r in rows]


def check_catalog(s3, glue, proxy, tables: dict, run_id: str, tmp: Path, since: float) -> None:
    """Glue holds every table at the run, as the provider sent it, with the
    Parquet files' columns."""
    run_prefix = f"curated/_sparkflow/runs/{run_id}"
    assert set(tables) == set(TABLES), tables
    held = glue_tables(glue, DATABASE)
    assert set(held) == set(TABLES), sorted(held)
    writes = {b["TableInput"]["Name"]: b["TableInput"] for b in sent(proxy, "CreateTable", since)}
    writes.update({b["TableInput"]["Name"]: b["TableInput"] for b in sent(proxy, "UpdateTable", since)})
    assert set(writes) == set(TABLES), sorted(writes)
    for name, d in TABLES.items():
        loc = f"s3://{BUCKET}/{run_prefix}/{d}/"
        assert tables[name] == loc, (name, tables[name])
        t, w = held[name], writes[name]
        for x in (t, w):
            sd = x["StorageDescriptor"]
            assert sd["Location"] == loc, (name, sd["Location"])
            assert sd["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE, sd["SerdeInfo"]
            assert sd["InputFormat"].endswith("MapredParquetInputFormat"), sd
            assert x["TableType"] == "EXTERNAL_TABLE"
            assert x["Parameters"]["classification"] == "parquet"
            assert x["Parameters"]["sparkflow:managed"] == "true"
            assert x["Parameters"]["sparkflow:pipeline"] == "household-finances"
        # the columns are the files' own (a Parquet file of the table, read by DuckDB)
        keys = [k for k in s3_keys(s3, f"{run_prefix}/{d}/") if k.endswith(".parquet")]
        assert keys, name
        cols = [(c["Name"], c["Type"]) for c in t["StorageDescriptor"]["Columns"]]
        assert cols == parquet_columns(s3, keys[0], tmp), name
    # transactions: partitioned by month, with projection over the months published
    tx = held["transactions"]
    assert [(k["Name"], k["Type"]) for k in tx["PartitionKeys"]] == [("month", "string")]
    months = sorted(
        {m.group(1) for k in s3_keys(s3, f"{run_prefix}/transactions/") if (m := re.search(r"/month=([^/]+)/", k))}
    )
    assert months, "no month partitions published"
    p = tx["Parameters"]
    assert p["projection.enabled"] == "true"
    assert p["projection.month.type"] == "date"
    assert p["projection.month.format"] == "yyyy-MM"
    assert p["projection.month.range"] == f"{months[0]},{months[-1]}", (p, months)
    assert p["projection.month.interval"] == "1" and p["projection.month.interval.unit"] == "MONTHS"
    assert p["storage.location.template"] == f"s3://{BUCKET}/{run_prefix}/transactions/month=${{month}}"
    assert all(not t["PartitionKeys"] for n, t in held.items() if n != "transactions")
    # no crawler, no MSCK, no partition calls
    assert not [c for c in proxy.select("glue") if "Partition" in c.action or "Crawler" in c.action]


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------


def test_catalog_follows_runs(aws_sandbox, moto, proxy, executor, tmp_path):
    sb = aws_sandbox
    s3, glue = moto.client("s3"), moto.client("glue")
    lake = tmp_path / "lake"
    generate(lake, "--transactions", "600", "--months", "4", "--end", "2025-04-30", "--seed", "11")
    s3.create_bucket(Bucket=BUCKET)
    upload_tree(s3, lake)
    d = workdir(sb, "catalog", proxy)
    sb.init(d)

    t0 = time.monotonic()
    r = sb.run("apply", cwd=d, timeout=RUN_TIMEOUT)
    assert "Apply complete! Resources: 2 added" in r.output, r.describe()
    assert "left out of the catalog" not in r.output, r.describe()
    p = sb.resources(d)[PIPELINE]
    assert p["status"] == "succeeded", p
    assert p["catalog_database"] == DATABASE and p["catalog_workgroup"] == WORKGROUP, p
    run1 = p["run_id"]
    check_catalog(s3, glue, proxy, p["tables"], run1, tmp_path, t0)

    # the database: ours, marked, tagged with the provider's default tags too
    db = glue.get_database(Name=DATABASE)["Database"]
    assert db["Parameters"] == {"sparkflow:managed": "true", "sparkflow:pipeline": "household-finances"}, db
    (create_db,) = sent(proxy, "CreateDatabase")
    assert create_db["Tags"] == {
        "project": "finances",
        "sparkflow:managed": "true",
        "sparkflow:pipeline": "household-finances",
    }, create_db

    # the workgroup: as sent, read back
    (create_wg,) = sent(proxy, "CreateWorkGroup")
    want_cfg = {
        "ResultConfiguration": {"OutputLocation": f"s3://{BUCKET}/_sparkflow/athena-results/{DATABASE}/"},
        "EnforceWorkGroupConfiguration": True,
        "PublishCloudWatchMetricsEnabled": True,
        "BytesScannedCutoffPerQuery": DEFAULT_CUTOFF,
    }
    assert create_wg["Name"] == WORKGROUP and create_wg["Configuration"] == want_cfg, create_wg
    assert {"Key": "sparkflow:managed", "Value": "true"} in create_wg["Tags"], create_wg["Tags"]
    wg = workgroup(moto, WORKGROUP)
    assert wg and wg["State"] == "ENABLED", wg
    for k, v in want_cfg.items():
        assert wg["Configuration"][k] == v, (k, wg["Configuration"])

    # a query in the workgroup, right after apply
    q = athena(
        moto,
        "StartQueryExecution",
        QueryString="select month, income, spend from monthly_summary order by month",
        WorkGroup=WORKGROUP,
        QueryExecutionContext={"Database": DATABASE},
    )
    ex = athena(moto, "GetQueryExecution", QueryExecutionId=q["QueryExecutionId"])["QueryExecution"]
    assert ex["Status"]["State"] == "SUCCEEDED" and ex["WorkGroup"] == WORKGROUP, ex
    assert ex["QueryExecutionContext"]["Database"] == DATABASE, ex

    # nothing changed: no plan change, nothing sent
    r = plan_exitcode(sb, d)
    assert r.rc == 0 and "No changes." in r.output, r.describe()

    # a new export lands: the second run moves every location, the old run's
    # files are gone, the workgroup is left as it is (no update: settings hold)
    append(lake, 40)
    upload_tree(s3, lake)  # the same bytes again, and the new export
    t1 = time.monotonic()
    r = sb.run("apply", cwd=d, timeout=RUN_TIMEOUT)
    assert "Apply complete! Resources: 0 added, 1 changed" in r.output, r.describe()
    p = sb.resources(d)[PIPELINE]
    run2 = p["run_id"]
    assert run2 != run1
    check_catalog(s3, glue, proxy, p["tables"], run2, tmp_path, t1)
    assert sent(proxy, "CreateTable", t1) == [] and len(sent(proxy, "UpdateTable", t1)) == len(TABLES)
    assert sent(proxy, "DeleteTable", t1) == [] and sent(proxy, "CreateDatabase", t1) == []
    assert sent(proxy, "CreateWorkGroup", t1) == [] and sent(proxy, "UpdateWorkGroup", t1) == []
    assert s3_keys(s3, f"curated/_sparkflow/runs/{run1}/") == []
    assert len(glue_tables(glue, DATABASE)) == len(TABLES)  # no duplicates

    # destroy: database and workgroup gone, the data stays
    r = sb.run("destroy", cwd=d, timeout=300)
    assert "Destroy complete!" in r.output, r.describe()
    assert not database_exists(glue, DATABASE)
    assert workgroup(moto, WORKGROUP) is None
    (delete_wg,) = sent(proxy, "DeleteWorkGroup")
    assert delete_wg == {"WorkGroup": WORKGROUP, "RecursiveDeleteOption": True}, delete_wg
    assert [k for k in s3_keys(s3, f"curated/_sparkflow/runs/{run2}/") if k.endswith(".parquet")]
    assert active_clusters() == []


# A small job (the real contract's write_schema; Spark writes the Parquet)
# for the two-pipeline test: one table partitioned by an account key.
SMALL_JOB = r"""
import argparse, json, os
from pyspark.sql import SparkSession
from sparkflow_jobs import contract
p = argparse.ArgumentParser()
p.add_argument("--input"); p.add_argument("--work"); p.add_argument("--reference"); p.add_argument("--metrics")
p.add_argument("--who")
a = p.parse_args()
spark = SparkSession.builder.config("spark.ui.enabled", "false").getOrCreate()
df = spark.createDataFrame([(a.who, "acc-1", 1.5), (a.who, "acc-2", 2.5)], "who string, account string, amount double")
out = contract.join_uri(a.work, "events")
df.write.mode("overwrite").partitionBy("account").parquet(out)
contract.write_schema(spark, df.schema, out, partition_by=["account"])
json.dump({"rows": 2}, open(a.metrics, "w"))
print("small: OK")
"""


def two_pipelines_config(endpoint: str, jobs: Path, names: list[str]) -> str:
    text = example_config(endpoint, pipeline=False)
    for n in names:
        text += f'''
resource "sparkflow_pipeline" "{n}" {{
  cluster_id = sparkflow_cluster.emr.id
  name       = "{n}"
  lake       = "s3://${{var.lake_bucket}}"
  input      = "raw/events"
  reference  = "reference"
  output     = "{n}_out"

  stage {{
    name   = "small"
    script = "{jobs / "small_job.py"}"
    args   = ["--who", "{n}"]
  }}
}}
'''
    return text


def test_two_pipelines(aws_sandbox, moto, proxy, executor, tmp_path):
    sb = aws_sandbox
    s3, glue = moto.client("s3"), moto.client("glue")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="raw/events/a.txt", Body=b"one\n")
    s3.put_object(Bucket=BUCKET, Key="reference/notes.txt", Body=b"-\n")
    jobs = tmp_path / "jobs"
    copy_jobs(jobs)
    (jobs / "small_job.py").write_text(SMALL_JOB)
    d = workdir(sb, "two", proxy, main=two_pipelines_config(proxy.url, jobs, ["alpha", "beta"]))
    sb.init(d)
    r = sb.run("apply", cwd=d, timeout=RUN_TIMEOUT)
    assert "Apply complete! Resources: 3 added" in r.output, r.describe()
    res = sb.resources(d)
    for n in ("alpha", "beta"):
        p = res[f"sparkflow_pipeline.{n}"]
        assert p["catalog_database"] == n and p["catalog_workgroup"] == f"sparkflow-{n}", p
        loc = f"s3://{BUCKET}/{n}_out/_sparkflow/runs/{p['run_id']}/events/"
        assert p["tables"] == {"events": loc}, p["tables"]
        t = glue.get_table(DatabaseName=n, Name="events")["Table"]
        assert t["StorageDescriptor"]["Location"] == loc
        assert [(c["Name"], c["Type"]) for c in t["StorageDescriptor"]["Columns"]] == [
            ("who", "string"),
            ("amount", "double"),
        ]
        assert t["Parameters"]["projection.account.type"] == "enum"
        assert t["Parameters"]["projection.account.values"] == "acc-1,acc-2"
        assert t["Parameters"]["sparkflow:pipeline"] == n
        assert workgroup(moto, f"sparkflow-{n}")

    # beta goes: its database and workgroup go, alpha's stay whole
    d2 = sb.workdir("two", two_pipelines_config(proxy.url, jobs, ["alpha"]))
    assert d2 == d
    r = sb.run("apply", cwd=d, timeout=300)
    assert "0 added, 0 changed, 1 destroyed" in r.output, r.describe()
    assert not database_exists(glue, "beta") and workgroup(moto, "sparkflow-beta") is None
    assert set(glue_tables(glue, "alpha")) == {"events"}
    assert workgroup(moto, "sparkflow-alpha")
    assert {b["Name"] for b in sent(proxy, "DeleteDatabase")} == {"beta"}
    assert [b["WorkGroup"] for b in sent(proxy, "DeleteWorkGroup")] == ["sparkflow-beta"]
    assert s3_keys(s3, "beta_out/_sparkflow/runs/"), "the data stays"

    r = sb.run("destroy", cwd=d, timeout=300)
    assert "Destroy complete!" in r.output, r.describe()
    assert not database_exists(glue, "alpha")
    shutil.rmtree(jobs)
