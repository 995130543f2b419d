"""Many pipelines at once (issue #14 item 5), with the real Terraform CLI,
one real local cluster and ONE provider process for every command (started
with -debug, attached through TF_REATTACH_PROVIDERS), so that its memory
can be measured across the runs.

(a) 20 pipelines, distinct outputs, one cheap stage each over the same
    3,000-line input, applied with -parallelism=10: every run succeeds with
    exact metrics, every output publishes one complete run whose record
    names its pipeline, no staging is left in the lake, no Spark driver
    outlives the apply, the next plan has no changes; the provider's RSS
    after the 20 runs is within RSS_FLAT_KB of what it was before them
    (after the cluster's apply).
(b) 5 pipelines configured with the SAME output (a misconfiguration): the
    apply publishes exactly one complete run, the winner's; the other 4
    fail with "Output published by another pipeline" naming the winner, at
    the attribute `output`; no staging of theirs is left; the next plan
    fails with the same clear error for the 4 (it does not plan their runs
    again, which before made two such pipelines replace each other forever)
    and the published run stays the winner's.  Then the fix the error asks
    for: the 4 taken out of the configuration, an apply destroys them — with
    delete_outputs_on_destroy = true, which must not remove the winner's
    run — and the next plan has no changes.

Cost: every Spark application takes one core (spark.cores.max=1) of a
worker offering ten, so the ten applications of one -parallelism=10 wave
run side by side instead of queueing at the master.
"""

import importlib.util
import re
import sys
import time
from pathlib import Path

import pytest

from pipeline_support import (
    FAST_CONF,
    FIXTURE_JOBS,
    RUN_TIMEOUT,
    app_processes,
    config,
    describe,
    hcl,
    is_driver,
    plan_exitcode,
    published,
)
from tfharness import ROOT, Sandbox, discover_clients, provider_binary, wait_for

pytestmark = pytest.mark.once

N_PIPELINES = 20
N_SHARED = 5
LINES = {"a.txt": 2000, "b.txt": 1000}  # 3,000 rows in all
RUN_ID_LEN = len("20261207T010203Z-a1b2c3")
# Growth of the provider's RSS allowed over the 20 runs: 150 KiB a run (a
# stage result, log tail or metrics map kept per run would exceed it).
# Measured on the 2-core CI machine: +1.4 MiB over the first 20 runs (first
# use of the run paths and of ten threads' allocator arenas), +0.6 MiB over
# 20 more.
RSS_FLAT_KB = 3 * 1024
SHARED_ERROR = "Output published by another pipeline"


def load_soak():
    path = ROOT / "bench" / "soak" / "soak.py"
    spec = importlib.util.spec_from_file_location("sf_soak", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["sf_soak"] = mod
    spec.loader.exec_module(mod)
    return mod


def lines_lake(lake: Path) -> Path:
    for name, n in LINES.items():
        p = lake / "raw" / "events" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("".join(f"event {i} of {name}\n" for i in range(n)))
    (lake / "reference").mkdir()
    return lake


def cluster_config(name: str) -> str:
    return f"""resource "sparkflow_cluster" "dev" {{
  name = {hcl(name)}
  local {{
    workers       = 1
    worker_cores  = 10
    worker_memory = "6g"
  }}
}}
"""


def pipeline(res: str, cluster_id: str, lake: Path, output: str, round_: str, delete: bool = False) -> str:
    conf = FAST_CONF | {"spark.executor.memory": "512m", "spark.driver.memory": "512m"}
    return f"""resource "sparkflow_pipeline" "{res}" {{
  cluster_id = {cluster_id}
  name       = {hcl(res)}
  lake       = {hcl("file://" + str(lake))}
  input      = "raw/events"
  output     = {hcl(output)}
  triggers   = {{ round = {hcl(round_)} }}
  delete_outputs_on_destroy = {hcl(delete)}

  catalog {{
    enabled = false # files only: the lake's publication is what this suite is about
  }}

  stage {{
    name       = "count"
    script     = {hcl(str(FIXTURE_JOBS / "line_count.py"))}
    spark_conf = {hcl(conf)}
  }}
}}
"""


def distinct_config(lake: Path, round_: str) -> str:
    blocks = [
        pipeline(f"p{i:02d}", "sparkflow_cluster.dev.id", lake, f"out{i:02d}", round_) for i in range(N_PIPELINES)
    ]
    return config(cluster_config("e2e-many"), *blocks)


def shared_config(lake: Path, cluster_id: str, names: list[str]) -> str:
    return config(*[pipeline(n, hcl(cluster_id), lake, "shared", "0", delete=True) for n in names])


def store_leftovers(lake: Path, output: str, run_id: str) -> list[str]:
    """What the output's store holds besides the published run, its owner
    record and the lock: staging of other runs."""
    keep = {run_id, f".{run_id}.owner", ".lock"}
    return sorted(e.name for e in (lake / "_sparkflow" / output).iterdir() if e.name not in keep)


def complete(pub: dict, pipeline_name: str) -> None:
    """A published run is whole and names its pipeline."""
    rec = pub["record"]
    assert rec["run_id"] == pub["run_id"] and rec.get("pipeline") == pipeline_name, rec
    assert any(k.startswith("lines/") and k.endswith(".parquet") for k in pub["files"]), sorted(pub["files"])


def drivers(sb) -> list:
    return [p for p in app_processes(sb) if is_driver(p)]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    clients = discover_clients()
    assert clients, "no Terraform CLI found (run scripts/bootstrap)"
    sb = Sandbox(tmp_path_factory.mktemp("many"), clients[0])
    soak = load_soak()
    provider = soak.DebugProvider(provider_binary(), sb.env, sb.logs)
    sb.extra_env["TF_REATTACH_PROVIDERS"] = provider.reattach
    lake = lines_lake(sb.root / "lake")
    w = type("World", (), {"sb": sb, "lake": lake, "provider": provider, "rss": {}, "t0": time.monotonic()})
    problems = []
    try:
        yield w
    finally:
        # Destroyed while the provider serves (sb.cleanup's own destroy would
        # find it gone); -refresh=false when a test failed half-way.
        for d in reversed(sb.workdirs):
            if sb.state_has_resources(d) and sb.run("destroy", cwd=d, timeout=600, ok=None).rc != 0:
                problems.append(f"destroy in {d} failed")
                sb.run("destroy", "-refresh=false", cwd=d, timeout=600, ok=None)
        sb.workdirs.clear()
        rc = provider.stop()
        problems += sb.cleanup()
        print(f"\ntest_many: provider RSS (kB) {w.rss}; suite wall time {time.monotonic() - w.t0:.0f} s")
    assert rc == 0, f"provider exit on SIGTERM: {rc!r}"
    assert not problems, "\n".join(problems)


def rss_kb(w) -> int:
    return w.provider.sample(0, 0).rss_kb


def test_20_pipelines_parallelism_10(world):
    sb, lake = world.sb, world.lake
    d = sb.workdir("distinct", config(cluster_config("e2e-many")))
    sb.init(d)
    sb.run("apply", cwd=d, timeout=600)  # the cluster alone
    world.rss["before"] = rss_kb(world)
    (d / "main.tf").write_text(distinct_config(lake, "1"))
    sb.run("apply", "-parallelism=10", cwd=d, timeout=RUN_TIMEOUT)
    world.rss["after_20_runs"] = rss_kb(world)
    state = sb.resources(d)
    for i in range(N_PIPELINES):
        name, out = f"p{i:02d}", f"out{i:02d}"
        s = state[f"sparkflow_pipeline.{name}"]
        assert s["status"] == "succeeded", s
        assert s["metrics"] == {"fixture_lines": 3000, "fixture_files": 2}, (name, s["metrics"])
        pub = published(lake, out)
        complete(pub, name)
        assert pub["run_id"] == s["run_id"], (name, pub["run_id"], s["run_id"])
        assert not store_leftovers(lake, out, pub["run_id"]), (out, store_leftovers(lake, out, pub["run_id"]))
    assert wait_for(lambda: not drivers(sb), 60, interval=1), describe(drivers(sb))
    p = plan_exitcode(sb, d)
    assert p.rc == 0 and "No changes." in p.output, p.describe()
    rss = world.rss
    if not sb.asan:  # ASan's quarantine keeps freed memory on purpose
        assert rss["after_20_runs"] - rss["before"] <= RSS_FLAT_KB, rss


def test_5_pipelines_one_output(world):
    sb, lake = world.sb, world.lake
    cluster = sb.resources(sb.root / "distinct")["sparkflow_cluster.dev"]
    names = [f"s{i}" for i in range(N_SHARED)]
    d = sb.workdir("shared", shared_config(lake, cluster["id"], names))
    sb.init(d)
    r = sb.run("apply", "-parallelism=10", cwd=d, timeout=RUN_TIMEOUT, ok=False)

    pub = published(lake, "shared")
    winner = pub["record"].get("pipeline")
    assert winner in names, pub["record"]
    complete(pub, winner)
    state = sb.resources(d)
    ok = [n for n in names if state.get(f"sparkflow_pipeline.{n}", {}).get("status") == "succeeded"]
    assert ok == [winner], (ok, {k: v.get("status") for k, v in state.items()})
    assert state[f"sparkflow_pipeline.{winner}"]["run_id"] == pub["run_id"]
    assert state[f"sparkflow_pipeline.{winner}"]["metrics"]["fixture_lines"] == 3000

    # Each loser: one clear error naming the winner, at `output`.
    errors = split_errors(r.output)
    refused = [e for e in errors if e.startswith(f"Error: {SHARED_ERROR}")]
    assert len(refused) == N_SHARED - 1, r.describe()
    losers = set()
    for e in refused:
        assert f'pipeline "{winner}" publishes there' in e, e
        m = re.search(r"with sparkflow_pipeline\.(s\d)", e)
        assert m and m.group(1) != winner, e
        assert re.search(r'output\s+=\s+"shared"', e), e  # the attribute path points at `output`
        losers.add(m.group(1))
    assert losers == set(names) - {winner}, losers
    assert not [e for e in errors if not e.startswith(f"Error: {SHARED_ERROR}")], errors

    # No staging of the losers is left, nothing is running.
    assert not store_leftovers(lake, "shared", pub["run_id"]), store_leftovers(lake, "shared", pub["run_id"])
    assert wait_for(lambda: not drivers(sb), 60, interval=1), describe(drivers(sb))

    # The next plan says it again, clearly, instead of planning the losers'
    # runs (each would replace the winner's); what is published stays.
    for _ in range(2):
        p = sb.run("plan", cwd=d, ok=False)
        errs = split_errors(p.output)
        assert len(errs) == N_SHARED - 1 and all(
            e.startswith(f"Error: {SHARED_ERROR}") and f'pipeline "{winner}" publishes there' in e for e in errs
        ), p.describe()
        assert published(lake, "shared")["run_id"] == pub["run_id"]

    # The fix: the 4 go; destroying them (delete_outputs_on_destroy = true)
    # leaves the winner's run published, and the winner is at rest.
    (d / "main.tf").write_text(shared_config(lake, cluster["id"], [winner]))
    r = sb.run("apply", cwd=d, timeout=600)
    assert f"Destroy complete! Resources: {N_SHARED - 1} destroyed." in r.output or (
        f"Resources: 0 added, 0 changed, {N_SHARED - 1} destroyed." in r.output
    ), r.describe()
    assert r.output.count("Outputs of another pipeline kept") == N_SHARED - 1, r.describe()
    after = published(lake, "shared")
    assert after["run_id"] == pub["run_id"] and after["files"] == pub["files"], (after["run_id"], pub["run_id"])
    p = plan_exitcode(sb, d)
    assert p.rc == 0 and "No changes." in p.output, p.describe()


def split_errors(text: str) -> list[str]:
    """The CLI's error diagnostics, one string each, the CLI's line
    wrapping and box characters undone (one space)."""
    parts = re.split(r"(?m)^[│╷╵ ]*(?=Error: )", text)
    return [re.sub(r"\s*\n[│ ]*", " ", p).strip() for p in parts[1:]]
