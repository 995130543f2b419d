"""The fingerprint a DAG records when it publishes is the one the provider
plans (resources/pipeline.c): otherwise a run published from Airflow would
not count as covering the inputs and the next `terraform plan` would run the
pipeline again.  The provider plans a pipeline through the real Terraform
CLI; spec.pipeline_fingerprint() must give the same value for the same
configuration and files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from airflow_env import ROOT
from sparkflow_airflow.lake import FileLake
from sparkflow_airflow.spec import parse_spec, pipeline_fingerprint

sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from tfharness import Sandbox, discover_clients, provider_binary  # noqa: E402

CONFIG = """
terraform {
  required_providers {
    sparkflow = { source = "sparkflow/sparkflow" }
  }
}
resource "sparkflow_pipeline" "p" {
  name       = "finances"
  cluster_id = "local-not-needed-to-plan"
  lake       = "file://%(lake)s"
  input      = "raw/transactions"
  output     = "curated"
  stage {
    name       = "validate"
    script     = "%(scripts)s/validate.py"
    args       = ["--as-of", "2026-01-01", "tab\\there"]
    spark_conf = { "spark.sql.shuffle.partitions" = "2", "spark.a" = "x" }
  }
  stage {
    name   = "marts"
    script = "%(scripts)s/marts.py"
  }
}
"""


@pytest.mark.skipif(not provider_binary().exists(), reason="provider not built (make build)")
def test_pipeline_fingerprint_is_the_providers(tmp_path: Path) -> None:
    clients = discover_clients()
    if not clients:
        pytest.skip("no Terraform CLI (scripts/bootstrap)")
    lake, scripts = tmp_path / "lake", tmp_path / "scripts"
    for d in (lake / "raw" / "transactions" / "2025", lake / "reference", scripts):
        d.mkdir(parents=True)
    (lake / "raw" / "transactions" / "a.csv").write_text("Date,Account\n")
    (lake / "raw" / "transactions" / "2025" / "b.csv").write_text("x\n")
    (lake / "raw" / "transactions" / "_SUCCESS").write_text("")
    (lake / "reference" / "rules.csv").write_text("pattern,category\n")
    (scripts / "validate.py").write_text("print('validate')\n")
    (scripts / "marts.py").write_text("print('marts')\n")
    config = CONFIG % {"lake": lake, "scripts": scripts}
    sb = Sandbox(tmp_path / "tf", clients[0])
    wd = sb.workdir("p", config)
    sb.init(wd)
    sb.run("plan", "-out=plan.bin", cwd=wd, timeout=120)
    planned = sb.show_json(wd, "plan.bin")
    after = planned["resource_changes"][0]["change"]["after"]
    spec = parse_spec(
        {
            "format": 1,
            "pipeline": "finances",
            "engine": "local",
            "lake": f"file://{lake}",
            "input": "raw/transactions",
            "output": "curated",
            "stages": [
                {
                    "name": "validate",
                    "script": str(scripts / "validate.py"),
                    "args": ["--as-of", "2026-01-01", "tab\there"],
                    "conf": {"spark.sql.shuffle.partitions": "2", "spark.a": "x"},
                },
                {"name": "marts", "script": str(scripts / "marts.py")},
            ],
            "local": {"master": "spark://127.0.0.1:7077", "spark_submit": "/x/spark-submit", "python": "/x/python"},
        }
    )
    assert after["fingerprint"].startswith("sha256:")
    assert pipeline_fingerprint(spec, FileLake()) == after["fingerprint"], json.dumps(after, indent=1)
