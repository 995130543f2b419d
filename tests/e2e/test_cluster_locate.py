"""End-to-end: a local cluster is found again from what Terraform's state
records, whatever the directory and HOME of the command.

- relative paths (`work_dir = "${path.module}/work"`) are resolved against
  Terraform's working directory once, at create; state keeps the spelling;
- a cluster applied with one HOME is still there for a plan and a destroy
  run with another (issue 14, item 0): nothing is orphaned;
- a recorded pid whose start time differs is not ours: never adopted, never
  signalled.

Each test has its own sandbox (conftest.py); cleanup fails the test if a
Spark process is left running.
"""

import json
import shutil
from contextlib import contextmanager
from pathlib import Path

from tfharness import (
    PROVIDER_HCL,
    ROOT,
    block,
    cluster_processes,
    listening_ports,
    pid_alive,
    spark_processes,
    wait_for,
)

PROVIDER = PROVIDER_HCL

RELATIVE = (
    PROVIDER
    + """
resource "sparkflow_cluster" "dev" {
  name = "e2e-relative"

  local {
    workers  = 1
    work_dir = "${path.module}/work"
  }
}
"""
)


@contextmanager
def home(sb, path: Path):
    """Run the sandbox's commands with HOME=path (the CLI config and the
    installed provider stay those of the sandbox)."""
    path.mkdir(parents=True, exist_ok=True)
    saved = sb.home
    sb.home = path
    try:
        yield path
    finally:
        sb.home = saved


def plan_rc(sb, d, *extra, cwd=None):
    r = sb.run("plan", "-detailed-exitcode", *extra, cwd=cwd or d, ok=None)
    assert r.rc in (0, 2), r.describe()
    return r


def cluster_pids_ports(res):
    procs = cluster_processes(res["master_url"])
    pids = {p.pid for p in procs["master"] + procs["worker"]}
    ports = set()
    for pid in pids:
        ports |= listening_ports(pid)
    return procs, pids, ports


def assert_all_stopped(sb, pids, ports):
    assert wait_for(lambda: not any(pid_alive(p) for p in pids), 30), (
        f"still running: {[p for p in pids if pid_alive(p)]}"
    )
    assert not (ports & listening_ports()), f"still listening: {ports & listening_ports()}"
    assert spark_processes(str(sb.root)) == []


def test_relative_work_dir(sandbox):
    """`work_dir = "${path.module}/work"` applies; the daemons log there; the
    state keeps what the user wrote (no diff), later plans — also through
    -chdir from another directory — find the cluster; destroy cleans up."""
    sb = sandbox
    d = sb.workdir("rel", RELATIVE)
    sb.init(d)
    r = sb.run("apply", cwd=d, timeout=600)
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in r.output, r.describe()

    res = sb.resources(d)["sparkflow_cluster.dev"]
    local = block(res["local"])
    assert local["work_dir"] == "./work", local  # as written
    work = d / "work"
    assert res["details"]["work_dir"] == str(work), res["details"]  # where it is
    logs = work / "logs"
    assert (logs / "master.log").stat().st_size > 0, sorted(logs.iterdir())
    assert (logs / "worker-0.log").stat().st_size > 0, sorted(logs.iterdir())
    procs, pids, ports = cluster_pids_ports(res)
    assert len(procs["master"]) == 1 and len(procs["worker"]) == 1, procs

    r = plan_rc(sb, d)
    assert r.rc == 0 and "No changes." in r.output, r.describe()
    # From another directory: Terraform changes into d, the engine does not
    # resolve again (it uses the recorded absolute path).
    elsewhere = sb.root / "elsewhere"
    elsewhere.mkdir()
    r = sb.run(f"-chdir={d}", "plan", "-detailed-exitcode", "-input=false", "-no-color", cwd=elsewhere, ok=None)
    assert r.rc == 0 and "No changes." in r.output, r.describe()

    r = sb.run("destroy", cwd=d, timeout=600)
    assert "Destroy complete! Resources: 1 destroyed." in r.output, r.describe()
    assert_all_stopped(sb, pids, ports)
    assert not work.exists(), sorted(work.rglob("*"))


def test_relative_paths_refused_when_they_cannot_work(sandbox):
    """What cannot work is still refused, at validate, on the attribute:
    an empty path and a `~` path (Terraform does not expand it)."""
    sb = sandbox
    d = sb.workdir("bad", RELATIVE)
    sb.init(d)
    for bad, words in (('""', "Empty path"), ('"~/spark-work"', "does not expand ~")):
        (d / "main.tf").write_text(RELATIVE.replace('"${path.module}/work"', bad))
        r = sb.run("validate", cwd=d, ok=False)
        assert words in r.output, r.describe()
        assert "work_dir" in r.output, r.describe()
        assert "/./" not in r.output, r.describe()


def test_home_changed_plan_and_destroy(sandbox):
    """The issue's scenario: apply examples/local-cluster with HOME=a; a plan
    with HOME=b says `No changes.`; destroy with HOME=b stops every process
    and frees every port."""
    sb = sandbox
    d = sb.workdir("example")
    shutil.copy(ROOT / "examples" / "local-cluster" / "main.tf", d / "main.tf")
    sb.init(d)
    home_a = sb.home
    r = sb.run("apply", cwd=d, timeout=600)
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in r.output, r.describe()
    res = sb.resources(d)["sparkflow_cluster.dev"]
    procs, pids, ports = cluster_pids_ports(res)
    assert len(procs["master"]) == 1 and len(procs["worker"]) == 2, procs
    cid = res["id"]
    assert (home_a / ".sparkflow" / "local" / cid / "cluster.json").exists()

    with home(sb, sb.root / "home-b") as home_b:
        r = plan_rc(sb, d)
        assert r.rc == 0 and "No changes." in r.output, r.describe()
        assert all(pid_alive(p) for p in pids)

        # Scaling with HOME=b updates the one record (under HOME=a)...
        config = (d / "main.tf").read_text()
        assert "workers       = 2" in config
        (d / "main.tf").write_text(config.replace("workers       = 2", "workers       = 3"))
        r = sb.run("apply", cwd=d, timeout=600)
        assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in r.output, r.describe()
        res = sb.resources(d)["sparkflow_cluster.dev"]
        procs, more_pids, more_ports = cluster_pids_ports(res)
        assert len(procs["worker"]) == 3 and pids < more_pids, (pids, more_pids)
        pids, ports = more_pids, ports | more_ports
    # ...so that HOME=a sees the cluster as it is.
    r = plan_rc(sb, d)
    assert r.rc == 0 and "No changes." in r.output, r.describe()

    with home(sb, sb.root / "home-b") as home_b:
        r = sb.run("destroy", cwd=d, timeout=600)
        assert "Destroy complete! Resources: 1 destroyed." in r.output, r.describe()
        assert_all_stopped(sb, pids, ports)
        assert not (home_b / ".sparkflow" / "local" / cid).exists()
    # The record and the default work dir under HOME=a went with it.
    assert not (home_a / ".sparkflow" / "local" / cid).exists()
    assert not sb.state_has_resources(d)


def test_old_state_other_home_destroy_without_refresh(sandbox):
    """A state written before the details named the record (no record_dir,
    pgids or start times) still refreshes under another HOME — the default
    work dir holds the record — and `destroy -refresh=false` with yet another
    HOME still stops the cluster."""
    sb = sandbox
    d = sb.workdir(
        "oldstate",
        PROVIDER
        + """
resource "sparkflow_cluster" "dev" {
  name = "e2e-oldstate"
}
""",
    )
    sb.init(d)
    sb.run("apply", cwd=d, timeout=600)
    res = sb.resources(d)["sparkflow_cluster.dev"]
    _, pids, ports = cluster_pids_ports(res)

    def previous_version(det):
        for k in ("record_dir", "master_pgid", "master_start_time", "worker_pgids", "worker_start_times"):
            del det[k]

    _edit_state(sb, d, previous_version)
    with home(sb, sb.root / "home-b"):
        r = plan_rc(sb, d)
        assert r.rc == 0 and "No changes." in r.output, r.describe()
    with home(sb, sb.root / "home-c"):
        r = sb.run("destroy", "-refresh=false", cwd=d, timeout=600)
        assert "Destroy complete! Resources: 1 destroyed." in r.output, r.describe()
    assert_all_stopped(sb, pids, ports)


def _edit_state(sb, d, edit):
    """Pull the state, change the cluster's details with edit(details), push
    it back (-force: same lineage, the serial is the CLI's business)."""
    state = json.loads(sb.run("state", "pull", cwd=d).stdout)
    inst = state["resources"][0]["instances"][0]["attributes"]
    edit(inst["details"])
    state["serial"] += 1
    p = d / "edited.tfstate"
    p.write_text(json.dumps(state))
    sb.run("state", "push", "-force", str(p), cwd=d)


def test_record_lost_and_pid_reuse(sandbox):
    """With the record out of reach (another HOME, the recorded directories
    gone), the engine rebuilds the cluster from the state's pids: a pid whose
    start time differs is not ours (the plan creates a new cluster and the
    running processes are not touched); with the true start times the plan
    says `No changes.` and destroy stops everything."""
    sb = sandbox
    d = sb.workdir(
        "reuse",
        PROVIDER
        + """
resource "sparkflow_cluster" "dev" {
  name = "e2e-reuse"

  local {
    workers = 2
  }
}
""",
    )
    sb.init(d)
    sb.run("apply", cwd=d, timeout=600)
    res = sb.resources(d)["sparkflow_cluster.dev"]
    _, pids, ports = cluster_pids_ports(res)
    details = res["details"]
    assert {"record_dir", "master_pgid", "master_start_time", "worker_pgids", "worker_start_times"} <= set(details), (
        details
    )
    true_record = Path(details["record_dir"])
    nowhere = str(sb.root / "nowhere")

    def lost(det):
        det.update(details)  # the true pids and start times
        det["record_dir"] = nowhere
        det["work_dir"] = nowhere

    def reused(det):
        lost(det)
        det["master_start_time"] = str(int(det["master_start_time"]) + 1)
        det["worker_start_times"] = " ".join(str(int(t) + 7) for t in det["worker_start_times"].split())

    _edit_state(sb, d, reused)
    with home(sb, sb.root / "home-d"):
        r = plan_rc(sb, d)
        assert r.rc == 2 and "1 to add" in r.output, r.describe()
    assert all(pid_alive(p) for p in pids), "a process with another start time was signalled"

    _edit_state(sb, d, lost)
    with home(sb, sb.root / "home-e"):
        r = plan_rc(sb, d)
        assert r.rc == 0 and "No changes." in r.output, r.describe()
        r = sb.run("destroy", cwd=d, timeout=600)
        assert "Destroy complete! Resources: 1 destroyed." in r.output, r.describe()
    assert_all_stopped(sb, pids, ports)
    # The first record was not reachable from the state any more: it stays,
    # with nothing running behind it.
    assert true_record.exists()
