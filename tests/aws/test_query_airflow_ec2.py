"""End-to-end: `terraform query` finds SparkFlow's Airflow hosts on EC2 (moto).

The real Terraform CLI (1.14 or later) and the real provider against moto,
through the fault proxy that records what the provider SENT (moto starts no
instance: the apply's health wait talks to test_airflow_ec2.FakeAirflow):
  - a host made by `apply` is listed with its identity and a display name
    that says what it costs; an instance with the managed tag but no
    sparkflow:airflow tag (what EMR's own instances look like) and a foreign
    one are not;
  - DescribeInstances carried the managed tag, the sparkflow:airflow tag key
    and the billed states as EC2 filters, one tag:<key> filter per tag asked
    for, the states asked for lower-cased; nothing but DescribeInstances was
    sent (no password fetched: a listing reads no secret);
  - `states`, `tags`, `name_prefix` and `host` filter;
  - `-generate-config-out` + `plan` imports the host with no changes.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs

import pytest

from test_airflow_ec2 import FakeAirflow, ec2_config, run_instances_idempotent, setup_lake  # noqa: F401
from test_emr_e2e import _blocks, example_config, workdir

BLOCK = '    dag_bundle    = "s3://{bucket}/airflow/"\n    allowed_cidrs = ["203.0.113.7/32"]\n    tags          = {{ team = "data" }}'


def knows_query(client) -> bool:
    major, minor = (int(x) for x in client.version.split(".")[:2])
    return client.flavor == "tf" and (major, minor) >= (1, 14)


def query_dir(sb, name: str, proxy, list_body: str = ""):
    """The example's provider block (pointed at the proxy) and one list block; no resources."""
    text = "".join(
        b
        for b in _blocks(example_config(proxy.url, pipeline=False))
        if "resource " not in b and "sparkflow_cluster." not in b
    )
    d = workdir(sb, name, proxy, main=text)
    (d / "find.tfquery.hcl").write_text(f'list "sparkflow_airflow" "all" {{\n  provider = sparkflow\n{list_body}}}\n')
    sb.init(d)
    return d


def query_json(sb, d) -> tuple[list[dict], str]:
    r = sb.run("query", "-json", cwd=d)
    found = []
    for line in r.output.splitlines():
        if line.startswith("{"):
            msg = json.loads(line)
            assert msg.get("@level") != "error", r.describe()
            if msg.get("type") == "list_resource_found":
                found.append(msg["list_resource_found"])
    return found, r.output


def describe_filters(call) -> dict[str, list[str]]:
    """{filter name: values} of one DescribeInstances as sent."""
    form = {k: v[0] for k, v in parse_qs(call.request_body.decode(), keep_blank_values=True).items()}
    out, i = {}, 1
    while f"Filter.{i}.Name" in form:
        vals, j = [], 1
        while f"Filter.{i}.Value.{j}" in form:
            vals.append(form[f"Filter.{i}.Value.{j}"])
            j += 1
        out[form[f"Filter.{i}.Name"]] = vals
        i += 1
    return out


def outside_instance(ec2, tags: dict) -> str:
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    r = ec2.run_instances(
        ImageId=ami,
        InstanceType="m5.xlarge",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
    )
    return r["Instances"][0]["InstanceId"]


@pytest.fixture
def world(aws_sandbox, moto, proxy):
    sb = aws_sandbox
    if not knows_query(sb.client):
        pytest.skip(f"{sb.client.id} has no `terraform query` (Terraform 1.14 or later has)")
    from test_emr_e2e import BUCKET

    setup_lake(moto)
    fake = FakeAirflow()
    sb.extra_env["SPARKFLOW_TEST_EC2_AIRFLOW_URL"] = fake.url
    d = workdir(sb, "owner", proxy, main=ec2_config(proxy, BLOCK.format(bucket=BUCKET)))
    sb.init(d)
    sb.run("apply", cwd=d, timeout=600)
    host = sb.resources(d)["sparkflow_airflow.aws"]
    ec2 = moto.client("ec2")
    others = {
        "emr_like": outside_instance(ec2, {"sparkflow:managed": "true", "team": "data"}),
        "foreign": outside_instance(ec2, {"sparkflow:airflow": "finances", "team": "data"}),
    }
    yield type("World", (), {"sb": sb, "host": host, "others": others, "owner": d, "fake": fake})
    ec2.terminate_instances(InstanceIds=list(others.values()))
    fake.stop()


def test_query_lists_airflow_hosts_only(world, proxy):
    sb, host = world.sb, world.host
    d = query_dir(sb, "q-all", proxy)
    since = proxy.calls[-1].t_end if proxy.calls else 0
    found, output = query_json(sb, d)
    assert [f["identity"] for f in found] == [{"id": host["id"]}], found
    (f,) = found
    assert f["resource_type"] == "sparkflow_airflow"
    assert re.fullmatch(rf"finances \(ec2 {host['id']}, running, up \d+m, t3\.large\)", f["display_name"]), f
    # What was sent: DescribeInstances only, EC2 doing the filtering.
    calls = proxy.select(since=since)
    assert {(c.service, c.action) for c in calls} <= {("ec2", "DescribeInstances"), ("sts", "GetCallerIdentity")}, [
        (c.service, c.action) for c in calls
    ]
    described = [describe_filters(c) for c in calls if c.action == "DescribeInstances"]
    assert described == [
        {
            "tag:sparkflow:managed": ["true"],
            "tag-key": ["sparkflow:airflow"],
            "instance-state-name": ["pending", "running"],
        }
    ], described
    assert host["password"] not in output


@pytest.mark.parametrize(
    "body, want, filters",
    [
        ('states = ["Terminated"]', False, {"instance-state-name": ["terminated"]}),
        ('tags = { team = "data" }', True, {"tag:team": ["data"]}),
        ('tags = { team = "ops" }', False, {"tag:team": ["ops"]}),
        ('name_prefix = "fin"', True, {}),
        ('name_prefix = "other"', False, {}),
        ('host = "local"', False, None),
    ],
)
def test_filters(world, proxy, body, want, filters):
    d = query_dir(world.sb, "q-filter", proxy, f"  config {{\n    {body}\n  }}\n")
    since = proxy.calls[-1].t_end if proxy.calls else 0
    found, _ = query_json(world.sb, d)
    assert [f["identity"]["id"] for f in found] == ([world.host["id"]] if want else []), (body, found)
    described = [describe_filters(c) for c in proxy.select(service="ec2", action="DescribeInstances", since=since)]
    if filters is None:  # host = "local": EC2 not asked at all
        assert described == [], described
        return
    (sent,) = described
    assert sent["tag:sparkflow:managed"] == ["true"] and sent["tag-key"] == ["sparkflow:airflow"], sent
    for k, v in filters.items():
        assert sent[k] == v, (body, sent)


def test_generated_config_imports_with_no_changes(world, proxy):
    sb = world.sb
    d = query_dir(sb, "q-adopt", proxy, "  include_resource = true\n")
    sb.run("query", "-generate-config-out=generated.tf", cwd=d)
    generated = (d / "generated.tf").read_text()
    assert world.host["id"] in generated and re.search(r'name\s+= "finances"', generated), generated
    assert world.host["password"] not in generated
    r = sb.run("plan", "-out=adopt.tfplan", cwd=d)
    assert "Plan: 1 to import, 0 to add, 0 to change, 0 to destroy." in r.output, r.describe()
    (rc,) = sb.show_json(d, "adopt.tfplan")["resource_changes"]
    assert rc["change"]["actions"] == ["no-op"], rc["change"]
    assert rc["change"]["importing"] == {"identity": {"id": world.host["id"]}}
