"""End-to-end: examples/dashboards/main.tf as written (its `jobs` and `dbt`
locals pointing at copies the test may edit), with a real Terraform CLI, real
Spark, real dbt (dbt-duckdb, from .venv-dbt) and real DuckDB.

  01  apply: four stages succeed; the dbt models are published with the
      Spark tables and are views in the DuckDB catalog; their numbers agree
      with the marts (savings rate = monthly summary, category trends =
      spend by category); dbt's results are in the metrics; the report has
      the dbt section
  02  a dbt test that fails: the change to the dbt project re-runs the
      pipeline (the example's `triggers`), the dbt stage fails naming the
      test, nothing is published (the catalog answers with the last good run)

(Removing the test again publishes as step 01 does: not repeated here, each
run costs a minute of CI.)
Runs once per scripts/test pass, on the primary Terraform client.
"""

import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from pipeline_support import RUN_TIMEOUT, copy_jobs, generate, outputs, published
from tfharness import ROOT, discover_clients

pytestmark = pytest.mark.once  # conftest.py: one pass per scripts/test run

EXAMPLE = ROOT / "examples" / "dashboards" / "main.tf"
QS = "sparkflow_pipeline.finances"
DBT_MODELS = (
    "monthly_trends",
    "savings_rate",
    "category_trends",
    "budget_variance",
    "unusual_spending",
    "data_quality",
)
FAILING_TEST = "sparkflow_e2e_must_fail"


def flat(text):
    return " ".join(text.split())


def example_config(jobs: Path, dbt: Path) -> str:
    text = EXAMPLE.read_text()
    for name, path in (("jobs", jobs), ("dbt", dbt)):
        pattern = re.compile(
            rf'^(\s*{name}\s*=\s*)"\$\{{abspath\(path\.module\)\}}/\.\./\.\./dags/{name}"\s*$', re.MULTILINE
        )
        text, n = pattern.subn(lambda m, p=path: f'{m.group(1)}"{p}"', text)
        assert n == 1, f"the example's `{name}` local is not where the test expects it"
    return text


@pytest.fixture(scope="class")
def world(class_sandbox):
    sb = class_sandbox
    primary = next(iter(discover_clients()), None)
    if primary and sb.client.path != primary.path:
        pytest.skip(f"Spark-heavy: runs on the primary Terraform client only ({primary.id})")
    lake = sb.root / "lake"
    generate(lake, "--transactions", "3000", "--months", "6", "--end", "2025-06-30", "--seed", "5")
    # The jobs find the dbt project beside their folder (dags/dbt): copy both.
    jobs = copy_jobs(sb.root / "dags" / "jobs")
    dbt = sb.root / "dags" / "dbt"
    shutil.copytree(ROOT / "dags" / "dbt", dbt, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    # The dbt stage finds dbt in the checkout holding its jobs (<jobs>/../../.venv-dbt).
    (sb.root / ".venv-dbt").symlink_to(ROOT / ".venv-dbt")
    d = sb.workdir("dash", example_config(jobs, dbt))
    (d / "terraform.tfvars").write_text(f'lake_dir = "{lake}"\n')
    return SimpleNamespace(sb=sb, lake=lake, dbt=dbt, d=d, run=None, done=set())


def needs(w, *steps):
    missing = [s for s in steps if s not in w.done]
    if missing:
        pytest.fail(f"needs the earlier step(s) {missing}, which did not complete", pytrace=False)


def query(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


class TestDashboards:
    def test_01_apply_publishes_dbt_models_in_the_catalog(self, world):
        w, sb = world, world.sb
        sb.init(w.d)
        r = sb.run("apply", cwd=w.d, timeout=RUN_TIMEOUT)
        assert "Apply complete! Resources: 2 added, 0 changed, 0 destroyed." in r.output, r.output
        res = sb.resources(w.d)[QS]
        assert [s["name"] for s in res["stages"]] == ["validate", "process", "marts", "dbt"]
        assert all(s["status"] == "succeeded" for s in res["stages"]), res["stages"]
        m = res["metrics"]
        assert m["dbt_models_failed"] == 0 and m["dbt_tests_failed"] == 0, m
        assert m["dbt_tests_passed"] >= 40 and m["dbt_models_built"] >= len(DBT_MODELS), m
        out = outputs(sb, w.d)
        assert out["dbt"]["dbt_tests_passed"] == m["dbt_tests_passed"], out["dbt"]
        # The models are published with the Spark tables and are in the catalog.
        for model in DBT_MODELS:
            assert res["tables"][model] == f"file://{w.lake}/curated/dbt/{model}", (model, res["tables"])
        pub = published(w.lake, "curated")
        assert pub["run_id"] == res["run_id"]
        db = Path(res["catalog_database"])
        assert db == w.lake / "finances.duckdb"
        # The numbers agree with the marts, through the catalog's views.
        diff = query(
            db,
            "select count(*) from savings_rate s join monthly_summary m using (month, currency) "
            "where abs(s.income - m.income) > 0.005 or abs(s.spend - m.spend) > 0.005",
        )
        assert diff == [(0,)], diff
        (n_sr,), (n_ms,) = (
            query(db, "select count(*) from savings_rate")[0],
            query(db, "select count(*) from monthly_summary")[0],
        )
        assert n_sr == n_ms == m["mart_monthly_summary_rows"], (n_sr, n_ms)
        total = query(db, "select sum(spend) from savings_rate")[0][0]
        assert abs(float(total) - m["total_spend"]) < 0.005, (total, m["total_spend"])
        spend = query(
            db,
            "select count(*) from category_trends c join spend_by_category s using (month, category, currency) "
            "where abs(c.spend - s.spend) > 0.005",
        )
        assert spend == [(0,)], spend
        # The report shows a chart made from a dbt model.
        report = (w.lake / "curated" / "report" / "index.html").read_text(encoding="utf-8")
        assert 'id="dbt-models"' in report and "savings" in report.lower(), report[-2000:]
        w.run = res
        w.done.add("applied")

    def test_02_failing_dbt_test_fails_the_stage_and_keeps_the_last_good_tables(self, world):
        w, sb = world, world.sb
        needs(w, "applied")
        (w.dbt / "tests" / f"{FAILING_TEST}.sql").write_text(
            "-- added by tests/e2e/test_dashboards.py: returns a row, so it fails\nselect 1 as failure\n"
        )
        r = sb.run("plan", cwd=w.d, timeout=300)
        assert "~ triggers" in r.output and "Plan: 0 to add, 1 to change, 0 to destroy." in r.output, r.output
        r = sb.run("apply", cwd=w.d, timeout=RUN_TIMEOUT, ok=False)
        t = flat(r.output)
        assert "Error: Pipeline stage failed" in t and 'Stage "dbt" of pipeline "household-finances" failed' in t, (
            r.output
        )
        assert FAILING_TEST in t, r.output
        assert "The previously published outputs are unchanged." in t
        res = sb.resources(w.d)[QS]
        assert res["status"] == "failed" and res["run_id"] == w.run["run_id"], res
        assert [s["status"] for s in res["stages"]] == ["succeeded", "succeeded", "succeeded", "failed"]
        assert published(w.lake, "curated")["run_id"] == w.run["run_id"]
        db = w.lake / "finances.duckdb"
        n = query(db, "select count(*) from savings_rate")[0][0]
        assert n == w.run["metrics"]["mart_monthly_summary_rows"]
        w.done.add("failed")
