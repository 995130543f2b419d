"""The dbt stage (dags/jobs/build_dbt_models.py) with real Spark, real dbt
(.venv-dbt, made by scripts/bootstrap) and real DuckDB.

One generated lake goes through validate -> process -> marts once (a module
fixture), with one planted transaction far above its category's usual
amounts; then the dbt stage builds the dashboard models.  The models are
checked against the Spark stages' own tables and metrics (two
implementations of income, spending and categories), against a pure-Python
computation of the unusual-spending score, and where the catalog will look
for them (<work>/dbt/<model>/*.parquet).  Failures run on copies of the work
dir: a failing dbt test (a duplicated transaction) under the local engine's
stage runner with spark-submit, as the provider runs it; a failing model; no
dbt; missing tables.
"""

import html
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import yaml
from pyspark.sql import functions as F

import build_dbt_models
import build_marts
import generate
import process_transactions
import validate_transactions
from conftest import ROOT, file_uri, read_metrics, run_job
from sparkflow_jobs import dbt_build, report, validate

PROJECT = ROOT / "dags" / "dbt"
RUNNER = ROOT / "engines" / "local" / "stage_runner.py"
DASHBOARDS = (
    "monthly_trends",
    "savings_rate",
    "category_trends",
    "budget_variance",
    "unusual_spending",
    "data_quality",
)
PLANTED = "planted-unusual-0001"
MIN_SCORE, MIN_HISTORY = 3.5, 20  # dbt_project.yml vars


class Run:
    """What the module fixture made."""

    def __init__(self, root, work, std, metrics, project_files):
        self.root, self.work, self.std, self.metrics, self.project_files = root, work, std, metrics, project_files


def _tree(path):
    return sorted(str(p.relative_to(path)) for p in Path(path).rglob("*"))


def _spark_conf(spark):
    # marts reads month=YYYY-MM as strings; so do the helpers here
    spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")


def _plant_unusual(spark, work):
    """Append one Dining payment 60 times the category's first one (a new
    txn_id) to the curated transactions, as the process stage wrote them."""
    _spark_conf(spark)
    uri = file_uri(work / "transactions")
    row = spark.read.parquet(uri).where("category = 'Dining' and amount < 0").orderBy("txn_id").limit(1)
    planted = (
        row.withColumn("txn_id", F.lit(PLANTED))
        .withColumn("amount", (F.col("amount") * 60).cast("decimal(12,2)"))
        .withColumn("exported_amount", (F.col("exported_amount") * 60).cast("decimal(12,2)"))
    )
    planted.write.mode("append").partitionBy("month").parquet(uri)


@pytest.fixture(scope="module")
def run(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("dbt")
    lake = root / "lake"
    generate.main(["--out", str(lake), "--transactions", "3000", "--seed", "23", "--bad-files"])
    manifest = json.loads((lake / "manifest.json").read_text())
    work = root / "work"
    std = ["--input", file_uri(lake / "raw" / "transactions"), "--work", file_uri(work)]
    metrics = {}
    for job in (validate_transactions, process_transactions, build_marts):
        if job is build_marts:
            _plant_unusual(spark, work)
        path = root / f"{job.JOB}.json"
        extra = ["--as-of", manifest["as_of_min"]] if job is validate_transactions else []
        assert run_job(job, std + ["--metrics", str(path)] + extra, spark) == 0, job.JOB
        metrics[job.JOB] = read_metrics(path)
    # what an earlier build left in <work>/dbt (a model since removed) must go
    (work / "dbt" / "old_model").mkdir(parents=True)
    (work / "dbt" / "old_model" / "data_0.parquet").write_bytes(b"PAR1")
    before = _tree(PROJECT)
    path = root / "dbt.json"
    assert run_job(build_dbt_models, std + ["--metrics", str(path)], spark) == 0
    metrics["dbt"] = read_metrics(path)
    return Run(root, work, std, metrics, (before, _tree(PROJECT)))


def _rows(folder):
    """The rows of the Parquet table in `folder` through DuckDB, read the way
    the catalog reads a table directory."""
    rel = duckdb.sql(f"select * from read_parquet('{folder / '*.parquet'}')")
    return [dict(zip(rel.columns, r, strict=True)) for r in rel.fetchall()]


def _table(work, name):
    """A dbt model's rows."""
    return _rows(work / "dbt" / name)


def _mart(work, name):
    return _rows(work / "marts" / name)


# ---- what the project declares, read independently of dbt ---------------------


def _yaml(path):
    return yaml.safe_load(path.read_text())


def _declared_tests():
    """Every data test of the project, as the set of models and sources
    ("source:<table>") it reads: the node it is attached to in the YAML, the
    target of a relationships test, the ref()s and source()s of a singular
    test (tests/*.sql)."""
    out = []

    def refs(text):
        found = {m for m in re.findall(r"ref\('(\w+)'\)", text)}
        return found | {f"source:{t}" for t in re.findall(r"source\('\w+', '(\w+)'\)", text)}

    def add(entries, node):
        tests = list(entries.get("data_tests", []) or [])
        for col in entries.get("columns", []) or []:
            tests += col.get("data_tests", []) or []
        for t in tests:
            target = t.get("relationships", {}).get("arguments", {}).get("to", "") if isinstance(t, dict) else ""
            out.append({node} | refs(target))

    for y in PROJECT.glob("models/**/*.yml"):
        doc = _yaml(y)
        for m in doc.get("models", []) or []:
            add(m, m["name"])
        for s in doc.get("sources", []) or []:
            for t in s.get("tables", []):
                add(t, f"source:{t['name']}")
    for sql in (PROJECT / "tests").glob("*.sql"):
        out.append(refs(sql.read_text()))
    return out


def _tests_reading(nodes):
    """How many of the project's tests read any of `nodes`."""
    return sum(1 for deps in _declared_tests() if deps & set(nodes))


def _declared_models():
    return sorted(p.stem for p in (PROJECT / "models").rglob("*.sql"))


# ---- the successful build -----------------------------------------------------


def test_metrics_count_every_model_and_test(run):
    m = run.metrics["dbt"]
    tests = len(_declared_tests())
    assert {k: v for k, v in m.items() if k != "dbt_build_ms"} == {
        "dbt_models_built": len(_declared_models()),
        "dbt_models_failed": 0,
        "dbt_models_skipped": 0,
        "dbt_tests_passed": tests,
        "dbt_tests_failed": 0,
        "dbt_tests_warned": 0,
        "dbt_tests_skipped": 0,
        "report_dbt_charts": 1,
    }
    assert m["dbt_build_ms"] > 0
    assert tests > 40 and set(DASHBOARDS) < set(_declared_models())


def test_models_are_parquet_tables_where_the_catalog_finds_them(run):
    out = run.work / "dbt"
    # one directory per dashboard model (and no other: the fixture left an
    # old one there), holding Parquet files and nothing else
    assert sorted(p.name for p in out.iterdir()) == sorted(DASHBOARDS)
    for name in DASHBOARDS:
        files = sorted((out / name).iterdir())
        assert files and all(f.suffix == ".parquet" and f.stat().st_size > 0 for f in files), files
    # staging is a view in the scratch database, never a table in the lake
    assert not (out / "stg_transactions").exists()
    # nothing else of dbt's reached the work dir, nor the project's folder
    for p in run.work.rglob("*"):
        assert p.suffix not in (".duckdb", ".wal", ".msgpack", ".log"), p
        assert p.name not in ("target", "logs", "run_results.json", "manifest.json"), p
    before, after = run.project_files
    assert after == before


def test_savings_rate_equals_the_marts_monthly_summary(run):
    rows = {r["month"]: r for r in _table(run.work, "savings_rate")}
    marts = {r["month"]: r for r in _mart(run.work, "monthly_summary")}
    assert len(rows) == len(marts) == run.metrics["marts"]["mart_monthly_summary_rows"]
    for month, mr in marts.items():
        r = rows[month]
        assert (r["income"], r["spend"], r["saved"]) == (mr["income"], mr["spend"], mr["net"]), month
        assert r["savings_rate_pct"] == pytest.approx(mr["savings_rate"], abs=0.05), month
    income = sum((r["income"] for r in rows.values()), Decimal(0))
    spend = sum((r["spend"] for r in rows.values()), Decimal(0))
    assert float(income) == pytest.approx(run.metrics["marts"]["total_income"], abs=0.005)
    assert float(spend) == pytest.approx(run.metrics["marts"]["total_spend"], abs=0.005)
    # the running total ends at what was saved over the whole period
    last = max(rows.values(), key=lambda r: r["month"])
    assert last["cumulative_saved"] == income - spend
    # the trailing 12-month rate of the last month, recomputed
    window = sorted(rows)[-12:]
    saved12 = sum(rows[m]["saved"] for m in window)
    income12 = sum(rows[m]["income"] for m in window)
    assert last["savings_rate_12m_pct"] == pytest.approx(float(saved12 * 100 / income12), abs=0.05)


def test_monthly_trends_count_every_transaction(run):
    rows = _table(run.work, "monthly_trends")
    assert sum(r["transactions"] for r in rows) == run.metrics["process"]["transactions"] + 1  # + the planted one
    assert len(rows) == run.metrics["process"]["transaction_months"]


def test_category_trends_are_the_spend_by_category_mart_on_a_full_grid(run):
    rows = _table(run.work, "category_trends")
    mart = _mart(run.work, "spend_by_category")
    months = {r["month"] for r in _mart(run.work, "monthly_summary")}
    categories = {r["category"] for r in mart}
    assert len(rows) == len(months) * len(categories)
    assert {(r["month"], r["category"]) for r in rows} == {(m, c) for m in months for c in categories}
    got = {(r["month"], r["category"]): (r["spend"], r["transactions"]) for r in rows}
    for r in mart:
        assert got.pop((r["month"], r["category"])) == (r["spend"], r["transactions"])
    assert all(v == (0, 0) for v in got.values())  # the cells the mart has no row for
    for month in months:
        ranks = sorted(r["rank_in_month"] for r in rows if r["month"] == month)
        assert ranks == list(range(1, len(categories) + 1))


def test_budget_variance_follows_budget_vs_actual(run):
    rows = _table(run.work, "budget_variance")
    assert len(rows) == run.metrics["marts"]["mart_budget_vs_actual_rows"]
    for r in rows:
        assert r["variance"] == r["actual"] - r["budget"]
        near = r["budget"] > 0 and r["actual"] >= r["budget"] * Decimal("0.9")
        expected = "over" if r["actual"] > r["budget"] else "near" if near else "under"
        assert r["status"] == expected, r
    # year to date: the sum of the year's months so far
    by_line = {}
    for r in sorted(rows, key=lambda r: r["month"]):
        key = (r["currency"], r["category"], r["month"][:4])
        by_line[key] = by_line.get(key, Decimal(0)) + r["actual"]
        assert r["ytd_actual"] == by_line[key], r


def test_data_quality_counts_every_row_read(run):
    rows = _table(run.work, "data_quality")
    v = run.metrics["validate"]
    assert sum(r["valid_rows"] for r in rows) == v["valid"]
    assert sum(r["rejected_rows"] for r in rows) == v["rejected"]
    assert all(r["top_reject_reason"] in validate.REASONS for r in rows if r["rejected_rows"])


def _python_scores(spark, work):
    """{txn_id: score} of every spend transaction, computed here: the
    modified z-score of ln(amount) within (currency, category)."""
    _spark_conf(spark)
    spend = (
        spark.read.parquet(file_uri(work / "transactions"))
        .where("amount < 0 and category not in ('Income', 'Transfer')")
        .select("txn_id", "currency", "category", "amount")
        .collect()
    )
    groups = {}
    for r in spend:
        groups.setdefault((r["currency"], r["category"]), []).append((r["txn_id"], math.log(-float(r["amount"]))))
    scores = {}
    for rows in groups.values():
        if len(rows) < MIN_HISTORY:
            continue
        logs = [x for _, x in rows]
        med = statistics.median(logs)
        scale = max(1.4826 * statistics.median(abs(x - med) for x in logs), 0.1)
        scores.update({t: (x - med) / scale for t, x in rows})
    return scores


def test_unusual_spending_finds_the_planted_payment_and_agrees_with_python(spark, run):
    rows = {r["txn_id"]: r for r in _table(run.work, "unusual_spending")}
    scores = _python_scores(spark, run.work)
    assert PLANTED in rows
    assert rows[PLANTED]["category"] == "Dining"
    assert rows[PLANTED]["score"] == pytest.approx(round(scores[PLANTED], 1), abs=0.051)
    assert rows[PLANTED]["severity"] == ("extreme" if scores[PLANTED] >= 2 * MIN_SCORE else "high")
    # the same transactions as the Python computation (away from the threshold)
    assert {t for t, s in scores.items() if s >= MIN_SCORE + 1e-6} <= set(rows)
    assert set(rows) <= {t for t, s in scores.items() if s >= MIN_SCORE - 1e-6}


def test_the_report_shows_the_dbt_models(run):
    page = (run.work / "report" / "index.html").read_text(encoding="utf-8")
    assert page.count('<section id="dbt-models">') == 1
    assert page.count("<svg") == run.metrics["marts"]["report_charts"] + run.metrics["dbt"]["report_dbt_charts"]
    section = page[page.index('<section id="dbt-models">') : page.index("</section>")]
    assert 'aria-label="Savings rate per month"' in section
    # every month of the model is a bar, with its rate in the tooltip
    rates = _table(run.work, "savings_rate")
    for r in rates:
        assert f"{report.month_label(r['month'])} · Savings rate: {r['savings_rate_pct']:.1f}%" in section
    assert section.index("Savings rate") < section.index("Unusual spending")
    planted = next(r for r in _table(run.work, "unusual_spending") if r["txn_id"] == PLANTED)
    assert f'<td class="">{planted["txn_date"]}</td><td class="">{html.escape(planted["merchant"])}</td>' in section
    # the marts' page is still all there, the footer last
    assert page.index("Income and spending per month") < page.index('<section id="dbt-models">')
    assert page.index("</section>") < page.index("<footer>")


def test_a_rebuilt_section_replaces_the_old_one():
    page = "<html><main><h1>x</h1><footer>f</footer></main></html>"
    once = report.add_section(page, '<section id="dbt-models">one</section>')
    twice = report.add_section(once, '<section id="dbt-models">two</section>')
    assert twice == '<html><main><h1>x</h1><section id="dbt-models">two</section><footer>f</footer></main></html>'


# ---- what the stage relies on, kept in step with the project ---------------------


def test_sources_are_the_tables_the_stage_checks_for():
    doc = _yaml(PROJECT / "models" / "sources.yml")
    paths = {t["config"]["meta"]["path"] for s in doc["sources"] for t in s["tables"]}
    assert paths == set(dbt_build.SOURCES)


def test_accepted_reject_reasons_are_the_validate_stage_reasons():
    doc = _yaml(PROJECT / "models" / "sources.yml")
    rejected = next(t for t in doc["sources"][0]["tables"] if t["name"] == "rejected")
    col = next(c for c in rejected["columns"] if c["name"] == "reject_reason")
    accepted = next(t["accepted_values"] for t in col["data_tests"] if isinstance(t, dict))
    assert tuple(accepted["arguments"]["values"]) == validate.REASONS


# ---- failures -----------------------------------------------------------------


def _copy_work(run, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(run.work, work, ignore=shutil.ignore_patterns("dbt"))
    return work


def test_a_failing_dbt_test_fails_the_stage_under_the_stage_runner(spark, run, tmp_path):
    """A transaction written twice: the source test on txn_id fails, the
    models built on the transactions are skipped, and the stage exits 2 with
    the test's name and dbt's message as its last log line, which is what
    the provider's diagnostic shows."""
    work = _copy_work(run, tmp_path)
    page = (work / "report" / "index.html").read_bytes()
    _spark_conf(spark)
    uri = file_uri(work / "transactions")
    spark.read.parquet(uri).where(F.col("txn_id") != PLANTED).orderBy("txn_id").limit(1).write.mode(
        "append"
    ).partitionBy("month").parquet(uri)

    metrics, log = tmp_path / "dbt.json", tmp_path / "dbt.log"
    argv = ["--work", file_uri(work), "--metrics", str(metrics)]
    spec = {
        "app": "dbt-failure",
        "events": str(tmp_path / "events.jsonl"),
        "stages": [{"name": "dbt", "script": build_dbt_models.__file__, "argv": argv, "log": str(log)}],
    }
    (tmp_path / "run.json").write_text(json.dumps(spec))
    import pyspark

    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    env.pop("PYTHONPATH", None)
    cmd = [str(submit), "--master", "local[1]", "--conf", "spark.ui.enabled=false"]
    cmd += ["--driver-java-options", "-XX:TieredStopAtLevel=1", str(RUNNER), str(tmp_path / "run.json")]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    text = log.read_text()
    assert proc.returncode == 2, proc.stderr[-3000:] + text[-3000:]
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [(e["event"], e.get("exit")) for e in events] == [("start", None), ("end", 2)]

    skipped_models = ["stg_transactions", "monthly_trends", "savings_rate", "category_trends", "unusual_spending"]
    skipped_tests = _tests_reading(skipped_models)
    last = text.rstrip().splitlines()[-1]
    assert last == (
        f"dbt: FAILED: dbt build failed ({len(skipped_models)} models and {skipped_tests} tests skipped): "
        "1 failure: test source_unique_pipeline_transactions_txn_id: Got 1 result, configured to fail if != 0"
    )
    m = read_metrics(metrics)
    assert m["dbt_tests_failed"] == 1 and m["dbt_models_failed"] == 0
    assert m["dbt_models_skipped"] == len(skipped_models)
    assert m["dbt_models_built"] == len(_declared_models()) - len(skipped_models)
    assert m["dbt_tests_passed"] == len(_declared_tests()) - skipped_tests - 1
    assert "report_dbt_charts" not in m
    # the report was left as it was
    assert (work / "report" / "index.html").read_bytes() == page


def test_a_failing_model_names_the_model_and_dbts_error(spark, run, tmp_path, capsys):
    work = _copy_work(run, tmp_path)
    metrics = tmp_path / "dbt.json"
    argv = ["--work", file_uri(work), "--metrics", str(metrics), "--dbt-vars", '{"unusual_min_score": "oops"}']
    assert run_job(build_dbt_models, argv, spark) == 2
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("dbt: ")][-1]
    assert re.match(
        r"dbt: FAILED: dbt build failed \(0 models and (\d+) tests skipped\): 1 failure: model unusual_spending: ", line
    ), line
    assert 'Referenced column "oops" not found' in line
    m = read_metrics(metrics)
    assert m["dbt_models_failed"] == 1 and m["dbt_models_built"] == len(_declared_models()) - 1
    assert m["dbt_tests_skipped"] == _tests_reading(["unusual_spending"])
    assert m["dbt_tests_failed"] == 0


def test_without_dbt_the_stage_says_where_it_looked(spark, run, tmp_path, capsys):
    missing = tmp_path / "no" / "dbt"
    argv = ["--work", file_uri(run.work), "--dbt", str(missing)]
    assert run_job(build_dbt_models, argv, spark) == 2
    assert f"dbt: FAILED: dbt not found: tried {missing} (--dbt)\n" in capsys.readouterr().out


def test_missing_tables_name_the_stage_to_run(spark, tmp_path, capsys):
    work = tmp_path / "work"
    (work / "marts" / "cash_flow").mkdir(parents=True)
    (work / "marts" / "cash_flow" / "_SUCCESS").write_text("")
    assert run_job(build_dbt_models, ["--work", file_uri(work)], spark) == 2
    out = capsys.readouterr().out
    assert f"dbt: FAILED: no Parquet in {work} for: valid (validate stage), rejected (validate stage), " in out
    assert "marts/cash_flow (marts stage)" in out and "run those stages first" in out


def test_a_remote_work_dir_is_refused(spark, capsys):
    assert run_job(build_dbt_models, ["--work", "s3a://bucket/work"], spark) == 2
    assert "needs a file:// work dir" in capsys.readouterr().out


def test_the_script_runs_on_its_own():
    """As spark-submit runs it: the shared package is found from the script's
    own folder (no PYTHONPATH), and the help names every argument."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    p = subprocess.run(
        [sys.executable, build_dbt_models.__file__, "--help"], env=env, capture_output=True, text=True, cwd="/"
    )
    assert p.returncode == 0, p.stderr
    for arg in ("--work URI", "--metrics PATH", "--dbt PATH", "--project DIR", "--threads N", "--dbt-vars JSON"):
        assert arg in p.stdout, arg
