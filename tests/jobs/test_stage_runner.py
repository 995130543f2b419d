"""The local engine's stage runner (engines/local/stage_runner.py): several
stage scripts in one Spark application, each seeing what spark-submit would
give it alone.  Runs the runner with spark-submit on local[1], the way the
provider submits it (the provider uses its cluster's master instead)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "engines" / "local" / "stage_runner.py"

# Stage 1 leaves everything a script could leave behind: a runtime setting,
# a temporary view, a cached table, a changed argv/sys.path, and it stops
# the session -- then exits 0 through sys.exit like the SparkFlow jobs.
LEAVES_A_MESS = """
import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
spark.conf.set("spark.sql.shuffle.partitions", "7")
df = spark.range(10)
df.createOrReplaceTempView("leftover")
spark.table("leftover").cache().count()
print("stage1 argv", sys.argv[1:])
print("stage1 to stderr", file=sys.stderr)
spark.stop()
sys.exit(0)
"""

# Stage 2 checks that none of it reached it, and that its session works.
CHECKS_CLEAN = """
import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
views = [t.name for t in spark.catalog.listTables() if t.isTemporary]
assert views == [], views
assert spark.conf.get("spark.sql.shuffle.partitions") == "3", spark.conf.get("spark.sql.shuffle.partitions")
assert sys.argv[1:] == ["--two", "x y"], sys.argv
print("stage2 sum", spark.range(5).groupBy().sum().collect()[0][0])
"""

FAILS = """
import sys
print("about to fail", file=sys.stderr)
raise ValueError("SPARKFLOW-RUNNER-BOOM")
"""

NEVER = """
open(__file__ + ".ran", "w").write("ran")
"""


def submit(tmp_path, stages):
    """spark-submit the runner on `stages` [(name, source, argv)]; returns
    (exit code, events, {name: log text})."""
    events = tmp_path / "events.jsonl"
    spec = {"app": "runner-test", "events": str(events), "stages": []}
    for name, source, argv in stages:
        script = tmp_path / f"{name}.py"
        script.write_text(source)
        spec["stages"].append({"name": name, "script": str(script), "argv": argv, "log": str(tmp_path / f"{name}.log")})
    run_json = tmp_path / "run.json"
    run_json.write_text(json.dumps(spec))
    import pyspark

    submit_bin = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1")
    proc = subprocess.run(
        [
            str(submit_bin),
            "--master",
            "local[1]",
            "--conf",
            "spark.ui.enabled=false",
            "--conf",
            "spark.sql.shuffle.partitions=3",
            "--conf",
            "spark.driver.extraJavaOptions=-XX:TieredStopAtLevel=1",
            str(RUNNER),
            str(run_json),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    evs = [json.loads(line) for line in events.read_text().splitlines()] if events.exists() else []
    logs = {
        name: (tmp_path / f"{name}.log").read_text() if (tmp_path / f"{name}.log").exists() else None
        for name, _, _ in stages
    }
    return proc, evs, logs


def test_stages_share_one_app_and_see_a_clean_session(tmp_path):
    proc, evs, logs = submit(
        tmp_path, [("one", LEAVES_A_MESS, ["--one", "1"]), ("two", CHECKS_CLEAN, ["--two", "x y"])]
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr + str(logs)
    assert [(e["stage"], e["event"], e.get("exit")) for e in evs] == [
        (0, "start", None),
        (0, "end", 0),
        (1, "start", None),
        (1, "end", 0),
    ]
    assert all(isinstance(e["ts_ms"], int) for e in evs)
    assert evs[0]["ts_ms"] <= evs[1]["ts_ms"] <= evs[2]["ts_ms"] <= evs[3]["ts_ms"]
    # Each stage's output went to its own log, stdout and stderr alike.
    assert "stage1 argv ['--one', '1']" in logs["one"] and "stage1 to stderr" in logs["one"]
    assert "stage2 sum 10" in logs["two"] and "stage1" not in logs["two"]
    assert "stage1" not in proc.stdout


def test_a_failing_stage_ends_the_run_with_its_code_and_traceback(tmp_path):
    proc, evs, logs = submit(tmp_path, [("ok", "print('fine')\n", []), ("bad", FAILS, []), ("never", NEVER, [])])
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert [(e["stage"], e["event"], e.get("exit")) for e in evs] == [
        (0, "start", None),
        (0, "end", 0),
        (1, "start", None),
        (1, "end", 1),
    ]
    assert "SPARKFLOW-RUNNER-BOOM" in logs["bad"] and "Traceback" in logs["bad"]
    assert logs["never"] is None
    assert not (tmp_path / "never.py.ran").exists()


def test_exit_codes_pass_through(tmp_path):
    proc, evs, _ = submit(tmp_path, [("two", "import sys\nsys.exit(2)\n", []), ("never", NEVER, [])])
    assert proc.returncode == 2
    assert evs[-1] == {"stage": 0, "event": "end", "exit": 2, "ts_ms": evs[-1]["ts_ms"]}


def test_bad_usage():
    proc = subprocess.run([sys.executable, str(RUNNER)], capture_output=True, text=True)
    assert proc.returncode == 2 and "usage" in proc.stderr
