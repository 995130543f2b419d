"""The AWS test infrastructure proven with boto3 alone (no provider): moto
in-process, the EMR step executor, the fault proxy.

If these fail, test_emr_e2e.py's failures say nothing about the provider.
"""

import json
import time
from pathlib import Path

from awsenv import ROLE_ARN
from executor import BOOT, active_clusters, emr_clusters

ROOT = Path(__file__).resolve().parents[2]
LINE_COUNT = ROOT / "tests" / "e2e" / "fixtures" / "jobs" / "line_count.py"
BUCKET = "sf-infra"

# A stage that follows the job contract without starting Spark (spark-submit
# still runs it through the JVM launcher): counts the input files' lines with
# plain Python, writes <work>/count/part.txt and the metrics JSON.
PLAIN_JOB = r"""
import argparse, json, os, sys
p = argparse.ArgumentParser()
p.add_argument("--input"); p.add_argument("--work"); p.add_argument("--reference")
p.add_argument("--metrics"); p.add_argument("--fail-with")
a = p.parse_args()
if a.fail_with:
    print(f"plain: FAILED: {a.fail_with}", flush=True)
    sys.exit(3)
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


def wait_step(emr, cluster_id, step_id, states=("COMPLETED", "FAILED", "CANCELLED", "INTERRUPTED"), timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]
        if st["Status"]["State"] in states:
            return st
        time.sleep(0.2)
    raise AssertionError(f"step {step_id} still {st['Status']['State']} after {timeout}s")


def spark_step(name, script_uri, *args):
    return {
        "Name": name,
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {
            "Jar": "command-runner.jar",
            "Args": [
                "spark-submit",
                "--deploy-mode",
                "cluster",
                "--master",
                "yarn",
                "--conf",
                "spark.yarn.maxAppAttempts=1",
                script_uri,
                *args,
            ],
        },
    }


def cluster(emr, keep_alive=True, steps=(), log_uri=f"s3://{BUCKET}/logs/"):
    r = emr.run_job_flow(
        Name="infra",
        ReleaseLabel="emr-7.13.0",
        LogUri=log_uri,
        Applications=[{"Name": "Spark"}],
        Instances={
            "MasterInstanceType": "m5.xlarge",
            "SlaveInstanceType": "m5.xlarge",
            "InstanceCount": 3,
            "KeepJobFlowAliveWhenNoSteps": keep_alive,
        },
        Steps=list(steps),
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
        Tags=[{"Key": "sparkflow:managed", "Value": "true"}],
    )
    return r["JobFlowId"]


def lake(s3, lines=None):
    s3.create_bucket(Bucket=BUCKET)
    for name, n in (lines or {"a.txt": 100, "b.txt": 50}).items():
        s3.put_object(Bucket=BUCKET, Key=f"raw/events/{name}", Body="".join(f"event {i}\n" for i in range(n)).encode())
    s3.put_object(Bucket=BUCKET, Key="reference/notes.txt", Body=b"nothing\n")
    s3.put_object(Bucket=BUCKET, Key="code/plain.py", Body=PLAIN_JOB.encode())


def keys(s3, prefix):
    out, token = [], None
    while True:
        kw = {"Bucket": BUCKET, "Prefix": prefix}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        out += [o["Key"] for o in r.get("Contents", [])]
        if not r.get("IsTruncated"):
            return out
        token = r["NextContinuationToken"]


# ---------------------------------------------------------------------------


def test_moto_backend_is_fresh_per_test(moto):
    emr = moto.client("emr")
    assert emr.list_clusters()["Clusters"] == []
    assert moto.client("s3").list_buckets()["Buckets"] == []


def test_spark_step_runs_on_local_spark_and_completes(moto, executor):
    """A real PySpark stage (tests/e2e/fixtures/jobs/line_count.py) submitted
    as an EMR step: input copied from S3, tables and metrics written back
    under the same keys, step COMPLETED, cluster back to WAITING."""
    s3, emr = moto.client("s3"), moto.client("emr")
    lake(s3)
    s3.put_object(Bucket=BUCKET, Key="code/line_count.py", Body=LINE_COUNT.read_bytes())
    cid = cluster(emr)
    assert emr.describe_cluster(ClusterId=cid)["Cluster"]["Status"]["State"] == "WAITING"
    sid = emr.add_job_flow_steps(
        JobFlowId=cid,
        Steps=[
            spark_step(
                "count",
                f"s3://{BUCKET}/code/line_count.py",
                "--input",
                f"s3://{BUCKET}/raw/events",
                "--work",
                f"s3://{BUCKET}/_sparkflow/tmp/run1/",
                "--reference",
                f"s3://{BUCKET}/reference",
                "--metrics",
                f"s3://{BUCKET}/_sparkflow/tmp/run1/_metrics/count.json",
            )
        ],
    )["StepIds"][0]
    st = wait_step(emr, cid, sid)
    rec = executor.records[sid]
    assert st["Status"]["State"] == "COMPLETED", rec.log[-3000:]
    assert "StartDateTime" in st["Status"]["Timeline"] and "EndDateTime" in st["Status"]["Timeline"]
    m = json.loads(s3.get_object(Bucket=BUCKET, Key="_sparkflow/tmp/run1/_metrics/count.json")["Body"].read())
    assert m["fixture_lines"] == 150 and m["fixture_files"] == 2, m
    written = keys(s3, "_sparkflow/tmp/run1/lines/")
    assert any(k.endswith(".parquet") for k in written), written
    assert not any(k.endswith(".crc") for k in written), written
    assert "--master" in rec.local_argv and "local[2]" in rec.local_argv
    assert "yarn" not in rec.local_argv and "--deploy-mode" not in rec.local_argv
    c = emr.describe_cluster(ClusterId=cid)["Cluster"]
    assert c["Status"]["State"] == "WAITING"
    # the step's log went where EMR puts it
    assert keys(s3, f"logs/{cid}/steps/{sid}/") == [
        f"logs/{cid}/steps/{sid}/stderr.gz",
        f"logs/{cid}/steps/{sid}/stdout.gz",
    ]


def test_failed_step_has_failure_details_and_action_on_failure(moto, executor):
    s3, emr = moto.client("s3"), moto.client("emr")
    lake(s3)
    cid = cluster(emr)
    script = f"s3://{BUCKET}/code/plain.py"
    std = [
        "--input",
        f"s3://{BUCKET}/raw/events",
        "--work",
        f"s3://{BUCKET}/w/",
        "--metrics",
        f"s3://{BUCKET}/w/m.json",
    ]
    bad = spark_step("bad", script, *std, "--fail-with", "BOOM-4711")
    bad["ActionOnFailure"] = "CANCEL_AND_WAIT"
    ids = emr.add_job_flow_steps(JobFlowId=cid, Steps=[bad, spark_step("after", script, *std)])["StepIds"]
    st = wait_step(emr, cid, ids[0])
    assert st["Status"]["State"] == "FAILED"
    fd = st["Status"]["FailureDetails"]
    assert "BOOM-4711" in fd["Message"], fd
    assert fd["LogFile"] == f"s3://{BUCKET}/logs/{cid}/steps/{ids[0]}/stderr.gz"
    assert wait_step(emr, cid, ids[1])["Status"]["State"] == "CANCELLED"  # CANCEL_AND_WAIT
    assert emr.describe_cluster(ClusterId=cid)["Cluster"]["Status"]["State"] == "WAITING"
    # ListSteps returns the same details (what the provider polls)
    listed = {s["Id"]: s for s in emr.list_steps(ClusterId=cid)["Steps"]}
    assert listed[ids[0]]["Status"]["FailureDetails"]["Message"] == fd["Message"]
    # and an injected failure (no Spark at all)
    executor.fail_next(1, "injected: out of memory")
    sid = emr.add_job_flow_steps(JobFlowId=cid, Steps=[spark_step("x", script, *std)])["StepIds"][0]
    st = wait_step(emr, cid, sid)
    assert st["Status"]["FailureDetails"]["Message"] == "injected: out of memory"


def test_plain_steps_in_run_job_flow_transient_cluster(moto, executor):
    """Steps given to RunJobFlow with KeepJobFlowAliveWhenNoSteps=false run in
    order; the cluster terminates after the last one (EMR's transient mode)."""
    s3, emr = moto.client("s3"), moto.client("emr")
    lake(s3)
    script = f"s3://{BUCKET}/code/plain.py"
    steps = [
        spark_step(
            f"s{i}",
            script,
            "--input",
            f"s3://{BUCKET}/raw/events",
            "--work",
            f"s3://{BUCKET}/t{i}/",
            "--metrics",
            f"s3://{BUCKET}/t{i}/m.json",
        )
        for i in (1, 2)
    ]
    cid = cluster(emr, keep_alive=False, steps=steps)
    deadline = time.monotonic() + 180
    while emr.describe_cluster(ClusterId=cid)["Cluster"]["Status"]["State"] != "TERMINATED":
        assert time.monotonic() < deadline, [executor.records[k].log[-2000:] for k in executor.records]
        time.sleep(0.2)
    listed = emr.list_steps(ClusterId=cid)["Steps"]
    assert sorted(s["Status"]["State"] for s in listed) == ["COMPLETED", "COMPLETED"], [
        r.log[-2000:] for r in executor.records.values()
    ]
    recs = sorted(executor.records.values(), key=lambda r: r.t_running)
    assert [r.name for r in recs] == ["s1", "s2"] and recs[0].t_done <= recs[1].t_running
    for i in (1, 2):
        assert json.loads(s3.get_object(Bucket=BUCKET, Key=f"t{i}/m.json")["Body"].read()) == {
            "plain_lines": 150,
            "plain_files": 2,
        }
        assert s3.get_object(Bucket=BUCKET, Key=f"t{i}/count/part.txt")["Body"].read() == b"150\n"


def test_cancel_steps_and_termination_stop_steps(moto, executor):
    s3, emr = moto.client("s3"), moto.client("emr")
    lake(s3)
    cid = cluster(emr)
    executor.gate.clear()  # started steps stay RUNNING until the test says so
    script = f"s3://{BUCKET}/code/plain.py"
    std = ["--input", f"s3://{BUCKET}/raw/events", "--work", f"s3://{BUCKET}/w/", "--metrics", f"s3://{BUCKET}/m"]
    ids = emr.add_job_flow_steps(JobFlowId=cid, Steps=[spark_step(n, script, *std) for n in "abc"])["StepIds"]
    wait_step(emr, cid, ids[0], states=("RUNNING",), timeout=30)
    assert emr.describe_step(ClusterId=cid, StepId=ids[1])["Step"]["Status"]["State"] == "PENDING"
    r = emr.cancel_steps(ClusterId=cid, StepIds=[ids[0], ids[1], "s-NOPE"])
    info = {i["StepId"]: i["Status"] for i in r["CancelStepsInfoList"]}
    assert info == {ids[0]: "SUBMITTED", ids[1]: "SUBMITTED", "s-NOPE": "FAILED"}
    assert wait_step(emr, cid, ids[0], timeout=30)["Status"]["State"] == "CANCELLED"
    assert emr.describe_step(ClusterId=cid, StepId=ids[1])["Step"]["Status"]["State"] == "CANCELLED"
    # step c starts next; terminating the cluster interrupts it
    wait_step(emr, cid, ids[2], states=("RUNNING",), timeout=30)
    emr.terminate_job_flows(JobFlowIds=[cid])
    assert wait_step(emr, cid, ids[2], timeout=30)["Status"]["State"] == "INTERRUPTED"
    assert active_clusters() == []


def test_fault_proxy_injects_faults_and_boto3_retries_succeed(moto, proxy):
    """~20% of calls fail (500, 503, throttling in each protocol's format,
    connection resets); boto3's standard retry mode gets every call through."""
    proxy.configure(rate=0.2, kinds=("500", "503", "throttle", "reset"))
    retries = {"mode": "standard", "max_attempts": 12}
    s3 = moto.client("s3", endpoint=proxy.url, retries=retries)
    emr = moto.client("emr", endpoint=proxy.url, retries=retries)
    sts = moto.client("sts", endpoint=proxy.url, retries=retries)
    ec2 = moto.client("ec2", endpoint=proxy.url, retries=retries)
    s3.create_bucket(Bucket=BUCKET)
    for i in range(40):
        s3.put_object(Bucket=BUCKET, Key=f"k/{i}", Body=b"x" * i)
    assert len(keys(moto.client("s3"), "k/")) == 40
    for i in range(0, 40, 4):
        assert s3.get_object(Bucket=BUCKET, Key=f"k/{i}")["Body"].read() == b"x" * i
    cid = cluster(emr)
    for _ in range(30):
        assert emr.describe_cluster(ClusterId=cid)["Cluster"]["Id"] == cid
        emr.list_steps(ClusterId=cid)
    for _ in range(25):
        assert sts.get_caller_identity()["Account"] == "123456789012"
        ec2.describe_subnets()
    total = len(proxy.snapshot())
    faults = proxy.faults()
    nfault = sum(faults.values())
    assert 0.12 <= nfault / total <= 0.30, (nfault, total, faults)
    assert set(faults) == {"500", "503", "throttle", "reset"}, faults
    # every kind reached every protocol, and was retried to success
    by_service = {}
    for c in proxy.snapshot():
        if c.fault:
            by_service.setdefault(c.service, set()).add(c.fault)
    assert set(by_service) >= {"s3", "emr", "sts", "ec2"}, by_service
    c = proxy.counts()
    assert c["emr.ListSteps"] >= 30 and c["s3.PutObject"] >= 40 and c["sts.GetCallerIdentity"] >= 25, c
    assert len(emr_clusters()) == 1


def test_reset_after_forwarding_duplicates_a_blindly_retried_run_job_flow(moto, proxy):
    """The hazard the provider must handle: the request reaches EMR, the
    answer is lost, the SDK retries: two clusters.  (The proxy's
    `reset_after` fault reproduces it.)"""
    emr = moto.client("emr", endpoint=proxy.url, retries={"mode": "standard", "max_attempts": 3})
    proxy.force("reset_after", "emr", "RunJobFlow")
    cluster(emr)
    assert len(emr_clusters()) == 2
    assert [c.fault for c in proxy.select("emr", "RunJobFlow")] == ["reset_after", None]


def test_proxy_counts_and_records_credentials(moto, proxy):
    """The access key of each call is recorded (the OIDC test asserts on it);
    the secret, the session token and the web identity token are not."""
    sts = moto.client("sts", endpoint=proxy.url)
    token = "eyJ.fake-oidc-token.sig"
    r = sts.assume_role_with_web_identity(RoleArn=ROLE_ARN, RoleSessionName="ci", WebIdentityToken=token)
    cr = r["Credentials"]
    emr = moto.client(
        "emr", endpoint=proxy.url, key=cr["AccessKeyId"], secret=cr["SecretAccessKey"], token=cr["SessionToken"]
    )
    emr.list_clusters()
    emr.list_clusters()
    assert proxy.counts() == {"emr.ListClusters": 2, "sts.AssumeRoleWithWebIdentity": 1}
    assert proxy.access_keys("emr") == {cr["AccessKeyId"]}
    assert all(c.has_token for c in proxy.select("emr"))
    assert not proxy.select("sts")[0].signed  # AssumeRoleWithWebIdentity is unsigned
    recorded = repr([(c.method, c.path, c.service, c.action, c.access_key, c.region) for c in proxy.snapshot()])
    for secret in (cr["SecretAccessKey"], cr["SessionToken"]):
        assert secret not in recorded
    t = [c.t_start for c in proxy.snapshot()]
    assert t == sorted(t)


def test_cluster_boot_delay(moto, executor):
    """With BOOT["seconds"] a cluster stays STARTING (a create that takes a
    while, to interrupt), then WAITING; without steps and not kept alive it
    terminates after booting, like EMR."""
    emr = moto.client("emr")
    BOOT["seconds"] = 1.5
    cid = cluster(emr)
    transient = cluster(emr, keep_alive=False)
    assert emr.describe_cluster(ClusterId=cid)["Cluster"]["Status"]["State"] == "STARTING"
    assert emr.describe_cluster(ClusterId=transient)["Cluster"]["Status"]["State"] == "STARTING"
    t0 = time.monotonic()

    def state(c):
        return emr.describe_cluster(ClusterId=c)["Cluster"]["Status"]["State"]

    # each boots 1.5 s after its own RunJobFlow: the second one later
    while "STARTING" in (state(cid), state(transient)):
        assert time.monotonic() - t0 < 10
        time.sleep(0.1)
    assert time.monotonic() - t0 > 1.0
    assert state(cid) == "WAITING"
    assert state(transient) == "TERMINATED"
    emr.terminate_job_flows(JobFlowIds=[cid])
