"""sparkflow_airflow on EC2 through the real Terraform CLI and the real
provider against moto (fixtures from conftest.py).

moto starts no instance, so nothing answers on the instance's address: the
tests start a fake Airflow (FakeAirflow: /api/v2/monitor/health and
/api/v2/version) and point the provider's health wait at it with the
test-only SPARKFLOW_TEST_EC2_AIRFLOW_URL; the wait code itself runs.  moto
accepts requests AWS refuses, so the tests assert on what the provider
*sent* (the fault proxy's request log) as well as on what moto keeps.

  test_ec2_host_lifecycle       apply: RunInstances as sent (IMDSv2, shutdown =
                                terminate, encrypted root volume, profile, group,
                                tags, AMI from SSM, user data rendered with no
                                secret), role/profile/group/parameter created,
                                ingress from allowed_cidrs only, bundle uploaded;
                                plan: No changes; allowed_cidrs changed in place;
                                import -> No changes; drift
                                (instance terminated) -> plan recreates and what
                                was made for it is removed; destroy removes all
  test_ec2_given_profile_and_group  user-given profile and group: none created,
                                the given ones kept on destroy
  test_ec2_no_cidrs_no_ingress  empty allowed_cidrs -> no ingress rule at all
  test_ec2_unknown_profile      a clear diagnostic, nothing started
  test_ec2_region_without_ami   no SSM parameter -> a diagnostic naming it
  test_ec2_unhealthy_cleans_up  Airflow never healthy: the apply fails with the
                                console output and what was made is removed
  test_ec2_sigint_during_health_wait  Ctrl-C while waiting: prompt stop, instance
                                terminated, what was made removed
  test_example_emr_and_airflow  examples/aws (main.tf + airflow.tf) with a bucket
                                name and a CIDR: apply, No changes, destroy
  test_ec2_faults               ~20 % faults and lost answers of RunInstances,
                                CreateRole, CreateSecurityGroup: one of each, and
                                destroy leaves nothing
  (spec_put: queue, policy, notification: tests/unit/test_ec2_orchestrator.c)
"""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from awsenv import REGION
from test_emr_e2e import BUCKET, EXAMPLE, example_config, workdir

AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
HEALTHY = {
    "metadatabase": {"status": "healthy"},
    "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": "2026-12-07T00:00:00+00:00"},
    "triggerer": {"status": "healthy", "latest_triggerer_heartbeat": "2026-12-07T00:00:00+00:00"},
    "dag_processor": {"status": "healthy", "latest_dag_processor_heartbeat": "2026-12-07T00:00:00+00:00"},
}


class FakeAirflow:
    """An HTTP server answering what the provider asks an Airflow while it
    waits: the health (healthy after `healthy_after` probes, or never) and
    the version."""

    def __init__(self, healthy_after: int = 2, never: bool = False):
        self.healthy_after, self.never, self.probes = healthy_after, never, 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path == "/api/v2/monitor/health":
                    fake.probes += 1
                    ok = not fake.never and fake.probes > fake.healthy_after
                    body = HEALTHY if ok else {**HEALTHY, "scheduler": {"status": "unhealthy"}}
                elif self.path == "/api/v2/version":
                    body = {"version": "3.3.2", "git_version": None}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def run_instances_idempotent(monkeypatch):
    """EC2 answers a RunInstances with a ClientToken it has seen with the
    same reservation (no second instance); moto 5.2 keeps the token but
    starts another instance.  Make moto do what EC2 does."""
    from moto.core.responses import ActionResult
    from moto.ec2.responses.instances import InstanceResponse

    orig = InstanceResponse.run_instances

    def run_instances(self):
        token = self._get_param("ClientToken")
        if token:
            for reservation in self.ec2_backend.reservations.values():
                if any(getattr(i, "client_token", None) == token for i in reservation.instances):
                    return ActionResult(reservation)
        return orig(self)

    monkeypatch.setattr(InstanceResponse, "run_instances", run_instances)


@pytest.fixture
def airflow():
    fake = FakeAirflow()
    yield fake
    fake.stop()


def ec2_config(proxy, block: str, extra: str = "") -> str:
    """The example's provider block (endpoints on the proxy, iam/ssm/sqs
    included) with one sparkflow_airflow."""
    base = example_config(proxy.url, pipeline=False)
    base = "".join(b for b in base.split("\nresource ", 1)[:1])  # the provider only
    return (
        base
        + f"""
resource "sparkflow_airflow" "aws" {{
  name = "finances"
  ec2 {{
{block}
  }}
{extra}
}}
"""
    )


def setup_lake(moto):
    moto.client("s3").create_bucket(Bucket=BUCKET)


def sent(proxy, service: str, action: str) -> list[dict]:
    """The form parameters of every call of `action` the provider sent."""
    out = []
    for c in proxy.select(service=service, action=action):
        out.append({k: v[0] for k, v in parse_qs(c.request_body.decode(), keep_blank_values=True).items()})
    return out


def run_instances(proxy) -> dict:
    calls = sent(proxy, "ec2", "RunInstances")
    assert len(calls) == 1, calls
    return calls[0]


def tags_of(params: dict, spec: int) -> dict:
    out = {}
    i = 1
    while f"TagSpecification.{spec}.Tag.{i}.Key" in params:
        out[params[f"TagSpecification.{spec}.Tag.{i}.Key"]] = params[f"TagSpecification.{spec}.Tag.{i}.Value"]
        i += 1
    return out


def instance_state(moto, iid: str) -> str:
    r = moto.client("ec2").describe_instances(InstanceIds=[iid])
    return r["Reservations"][0]["Instances"][0]["State"]["Name"]


def iam_names(moto) -> tuple[list[str], list[str]]:
    iam = moto.client("iam")
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("sparkflow-airflow-")]
    profiles = [
        p["InstanceProfileName"]
        for p in iam.list_instance_profiles()["InstanceProfiles"]
        if p["InstanceProfileName"].startswith("sparkflow-airflow-")
    ]
    return roles, profiles


def airflow_groups(moto) -> list[dict]:
    groups = moto.client("ec2").describe_security_groups()["SecurityGroups"]
    return [g for g in groups if g["GroupName"].startswith("sparkflow-airflow-")]


def test_ec2_host_lifecycle(aws_sandbox, moto, proxy, airflow):
    sb = aws_sandbox
    setup_lake(moto)
    sb.extra_env["SPARKFLOW_TEST_EC2_AIRFLOW_URL"] = airflow.url
    block = f"""    dag_bundle    = "s3://{BUCKET}/airflow/"
    allowed_cidrs = ["203.0.113.7/32", "10.1.0.0/16"]
    max_lifetime  = "2h"
    tags          = {{ team = "data" }}"""
    d = workdir(sb, "ec2", proxy, main=ec2_config(proxy, block))
    sb.init(d)
    sb.run("apply", cwd=d, timeout=600)
    res = sb.resources(d)["sparkflow_airflow.aws"]
    iid = res["id"]
    assert iid.startswith("i-"), res
    assert res["url"] == airflow.url and res["user"] == "sparkflow" and res["airflow_version"] == "3.3.2", res
    assert res["state"] == "running"
    password = res["password"]
    assert len(password) >= 32
    det = res["details"]
    assert det["instance_id"] == iid and det["region"] == REGION, det
    assert airflow.probes >= 3  # the wait really waited for healthy

    # What RunInstances received.
    ami = moto.client("ssm").get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"]
    p = run_instances(proxy)
    assert p["ImageId"] == ami == det["ami"] == res["ec2"]["ami"], (p, det)
    assert p["InstanceType"] == "t3.large"
    assert p["MetadataOptions.HttpTokens"] == "required"
    assert p["InstanceInitiatedShutdownBehavior"] == "terminate"
    assert p["BlockDeviceMapping.1.Ebs.Encrypted"] == "true"
    assert p["BlockDeviceMapping.1.Ebs.VolumeSize"] == "30"
    assert p["BlockDeviceMapping.1.Ebs.DeleteOnTermination"] == "true"
    assert p["IamInstanceProfile.Name"] == det["created_instance_profile"]
    assert p["SecurityGroupId.1"] == det["created_security_group"]
    assert p.get("ClientToken")
    for spec in (1, 2):
        tags = tags_of(p, spec)
        assert tags["sparkflow:managed"] == "true" and tags["Name"] == "sparkflow-airflow-finances", tags
        assert tags["team"] == "data" and tags["project"] == "finances", tags  # block and default_tags
    assert (p["TagSpecification.1.ResourceType"], p["TagSpecification.2.ResourceType"]) == ("instance", "volume")
    user_data = base64.b64decode(p["UserData"]).decode()
    assert user_data.startswith("#!/bin/bash")
    assert f"DAG_BUNDLE='s3://{BUCKET}/airflow/'" in user_data
    assert "LIFETIME_SECONDS='7200'" in user_data and "API_PORT='8080'" in user_data
    assert f"PASSWORD_PARAMETER='{det['password_parameter']}'" in user_data
    assert "@@" not in user_data
    assert password not in user_data  # the password never goes into user data
    assert password not in json.dumps(sent(proxy, "ec2", "RunInstances"))
    # nor in plan/apply output or the provider's log (TRACE when asked);
    # `terraform show -json` prints it, as it prints every sensitive value
    for f in sb.logs.iterdir():
        if "-show." not in f.name:
            assert password not in f.read_text(errors="replace"), f

    # The password: a SecureString only the created role may read.
    ssm = moto.client("ssm")
    prm = ssm.get_parameter(Name=det["password_parameter"], WithDecryption=True)["Parameter"]
    assert prm["Type"] == "SecureString" and prm["Value"] == password
    iam = moto.client("iam")
    role = det["created_role"]
    doc = iam.get_role_policy(RoleName=role, PolicyName="sparkflow-airflow")["PolicyDocument"]
    doc = doc if isinstance(doc, dict) else json.loads(doc)
    stmts = {s["Sid"]: s for s in doc["Statement"]}
    assert stmts["LakeObjects"]["Resource"] == f"arn:aws:s3:::{BUCKET}/*"
    assert stmts["EmrStepsOnManagedClusters"]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/sparkflow:managed": "true"}
    }
    assert stmts["OwnPassword"]["Resource"].endswith(":parameter" + det["password_parameter"])
    assert all(s["Resource"] != "*" or "Condition" in s for s in doc["Statement"]), doc
    prof = iam.get_instance_profile(InstanceProfileName=det["created_instance_profile"])["InstanceProfile"]
    assert [r["RoleName"] for r in prof["Roles"]] == [role]

    # The security group: the API port from allowed_cidrs, nothing else.
    auth = sent(proxy, "ec2", "AuthorizeSecurityGroupIngress")
    assert len(auth) == 1
    cidrs = sorted(v for k, v in auth[0].items() if k.endswith(".CidrIp"))
    assert cidrs == ["10.1.0.0/16", "203.0.113.7/32"], auth
    assert auth[0]["IpPermissions.1.FromPort"] == auth[0]["IpPermissions.1.ToPort"] == "8080"
    (group,) = airflow_groups(moto)
    ranges = [r["CidrIp"] for perm in group["IpPermissions"] for r in perm["IpRanges"]]
    assert sorted(ranges) == cidrs and "0.0.0.0/0" not in ranges

    # The bundle: the DAG factory, its package and the compose file.
    keys = [o["Key"] for o in moto.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]]
    for k in ("sparkflow_dags.py", ".airflowignore", "sparkflow_airflow/dags.py", "host/docker-compose.yaml"):
        assert f"airflow/{k}" in keys, keys

    # No changes on a second plan.
    r = sb.run("plan", "-detailed-exitcode", cwd=d, ok=None)
    assert r.rc == 0, r.describe()

    # allowed_cidrs changes in place: the created group's rules follow.
    main = (d / "main.tf").read_text().replace('"10.1.0.0/16"', '"198.51.100.0/24"')
    (d / "main.tf").write_text(main)
    r = sb.run("plan", cwd=d)
    assert "1 to change, 0 to destroy" in r.output, r.describe()
    sb.run("apply", cwd=d, timeout=600)
    assert sb.resources(d)["sparkflow_airflow.aws"]["id"] == iid
    (group,) = airflow_groups(moto)
    ranges = sorted(r["CidrIp"] for perm in group["IpPermissions"] for r in perm["IpRanges"])
    assert ranges == ["198.51.100.0/24", "203.0.113.7/32"], group
    revoked = sent(proxy, "ec2", "RevokeSecurityGroupIngress")
    assert [v for k, v in revoked[0].items() if k.endswith(".CidrIp")] == ["10.1.0.0/16"], revoked
    r = sb.run("plan", "-detailed-exitcode", cwd=d, ok=None)
    assert r.rc == 0, r.describe()

    # Import: the block, the password and what was made come back from the
    # instance's tags and the password parameter; the plan is then empty.
    sb.run("state", "rm", "sparkflow_airflow.aws", cwd=d)
    sb.run("import", "sparkflow_airflow.aws", iid, cwd=d)
    imp = sb.resources(d)["sparkflow_airflow.aws"]
    assert imp["password"] == password and imp["name"] == "finances", imp
    assert imp["ec2"]["dag_bundle"] == f"s3://{BUCKET}/airflow/" and imp["ec2"]["ami"] == ami, imp
    for k in ("created_role", "created_instance_profile", "created_security_group", "password_parameter"):
        assert imp["details"][k] == det[k], (k, imp["details"])
    r = sb.run("plan", "-detailed-exitcode", cwd=d, ok=None)
    assert r.rc == 0, r.describe()

    # Drift: the instance terminated (as max_lifetime does) -> plan recreates,
    # and what was made for the gone instance is removed then.
    moto.client("ec2").terminate_instances(InstanceIds=[iid])
    r = sb.run("plan", cwd=d)
    assert "1 to add" in r.output, r.describe()
    assert iam_names(moto) == ([], []) and airflow_groups(moto) == [], (iam_names(moto), airflow_groups(moto))

    sb.run("apply", cwd=d, timeout=600)
    res2 = sb.resources(d)["sparkflow_airflow.aws"]
    assert res2["id"] != iid
    sb.run("destroy", cwd=d, timeout=600)
    assert instance_state(moto, res2["id"]) == "terminated"
    assert iam_names(moto) == ([], []), iam_names(moto)
    assert airflow_groups(moto) == []
    names = [p["Name"] for p in ssm.describe_parameters()["Parameters"]]
    assert not [n for n in names if n.startswith("/sparkflow/airflow/")], names
    # Destroy waited for `terminated` before removing the group.
    calls = proxy.snapshot()
    seq = [c.action for c in calls if c.action in ("TerminateInstances", "DeleteSecurityGroup")]
    assert seq[-2:] == ["TerminateInstances", "DeleteSecurityGroup"], seq


def test_ec2_given_profile_and_group(aws_sandbox, moto, proxy, airflow):
    sb = aws_sandbox
    setup_lake(moto)
    sb.extra_env["SPARKFLOW_TEST_EC2_AIRFLOW_URL"] = airflow.url
    iam = moto.client("iam")
    iam.create_role(RoleName="mine", AssumeRolePolicyDocument="{}")
    iam.create_instance_profile(InstanceProfileName="mine")
    iam.add_role_to_instance_profile(InstanceProfileName="mine", RoleName="mine")
    ec2 = moto.client("ec2")
    gid = ec2.create_security_group(GroupName="mine", Description="mine")["GroupId"]
    block = f"""    dag_bundle         = "s3://{BUCKET}/airflow"
    instance_profile   = "mine"
    security_group_ids = ["{gid}"]
    instance_type      = "t3.medium"
    api_port           = 8081"""
    d = workdir(sb, "given", proxy, main=ec2_config(proxy, block))
    sb.init(d)
    sb.run("apply", cwd=d, timeout=600)
    p = run_instances(proxy)
    assert p["IamInstanceProfile.Name"] == "mine" and p["SecurityGroupId.1"] == gid and "SecurityGroupId.2" not in p
    assert p["InstanceType"] == "t3.medium"
    assert "API_PORT='8081'" in base64.b64decode(p["UserData"]).decode()
    assert sent(proxy, "iam", "CreateRole") == [] and sent(proxy, "ec2", "CreateSecurityGroup") == []
    sb.run("destroy", cwd=d, timeout=600)
    assert iam.get_instance_profile(InstanceProfileName="mine")["InstanceProfile"]["Roles"]
    assert ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"]


def test_ec2_no_cidrs_no_ingress(aws_sandbox, moto, proxy, airflow):
    sb = aws_sandbox
    setup_lake(moto)
    sb.extra_env["SPARKFLOW_TEST_EC2_AIRFLOW_URL"] = airflow.url
    d = workdir(sb, "closed", proxy, main=ec2_config(proxy, f'    dag_bundle = "s3://{BUCKET}/airflow/"'))
    sb.init(d)
    sb.run("apply", cwd=d, timeout=600)
    assert sent(proxy, "ec2", "AuthorizeSecurityGroupIngress") == []
    (group,) = airflow_groups(moto)
    assert group["IpPermissions"] == []


def test_ec2_unknown_profile(aws_sandbox, moto, proxy, airflow):
    sb = aws_sandbox
    setup_lake(moto)
    sb.extra_env["SPARKFLOW_TEST_EC2_AIRFLOW_URL"] = airflow.url
    block = f"""    dag_bundle       = "s3://{BUCKET}/airflow/"
    instance_profile = "no-such-profile\""""
    d = workdir(sb, "noprofile", proxy, main=ec2_config(proxy, block))
    sb.init(d)
    r = sb.run("apply", cwd=d, timeout=600, ok=None)
    assert r.rc != 0
    assert "Unknown instance profile" in r.output and "no-such-profile" in r.output, r.describe()
    assert sent(proxy, "ec2", "RunInstances") == [] and sent(proxy, "iam", "CreateRole") == []
    assert not proxy.select(service="ssm", action="PutParameter")


def test_ec2_region_without_ami(aws_sandbox, moto, proxy, airflow):
    """mx-central-1: a region where moto (like a new AWS region can be) has
    no public Amazon Linux parameter."""
    sb = aws_sandbox
    setup_lake(moto)
    sb.extra_env["SPARKFLOW_TEST_EC2_AIRFLOW_URL"] = airflow.url
    sb.extra_env["AWS_REGION"] = "mx-central-1"
    d = workdir(sb, "noami", proxy, main=ec2_config(proxy, f'    dag_bundle = "s3://{BUCKET}/airflow/"'))
    (d / "terraform.tfvars").write_text(f'lake_bucket = "{BUCKET}"\nregion = "mx-central-1"\n')
    sb.init(d)
    r = sb.run("apply", cwd=d, timeout=600, ok=None)
    assert r.rc != 0
    out = " ".join(r.output.split())
    assert "No Amazon Linux 2023 AMI in this region" in out and AMI_PARAMETER in out, r.describe()
    assert "mx-central-1" in out and "ec2.ami" in out, r.describe()
    assert sent(proxy, "ec2", "RunInstances") == [] and sent(proxy, "iam", "CreateRole") == []


def test_ec2_unhealthy_cleans_up(aws_sandbox, moto, proxy):
    sb = aws_sandbox
    setup_lake(moto)
    fake = FakeAirflow(never=True)
    try:
        sb.extra_env["SPARKFLOW_TEST_EC2_AIRFLOW_URL"] = fake.url
        block = f"""    dag_bundle    = "s3://{BUCKET}/airflow/"
    allowed_cidrs = ["203.0.113.7/32"]"""
        d = workdir(sb, "sick", proxy, main=ec2_config(proxy, block, '  timeouts {\n    create = "8s"\n  }'))
        sb.init(d)
        r = sb.run("apply", cwd=d, timeout=600, ok=None)
    finally:
        fake.stop()
    assert r.rc != 0
    out = " ".join(r.output.split())  # Terraform wraps diagnostics
    assert "Airflow did not start on EC2" in out and "scheduler: unhealthy" in out, r.describe()
    assert "timed out" in out and "console says: Linux version" in out, r.describe()  # moto's canned console
    (iid,) = {c for c in _instance_ids(moto)}
    assert instance_state(moto, iid) == "terminated"
    assert iam_names(moto) == ([], []) and airflow_groups(moto) == []
    assert "sparkflow_airflow.aws" not in sb.resources(d)


def _instance_ids(moto) -> list[str]:
    """The Airflow instances (moto's EMR starts EC2 instances too)."""
    r = moto.client("ec2").describe_instances(Filters=[{"Name": "tag-key", "Values": ["sparkflow:airflow"]}])
    return [i["InstanceId"] for res in r["Reservations"] for i in res["Instances"]]


def test_ec2_faults(aws_sandbox, moto, proxy, airflow, tmp_path):
    """~20 % of the provider's AWS calls fail (500, 503, throttling, resets
    before and after the request was acted on), and the first answers of
    RunInstances, CreateRole and CreateSecurityGroup are lost after AWS
    acted: apply and destroy still succeed, with one instance, one role, one
    group, and nothing left."""
    sb = aws_sandbox
    setup_lake(moto)
    sb.extra_env["SPARKFLOW_TEST_EC2_AIRFLOW_URL"] = airflow.url
    sb.extra_env["SPARKFLOW_AWS_RETRY_BASE_MS"] = "20"
    block = f"""    dag_bundle    = "s3://{BUCKET}/airflow/"
    allowed_cidrs = ["203.0.113.7/32"]"""
    d = workdir(sb, "faults", proxy, main=ec2_config(proxy, block))
    sb.init(d)
    proxy.configure(rate=0.2, kinds=("500", "503", "throttle", "reset", "reset_after"))
    proxy.force("reset_after", "ec2", "RunInstances")
    proxy.force("reset_after", "iam", "CreateRole")
    proxy.force("reset_after", "ec2", "CreateSecurityGroup")
    r = sb.run("apply", cwd=d, timeout=600)
    proxy.dump(tmp_path / "calls.jsonl")
    assert "Apply complete! Resources: 1 added" in r.output, r.describe()
    assert len(_instance_ids(moto)) == 1, _instance_ids(moto)
    assert len(iam_names(moto)[0]) == 1 and len(airflow_groups(moto)) == 1
    assert proxy.select("ec2", "RunInstances")[0].fault == "reset_after"
    faults = proxy.faults()
    assert sum(faults.values()) >= 5, faults
    sb.run("destroy", cwd=d, timeout=600)
    proxy.configure(rate=0)
    assert iam_names(moto) == ([], []) and airflow_groups(moto) == []
    assert [instance_state(moto, i) for i in _instance_ids(moto)] == ["terminated"]


def test_ec2_sigint_during_health_wait(aws_sandbox, moto, proxy, tmp_path):
    """Ctrl-C while the apply waits for Airflow: it stops promptly, the
    instance is terminated and what was made removed; nothing in state."""
    from pipeline_support import check_background, interrupt, wait_exit
    from tfharness import wait_for

    sb = aws_sandbox
    setup_lake(moto)
    fake = FakeAirflow(never=True)
    try:
        sb.extra_env["SPARKFLOW_TEST_EC2_AIRFLOW_URL"] = fake.url
        d = workdir(sb, "int", proxy, main=ec2_config(proxy, f'    dag_bundle = "s3://{BUCKET}/airflow/"'))
        sb.init(d)
        out = tmp_path / "apply.out"
        proc = sb.popen(["apply"], d, out)
        try:
            assert wait_for(lambda: fake.probes >= 2 or proc.poll() is not None, 120), out.read_text()
            assert proc.poll() is None, out.read_text()
            t0 = time.monotonic()
            interrupt(proc)
            rc = wait_exit(proc, 120)
        finally:
            if proc.poll() is None:
                interrupt(proc, 9)
    finally:
        fake.stop()
    assert rc is not None, "apply did not stop within 120 s of Ctrl-C"
    assert time.monotonic() - t0 < 30
    text = check_background(sb, proc, out)
    assert rc != 0, text
    (iid,) = _instance_ids(moto)
    assert instance_state(moto, iid) == "terminated"
    assert iam_names(moto) == ([], []) and airflow_groups(moto) == []
    names = [p["Name"] for p in moto.client("ssm").describe_parameters()["Parameters"]]
    assert not [n for n in names if n.startswith("/sparkflow/airflow/")], names


def test_example_emr_and_airflow(aws_sandbox, moto, proxy, executor, airflow):
    """examples/aws as a user applies it (main.tf without the pipeline, and
    airflow.tf), with only a bucket name and a CIDR: the EMR cluster and the
    EC2 Airflow come up, the plan is then empty, destroy removes both."""
    sb = aws_sandbox
    setup_lake(moto)
    sb.extra_env["SPARKFLOW_TEST_EC2_AIRFLOW_URL"] = airflow.url
    d = workdir(sb, "example", proxy, pipeline=False, tfvars='allowed_cidr = "203.0.113.7/32"\n')
    (d / "airflow.tf").write_text((EXAMPLE / "airflow.tf").read_text())
    sb.init(d)
    r = sb.run("apply", cwd=d, timeout=600)
    assert "Resources: 2 added" in r.output, r.describe()
    res = sb.resources(d)
    assert res["sparkflow_airflow.aws"]["url"] == airflow.url
    assert res["sparkflow_cluster.emr"]["id"].startswith("j-")
    out = sb.run("output", "-raw", "airflow_password", cwd=d).stdout
    assert out == res["sparkflow_airflow.aws"]["password"]
    r = sb.run("plan", "-detailed-exitcode", cwd=d, ok=None)
    assert r.rc == 0, r.describe()
    sb.run("destroy", cwd=d, timeout=600)
    assert [instance_state(moto, i) for i in _instance_ids(moto)] == ["terminated"]
    assert iam_names(moto) == ([], []) and airflow_groups(moto) == []
