"""End-to-end: the real Terraform CLI and the real provider against moto.

Every AWS call of the provider goes through the fault proxy (faultproxy.py)
to moto running in this process; EMR steps are run by the step executor
(executor.py) with the local Spark.  Nothing fakes the provider or
Terraform.

  test_cluster_lifecycle           examples/aws's cluster: apply, plan No changes,
                                   scale core nodes in place, drift (terminated
                                   through boto3) -> recreate, import, destroy
  test_finance_pipeline_on_emr     examples/aws as shipped (cluster + the three
                                   dags/jobs stages on an s3:// lake): exactly the
                                   generator manifest's counts; API calls per run
                                   and completion-detection latency measured
  test_long_step_poll_rate         default polling: < 1 call per 10 s per pipeline
                                   on a long step, completion noticed within 10 s
  test_oidc_web_identity           AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE: the
                                   provider assumes the role and EMR sees that key
  test_secrets_nowhere             keys, tokens: not in state, show -json, plan
                                   output, TF_LOG=trace logs
  test_faults                      ~20 % 500/503/throttling/resets (and a lost
                                   RunJobFlow answer): apply succeeds, one cluster
  test_sigint_during_create / _during_run
                                   then destroy: 0 clusters, 0 objects in _sparkflow/tmp
"""

from __future__ import annotations

import gzip
import json
import re
import secrets
import time
from pathlib import Path

import pytest

from awsenv import ROLE, ROLE_ARN
from executor import BOOT, active_clusters, emr_clusters
from pipeline_support import (
    JOBS,
    RUN_TIMEOUT,
    assert_metrics,
    check_background,
    expected_metrics,
    generate,
    interrupt,
    manifest,
    plan_change,
    plan_exitcode,
    wait_exit,
)
from tfharness import wait_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "aws"
BUCKET = "sf-lake"
CLUSTER = "sparkflow_cluster.emr"
PIPELINE = "sparkflow_pipeline.finances"
STEP_TERMINAL = ("COMPLETED", "FAILED", "CANCELLED", "INTERRUPTED")

# Measurements printed at the end of the run (conftest's terminal summary)
# and written to <tmp>/measurements.json by the tests that take them.
MEASURED: dict = {}

# A stage that follows the job contract without Spark work (spark-submit still
# starts the JVM): counts input lines, writes <work>/count/part.txt and metrics.
PLAIN_JOB = r"""
import argparse, json, os, sys
p = argparse.ArgumentParser()
p.add_argument("--input"); p.add_argument("--work"); p.add_argument("--reference")
p.add_argument("--metrics")
a = p.parse_args()
n = files = 0
for d, _, fs in os.walk(a.input):
    for f in fs:
        files += 1
        n += sum(1 for _ in open(os.path.join(d, f)))
os.makedirs(os.path.join(a.work, "count"), exist_ok=True)
open(os.path.join(a.work, "count", "part.txt"), "w").write(f"{n}\n")
json.dump({"plain_lines": n, "plain_files": files}, open(a.metrics, "w"))
print(f"plain: OK: {n} lines")
"""
PLAIN_LINES = {"a.txt": 30, "b.txt": 12}


# ---------------------------------------------------------------------------
# Configurations
# ---------------------------------------------------------------------------


def _blocks(text: str) -> list[str]:
    """Top-level HCL blocks (with the comments above them) of a simple file."""
    out, cur, depth = [], [], 0
    for line in text.splitlines(keepends=True):
        cur.append(line)
        depth += line.count("{") - line.count("}")
        if depth == 0 and line.startswith("}"):
            out.append("".join(cur))
            cur = []
    if cur:
        out.append("".join(cur))
    return out


def example_config(endpoint: str, jobs: Path = JOBS, pipeline: bool = True) -> str:
    """examples/aws/main.tf with its endpoints block uncommented and pointed
    at `endpoint` (the fault proxy), the jobs at `jobs`; without the
    pipeline (and the outputs that name it) when pipeline=False."""
    text = (EXAMPLE / "main.tf").read_text()
    block = re.search(r"^  # endpoints \{\n(?:  #.*\n)+?  # \}\n  # s3_use_path_style = true\n", text, re.M)
    assert block, "examples/aws/main.tf: the commented endpoints block is not where the test expects it"
    live = re.sub(r"^  # ?", "  ", block.group(0), flags=re.M)
    live = re.sub(r'"http://127\.0\.0\.1:5000"', json.dumps(endpoint), live)
    text = text.replace(block.group(0), live)
    new, n = re.subn(r'(jobs\s*=\s*)"\$\{abspath\(path\.module\)\}/\.\./\.\./dags/jobs"', rf'\g<1>"{jobs}"', text)
    assert n == 1, "examples/aws/main.tf: the `jobs` local is not where the test expects it"
    text = new
    if not pipeline:
        text = "".join(b for b in _blocks(text) if "sparkflow_pipeline" not in b)
    return text


def workdir(
    sb, name: str, proxy, *, pipeline=True, jobs: Path = JOBS, main: str | None = None, tfvars: str = ""
) -> Path:
    d = sb.workdir(name, main if main is not None else example_config(proxy.url, jobs, pipeline))
    (d / "variables.tf").write_text((EXAMPLE / "variables.tf").read_text())
    (d / "terraform.tfvars").write_text(f'lake_bucket = "{BUCKET}"\n' + tfvars)
    return d


def plain_pipeline_config(endpoint: str, script: Path, **cluster_extra) -> str:
    """The example's provider and cluster, and a one-stage pipeline running
    PLAIN_JOB over raw/events (cheap: no Spark work)."""
    base = example_config(endpoint, pipeline=False)
    return (
        base
        + f'''
resource "sparkflow_pipeline" "plain" {{
  cluster_id = sparkflow_cluster.emr.id
  name       = "plain"
  lake       = "s3://${{var.lake_bucket}}"
  input      = "raw/events"
  reference  = "reference"
  output     = "counted"

  stage {{
    name   = "count"
    script = "{script}"
  }}
}}
'''
    )


# ---------------------------------------------------------------------------
# The lake in moto
# ---------------------------------------------------------------------------


def s3_keys(s3, prefix: str = "", bucket: str = BUCKET) -> list[str]:
    out, token = [], None
    while True:
        kw = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kw["ContinuationToken"] = token
        try:
            r = s3.list_objects_v2(**kw)
        except s3.exceptions.NoSuchBucket:
            return out
        out += [o["Key"] for o in r.get("Contents", [])]
        if not r.get("IsTruncated"):
            return out
        token = r["NextContinuationToken"]


def upload_tree(s3, local: Path, prefix: str = "", skip=("manifest.json",)) -> int:
    n = 0
    for p in sorted(local.rglob("*")):
        if p.is_file() and p.name not in skip:
            key = (prefix + "/" if prefix else "") + str(p.relative_to(local))
            s3.put_object(Bucket=BUCKET, Key=key, Body=p.read_bytes())
            n += 1
    return n


def plain_lake(s3, tmp: Path) -> Path:
    s3.create_bucket(Bucket=BUCKET)
    for name, n in PLAIN_LINES.items():
        s3.put_object(
            Bucket=BUCKET, Key=f"raw/events/{name}", Body="".join(f"event {i} of {name}\n" for i in range(n)).encode()
        )
    s3.put_object(Bucket=BUCKET, Key="reference/notes.txt", Body=b"nothing to see\n")
    script = tmp / "plain_job.py"
    script.write_text(PLAIN_JOB)
    return script


# ---------------------------------------------------------------------------
# Reading what happened
# ---------------------------------------------------------------------------


def state_file_text(d: Path) -> str:
    p = d / "terraform.tfstate"
    return p.read_text() if p.exists() else ""


def core_count(emr, cid: str) -> int:
    groups = emr.list_instance_groups(ClusterId=cid)["InstanceGroups"]
    core = [g for g in groups if g["InstanceGroupType"] == "CORE"]
    assert len(core) == 1, groups
    return core[0]["RequestedInstanceCount"]


def all_cluster_ids() -> list[str]:
    return sorted(c.id for _, _, c in emr_clusters())


def completion_latencies(proxy, executor) -> list[dict]:
    """For every step the executor finished: how long until the provider's
    next ListSteps/DescribeStep (the first call that can see the new state)."""
    out = []
    polls = proxy.select("emr", "ListSteps") + proxy.select("emr", "DescribeStep")
    for rec in sorted(executor.records.values(), key=lambda r: r.t_running or 0):
        if rec.t_done is None:
            continue
        after = sorted(c.t_start for c in polls if c.t_start >= rec.t_done and c.fault is None)
        out.append(
            {"step": rec.name, "state": rec.state, "latency_s": round(after[0] - rec.t_done, 3) if after else None}
        )
    return out


def measure(name: str, value) -> None:
    MEASURED[name] = value


def check_polling_is_batched(proxy) -> None:
    """Steps of a run are polled together: ListSteps, never DescribeStep per step."""
    assert proxy.count("emr", "DescribeStep") == 0, proxy.counts()
    assert proxy.count("emr", "ListSteps") >= 1, proxy.counts()


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------


def test_cluster_lifecycle(aws_sandbox, moto, proxy, executor):
    sb = aws_sandbox
    s3, emr = moto.client("s3"), moto.client("emr")
    s3.create_bucket(Bucket=BUCKET)
    d = workdir(sb, "life", proxy, pipeline=False)
    sb.init(d)

    r = sb.run("apply", cwd=d, timeout=300)
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in r.output, r.describe()
    c = sb.resources(d)[CLUSTER]
    cid = c["id"]
    assert cid.startswith("j-"), c
    assert all_cluster_ids() == [cid]
    desc = emr.describe_cluster(ClusterId=cid)["Cluster"]
    assert desc["Status"]["State"] in ("WAITING", "RUNNING"), desc["Status"]
    tags = {t["Key"]: t["Value"] for t in desc.get("Tags", [])}
    assert tags.get("sparkflow:managed") == "true" and tags.get("project") == "finances", tags
    assert desc["ReleaseLabel"] == "emr-7.13.0"
    assert desc.get("LogUri", "").rstrip("/") == f"s3://{BUCKET}/logs", desc.get("LogUri")
    assert desc.get("ServiceRole") == "EMR_DefaultRole"
    assert "Spark" in [a["Name"] for a in desc.get("Applications", [])]
    assert core_count(emr, cid) == 2
    assert (c.get("state") or "").lower() in ("waiting", "running"), c

    r = plan_exitcode(sb, d)
    assert r.rc == 0 and "No changes." in r.output, r.describe()

    # scale the core nodes in place
    r = sb.run("plan", "-var", "core_instance_count=3", cwd=d)
    assert "update in-place" in r.output and "must be replaced" not in r.output, r.describe()
    r = sb.run("apply", "-var", "core_instance_count=3", cwd=d, timeout=300)
    assert "0 added, 1 changed, 0 destroyed" in r.output, r.describe()
    assert sb.resources(d)[CLUSTER]["id"] == cid
    assert core_count(emr, cid) == 3
    assert all_cluster_ids() == [cid]
    r = plan_exitcode(sb, d, "-var", "core_instance_count=3")
    assert r.rc == 0, r.describe()

    # drift: the cluster is terminated outside Terraform -> the plan recreates it
    emr.terminate_job_flows(JobFlowIds=[cid])
    r = plan_exitcode(sb, d, "-var", "core_instance_count=3")
    assert r.rc == 2, r.describe()
    assert re.search(r"sparkflow_cluster\.emr (will be created|must be replaced)", r.output), r.describe()
    r = sb.run("apply", "-var", "core_instance_count=3", cwd=d, timeout=300)
    cid2 = sb.resources(d)[CLUSTER]["id"]
    assert cid2 != cid and cid2.startswith("j-")
    assert [c.id for c in active_clusters()] == [cid2]

    # import by cluster id
    sb.run("state", "rm", CLUSTER, cwd=d)
    r = sb.run("import", "-var", "core_instance_count=3", CLUSTER, cid2, cwd=d, timeout=120)
    assert "Import successful" in r.output, r.describe()
    imported = sb.resources(d)[CLUSTER]
    assert imported["id"] == cid2 and imported["name"] == "finances", imported
    # The import reads everything EMR (and the spec tags) know; `timeouts` is
    # Terraform-only and comes back null, so the first plan may set it in
    # place, and nothing else: that apply must not touch the cluster.
    r = plan_exitcode(sb, d, "-var", "core_instance_count=3", "-out=import.tfplan")
    if r.rc == 2:
        ch = plan_change(sb, d, "import.tfplan", CLUSTER)
        assert ch["actions"] == ["update"], ch
        diff = {
            k
            for k in set(ch["before"]) | set(ch["after"])
            if ch["before"].get(k) != ch["after"].get(k) and k not in ch.get("after_unknown", {})
        }
        assert diff <= {"timeouts"}, f"after import the plan changes {diff}:\n{r.describe()}"
        t = time.monotonic()
        sb.run("apply", "import.tfplan", cwd=d, timeout=300)
        touched = {c.action for c in proxy.select("emr", since=t)} & {
            "RunJobFlow",
            "TerminateJobFlows",
            "ModifyInstanceGroups",
            "AddTags",
            "RemoveTags",
        }
        assert not touched, f"setting timeouts after import called {touched}"
        measure("import_then_plan", "timeouts set in place (Terraform-only), nothing else")
    r = plan_exitcode(sb, d, "-var", "core_instance_count=3")
    assert r.rc == 0 and "No changes." in r.output, "after import:\n" + r.describe()

    r = sb.run("destroy", "-var", "core_instance_count=3", cwd=d, timeout=300)
    assert "Destroy complete! Resources: 1 destroyed." in r.output, r.describe()
    assert active_clusters() == []
    assert emr.describe_cluster(ClusterId=cid2)["Cluster"]["Status"]["State"] == "TERMINATED"
    assert "TerminateJobFlows" in {c.action for c in proxy.select("emr")}


def test_finance_pipeline_on_emr(aws_sandbox, moto, proxy, executor, tmp_path):
    """examples/aws as shipped, on the generator's sample (2000 transactions):
    the metrics are exactly the manifest's, as on the local engine."""
    sb = aws_sandbox
    s3 = moto.client("s3")
    lake = tmp_path / "lake"
    generate(lake, "--transactions", "2000", "--months", "6", "--end", "2025-06-30", "--seed", "7")
    m = manifest(lake)
    s3.create_bucket(Bucket=BUCKET)
    upload_tree(s3, lake)
    d = workdir(sb, "finances", proxy)
    sb.init(d)

    proxy.reset_counts()
    t0 = time.monotonic()
    r = sb.run("apply", cwd=d, timeout=RUN_TIMEOUT)
    t1 = time.monotonic()
    proxy.dump(tmp_path / "calls-apply.jsonl")
    assert "Apply complete! Resources: 2 added" in r.output, r.describe()
    res = sb.resources(d)
    p = res[PIPELINE]
    assert p["status"] == "succeeded", p
    assert_metrics(p["metrics"], expected_metrics(m), "pipeline metrics on EMR")
    assert [s["name"] for s in p["stages"]] == ["validate", "process", "marts"]
    for s in p["stages"]:
        assert s["status"] == "succeeded" and s["step_id"].startswith("s-"), s
    # each stage's log is its step's stderr under the cluster's log_uri, and
    # holds that stage's driver output
    cid = res[CLUSTER]["id"]
    for s in p["stages"]:
        assert s["log"] == f"s3://{BUCKET}/logs/{cid}/steps/{s['step_id']}/stderr.gz", s
        log = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=s["log"].split("/", 3)[3])["Body"].read())
        assert log.strip(), s
    assert p["output_uri"].rstrip("/") == f"s3://{BUCKET}/curated", p["output_uri"]

    # the steps EMR got: command-runner spark-submit, scripts content-addressed
    recs = sorted(executor.records.values(), key=lambda r: r.t_running)
    assert [r.state for r in recs] == ["COMPLETED"] * 3, [(r.name, r.state, r.log[-2000:]) for r in recs]
    assert [r.step_id for r in recs] == [s["step_id"] for s in p["stages"]]
    for rec, script in zip(
        recs, ("validate_transactions.py", "process_transactions.py", "build_marts.py"), strict=True
    ):
        assert rec.args[0] == "spark-submit", rec.args
        uri = next(a for a in rec.args if a.endswith("/" + script))
        mm = re.fullmatch(rf"s3a?://{BUCKET}/_sparkflow/code/([0-9a-f]{{64}})/{re.escape(script)}", uri)
        assert mm, uri
        body = s3.get_object(Bucket=BUCKET, Key=f"_sparkflow/code/{mm.group(1)}/{script}")["Body"].read()
        assert body == (JOBS / script).read_bytes()
        for flag in ("--input", "--work", "--metrics"):
            assert flag in rec.args, rec.args
    # published by a pointer; the run's staging area is gone
    assert s3_keys(s3, "curated/_sparkflow/"), s3_keys(s3, "curated/")
    assert s3_keys(s3, "_sparkflow/tmp/") == []

    # what one pipeline run costs, and how fast the provider notices
    check_polling_is_batched(proxy)
    lat = completion_latencies(proxy, executor)
    measure("pipeline_run_calls", proxy.counts(since=t0, until=t1))
    measure("pipeline_run_calls_total", len(proxy.select(since=t0, until=t1)))
    measure("pipeline_apply_seconds", round(t1 - t0, 1))
    measure("completion_latency_fast_poll", lat)
    (tmp_path / "measurements.json").write_text(json.dumps(MEASURED, indent=1))
    assert all(x["latency_s"] is not None and x["latency_s"] < 10 for x in lat), lat

    r = plan_exitcode(sb, d)
    assert r.rc == 0 and "No changes." in r.output, r.describe()

    r = sb.run("destroy", cwd=d, timeout=300)
    assert active_clusters() == []
    assert s3_keys(s3, "curated/_sparkflow/"), "destroy must keep the published data"


def test_long_step_poll_rate(aws_sandbox, moto, proxy, executor, tmp_path):
    """With the provider's default polling: a step that runs 60 s costs
    fewer than one EMR call per 10 s while it runs, and its completion is
    noticed within 10 s."""
    sb = aws_sandbox
    for k in ("SPARKFLOW_AWS_POLL_MS", "SPARKFLOW_AWS_POLL_MAX_MS"):
        sb.extra_env.pop(k, None)
    s3 = moto.client("s3")
    script = plain_lake(s3, tmp_path)
    d = workdir(sb, "poll", proxy, main=plain_pipeline_config(proxy.url, script))
    sb.init(d)
    executor.min_running_s = 60
    t0 = time.monotonic()
    sb.run("apply", cwd=d, timeout=600)
    t1 = time.monotonic()
    rec = next(iter(executor.records.values()))
    assert rec.state == "COMPLETED", rec.log[-3000:]
    # the steady state: from 15 s into the step until it ends
    w0, w1 = rec.t_running + 15, rec.t_done
    during = [c for c in proxy.select("emr", since=w0, until=w1)]
    rate = len(during) / (w1 - w0) * 10
    lat = completion_latencies(proxy, executor)
    measure("long_step_emr_calls_per_10s", round(rate, 2))
    measure(
        "long_step_calls_during_step",
        dict(
            sorted({f"{c.service}.{c.action}": sum(1 for x in during if x.action == c.action) for c in during}.items())
        ),
    )
    measure("completion_latency_default_poll", lat)
    measure("long_step_apply_calls", proxy.counts(since=t0, until=t1))
    (tmp_path / "measurements.json").write_text(json.dumps(MEASURED, indent=1))
    check_polling_is_batched(proxy)
    assert rate <= 1.0, f"{len(during)} EMR calls in {w1 - w0:.0f} s of a running step"
    # the 10 s cap runs from one poll's start to the next: 10 s plus one answer at worst
    assert lat[0]["latency_s"] is not None and lat[0]["latency_s"] <= 10.5, lat
    p = sb.resources(d)["sparkflow_pipeline.plain"]
    assert p["metrics"].get("plain_lines") == sum(PLAIN_LINES.values()), p["metrics"]


def _assumed_roles():
    from moto.sts.models import sts_backends

    out = []
    for _, per_region in list(dict.items(sts_backends)):
        for _, b in list(dict.items(per_region)):
            out += list(b.assumed_roles)
    return out


def _oidc_env(sb, token: str, role_arn=ROLE_ARN):
    token_file = sb.root / "oidc" / "token"
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token_file.write_text(token)
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        sb.extra_env.pop(k, None)
    sb.extra_env.update(
        {
            "AWS_ROLE_ARN": role_arn,
            "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file),
            "AWS_ROLE_SESSION_NAME": "gha-run-42",
        }
    )
    return token_file


def test_oidc_web_identity(aws_sandbox, moto, proxy, executor):
    """GitHub Actions style: no keys, a web identity token file and a role:
    the provider calls STS AssumeRoleWithWebIdentity (unsigned) and signs
    every EMR call with the assumed role's key and session token."""
    sb = aws_sandbox
    moto.client("s3").create_bucket(Bucket=BUCKET)
    token = "eyJhbGciOiJSUzI1NiJ9." + secrets.token_urlsafe(32) + ".c2ln"
    _oidc_env(sb, token)
    d = workdir(sb, "oidc", proxy, pipeline=False)
    sb.init(d)
    sb.run("apply", cwd=d, timeout=300)
    assumed = _assumed_roles()
    assert assumed, "the provider never assumed a role through STS: " + json.dumps(proxy.counts())
    wi = proxy.select("sts", "AssumeRoleWithWebIdentity")
    assert wi and not any(c.signed for c in wi), [(c.signed, c.access_key) for c in wi]
    assert {r.arn.split(":assumed-role/")[1].split("/")[0] for r in assumed} == {ROLE}
    assert {r.session_name for r in assumed} == {"gha-run-42"}
    keys = {r.access_key_id for r in assumed}
    emr_calls = proxy.select("emr")
    assert emr_calls
    assert {c.access_key for c in emr_calls} <= keys, ({c.access_key for c in emr_calls}, keys)
    assert all(c.has_token for c in emr_calls)
    sb.run("destroy", cwd=d, timeout=300)
    assert active_clusters() == []


def _leaks(sb, d: Path, values: dict[str, str], texts: dict[str, str]) -> list[str]:
    """Which secret (by name) appears in which text or log file."""
    found = []
    files = {f"logs/{p.name}": p.read_text(errors="replace") for p in sorted(sb.logs.iterdir()) if p.is_file()}
    files["terraform.tfstate"] = state_file_text(d)
    for where, text in list(texts.items()) + list(files.items()):
        for name, v in values.items():
            if v and v in text:
                found.append(f"{name} in {where}")
    return found


@pytest.mark.parametrize("source", ["environment", "web_identity", "provider_block"])
def test_secrets_nowhere(aws_sandbox, moto, proxy, executor, monkeypatch, source):
    """The access key, secret key, session token and web identity token appear
    nowhere in state, `terraform show -json`, plan output or TF_LOG=trace logs."""
    sb = aws_sandbox
    monkeypatch.setenv("SF_E2E_TF_LOG", "TRACE")  # the provider's log level (tfharness)
    sb.extra_env["TF_LOG"] = "TRACE"  # and Terraform's own
    moto.client("s3").create_bucket(Bucket=BUCKET)
    if moto.verified:
        # keys moto issued (it verifies every signature); a session token
        # comes with the web identity variant (STS-issued)
        key, secret = moto.iam_user(f"secrets-{source}")
        creds = {"access key": key, "secret key": secret}
    else:
        creds = {
            "access key": "AKIA" + secrets.token_hex(8).upper(),
            "secret key": "sfsecret" + secrets.token_hex(16),
            "session token": "sfsession" + secrets.token_hex(24),
        }
    main = example_config(proxy.url, pipeline=False)
    if source == "environment":
        sb.extra_env.update({"AWS_ACCESS_KEY_ID": creds["access key"], "AWS_SECRET_ACCESS_KEY": creds["secret key"]})
        if "session token" in creds:
            sb.extra_env["AWS_SESSION_TOKEN"] = creds["session token"]
    elif source == "web_identity":
        creds = {"web identity token": "eyJhbGciOiJSUzI1NiJ9." + secrets.token_urlsafe(32) + ".c2ln"}
        _oidc_env(sb, creds["web identity token"])
    else:
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            sb.extra_env.pop(k, None)
        block = f'  access_key   = "{creds["access key"]}"\n  secret_key   = "{creds["secret key"]}"\n'
        if "session token" in creds:
            block += f'  token        = "{creds["session token"]}"\n'
        main = main.replace("  region       = var.region\n", "  region       = var.region\n" + block, 1)
        assert creds["secret key"] in main
    d = workdir(sb, "secrets", proxy, main=main)
    sb.init(d)
    texts = {}
    texts["apply output"] = sb.run("apply", cwd=d, timeout=300).output
    if source == "web_identity":
        for i, r in enumerate(_assumed_roles()):
            creds[f"assumed access key {i}"] = r.access_key_id
            creds[f"assumed secret key {i}"] = r.secret_access_key
            creds[f"assumed session token {i}"] = r.session_token
        assert len(creds) > 1, "no role was assumed"
    else:
        assert proxy.access_keys("emr") == {creds["access key"]}, proxy.access_keys("emr")
    texts["plan output"] = sb.run("plan", cwd=d).output
    texts["show -json"] = sb.run("show", "-json", cwd=d).stdout
    texts["destroy output"] = sb.run("destroy", cwd=d, timeout=300).output
    # the logs really are trace logs of Terraform and of the provider
    logs = [p.read_text(errors="replace") for p in sb.logs.glob("*.tf.log")]
    assert any("[TRACE]" in t for t in logs), "no TF_LOG=trace log was written"
    assert any("sparkflow" in t and ("RunJobFlow" in t or "emr" in t.lower()) for t in logs)
    leaks = _leaks(sb, d, creds, texts)
    assert not leaks, f"secrets found ({source}): {leaks}"
    # the search itself works: the proxy saw the access key on the wire
    if source != "web_identity":
        assert _leaks(sb, d, {"key": creds["access key"]}, {"wire": json.dumps(sorted(proxy.access_keys()))})
    assert active_clusters() == []


def test_faults(aws_sandbox, moto, proxy, executor, tmp_path):
    """~20 % of the provider's AWS calls fail (500, 503, throttling in each
    protocol's format, connection resets before and after the request was
    acted on), and the first RunJobFlow's answer is lost after the cluster
    was created: apply and destroy still succeed, with exactly one cluster."""
    sb = aws_sandbox
    sb.extra_env["SPARKFLOW_AWS_RETRY_BASE_MS"] = "20"
    s3 = moto.client("s3")
    script = plain_lake(s3, tmp_path)
    d = workdir(sb, "faults", proxy, main=plain_pipeline_config(proxy.url, script))
    sb.init(d)
    proxy.configure(rate=0.2, kinds=("500", "503", "throttle", "reset", "reset_after"))
    proxy.force("reset_after", "emr", "RunJobFlow")
    r = sb.run("apply", cwd=d, timeout=600)
    proxy.dump(tmp_path / "calls.jsonl")
    assert "Apply complete! Resources: 2 added" in r.output, r.describe()
    assert len(all_cluster_ids()) == 1, f"clusters: {all_cluster_ids()} (a retried RunJobFlow made a duplicate)"
    runs = proxy.select("emr", "RunJobFlow")
    assert runs[0].fault == "reset_after", [c.fault for c in runs]
    p = sb.resources(d)["sparkflow_pipeline.plain"]
    assert p["status"] == "succeeded" and p["metrics"].get("plain_lines") == sum(PLAIN_LINES.values()), p
    faults = proxy.faults()
    total = len(proxy.snapshot())
    measure("faults_injected", {"calls": total, **faults})
    assert sum(faults.values()) >= 0.1 * total, (faults, total)
    steps = [s for _, _, c in emr_clusters() for s in c.steps]
    assert len(steps) == 1, f"{len(steps)} steps submitted for a one-stage pipeline"
    r = plan_exitcode(sb, d)
    assert r.rc == 0, r.describe()
    sb.run("destroy", cwd=d, timeout=600)
    assert active_clusters() == []
    proxy.configure(rate=0)
    assert s3_keys(s3, "_sparkflow/tmp/") == []


def test_sigint_during_create(aws_sandbox, moto, proxy, executor, tmp_path):
    """Ctrl-C while the cluster boots, then destroy: no cluster left."""
    sb = aws_sandbox
    moto.client("s3").create_bucket(Bucket=BUCKET)
    d = workdir(sb, "int-create", proxy, pipeline=False)
    sb.init(d)
    BOOT["seconds"] = 300
    out = tmp_path / "apply.out"
    proc = sb.popen(["apply"], d, out)
    try:
        assert wait_for(
            lambda: (
                proxy.count("emr", "RunJobFlow") and proxy.count("emr", "DescribeCluster") or proc.poll() is not None
            ),
            120,
        ), out.read_text()
        assert proc.poll() is None, out.read_text()
        time.sleep(1)
        interrupt(proc)
        rc = wait_exit(proc, 120)
    finally:
        if proc.poll() is None:
            interrupt(proc, 9)
    assert rc is not None, "apply did not stop within 120 s of Ctrl-C"
    text = check_background(sb, proc, out)
    assert rc != 0, text
    BOOT["seconds"] = 0
    sb.run("destroy", cwd=d, timeout=300)
    assert active_clusters() == [], [(c.id, c.state) for c in active_clusters()]


def test_sigint_during_run(aws_sandbox, moto, proxy, executor, tmp_path):
    """Ctrl-C while a step runs: the provider cancels it (CancelSteps); then
    destroy leaves 0 clusters and 0 objects under _sparkflow/tmp."""
    sb = aws_sandbox
    s3 = moto.client("s3")
    script = plain_lake(s3, tmp_path)
    d = workdir(sb, "int-run", proxy, main=plain_pipeline_config(proxy.url, script))
    sb.init(d)
    executor.gate.clear()  # the step stays RUNNING until the test opens the gate
    out = tmp_path / "apply.out"
    proc = sb.popen(["apply"], d, out)
    try:
        assert wait_for(lambda: executor.seen_running.is_set() or proc.poll() is not None, 300), out.read_text()
        assert proc.poll() is None, out.read_text()
        # the provider has seen it running
        t = time.monotonic()
        assert wait_for(
            lambda: proxy.count("emr", "ListSteps", since=t) or proxy.count("emr", "DescribeStep", since=t), 60
        )
        interrupt(proc)
        rc = wait_exit(proc, 120)
    finally:
        if proc.poll() is None:
            interrupt(proc, 9)
        executor.gate.set()
    assert rc is not None, "apply did not stop within 120 s of Ctrl-C"
    text = check_background(sb, proc, out)
    assert rc != 0, text
    assert proxy.count("emr", "CancelSteps") >= 1, proxy.counts()
    rec = next(iter(executor.records.values()))
    assert wait_for(lambda: rec.state in STEP_TERMINAL, 30) and rec.state == "CANCELLED", rec.state
    sb.run("destroy", cwd=d, timeout=300)
    assert active_clusters() == []
    assert s3_keys(s3, "_sparkflow/tmp/") == []
