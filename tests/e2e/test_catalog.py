"""End-to-end: the catalog of a sparkflow_pipeline on a file:// lake — a
DuckDB database in the lake with one view per published table — with a
real Terraform CLI, real Spark and real DuckDB (the `duckdb` Python package
and the `duckdb` CLI of the venv, both pinned in requirements.txt).

One class, one sandbox, one small local cluster declared in the config (one
one-core worker) and the fixture job tests/e2e/fixtures/jobs/line_count.py
(it publishes one table, `lines`) on a small lake; steps in order:

  01  bad catalog settings (name, bytes-scanned cutoff, workgroup) fail at
      plan with the attribute's line; nothing is created
  02  apply: `catalog_database` is <lake>/fx.duckdb, `tables` names the one
      table at its place under the published link, its view counts what
      the job's metrics say, the marker names the pipeline; re-plan: No
      changes
  03  a read-only connection opened before a re-run sees the new run's rows:
      the views follow the published link, not the sync
  04  a second pipeline (fx-two) whose catalog path holds someone's own
      DuckDB file: its first apply publishes but fails with `Catalog not
      updated`; the file is left as it was
  05  the next plan is an in-place update that runs nothing; with a
      non-DuckDB file in the way it fails again, untouched; with the path
      free it repairs the catalog (the stage results prove no Spark ran)
  06  two pipelines, one lake: fx-two cannot take fx's catalog; revert
  07  `enabled = false` removes fx-two's catalog without a run; back on
  08  renaming fx's database moves its catalog without a run
  09  destroy fx-two with delete_outputs_on_destroy: its catalog goes, fx's
      stays; destroy everything: fx's catalog, kept with the data, still
      answers

Every count is checked against the run's own metrics, in DuckDB through
the Python package (read-only connections) and through the CLI.
Runs on the primary Terraform client only (Spark-heavy; SF_PIPELINE_CLIENTS
=all runs it on every client), once per scripts/test pass (conftest.py).
"""

import os
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from pipeline_support import (
    FAST_CONF,
    FIXTURE_JOBS,
    RUN_TIMEOUT,
    app_processes,
    config,
    describe,
    file_digest,
    hcl,
    pipeline_block,
    plan_change,
    plan_exitcode,
    published,
    run_dirs,
)
from tfharness import VENV, discover_clients, owned_processes, spark_processes, wait_for

pytestmark = pytest.mark.once  # conftest.py: one pass per scripts/test run

CLUSTER = "sparkflow_cluster.dev"
FX = "sparkflow_pipeline.fx"
FX2 = "sparkflow_pipeline.fx2"
LINES = {"a.txt": 100, "b.txt": 50}
MORE = ("c.txt", 30)  # the export step 03 adds
DUCKDB_CLI = VENV / "bin" / "duckdb"
RUN_KEYS = ("run_id", "fingerprint", "status", "stages", "metrics")

CLUSTER_BLOCK = """\
resource "sparkflow_cluster" "dev" {
  name = "catalog-e2e"
  local {
    workers       = 1
    worker_cores  = 1
    worker_memory = "1g"
  }
}
"""


def flat(text):
    """Terraform wraps diagnostics to its width: compare with whitespace
    collapsed."""
    return " ".join(text.split())


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------


def catalog_block(settings: dict) -> str:
    body = "".join(f"    {k} = {hcl(v)}\n" for k, v in settings.items())
    return f"  catalog {{\n{body}  }}\n"


def fx_block(w, res, name, output, catalog=None, **attrs) -> str:
    """One fixture pipeline on the shared lake and cluster; `catalog`: the
    settings of a `catalog` block (None: no block)."""
    stage = {"name": "count", "script": FIXTURE_JOBS / "line_count.py", "spark_conf": FAST_CONF}
    block = pipeline_block(
        res,
        name=name,
        cluster_id="${sparkflow_cluster.dev.id}",
        lake=w.lake,
        input="raw/events",
        output=output,
        stages=[stage],
        **attrs,
    )
    block = block.replace('"${sparkflow_cluster.dev.id}"', "sparkflow_cluster.dev.id")
    if catalog is not None:
        assert block.endswith("}\n")
        block = block[:-2] + catalog_block(catalog) + "}\n"
    return block


def write(w, fx=None, fx2=None):
    """main.tf: the cluster, fx (settings `fx`, a dict of catalog / extra
    attributes) and, when `fx2` is not None, fx-two."""
    blocks = [CLUSTER_BLOCK, fx_block(w, "fx", "fx", "lines", **(fx or {}))]
    if fx2 is not None:
        blocks.append(fx_block(w, "fx2", "fx-two", "lines2", **fx2))
    text = config(*blocks)
    (w.d / "main.tf").write_text(text)
    return text


# ---------------------------------------------------------------------------
# DuckDB
# ---------------------------------------------------------------------------


def query(db: Path, sql: str) -> list[tuple]:
    """One query on a read-only connection of its own, closed after (the
    Python package shares one open database per path within a process:
    no other connection of this test may be open on `db`)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def cli(db: Path, sql: str) -> str:
    """The DuckDB CLI of the venv, as the README has the user run it."""
    p = subprocess.run(
        [str(DUCKDB_CLI), "-readonly", "-csv", "-noheader", str(db), "-c", sql],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, f"duckdb CLI failed on {db}: {sql}\n{p.stdout}\n{p.stderr}"
    return p.stdout.strip()


def views(db: Path) -> dict[str, str]:
    """name -> SQL of the views of the database's main schema."""
    rows = query(db, "select view_name, sql from duckdb_views() where not internal and schema_name = 'main'")
    return dict(rows)


def marker(db: Path) -> dict[str, str]:
    return dict(query(db, "select key, value from sparkflow_catalog"))


def count(db: Path, table: str = "lines") -> int:
    ((n,),) = query(db, f"select count(*) from {table}")
    return n


# ---------------------------------------------------------------------------
# State and the lake
# ---------------------------------------------------------------------------


def state(w, address=FX):
    return w.sb.resources(w.d).get(address)


def started(res) -> list:
    return [s["started_at"] for s in res["stages"]]


def assert_same_run(before, after):
    """No Spark application ran between two states: the same run, the same
    stage results (their start times included)."""
    for k in RUN_KEYS:
        assert after[k] == before[k], (k, before[k], after[k])
    assert started(after) == started(before)


def assert_catalog(w, res, name, output, rows):
    """The pipeline's catalog in state and on disk: its DuckDB file holds
    exactly one view, `lines`, over the table's place under the published
    link, counting `rows` (= the run's metrics); the marker names it."""
    db = Path(res["catalog_database"])
    pub = published(w.lake, output)
    assert pub["run_id"] == res["run_id"], (pub["run_id"], res["run_id"])
    location = w.lake / output / "lines"
    assert res["tables"] == {"lines": f"file://{location}"}, res["tables"]
    # Under the published link: the run's own table directory.
    assert (w.lake / output).is_symlink()
    assert Path(os.path.realpath(location)) == pub["run_dir"] / "lines", (os.path.realpath(location), pub)
    assert any(f.startswith("lines/") and f.endswith(".parquet") for f in pub["files"]), pub["files"]
    # One view, reading through the link (never a run directory).
    v = views(db)
    assert set(v) == {"lines"}, v
    assert f"'{location}/" in v["lines"] and "_sparkflow" not in v["lines"], v["lines"]
    assert marker(db) == {"pipeline": name, "output": str(w.lake / output)}, marker(db)
    assert res["metrics"]["fixture_lines"] == rows, res["metrics"]
    assert count(db) == rows
    return db


def assert_no_app_processes(sb, timeout=60):
    gone = wait_for(lambda: not app_processes(sb), timeout)
    assert gone, f"Spark application processes still running: {describe(app_processes(sb))}"


def has_unknown(marks) -> bool:
    """Whether an `after_unknown` entry marks anything unknown (nested
    blocks and maps carry empty containers for their known parts)."""
    if isinstance(marks, dict):
        return any(has_unknown(v) for v in marks.values())
    if isinstance(marks, list):
        return any(has_unknown(v) for v in marks)
    return marks is True


def assert_update_without_run(change, catalog_database, tables_unknown):
    """A planned in-place update that runs nothing: the run's attributes
    kept, the catalog's as given."""
    assert change["actions"] == ["update"], change["actions"]
    unknown = change["after_unknown"]
    for k in RUN_KEYS:
        assert not has_unknown(unknown.get(k)), (k, unknown)
        assert change["after"][k] == change["before"][k], (k, change["before"][k], change["after"][k])
    assert change["after"]["catalog_database"] == catalog_database, change["after"]
    if tables_unknown:
        assert unknown.get("tables") is True, unknown
    else:
        assert not unknown.get("tables") and change["after"]["tables"] is None, (unknown, change["after"])


def needs(w, *steps):
    missing = [s for s in steps if s not in w.done]
    if missing:
        pytest.fail(f"needs the earlier step(s) {missing}, which did not complete", pytrace=False)


def line_of(text: str, needle: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in\n{text}")


# ---------------------------------------------------------------------------
# The shared world
# ---------------------------------------------------------------------------


@pytest.fixture(scope="class")
def world(class_sandbox):
    sb = class_sandbox
    primary = next(iter(discover_clients()), None)
    if os.environ.get("SF_PIPELINE_CLIENTS") != "all" and primary and sb.client.path != primary.path:
        pytest.skip(
            f"Spark-heavy: runs on the primary Terraform client only ({primary.id}); "
            "SF_PIPELINE_CLIENTS=all runs it on every client"
        )
    assert DUCKDB_CLI.is_file(), f"{DUCKDB_CLI} missing (duckdb-cli in requirements.txt; run scripts/bootstrap)"
    lake = sb.root / "lake"
    for name, n in LINES.items():
        p = lake / "raw" / "events" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("".join(f"event {i} of {name}\n" for i in range(n)))
    (lake / "reference").mkdir()
    (lake / "reference" / "notes.txt").write_text("the fixture job reads no reference data\n")
    d = sb.workdir("catalog")
    w = SimpleNamespace(sb=sb, d=d, lake=lake, done=set(), cluster=None)
    write(w)
    sb.init(d)
    return w


class TestCatalog:
    # -- 01. names Glue/Athena/DuckDB reject fail at plan ------------------------
    @pytest.mark.parametrize(
        "setting, summary, detail",
        [
            (
                {"database": "Bad-Name"},
                "Invalid catalog name",
                '"Bad-Name" cannot name a catalog database: Glue, Athena and DuckDB take 1 to 64 lower-case '
                'letters, digits and underscores, starting with a letter. "bad_name" would be accepted.',
            ),
            (
                {"bytes_scanned_cutoff": 5},
                "Invalid bytes-scanned cutoff",
                "5 is not a cutoff Athena accepts: give 0 (no cutoff) or at least 10485760 bytes (10 MB).",
            ),
            (
                {"workgroup": "no spaces!"},
                "Invalid workgroup name",
                '"no spaces!" cannot name an Athena workgroup',
            ),
        ],
        ids=["database", "cutoff", "workgroup"],
    )
    def test_01_bad_settings_fail_at_plan(self, world, setting, summary, detail):
        w, sb = world, world.sb
        text = write(w, fx={"catalog": setting})
        ((key, value),) = setting.items()
        needle = f"{key} = {value}" if isinstance(value, int) else f'{key} = "{value}"'
        want_line = line_of(text, needle)
        r = sb.run("plan", cwd=w.d, ok=False)
        out, t = r.output, flat(r.output)
        assert f"Error: {summary}" in out, r.describe()
        assert detail in t, r.describe()
        # The attribute's path: Terraform quotes its line (only done for a
        # diagnostic that carries the path) in the pipeline's block.
        assert "with sparkflow_pipeline.fx," in t, r.describe()
        assert re.search(rf"^\s*│?\s*{want_line}:\s+{re.escape(needle)}\s*$", out, re.M), r.describe()
        assert out.count("Error:") == 1, r.describe()
        # Nothing created: no state, no cluster, no catalog file.
        assert not sb.state_has_resources(w.d)
        assert not spark_processes(str(sb.root)), describe(spark_processes(str(sb.root)))
        assert not list(w.lake.glob("*.duckdb")), list(w.lake.glob("*.duckdb"))
        w.done.add(f"bad-{key}")

    def test_01b_apply_stops_at_plan(self, world):
        """All three at once, through `apply`: three errors, nothing made."""
        w, sb = world, world.sb
        needs(w, "bad-database", "bad-bytes_scanned_cutoff", "bad-workgroup")
        write(w, fx={"catalog": {"database": "Bad-Name", "workgroup": "no spaces!", "bytes_scanned_cutoff": 5}})
        r = sb.run("apply", cwd=w.d, ok=False)
        t = flat(r.output)
        for s in ("Invalid catalog name", "Invalid bytes-scanned cutoff", "Invalid workgroup name"):
            assert f"Error: {s}" in t, r.describe()
        assert "Creating..." not in t and "Apply complete" not in t, r.describe()
        assert not sb.state_has_resources(w.d)
        assert not spark_processes(str(sb.root)), describe(spark_processes(str(sb.root)))
        assert not list(w.lake.glob("*.duckdb"))

    # -- 02. apply: the catalog of the published table ---------------------------
    def test_02_apply_makes_the_catalog(self, world):
        w, sb = world, world.sb
        write(w)
        r = sb.run("apply", cwd=w.d, timeout=RUN_TIMEOUT)
        assert "Apply complete! Resources: 2 added, 0 changed, 0 destroyed." in r.output, r.output
        w.cluster = state(w, CLUSTER)
        res = state(w, FX)
        assert res["status"] == "succeeded", res
        assert res["catalog_database"] == str(w.lake / "fx.duckdb"), res["catalog_database"]
        assert res["catalog_workgroup"] is None, res["catalog_workgroup"]
        assert res["metrics"]["fixture_lines"] == sum(LINES.values()), res["metrics"]
        db = assert_catalog(w, res, "fx", "lines", sum(LINES.values()))
        # The real CLI, as the README has the user run it: the same answer.
        assert cli(db, "select count(*) from lines") == str(sum(LINES.values()))
        assert cli(db, "select value from sparkflow_catalog where key = 'pipeline'") == "fx"
        # Only SparkFlow's database file: no temporary or WAL left next to it.
        assert sorted(p.name for p in w.lake.iterdir() if "duckdb" in p.name) == ["fx.duckdb"]
        assert_no_app_processes(sb)
        r = plan_exitcode(sb, w.d)
        assert r.rc == 0 and "No changes." in r.output, r.describe()
        w.done.add("fx")

    # -- 03. a reader's views follow the next publication -------------------------
    def test_03_views_follow_a_publication(self, world):
        w, sb = world, world.sb
        needs(w, "fx")
        prior = state(w)
        db = Path(prior["catalog_database"])
        con = duckdb.connect(str(db), read_only=True)  # opened before the re-run
        try:
            assert con.execute("select count(*) from lines").fetchone()[0] == sum(LINES.values())
            name, n = MORE
            (w.lake / "raw" / "events" / name).write_text("".join(f"late {i}\n" for i in range(n)))
            r = sb.run("plan", "-out=more.tfplan", cwd=w.d, timeout=300)
            change = plan_change(sb, w.d, "more.tfplan", FX)
            assert change["actions"] == ["update"], r.describe()
            assert change["after"]["fingerprint"] != prior["fingerprint"]  # the new file re-runs
            assert change["after_unknown"].get("run_id") is True, change["after_unknown"]
            sb.run("apply", "more.tfplan", cwd=w.d, timeout=RUN_TIMEOUT)
            res = state(w)
            assert res["run_id"] != prior["run_id"] and res["status"] == "succeeded", res
            want = sum(LINES.values()) + n
            assert res["metrics"]["fixture_lines"] == want, res["metrics"]
            assert published(w.lake, "lines")["run_id"] == res["run_id"]
            # The connection opened before the run: its view reads the new run.
            assert con.execute("select count(*) from lines").fetchone()[0] == want
        finally:
            con.close()
        assert res["tables"] == prior["tables"]
        assert_catalog(w, res, "fx", "lines", want)
        assert_no_app_processes(sb)
        w.rows = want
        w.done.add("fx-rerun")

    # -- 04. a file SparkFlow did not make ---------------------------------------
    def test_04_foreign_file_fails_the_sync_not_the_run(self, world):
        w, sb = world, world.sb
        needs(w, "fx-rerun")
        fx0 = state(w)
        fx_db_digest = file_digest(w.lake / "fx.duckdb")
        db2 = w.lake / "fx_two.duckdb"
        # Someone's own DuckDB database, where fx-two's catalog would go.
        con = duckdb.connect(str(db2))
        con.execute("create table mine as select 42 as answer")
        con.close()
        digest = file_digest(db2)
        write(w, fx2={})
        runs0 = run_dirs(w.cluster, "fx-two")
        # On create the catalog failure is a warning: an error would make
        # Terraform taint the pipeline, and the repair would re-run Spark.
        r = sb.run("apply", cwd=w.d, timeout=RUN_TIMEOUT)
        t = flat(r.output)
        assert "Warning: Catalog not updated" in t and "Error:" not in t, r.describe()
        assert (
            f'The DuckDB catalog {db2} of pipeline "fx-two" could not be updated: {db2} exists and was not '
            "made by SparkFlow" in t
        ), r.describe()
        assert "The run's outputs stay published" in t, r.describe()
        # The run is published and recorded; only the catalog is missing.
        res = state(w, FX2)
        assert res is not None, "fx-two is not in state after a published run"
        assert res["status"] == "succeeded" and res["run_id"], res
        assert run_dirs(w.cluster, "fx-two") == runs0 | {res["run_id"]}
        pub = published(w.lake, "lines2")
        assert pub["run_id"] == res["run_id"] and pub["record"]["fingerprint"] == res["fingerprint"]
        assert res["tables"] is None, res["tables"]
        assert res["catalog_database"] == str(db2), res["catalog_database"]
        # The file is left exactly as it was, and still the user's.
        assert file_digest(db2) == digest
        assert query(db2, "select answer from mine") == [(42,)]
        # fx and its catalog are untouched.
        assert_same_run(fx0, state(w))
        assert file_digest(w.lake / "fx.duckdb") == fx_db_digest
        assert_no_app_processes(sb)
        w.fx2_run = res
        w.done.add("fx2-published")

    # -- 05. the next apply repairs the catalog, without a run -------------------
    def test_05_next_apply_repairs_without_a_run(self, world):
        w, sb = world, world.sb
        needs(w, "fx2-published")
        db2 = w.lake / "fx_two.duckdb"
        runs0 = run_dirs(w.cluster, "fx-two")
        # The plan is an in-place update (not a replacement: the run is good)
        # that only syncs the catalog.
        r = sb.run("plan", "-out=repair.tfplan", cwd=w.d, timeout=300)
        assert "is tainted, so must be replaced" not in r.output, (
            "the catalog error of fx-two's first apply made Terraform taint it (an error diagnostic on create "
            "always does): the next apply would replace the pipeline and run Spark again\n" + r.describe()
        )
        assert "Plan: 0 to add, 1 to change, 0 to destroy." in r.output, r.describe()
        assert_update_without_run(plan_change(sb, w.d, "repair.tfplan", FX2), str(db2), tables_unknown=True)
        # Still in the way, now not even a DuckDB file: the repair fails, the
        # file stays, nothing runs.
        garbage = b"not a database\n" * 64
        db2.write_bytes(garbage)
        r = sb.run("apply", "repair.tfplan", cwd=w.d, timeout=300, ok=False)
        t = flat(r.output)
        assert "Error: Catalog not updated" in t and f"{db2} exists and cannot be read as a DuckDB database" in t, (
            r.describe()
        )
        assert db2.read_bytes() == garbage
        res = state(w, FX2)
        assert_same_run(w.fx2_run, res)
        assert res["tables"] is None, res["tables"]
        # Moved away: the next apply repairs, still without a run.
        db2.unlink()
        r = sb.run("plan", "-out=repair2.tfplan", cwd=w.d, timeout=300)
        assert_update_without_run(plan_change(sb, w.d, "repair2.tfplan", FX2), str(db2), tables_unknown=True)
        r = sb.run("apply", "repair2.tfplan", cwd=w.d, timeout=300)
        assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in r.output, r.describe()
        res = state(w, FX2)
        assert_same_run(w.fx2_run, res)
        assert run_dirs(w.cluster, "fx-two") == runs0  # no Spark application
        assert_catalog(w, res, "fx-two", "lines2", w.rows)
        assert cli(db2, "select count(*) from lines") == str(w.rows)
        assert_no_app_processes(sb, timeout=5)
        r = plan_exitcode(sb, w.d)
        assert r.rc == 0 and "No changes." in r.output, r.describe()
        w.done.add("fx2")

    # -- 06. two pipelines, one lake ----------------------------------------------
    def test_06_another_pipelines_catalog_is_never_taken(self, world):
        w, sb = world, world.sb
        needs(w, "fx2")
        fx0, fx20 = state(w), state(w, FX2)
        fx_db = w.lake / "fx.duckdb"
        fx_digest = file_digest(fx_db)
        write(w, fx2={"catalog": {"database": "fx"}})
        r = sb.run("apply", cwd=w.d, timeout=300, ok=False)
        t = flat(r.output)
        assert "Error: Catalog not updated" in t, r.describe()
        assert f"{fx_db} is the catalog of pipeline 'fx'" in t, r.describe()
        assert file_digest(fx_db) == fx_digest
        assert marker(fx_db)["pipeline"] == "fx" and count(fx_db) == w.rows
        res = state(w, FX2)
        assert_same_run(fx20, res)
        assert res["tables"] is None, res["tables"]
        assert_same_run(fx0, state(w))
        # Revert: fx-two's own catalog again, fx's untouched (the failed move
        # left nothing of fx-two's at fx.duckdb: fx's file is only named).
        write(w, fx2={})
        r = sb.run("apply", cwd=w.d, timeout=300)
        assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in r.output, r.describe()
        t = flat(r.output)
        assert "Warning: Catalog file left in place" in t, r.describe()
        assert f"{fx_db} is the catalog of pipeline 'fx'" in t, r.describe()
        res = state(w, FX2)
        assert_same_run(fx20, res)
        assert_catalog(w, res, "fx-two", "lines2", w.rows)
        assert file_digest(fx_db) == fx_digest
        assert_catalog(w, state(w), "fx", "lines", w.rows)
        r = plan_exitcode(sb, w.d)
        assert r.rc == 0 and "No changes." in r.output, r.describe()
        w.done.add("fx2-reverted")

    # -- 07. enabled = false removes the catalog, without a run -------------------
    def test_07_disable_and_enable(self, world):
        w, sb = world, world.sb
        needs(w, "fx2-reverted")
        fx20 = state(w, FX2)
        db2 = w.lake / "fx_two.duckdb"
        write(w, fx2={"catalog": {"enabled": False}})
        sb.run("plan", "-out=off.tfplan", cwd=w.d, timeout=300)
        assert_update_without_run(plan_change(sb, w.d, "off.tfplan", FX2), None, tables_unknown=False)
        r = sb.run("apply", "off.tfplan", cwd=w.d, timeout=300)
        assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in r.output, r.describe()
        res = state(w, FX2)
        assert_same_run(fx20, res)
        assert res["tables"] is None and res["catalog_database"] is None, res
        assert not db2.exists(), f"{db2} is still there with the catalog off"
        assert (w.lake / "fx.duckdb").exists()
        r = plan_exitcode(sb, w.d)
        assert r.rc == 0 and "No changes." in r.output, r.describe()
        # On again: the file is back, still no run.
        write(w, fx2={"catalog": {"enabled": True}})
        sb.run("plan", "-out=on.tfplan", cwd=w.d, timeout=300)
        assert_update_without_run(plan_change(sb, w.d, "on.tfplan", FX2), str(db2), tables_unknown=True)
        sb.run("apply", "on.tfplan", cwd=w.d, timeout=300)
        res = state(w, FX2)
        assert_same_run(fx20, res)
        assert_catalog(w, res, "fx-two", "lines2", w.rows)
        r = plan_exitcode(sb, w.d)
        assert r.rc == 0 and "No changes." in r.output, r.describe()
        w.done.add("fx2-toggled")

    # -- 08. a renamed database moves the catalog, without a run ------------------
    def test_08_rename_moves_the_catalog(self, world):
        w, sb = world, world.sb
        needs(w, "fx2-reverted")
        fx0 = state(w)
        old, new = w.lake / "fx.duckdb", w.lake / "fx_renamed.duckdb"
        write(w, fx={"catalog": {"database": "fx_renamed"}}, fx2={"catalog": {"enabled": True}})
        sb.run("plan", "-out=rename.tfplan", cwd=w.d, timeout=300)
        assert_update_without_run(plan_change(sb, w.d, "rename.tfplan", FX), str(new), tables_unknown=True)
        r = sb.run("apply", "rename.tfplan", cwd=w.d, timeout=300)
        assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in r.output, r.describe()
        res = state(w)
        assert_same_run(fx0, res)
        assert res["catalog_database"] == str(new)
        assert not old.exists(), f"{old} is still there after the rename"
        assert_catalog(w, res, "fx", "lines", w.rows)
        assert cli(new, "select count(*) from lines") == str(w.rows)
        r = plan_exitcode(sb, w.d)
        assert r.rc == 0 and "No changes." in r.output, r.describe()
        w.done.add("fx-renamed")

    # -- 09. destroy ----------------------------------------------------------------
    def test_09_destroy(self, world):
        w, sb = world, world.sb
        needs(w, "fx-renamed", "fx2-toggled")
        fx_db, db2 = w.lake / "fx_renamed.duckdb", w.lake / "fx_two.duckdb"
        fx_digest = file_digest(fx_db)
        assert db2.exists()
        fx_cfg = {"catalog": {"database": "fx_renamed"}}
        # fx-two deletes its outputs on destroy; then it leaves the config.
        write(w, fx=fx_cfg, fx2={"delete_outputs_on_destroy": True})
        fx20 = state(w, FX2)
        r = sb.run("apply", cwd=w.d, timeout=300)
        assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in r.output, r.describe()
        assert_same_run(fx20, state(w, FX2))
        write(w, fx=fx_cfg)
        r = sb.run("apply", cwd=w.d, timeout=300)
        assert "Apply complete! Resources: 0 added, 0 changed, 1 destroyed." in r.output, r.describe()
        assert not db2.exists(), f"{db2} survived destroy with delete_outputs_on_destroy"
        assert not os.path.lexists(w.lake / "lines2")
        assert file_digest(fx_db) == fx_digest
        assert count(fx_db) == w.rows
        # Destroy everything: fx keeps its outputs, and its catalog with them.
        r = sb.run("destroy", cwd=w.d, timeout=300)
        t = flat(r.output)
        assert "Destroy complete! Resources: 2 destroyed." in t, r.describe()
        assert "Warning: Outputs are kept" in t, r.describe()
        assert not sb.state_has_resources(w.d)
        assert file_digest(fx_db) == fx_digest
        assert cli(fx_db, "select count(*) from lines") == str(w.rows)
        assert marker(fx_db)["pipeline"] == "fx"
        gone = wait_for(lambda: not owned_processes(str(sb.root)), 60)
        assert gone, f"processes left after destroy: {describe(owned_processes(str(sb.root)))}"
