"""A lake whose disk fills during a run (issue #14 item 4), with the real
Terraform CLI and real Spark.

The lake lives on an 8 MB tmpfs the test mounts (root only: CI runs as
root).  A first run fits and is published; then the stage writes 20 MB
into its staging area: the apply fails with a "Disk full" error naming the
stage, the lake and what its disk has free; the staging area is gone; the
published run is the first one, whole.  Once the stage writes no more than
fits, the next apply publishes a new run.
"""

import os
import subprocess
from pathlib import Path

import pytest

from pipeline_support import (
    RUN_TIMEOUT,
    events_lake,
    line_count_config,
    published,
)

pytestmark = pytest.mark.once

RUN_ID_LEN = len("20261207T010203Z-a1b2c3")


def flat(text: str) -> str:
    return " ".join(text.split())


def world_config(lake: Path, args=(), round_: str = "1") -> str:
    return line_count_config(lake, "e2e-full", round_, args)


def run_dirs(lake: Path) -> set[str]:
    store = lake / "_sparkflow" / "lines"
    return {e.name for e in store.iterdir() if len(e.name) == RUN_ID_LEN} if store.exists() else set()


@pytest.fixture
def small_disk(sandbox):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    mnt = sandbox.root / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "--lazy", str(mnt)], check=False)


def test_disk_full_fails_clearly_and_keeps_the_last_run(sandbox, small_disk):
    sb = sandbox
    lake = small_disk / "lake"
    events_lake(lake)
    d = sb.workdir("main", world_config(lake))
    sb.init(d)
    try:
        sb.run("apply", cwd=d, timeout=RUN_TIMEOUT)
        first = published(lake, "lines")
        assert first["run_id"] and run_dirs(lake) == {first["run_id"]}

        (d / "main.tf").write_text(world_config(lake, ["--write-mb", "20"], "2"))
        r = sb.run("apply", cwd=d, timeout=RUN_TIMEOUT, ok=False)
        t = flat(r.output)
        assert "Error: Disk full" in t, r.describe()
        assert 'Stage "count" of pipeline "fx" ran out of disk space' in t, r.describe()
        assert f"file://{lake}" in t and "MB free of 8.4 MB now" in t, r.describe()
        assert "No space left on device" in t, r.describe()  # the log tail
        # The staging area is gone; the first run is published, whole.
        assert run_dirs(lake) == {first["run_id"]}, run_dirs(lake)
        again = published(lake, "lines")
        assert again["run_id"] == first["run_id"] and again["files"] == first["files"], again
        state = sb.resources(d)["sparkflow_pipeline.fx"]
        assert state["status"] == "failed" and state["run_id"] == first["run_id"], state

        (d / "main.tf").write_text(world_config(lake, ["--write-mb", "1"], "3"))
        sb.run("apply", cwd=d, timeout=RUN_TIMEOUT)
        third = published(lake, "lines")
        assert third["run_id"] > first["run_id"] and run_dirs(lake) == {third["run_id"]}
        assert sb.resources(d)["sparkflow_pipeline.fx"]["metrics"]["fixture_lines"] == 50
    finally:
        # Before the disk goes: the sandbox's own clean-up runs after it.
        sb.run("destroy", cwd=d, timeout=600)
