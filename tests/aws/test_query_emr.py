"""End-to-end: `terraform query` finds SparkFlow's EMR clusters (moto).

The real Terraform CLI (1.14 or later) and the real provider against moto,
through the fault proxy that records what the provider SENT:
  - a cluster made by `apply` (examples/aws) and one made outside Terraform
    with the provider's managed tag are listed with identity and a display
    name that says what they cost; a foreign (untagged) cluster and a
    terminated one are not;
  - ListClusters carried the active states (EMR filters), DescribeCluster was
    asked for every active cluster, foreign ones included (that is how tags are
    read), and nothing but reads was sent;
  - `states`, `tags`, `name_prefix` and `engine` filter;
  - `-generate-config-out` + `plan` imports the applied cluster with no changes;
  - 50 clusters: all listed, exactly 1 ListClusters, 50 DescribeCluster and
    50 ListInstanceGroups sent; the wall time is printed (run with -s).
"""

from __future__ import annotations

import json
import re
import time

import pytest

from test_emr_e2e import BUCKET, CLUSTER, _blocks, example_config, workdir

READS = {"ListClusters", "DescribeCluster", "ListInstanceGroups", "GetCallerIdentity"}


def knows_query(client) -> bool:
    major, minor = (int(x) for x in client.version.split(".")[:2])
    return client.flavor == "tf" and (major, minor) >= (1, 14)


def outside_cluster(emr, name: str, tags: dict) -> str:
    """A cluster made with boto3, as another tool (or a lost state) left it."""
    r = emr.run_job_flow(
        Name=name,
        ReleaseLabel="emr-7.13.0",
        Applications=[{"Name": "Spark"}],
        Instances={
            "MasterInstanceType": "m5.xlarge",
            "SlaveInstanceType": "m5.2xlarge",
            "InstanceCount": 3,
            "KeepJobFlowAliveWhenNoSteps": True,
        },
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )
    return r["JobFlowId"]


def query_dir(sb, name: str, proxy, list_body: str = ""):
    """The example's provider block (pointed at the proxy) and one list block; no resources."""
    text = "".join(
        b
        for b in _blocks(example_config(proxy.url, pipeline=False))
        if "resource " not in b and "sparkflow_cluster." not in b
    )
    d = workdir(sb, name, proxy, main=text)
    (d / "find.tfquery.hcl").write_text(f'list "sparkflow_cluster" "all" {{\n  provider = sparkflow\n{list_body}}}\n')
    sb.init(d)
    return d


def query_json(sb, d) -> list[dict]:
    r = sb.run("query", "-json", cwd=d)
    found = []
    for line in r.output.splitlines():
        if line.startswith("{"):
            msg = json.loads(line)
            assert msg.get("@level") != "error", r.describe()
            if msg.get("type") == "list_resource_found":
                found.append(msg["list_resource_found"])
    return found


@pytest.fixture
def world(aws_sandbox, moto, proxy):
    sb = aws_sandbox
    if not knows_query(sb.client):
        pytest.skip(f"{sb.client.id} has no `terraform query` (Terraform 1.14 or later has)")
    moto.client("s3").create_bucket(Bucket=BUCKET)
    emr = moto.client("emr")
    d = workdir(sb, "owner", proxy, pipeline=False)
    sb.init(d)
    r = sb.run("apply", cwd=d, timeout=300)
    assert "Apply complete! Resources: 1 added" in r.output, r.describe()
    applied = sb.resources(d)[CLUSTER]
    ids = {
        "applied": applied["id"],
        "orphan": outside_cluster(emr, "finances-dev", {"sparkflow:managed": "true", "team": "data"}),
        "foreign": outside_cluster(emr, "finances-foreign", {"team": "data"}),
        "old": outside_cluster(emr, "finances-old", {"sparkflow:managed": "true"}),
    }
    emr.terminate_job_flows(JobFlowIds=[ids["old"]])
    yield type("World", (), {"sb": sb, "emr": emr, "ids": ids, "applied": applied, "owner": d})
    emr.terminate_job_flows(JobFlowIds=[ids["orphan"], ids["foreign"]])


def test_query_lists_managed_emr_clusters_only(world, proxy):
    sb, ids = world.sb, world.ids
    d = query_dir(sb, "q-all", proxy)
    since = proxy.calls[-1].t_end if proxy.calls else 0
    found = query_json(sb, d)
    got = {f["identity"]["id"]: f["display_name"] for f in found}
    assert set(got) == {ids["applied"], ids["orphan"]}, found
    count = world.applied["emr"]["core_instance_count"]
    assert re.fullmatch(
        rf"finances \(emr {ids['applied']}, WAITING, up \d+m, {count + 1} × m5\.xlarge\)", got[ids["applied"]]
    ), got
    assert re.fullmatch(
        rf"finances-dev \(emr {ids['orphan']}, WAITING, up \d+m, 1 × m5\.xlarge \+ 2 × m5\.2xlarge\)",
        got[ids["orphan"]],
    ), got
    # What was sent: reads only; ListClusters with the active states.
    calls = [c for c in proxy.select("emr", since=since)]
    assert {c.action for c in calls} <= READS, sorted({c.action for c in calls})
    lists = [c.json_body() for c in calls if c.action == "ListClusters"]
    assert lists and all(b["ClusterStates"] == ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"] for b in lists)
    described = {c.json_body()["ClusterId"] for c in calls if c.action == "DescribeCluster"}
    assert described == {ids["applied"], ids["orphan"], ids["foreign"]}, described


@pytest.mark.parametrize(
    "body, want",
    [
        ('states = ["terminated"]', ["old"]),
        ('tags = { team = "data" }', ["orphan"]),
        ('name_prefix = "finances-"', ["orphan"]),
        ('engine = "local"', []),
    ],
)
def test_filters(world, proxy, body, want):
    d = query_dir(world.sb, "q-filter", proxy, f"  config {{\n    {body}\n  }}\n")
    found = query_json(world.sb, d)
    assert sorted(f["identity"]["id"] for f in found) == sorted(world.ids[w] for w in want), (body, found)


def test_generated_config_imports_with_no_changes(world, proxy):
    sb = world.sb
    d = query_dir(
        sb, "q-adopt", proxy, '  config {\n    name_prefix = "finances"\n    tags = { project = "finances" }\n  }\n'
    )
    sb.run("query", "-generate-config-out=generated.tf", cwd=d)
    generated = (d / "generated.tf").read_text()
    assert world.ids["applied"] in generated and world.ids["orphan"] not in generated, generated
    r = sb.run("plan", "-out=adopt.tfplan", cwd=d)
    assert "Plan: 1 to import, 0 to add, 0 to change, 0 to destroy." in r.output, r.describe()
    (rc,) = sb.show_json(d, "adopt.tfplan")["resource_changes"]
    assert rc["change"]["actions"] == ["no-op"], rc["change"]
    assert rc["change"]["importing"] == {"identity": {"id": world.ids["applied"]}}


def test_fifty_clusters_calls_and_wall_time(aws_sandbox, moto, proxy):
    """50 SparkFlow clusters: every one listed, with one DescribeCluster and
    one ListInstanceGroups each and ListClusters once per page (EMR pages
    hold 50); the wall time of `terraform query` is printed for the record."""
    sb = aws_sandbox
    if not knows_query(sb.client):
        pytest.skip(f"{sb.client.id} has no `terraform query`")
    emr = moto.client("emr")
    ids = [outside_cluster(emr, f"bulk-{i:02d}", {"sparkflow:managed": "true"}) for i in range(50)]
    try:
        d = query_dir(sb, "q-bulk", proxy)
        since = proxy.calls[-1].t_end if proxy.calls else 0
        t0 = time.monotonic()
        found = query_json(sb, d)
        wall = time.monotonic() - t0
        assert sorted(f["identity"]["id"] for f in found) == sorted(ids)
        counts = {k: v for k, v in proxy.counts(since=since).items() if k.startswith("emr.")}
        pages = -(-len(ids) // 50)
        assert counts == {
            "emr.DescribeCluster": 50,
            "emr.ListClusters": pages,
            "emr.ListInstanceGroups": 50,
        }, counts
        print(f"\nterraform query, 50 EMR clusters (moto): {wall:.2f} s wall, calls {counts}")
    finally:
        emr.terminate_job_flows(JobFlowIds=ids)
