"""The provider's AWS side as a user meets it, through the real Terraform CLI
against moto (fixtures from conftest.py; helpers from test_emr_e2e.py):

  test_failed_step_diagnostic      a failing EMR step: the apply error names the
                                   stage, EMR's FailureDetails and the log's last
                                   lines; published outputs untouched, no staging left
  test_bad_credentials_fail_early  wrong keys in the environment: `terraform plan`
                                   fails at configure (STS GetCallerIdentity), naming
                                   the source, before any EMR call
  test_local_needs_no_aws          a local-only configuration with no AWS settings
                                   and no AWS environment: plan makes no AWS call
"""

from __future__ import annotations

import pytest

from test_emr_e2e import BUCKET, plain_lake, plain_pipeline_config, s3_keys, workdir


def test_failed_step_diagnostic(aws_sandbox, moto, proxy, executor, tmp_path):
    sb = aws_sandbox
    s3 = moto.client("s3")
    script = plain_lake(s3, tmp_path)
    d = workdir(sb, "fail", proxy, main=plain_pipeline_config(proxy.url, script))
    sb.init(d)
    executor.fail_next(1, "injected failure: the job could not start")
    r = sb.run("apply", cwd=d, timeout=600, ok=None)
    assert r.rc != 0, r.describe()
    out = r.output
    assert "Pipeline stage failed" in out, r.describe()
    assert 'Stage "count"' in out and "FAILED" in out, r.describe()
    assert "injected failure" in out, r.describe()
    assert s3_keys(s3, "_sparkflow/tmp/") == []
    assert s3_keys(s3, "counted/_sparkflow/published.json") == []
    p = sb.resources(d).get("sparkflow_pipeline.plain")
    if p is not None:
        assert p["status"] == "failed", p


def test_bad_credentials_fail_early(aws_sandbox, moto, proxy):
    if not moto.verified:
        pytest.skip("moto does not verify signatures in this run (SF_AWS_VERIFY_SIGNATURES=0)")
    sb = aws_sandbox
    moto.client("s3").create_bucket(Bucket=BUCKET)
    sb.extra_env.update({"AWS_ACCESS_KEY_ID": "AKIAWRONGWRONGWRONG1", "AWS_SECRET_ACCESS_KEY": "not-the-secret"})
    d = workdir(sb, "badcreds", proxy, pipeline=False)
    sb.init(d)
    r = sb.run("plan", cwd=d, ok=None)
    assert r.rc != 0, r.describe()
    assert "AWS credentials rejected" in r.output and "environment" in r.output, r.describe()
    assert "not-the-secret" not in r.output
    assert proxy.count("emr") == 0, proxy.counts()


LOCAL_ONLY = """
terraform {
  required_providers {
    sparkflow = { source = "sparkflow/sparkflow" }
  }
}
provider "sparkflow" {}
resource "sparkflow_cluster" "dev" {
  name = "dev"
  local { workers = 1 }
}
"""


def test_local_needs_no_aws(aws_sandbox, moto, proxy):
    sb = aws_sandbox
    for k in [k for k in sb.extra_env if k.startswith("AWS_")]:
        sb.extra_env.pop(k)
    d = sb.workdir("local-only", LOCAL_ONLY)
    sb.init(d)
    r = sb.run("plan", cwd=d)
    assert "1 to add" in r.output, r.describe()
    assert proxy.snapshot() == [], proxy.counts()
