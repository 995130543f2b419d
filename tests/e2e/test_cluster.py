"""End-to-end: sparkflow_cluster with the local engine, driven by a real
Terraform CLI, checked against the real Spark processes it starts.

Each test runs once per Terraform client (see conftest.py).  The lifecycle
steps share one cluster (TestLifecycle) to keep the run short; every other
test has its own sandbox.  Cleanup (destroy + kill) runs after every test and
fails it if anything was left running.
"""

import json
import os
import re
import shutil
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tfharness import (
    PROVIDER_HCL,
    ROOT,
    alive_workers,
    block,
    cluster_processes,
    listening_ports,
    master_json,
    pid_alive,
    port_of,
    provider_version,
    spark_processes,
    wait_for,
)

PROVIDER = PROVIDER_HCL


def cluster_tf(name, workers=1, res="dev", local_extra="", extra=""):
    return (
        PROVIDER
        + f"""
resource "sparkflow_cluster" "{res}" {{
  name = "{name}"

  local {{
    workers = {workers}
{local_extra}  }}
{extra}}}
"""
    )


ID_RE = r"local-[0-9a-f]{12}"
MASTER_URL_RE = r"spark://127\.0\.0\.1:\d+"
WEB_UI_RE = r"http://127\.0\.0\.1:\d+/?"


def parse_rfc3339(s):
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", s), s
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def line_of(text, needle):
    """1-based line number of the first line containing needle."""
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in config")


def assert_cluster_running(sb, res, workers):
    """A cluster in state is really there: its master process is alive and
    listening, its status page says ALIVE with `workers` ALIVE workers of
    the configured size, and no other Spark process of this sandbox runs."""
    master_url, web_ui_url = res["master_url"], res["web_ui_url"]
    assert re.fullmatch(ID_RE, res["id"]), res["id"]
    assert res["state"] == "running", res
    assert re.fullmatch(MASTER_URL_RE, master_url), master_url
    assert re.fullmatch(WEB_UI_RE, web_ui_url), web_ui_url
    details = res["details"]
    assert {"work_dir", "master_pid"} <= set(details), details
    master_pid = int(details["master_pid"])
    assert Path(details["work_dir"]).is_dir(), details["work_dir"]

    procs = cluster_processes(master_url)
    assert [p.pid for p in procs["master"]] == [master_pid], (
        f"master listening on {master_url} is {procs['master']}, state says pid {master_pid}"
    )
    assert {port_of(master_url), port_of(web_ui_url)} <= listening_ports(master_pid)
    assert len(procs["worker"]) == workers, procs["worker"]

    status = master_json(web_ui_url)
    assert status.get("status") == "ALIVE", status
    assert status.get("url") == master_url, status.get("url")
    alive = alive_workers(status)
    assert len(alive) == workers, f"{len(alive)} ALIVE workers, want {workers}: {status['workers']}"
    local = block(res["local"])
    mem_mb = {"1g": 1024, "512m": 512, "2g": 2048}[local["worker_memory"]]
    for w in alive:
        assert w["cores"] == local["worker_cores"], w
        assert w["memory"] == mem_mb, w

    mine = spark_processes(str(sb.root))
    expected = {master_pid} | {p.pid for p in procs["worker"]}
    assert {p.pid for p in mine} == expected, (
        "Spark processes of this test that are not part of the cluster: "
        + "; ".join(f"{p.pid} {p.role}" for p in mine if p.pid not in expected)
    )
    return status


def plan_exitcode(sb, d, *extra):
    """`plan -detailed-exitcode`: 0 no changes, 2 changes (1 is a failure)."""
    r = sb.run("plan", "-detailed-exitcode", *extra, cwd=d, ok=None)
    assert r.rc in (0, 2), r.describe()
    return r


# ---------------------------------------------------------------------------
# No cluster needed: init, validate, plan
# ---------------------------------------------------------------------------


def test_init_offline(sandbox):
    d = sandbox.workdir("init", cluster_tf("e2e-init"))
    r = sandbox.init(d)
    assert "sparkflow/sparkflow" in r.output
    lock = (d / ".terraform.lock.hcl").read_text()
    assert re.search(r'provider "registry\.(terraform\.io|opentofu\.org)/sparkflow/sparkflow"', lock), lock
    assert re.search(rf'version\s*=\s*"{re.escape(provider_version())}"', lock), lock
    # The provider answers GetProviderSchema: `providers schema -json` has ours.
    schema = json.loads(sandbox.run("providers", "schema", "-json", cwd=d).stdout)
    ours = [v for k, v in schema["provider_schemas"].items() if k.endswith("sparkflow/sparkflow")]
    assert ours and "sparkflow_cluster" in ours[0]["resource_schemas"], schema


BAD_CONFIGS = {
    # name: (local block extra / workers, expected line needle, checks)
    "workers_zero": dict(workers="0", needle="workers = 0"),
    "workers_negative": dict(workers="-1", needle="workers = -1"),
    "memory_lots": dict(workers="1", local_extra='    worker_memory = "lots"\n', needle='worker_memory = "lots"'),
}


@pytest.fixture
def validate_dir(sandbox):
    d = sandbox.workdir("validate", cluster_tf("e2e-validate"))
    sandbox.init(d)
    return d


def test_validate_accepts_good_and_unknown_values(sandbox, validate_dir):
    d = validate_dir
    r = sandbox.run("validate", cwd=d)
    assert "Success! The configuration is valid." in r.output
    # A value unknown at validate time (a variable) must not be rejected.
    (d / "main.tf").write_text(
        cluster_tf("e2e-validate", workers="var.n", local_extra="    worker_memory = var.mem\n")
        + """
variable "n" {
  type = number
}

variable "mem" {
  type = string
}
"""
    )
    r = sandbox.run("validate", cwd=d)
    assert "Success! The configuration is valid." in r.output
    (d / "main.tf").write_text(
        cluster_tf(
            "e2e-validate",
            workers=3,
            local_extra='    worker_cores  = 2\n    worker_memory = "512m"\n',
            extra='\n  timeouts {\n    create = "10m"\n    delete = "2m"\n  }\n',
        )
    )
    r = sandbox.run("validate", cwd=d)
    assert "Success! The configuration is valid." in r.output


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_validate_rejects_bad_values(sandbox, validate_dir, case):
    """The provider's own validation: an error that points at the attribute
    (Terraform shows the attribute's line only when the diagnostic carries
    its path) and says what is allowed."""
    d = validate_dir
    c = BAD_CONFIGS[case]
    config = cluster_tf("e2e-validate", workers=c["workers"], local_extra=c.get("local_extra", ""))
    (d / "main.tf").write_text(config)
    want_line = line_of(config, c["needle"])

    r = sandbox.run("validate", cwd=d, ok=False)
    assert "Error:" in r.output, r.describe()
    # The human output quotes the offending line (only done for diagnostics
    # with an attribute path).
    assert re.search(rf"^\s*{want_line}:\s+{re.escape(c['needle'])}", r.output, re.M), r.describe()

    v = json.loads(sandbox.run("validate", "-json", cwd=d, ok=False).stdout)
    assert v["valid"] is False, v
    errs = [x for x in v["diagnostics"] if x["severity"] == "error"]
    at = [x for x in errs if x.get("range", {}).get("start", {}).get("line") == want_line]
    assert at, f"no error on line {want_line} ({c['needle']}): {errs}"
    text = (at[0]["summary"] + " " + at[0].get("detail", "")).strip()
    assert at[0].get("detail"), f"error has no detail explaining it: {at[0]}"
    if case.startswith("workers"):
        # Says what is allowed: the bound, 1.
        assert re.search(r"\b1\b", text), text
    else:
        # Says what a valid size looks like (e.g. 512m, 2g) or quotes the bad one.
        assert re.search(r"\d+\s*[kmgt]\b|\"?lots\"?", text, re.I), text


@pytest.mark.parametrize("case", ["unknown_attribute", "missing_name", "wrong_type", "two_local_blocks"])
def test_validate_terraform_schema_errors(sandbox, validate_dir, case):
    """Errors Terraform raises itself from the schema the provider sent."""
    d = validate_dir
    if case == "unknown_attribute":
        config = cluster_tf("e2e-validate", local_extra="    bogus = 1\n")
        want = ["Unsupported argument", 'An argument named "bogus" is not expected here']
    elif case == "missing_name":
        config = cluster_tf("e2e-validate").replace('  name = "e2e-validate"\n', "")
        want = ["Missing required argument", 'The argument "name" is required']
    elif case == "wrong_type":
        config = cluster_tf("e2e-validate", workers='"two"')
        want = ["Incorrect attribute value type", "a number is required"]
    else:
        config = cluster_tf("e2e-validate", extra="\n  local {\n    workers = 1\n  }\n")
        want = [re.compile(r"(Too many|Duplicate) local block")]
    (d / "main.tf").write_text(config)
    r = sandbox.run("validate", cwd=d, ok=False)
    for w in want:
        found = w.search(r.output) if isinstance(w, re.Pattern) else w in r.output
        assert found, f"{w} not in output\n{r.describe()}"


def test_plan_create(sandbox):
    d = sandbox.workdir("plan", cluster_tf("e2e-plan"))
    sandbox.init(d)
    r = sandbox.run("plan", "-out=create.tfplan", cwd=d)
    out = r.output
    assert "# sparkflow_cluster.dev will be created" in out, out
    assert re.search(r'\+ name\s+= "e2e-plan"', out), out
    assert re.search(r"\+ id\s+= \(known after apply\)", out), out
    assert re.search(r"\+ master_url\s+= \(known after apply\)", out), out
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in out, out

    plan = sandbox.show_json(d, "create.tfplan")
    (rc,) = plan["resource_changes"]
    assert rc["address"] == "sparkflow_cluster.dev"
    assert rc["change"]["actions"] == ["create"]
    after, unknown = rc["change"]["after"], rc["change"]["after_unknown"]
    local = block(after["local"])
    # Defaults are in the plan, known.
    assert (local["workers"], local["worker_cores"], local["worker_memory"]) == (1, 1, "1g"), local
    for k in ("id", "state", "master_url", "web_ui_url", "created_at"):
        assert unknown.get(k) is True, f"{k} should be (known after apply): {unknown}"
    # Planning starts nothing.
    assert spark_processes(str(sandbox.root)) == []


# ---------------------------------------------------------------------------
# One cluster through its life: apply, re-plan, scale, import, drift, destroy
# ---------------------------------------------------------------------------


class Stack:
    def __init__(self, sb, d):
        self.sb, self.d = sb, d
        self.first = None  # state after the first apply
        self.config = cluster_tf("e2e-lc", workers=1)

    def write(self, config):
        self.config = config
        (self.d / "main.tf").write_text(config)

    def res(self):
        return self.sb.resources(self.d)["sparkflow_cluster.dev"]


@pytest.fixture(scope="class")
def stack(class_sandbox):
    sb = class_sandbox
    st = Stack(sb, sb.workdir("main"))
    st.write(st.config)
    sb.init(st.d)
    r = sb.run("apply", cwd=st.d, timeout=600)
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in r.output, r.describe()
    st.first = st.res()
    return st


class TestLifecycle:
    def test_apply_one_worker(self, stack):
        res = stack.first
        assert res["name"] == "e2e-lc"
        local = block(res["local"])
        assert (local["workers"], local["worker_cores"], local["worker_memory"]) == (1, 1, "1g")
        assert local["spark_home"] and Path(local["spark_home"]).is_dir(), local
        assert local["work_dir"] == res["details"]["work_dir"], (local, res["details"])
        created = parse_rfc3339(res["created_at"])
        assert abs(datetime.now(UTC) - created) < timedelta(minutes=15), created
        assert_cluster_running(stack.sb, res, workers=1)

    def test_replan_no_changes(self, stack):
        r = plan_exitcode(stack.sb, stack.d)
        assert r.rc == 0 and "No changes." in r.output, r.describe()

    def test_rename_plans_replacement(self, stack):
        renamed = stack.config.replace('name = "e2e-lc"', 'name = "e2e-renamed"')
        (stack.d / "main.tf").write_text(renamed)
        try:
            r = plan_exitcode(stack.sb, stack.d)
        finally:
            stack.write(stack.config)
        out = r.output
        assert r.rc == 2, r.describe()
        assert "# sparkflow_cluster.dev must be replaced" in out, out
        assert re.search(r'~ name\s+= "e2e-lc" -> "e2e-renamed" # forces replacement', out), out
        assert "Plan: 1 to add, 0 to change, 1 to destroy." in out, out

    def test_scale_to_two_workers_in_place(self, stack):
        sb, d = stack.sb, stack.d
        before = stack.res()
        stack.write(cluster_tf("e2e-lc", workers=2))
        r = plan_exitcode(sb, d, "-out=scale.tfplan")
        out = r.output
        assert r.rc == 2, r.describe()
        assert "# sparkflow_cluster.dev will be updated in-place" in out, out
        assert "~ update in-place" in out, out
        assert re.search(r"~ workers\s+= 1 -> 2", out), out
        assert "must be replaced" not in out and "forces replacement" not in out, out
        assert "Plan: 0 to add, 1 to change, 0 to destroy." in out, out
        (rc,) = sb.show_json(d, "scale.tfplan")["resource_changes"]
        assert rc["change"]["actions"] == ["update"], rc["change"]["actions"]
        for k in ("id", "master_url", "web_ui_url"):
            assert not rc["change"]["after_unknown"].get(k), f"{k} unknown in an in-place scale plan"
            assert rc["change"]["after"][k] == before[k], k

        r = sb.run("apply", "scale.tfplan", cwd=d, timeout=600)
        assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in r.output, r.describe()
        after = stack.res()
        assert block(after["local"])["workers"] == 2
        for k in ("id", "master_url", "web_ui_url", "created_at"):
            assert after[k] == before[k], (k, before[k], after[k])
        assert after["details"]["master_pid"] == before["details"]["master_pid"]
        assert_cluster_running(sb, after, workers=2)

        r = plan_exitcode(sb, d)
        assert r.rc == 0 and "No changes." in r.output, r.describe()

    def test_import_round_trip(self, stack):
        sb = stack.sb
        src = stack.res()
        d2 = sb.workdir("imported", stack.config)
        sb.init(d2)

        # An id that names nothing: a clean error, nothing in state.
        r = sb.run("import", "sparkflow_cluster.dev", "local-0123456789ab", cwd=d2, ok=False)
        assert "Error" in r.output, r.describe()
        assert not sb.state_has_resources(d2)

        r = sb.run("import", "sparkflow_cluster.dev", src["id"], cwd=d2)
        assert "Import successful!" in r.output, r.describe()
        try:
            r = plan_exitcode(sb, d2)
            assert r.rc == 0 and "No changes." in r.output, r.describe()
            got = sb.resources(d2)["sparkflow_cluster.dev"]
            for k in ("id", "name", "state", "master_url", "web_ui_url", "created_at", "local"):
                assert got[k] == src[k], (k, src[k], got[k])
            for k in ("work_dir", "master_pid"):
                assert got["details"][k] == src["details"][k], k
        finally:
            # One owner for the cluster: the first directory.
            if sb.state_has_resources(d2):
                sb.run("state", "rm", "sparkflow_cluster.dev", cwd=d2)

    def test_master_killed_is_recreated(self, stack):
        sb, d = stack.sb, stack.d
        before = stack.res()
        workers = block(before["local"])["workers"]
        old_pid = int(before["details"]["master_pid"])
        os.kill(old_pid, signal.SIGKILL)
        assert wait_for(lambda: not pid_alive(old_pid), 10), "master did not die"

        r = plan_exitcode(sb, d)
        out = r.output
        assert r.rc == 2, r.describe()
        assert "# sparkflow_cluster.dev will be created" in out, out
        assert "Plan: 1 to add, 0 to change, 0 to destroy." in out, out

        r = sb.run("apply", cwd=d, timeout=600)
        assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in r.output, r.describe()
        after = stack.res()
        assert int(after["details"]["master_pid"]) != old_pid
        # Also proves the killed cluster's workers are gone (no orphans).
        assert_cluster_running(sb, after, workers=workers)
        r = plan_exitcode(sb, d)
        assert r.rc == 0 and "No changes." in r.output, r.describe()

    def test_destroy_leaves_nothing(self, stack):
        sb, d = stack.sb, stack.d
        res = stack.res()
        procs = cluster_processes(res["master_url"])
        ports = set()
        for p in procs["master"] + procs["worker"]:
            ports |= listening_ports(p.pid)
        assert port_of(res["master_url"]) in ports
        work_dir = Path(res["details"]["work_dir"])

        r = sb.run("destroy", cwd=d, timeout=600)
        assert "Destroy complete! Resources: 1 destroyed." in r.output, r.describe()
        assert spark_processes(str(sb.root)) == []
        assert not (ports & listening_ports()), f"still listening: {ports & listening_ports()}"
        assert not work_dir.exists(), f"{work_dir} still exists"
        assert not sb.state_has_resources(d)


# ---------------------------------------------------------------------------
# Several clusters, interrupts, timeouts
# ---------------------------------------------------------------------------


def test_three_clusters_in_parallel(sandbox):
    config = (
        PROVIDER
        + """
resource "sparkflow_cluster" "par" {
  count = 3
  name  = "e2e-par-${count.index}"

  local {
    workers = 1
  }

  timeouts {
    create = "10m"
    delete = "5m"
  }
}
"""
    )
    d = sandbox.workdir("par", config)
    sandbox.init(d)
    r = sandbox.run("apply", cwd=d, timeout=900)
    assert "Apply complete! Resources: 3 added, 0 changed, 0 destroyed." in r.output, r.describe()
    res = sandbox.resources(d)
    clusters = [res[f"sparkflow_cluster.par[{i}]"] for i in range(3)]
    for k in ("id", "master_url", "web_ui_url"):
        assert len({c[k] for c in clusters}) == 3, f"{k} not distinct: {[c[k] for c in clusters]}"
    pids = set()
    for c in clusters:
        procs = cluster_processes(c["master_url"])
        assert len(procs["master"]) == 1 and len(procs["worker"]) == 1, (c["master_url"], procs)
        status = master_json(c["web_ui_url"])
        assert status["status"] == "ALIVE" and len(alive_workers(status)) == 1, status
        pids |= {p.pid for p in procs["master"] + procs["worker"]}
    assert {p.pid for p in spark_processes(str(sandbox.root))} == pids
    work_dirs = [Path(c["details"]["work_dir"]) for c in clusters]
    assert len(set(work_dirs)) == 3, work_dirs

    r = sandbox.run("plan", "-detailed-exitcode", cwd=d, ok=None)
    assert r.rc == 0 and "No changes." in r.output, r.describe()

    r = sandbox.run("destroy", cwd=d, timeout=900)
    assert "Destroy complete! Resources: 3 destroyed." in r.output, r.describe()
    assert spark_processes(str(sandbox.root)) == []
    assert not any(w.exists() for w in work_dirs), work_dirs


@pytest.mark.parametrize("when", ["master", "worker"])
def test_sigint_during_create_then_destroy(sandbox, when):
    """Ctrl-C (SIGINT to terraform's process group) while the cluster is
    starting — as soon as its master (or its first worker) process exists:
    Terraform stops gracefully, and a following destroy leaves no Spark
    process."""
    config = cluster_tf("e2e-sigint", workers=2, extra='\n  timeouts {\n    create = "5m"\n  }\n')
    d = sandbox.workdir("sigint", config)
    sandbox.init(d)
    out_path = sandbox.logs / "sigint-apply.out"
    owner = str(sandbox.root)
    proc = sandbox.popen(["apply"], d, out_path)
    try:
        started = wait_for(lambda: [p for p in spark_processes(owner) if p.role == when], 180, 0.1)
        assert started, f"no Spark {when} appeared within 180 s\n" + out_path.read_text()
        assert proc.poll() is None, "apply finished before it could be interrupted\n" + out_path.read_text()
        os.killpg(proc.pid, signal.SIGINT)
        t0 = time.monotonic()
        try:
            proc.wait(timeout=120)
        except Exception:
            raise AssertionError("terraform did not stop within 120 s of SIGINT\n" + out_path.read_text()) from None
        stop_s = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    out = out_path.read_text()
    plog = sandbox.provider_log(proc.sf_log_base)
    sandbox.check_output(out, out, plog)
    assert "Interrupt received" in out, out
    print(f"terraform stopped {stop_s:.1f}s after SIGINT, exit {proc.returncode}")

    # What Terraform does not know about must not be running.
    if not sandbox.state_has_resources(d):
        left = spark_processes(owner)
        assert left == [], f"interrupted create left Spark running with nothing in state: {left}"

    r = sandbox.run("destroy", cwd=d, timeout=600)
    assert "Destroy complete!" in r.output, r.describe()
    assert spark_processes(owner) == []
    assert not sandbox.state_has_resources(d)


def test_create_timeout_leaves_nothing(sandbox):
    """A create that runs out of time fails with a timeout error and, per the
    engine contract, leaves nothing running."""
    config = cluster_tf("e2e-timeout", extra='\n  timeouts {\n    create = "1s"\n  }\n')
    d = sandbox.workdir("timeout", config)
    sandbox.init(d)
    r = sandbox.run("apply", cwd=d, timeout=300, ok=False)
    assert re.search(r"time(d)? ?out|deadline", r.output, re.I), r.describe()
    assert spark_processes(str(sandbox.root)) == [], "failed create left Spark running"


# ---------------------------------------------------------------------------
# The example a README reader runs first
# ---------------------------------------------------------------------------


def test_example_local_cluster(sandbox):
    src = ROOT / "examples" / "local-cluster"
    d = sandbox.workdir("example")
    for f in src.glob("*.tf"):
        shutil.copy(f, d / f.name)
    r = sandbox.run("fmt", "-check", "-diff", cwd=d)
    assert r.stdout == "", r.describe()
    sandbox.init(d)
    sandbox.run("validate", cwd=d)
    sandbox.run("apply", cwd=d, timeout=600)
    outputs = json.loads(sandbox.run("output", "-json", cwd=d).stdout)
    assert re.fullmatch(MASTER_URL_RE, outputs["master_url"]["value"]), outputs
    assert re.fullmatch(WEB_UI_RE, outputs["web_ui_url"]["value"]), outputs
    res = sandbox.resources(d)
    (cluster,) = res.values()
    assert_cluster_running(sandbox, cluster, workers=block(cluster["local"])["workers"])
    sandbox.run("destroy", cwd=d, timeout=600)
    assert spark_processes(str(sandbox.root)) == []
