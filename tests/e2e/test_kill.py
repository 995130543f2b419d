"""kill -9 of the provider at the worst moments of a run (issue #14 item 2),
with the real Terraform CLI and a real local cluster.

A test point (base/testpoint.h: SPARKFLOW_TEST_PAUSE) stops the provider at
a named moment and writes its pid; the test kills it there with SIGKILL (a
real kill: no handler runs).  Points:

  run.staged              the run's staging area made, nothing run yet
  run.driver_started      the stage's Spark driver running
  publish.before_switch   the run synced and recorded, the link not switched
  publish.after_switch    the link switched, the previous run not removed
  run.published           published; Terraform has not recorded it

After each kill: what is published is one complete run (the previous one
before the switch, the new one after: its record, its files); no Spark
driver outlives its stage (a driver the dead provider started finishes its
short stage and exits); then a plain `terraform apply` converges with exact
metrics, leaves only the published run in the store (the dead run's staging
area swept), and the next plan has no changes.
"""

import os
import signal
import time
from pathlib import Path

import pytest

from pipeline_support import (
    RUN_TIMEOUT,
    app_processes,
    describe,
    events_lake,
    is_driver,
    line_count_config,
    plan_exitcode,
    published,
    wait_exit,
)
from tfharness import wait_for

pytestmark = pytest.mark.once

PIPELINE = "sparkflow_pipeline.fx"
RUN_ID_LEN = len("20261207T010203Z-a1b2c3")
POINTS = ["run.staged", "run.driver_started", "publish.before_switch", "publish.after_switch", "run.published"]
# Where the new run is published once the provider died there.
NEW_PUBLISHED = {"publish.after_switch", "run.published"}


def world_config(lake: Path, round_: str) -> str:
    return line_count_config(lake, "e2e-kill", round_)


def run_dirs(lake: Path) -> set[str]:
    store = lake / "_sparkflow" / "lines"
    return {e.name for e in store.iterdir() if len(e.name) == RUN_ID_LEN}


def complete(pub: dict) -> None:
    """A published run is whole: its record names it, its table is there."""
    assert pub["record"]["run_id"] == pub["run_id"], pub["record"]
    assert any(k.startswith("lines/") and k.endswith(".parquet") for k in pub["files"]), sorted(pub["files"])


@pytest.fixture(scope="class")
def world(class_sandbox):
    sb = class_sandbox
    lake = sb.root / "klake"
    events_lake(lake)
    d = sb.workdir("main", world_config(lake, "0"))
    sb.init(d)
    sb.run("apply", cwd=d, timeout=RUN_TIMEOUT)
    return type("World", (), {"sb": sb, "d": d, "lake": lake, "round": 0})


class TestKill:
    @pytest.mark.parametrize("point", POINTS)
    def test_kill_at(self, world, point, tmp_path):
        sb, d, lake = world.sb, world.d, world.lake
        before = published(lake, "lines")
        world.round += 1
        (d / "main.tf").write_text(world_config(lake, str(world.round)))
        marker = tmp_path / "paused.pid"
        out = tmp_path / "apply.out"
        proc = sb.popen(
            ["apply"],
            d,
            out,
            extra_env={"SPARKFLOW_TEST_PAUSE": point, "SPARKFLOW_TEST_PAUSE_FILE": str(marker)},
        )
        try:
            assert wait_for(lambda: marker.exists() or proc.poll() is not None, RUN_TIMEOUT / 3, interval=0.2), (
                out.read_text(errors="replace")
            )
            assert marker.exists(), f"the apply ended before test point {point}:\n" + out.read_text(errors="replace")
            pid = int(marker.read_text())
            os.kill(pid, signal.SIGKILL)
            rc = wait_exit(proc, 120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert rc not in (None, 0), out.read_text(errors="replace")

        # One complete run is published: the previous one until the switch,
        # the new one after it.
        now = published(lake, "lines")
        complete(now)
        if point in NEW_PUBLISHED:
            assert now["run_id"] > before["run_id"], (point, before["run_id"], now["run_id"])
        else:
            assert now["run_id"] == before["run_id"], (point, before["run_id"], now["run_id"])
            assert now["files"] == before["files"]

        # No driver outlives its stage.
        assert wait_for(lambda: not [p for p in app_processes(sb) if is_driver(p)], 180, interval=1), describe(
            app_processes(sb)
        )

        # A plain apply converges: exact metrics, only the published run in
        # the store, then no changes.
        time.sleep(0.1)
        sb.run("apply", cwd=d, timeout=RUN_TIMEOUT)
        state = sb.resources(d)[PIPELINE]
        assert state["status"] == "succeeded" and state["metrics"]["fixture_lines"] == 50, state
        final = published(lake, "lines")
        complete(final)
        assert final["run_id"] == state["run_id"], (final["run_id"], state["run_id"])
        assert run_dirs(lake) == {final["run_id"]}, run_dirs(lake)
        p = plan_exitcode(sb, d)
        assert p.rc == 0 and "No changes." in p.output, p.describe()
