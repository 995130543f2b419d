"""End-to-end: Spark's class-data sharing archive (engines/local/cds.c,
engines/local/spark_cds.py), with the real Terraform CLI and real Spark.

The archive is one per machine (per pyspark and Java), not per Terraform
client, so this suite runs once.  SPARKFLOW_SPARK_CDS points the provider at
an empty directory of the test (the rest of the test suite uses the archive
scripts/bootstrap made next to pyspark's jars).  Asserted, in order:

1. Creating a cluster when there is no archive starts one build in the
   background (a detached process recorded in the cluster's logs), and the
   apply does not wait for it; the build ends by itself with the archive and
   its stamp (the Java and jars it was made from, the archive's size).
2. A cluster created then runs its master and worker JVMs with the archive:
   they have -XX:SharedArchiveFile and map the file (/proc/<pid>/maps), and
   no second build starts.
3. A stale stamp (the jars changed since) is not trusted: the next cluster's
   JVMs run without the archive, and a rebuild starts.
4. Destroy stops a build that still runs: nothing is left running, and the
   half-written archive never passes for a valid one.
"""

import json
import os
import time
from pathlib import Path

import pytest

from conftest import finish_sandbox, make_sandbox
from tfharness import all_processes, discover_clients, pid_alive, wait_for

pytestmark = pytest.mark.once

BUILD_TIMEOUT = 600  # a build is ~30 s of CPU; CI's machine may be busy

PROVIDER = """\
terraform {
  required_providers {
    sparkflow = {
      source = "sparkflow/sparkflow"
    }
  }
}

provider "sparkflow" {}
"""


def clusters_tf(names):
    body = "".join(
        f"""
resource "sparkflow_cluster" "{n}" {{
  name = "e2e-cds-{n}"
  local {{
    workers = 1
  }}
}}
"""
        for n in names
    )
    return PROVIDER + body


def build_processes():
    """Every process of a class-archive build: the builder, its spark-submit
    and JVM, and the workload's Python."""
    return [p for p in all_processes() if any(a.endswith("_spark_cds.py") for a in p.argv)]


def builders():
    """The builders themselves (spark_cds.py in build mode)."""
    return [p for p in build_processes() if "--dir" in p.argv]


def cluster_jvms(res):
    details = res["details"]
    pids = [int(details["master_pid"])] + [int(x) for x in details["worker_pids"].split()]
    return pids


def jvm_uses(pid, archive: Path):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        flagged = f"-XX:SharedArchiveFile={archive}".encode() in f.read()
    with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as f:
        mapped = any(line.rstrip().endswith(str(archive)) for line in f)
    return flagged, mapped


def stamp_valid(cds: Path):
    try:
        stamp = json.loads((cds / "spark.jsa.json").read_text())
        return stamp.get("archive_size") == (cds / "spark.jsa").stat().st_size
    except (OSError, ValueError):
        return False


@pytest.fixture
def cds_sandbox(tmp_path):
    clients = discover_clients()
    assert clients, "no Terraform CLI found (run scripts/bootstrap)"
    cds = tmp_path / "cds"
    sb = make_sandbox(tmp_path / "sb", clients[0], extra_env={"SPARKFLOW_SPARK_CDS": str(cds)})
    yield sb, cds
    finish_sandbox(sb)


def test_archive_built_in_background_used_by_later_clusters_and_stopped_by_destroy(cds_sandbox):
    sb, cds = cds_sandbox
    archive = cds / "spark.jsa"
    assert not build_processes(), f"a class-archive build already runs: {[p.argv for p in build_processes()]}"

    # 1. No archive: the create starts a build and does not wait for it.
    d = sb.workdir("cds", clusters_tf(["a"]))
    sb.init(d)
    t0 = time.monotonic()
    sb.run("apply", "-auto-approve", cwd=d)
    apply_s = time.monotonic() - t0
    a = sb.resources(d)["sparkflow_cluster.a"]
    pidfile = Path(a["details"]["work_dir"]) / "logs" / "spark-cds.pid"
    assert pidfile.is_file(), "the create started no build"
    pid, pgid, _start = (int(x) for x in pidfile.read_text().split())
    assert os.getpgid(pid) == pgid != os.getpgrp(), "the builder is not in the process group recorded for it"
    running = builders()
    assert [p.pid for p in running] == [pid], f"builders: {[(p.pid, p.argv) for p in running]}, recorded {pid}"
    for jvm in cluster_jvms(a):
        assert jvm_uses(jvm, archive) == (False, False), f"pid {jvm} uses an archive that does not exist yet"
    wait_for(lambda: not pid_alive(pid), timeout=BUILD_TIMEOUT, interval=1)
    log = (Path(a["details"]["work_dir"]) / "logs" / "spark-cds.log").read_text()
    assert "archive written" in log, log[-3000:]
    assert stamp_valid(cds), log[-3000:]
    stamp = json.loads((cds / "spark.jsa.json").read_text())
    assert stamp["java"].endswith("/bin/java") and stamp["jars"].endswith("/jars"), stamp
    assert not list(cds.glob("*.tmp")), list(cds.iterdir())
    print(f"apply with a build starting: {apply_s:.1f} s; archive {archive.stat().st_size} bytes")

    # 2. A cluster created now runs its daemons with the archive, mapped.
    (d / "main.tf").write_text(clusters_tf(["a", "b"]))
    sb.run("apply", "-auto-approve", cwd=d)
    b = sb.resources(d)["sparkflow_cluster.b"]
    for jvm in cluster_jvms(b):
        assert jvm_uses(jvm, archive) == (True, True), f"pid {jvm} of cluster b does not map {archive}"
    assert not (Path(b["details"]["work_dir"]) / "logs" / "spark-cds.pid").exists(), "a valid archive was rebuilt"
    assert not build_processes()

    # 3. A stale stamp: not used, rebuilt.
    real_jars_mtime = stamp["jars_mtime"]
    stamp["jars_mtime"] -= 1
    (cds / "spark.jsa.json").write_text(json.dumps(stamp))
    (d / "main.tf").write_text(clusters_tf(["a", "b", "c"]))
    sb.run("apply", "-auto-approve", cwd=d)
    c = sb.resources(d)["sparkflow_cluster.c"]
    for jvm in cluster_jvms(c):
        assert jvm_uses(jvm, archive) == (False, False), f"pid {jvm} of cluster c uses a stale archive"
    c_pidfile = Path(c["details"]["work_dir"]) / "logs" / "spark-cds.pid"
    assert c_pidfile.is_file(), "a stale archive was not rebuilt"
    rebuild = int(c_pidfile.read_text().split()[0])
    assert pid_alive(rebuild)

    # 4. Destroy while the rebuild runs: it is stopped, nothing is left.
    sb.run("destroy", "-auto-approve", cwd=d)
    assert not pid_alive(rebuild), "destroy left the archive build running"
    assert not build_processes(), [p.argv for p in build_processes()]
    # The stamp is still the stale one (the rebuild was stopped) or the
    # rebuild's own, whole one: never a stamp for a half-written archive.
    after = json.loads((cds / "spark.jsa.json").read_text())
    assert after == stamp or (stamp_valid(cds) and after["jars_mtime"] == real_jars_mtime), after
