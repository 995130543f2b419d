"""End-to-end: sparkflow_airflow with the local orchestrator, driven by a real
Terraform CLI, checked against the real Airflow 3 processes it starts.

One Airflow start costs 10-30 s on a 2-core machine, so the lifecycle steps
share one host (TestLocalAirflow, in order): apply -> healthy, the password
works and stays secret, every socket of the group is on loopback, the DAG
folder is a copy, re-plan shows no changes, a killed scheduler is drift
(the plan creates a new host and nothing of the old one survives), destroy
leaves no process and frees the ports.  The failure paths need no real
Airflow: a missing `airflow` and one whose components die at start.  Last,
examples/airflow-local is validated and planned as written
(test_airflow_pipeline.py applies it: it runs a whole pipeline).

Like test_pipeline.py, everything runs on the primary Terraform client only
(SF_AIRFLOW_CLIENTS=all: every client): test_cluster.py covers the protocol
paths on every client.
"""

import json
import os
import re
import shutil
import signal
import stat
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pipeline_support import JOBS, JOBS_LOCAL, generate
from tfharness import PROVIDER_HCL, ROOT, block, discover_clients, pid_alive, port_of, wait_for

pytestmark = pytest.mark.once  # conftest.py: one pass per scripts/test run

PROVIDER = PROVIDER_HCL

ID_RE = r"airflow-[0-9a-f]{12}"
COMPONENTS = ("api_server", "scheduler", "dag_processor", "triggerer")


def airflow_tf(local_body='work_dir = "af-home"', name="e2e-af"):
    return (
        PROVIDER
        + f"""
resource "sparkflow_airflow" "af" {{
  name = "{name}"

  local {{
    {local_body}
  }}
}}

output "url" {{
  value = sparkflow_airflow.af.url
}}

output "user" {{
  value = sparkflow_airflow.af.user
}}

output "password" {{
  value     = sparkflow_airflow.af.password
  sensitive = true
}}
"""
    )


def only_primary(sb):
    primary = next(iter(discover_clients()), None)
    if os.environ.get("SF_AIRFLOW_CLIENTS") != "all" and primary and sb.client.path != primary.path:
        pytest.skip(f"Airflow-heavy: runs on the primary Terraform client only ({primary.id})")


def plan_exitcode(sb, d, *extra):
    r = sb.run("plan", "-detailed-exitcode", *extra, cwd=d, ok=None)
    assert r.rc in (0, 2), r.describe()
    return r


def get_json(url, token=None, method="GET", body=None, timeout=10):
    req = urllib.request.Request(url, method=method)
    req.add_header("Accept", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, data=data, timeout=timeout) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, None


# ---------------------------------------------------------------------------
# Processes and sockets of one host
# ---------------------------------------------------------------------------


def group_pids(pgid):
    """Live (non-zombie) processes of process group pgid."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(b")") + 2 :].split()
        if fields[0] not in (b"Z", b"X") and int(fields[2]) == pgid:
            out.append(int(name))
    return out


def socket_inodes(pid):
    out = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                out.add(link[8:-1])
    except OSError:
        pass
    return out


def listening_sockets():
    """(address, port, inode) of every listening TCP socket; addresses as
    hex from /proc/net/tcp{,6}."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                cols = line.split()
                if cols[3] == "0A":
                    addr, port = cols[1].rsplit(":", 1)
                    out.append((addr, int(port, 16), cols[9]))
    return out


LOOPBACK_V4 = "0100007F"  # 127.0.0.1, little-endian hex
LOOPBACK_V6 = "00000000000000000000000001000000"  # ::1


def group_listening(pgid):
    inodes = set()
    for pid in group_pids(pgid):
        inodes |= socket_inodes(pid)
    return [(a, p) for a, p, ino in listening_sockets() if ino in inodes]


def port_free(port):
    return port not in {p for _, p, _ in listening_sockets()}


def pss_kb(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


# ---------------------------------------------------------------------------
# The shared host
# ---------------------------------------------------------------------------


class Host:
    def __init__(self, sb, d):
        self.sb, self.d = sb, d
        self.apply_out = ""
        self.plan_out = ""
        self.seconds = 0.0

    def res(self):
        return self.sb.resources(self.d)["sparkflow_airflow.af"]

    def password(self):
        return self.sb.run("output", "-raw", "password", cwd=self.d).stdout


@pytest.fixture(scope="class")
def host(class_sandbox):
    sb = class_sandbox
    only_primary(sb)
    h = Host(sb, sb.workdir("af", airflow_tf()))
    sb.init(h.d)
    h.plan_out = sb.run("plan", cwd=h.d).output
    t0 = time.monotonic()
    r = sb.run("apply", cwd=h.d, timeout=600)
    h.seconds = time.monotonic() - t0
    h.apply_out = r.output
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in r.output, r.describe()
    return h


class TestLocalAirflow:
    def test_01_apply_is_healthy(self, host):
        res = host.res()
        assert re.fullmatch(ID_RE, res["id"]), res["id"]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", res["url"]), res["url"]
        assert res["user"] == "sparkflow" and res["state"] == "running"
        local = block(res["local"])
        # The block as applied: defaults filled, the relative path as written.
        assert local["work_dir"] == "af-home", local
        assert local["parallelism"] == 4 and local["api_port"] == port_of(res["url"]), local
        assert local["airflow_bin"].endswith("/.venv-airflow/bin/airflow"), local
        assert res["details"]["work_dir"] == str(host.d / "af-home"), res["details"]
        status, health = get_json(res["url"] + "/api/v2/monitor/health")
        assert status == 200, status
        for k in ("metadatabase", "scheduler", "triggerer", "dag_processor"):
            assert health[k]["status"] == "healthy", health
        status, version = get_json(res["url"] + "/api/v2/version")
        assert status == 200 and version["version"] == res["airflow_version"], (version, res["airflow_version"])
        assert res["airflow_version"].startswith("3."), res["airflow_version"]
        print(f"\ncreate -> healthy through terraform apply: {host.seconds:.1f} s")

    def test_02_password_gives_a_token(self, host):
        res = host.res()
        pw = host.password()
        assert len(pw) >= 24, "password too short"
        status, tok = get_json(
            res["url"] + "/auth/token", method="POST", body={"username": "sparkflow", "password": pw}
        )
        assert status == 201 and tok.get("access_token"), (status, tok)
        status, dags = get_json(res["url"] + "/api/v2/dags", token=tok["access_token"])
        assert status == 200 and "dags" in dags, status
        # No token, or a wrong password: refused.
        assert get_json(res["url"] + "/api/v2/dags")[0] == 401
        wrong = {"username": "sparkflow", "password": pw + "x"}
        assert get_json(res["url"] + "/auth/token", method="POST", body=wrong)[0] == 401

    def test_03_password_stays_secret(self, host):
        res = host.res()
        pw = host.password()
        assert pw not in host.plan_out and pw not in host.apply_out
        assert "(sensitive value)" in host.plan_out
        # Not in any log Terraform or the provider wrote (DEBUG provider logs
        # of every command so far), nor in what init/plan/apply printed
        # (`show -json` and `output -raw` print it on purpose).
        logs = [f for f in host.sb.logs.iterdir() if f.name.endswith(".tf.log")]
        logs += [f for f in host.sb.logs.iterdir() if re.match(r"\d+-(init|plan|apply).*\.out$", f.name)]
        assert len(logs) >= 4, logs
        for f in logs:
            assert pw not in f.read_text(errors="replace"), f"password in {f}"
        # Not in any log of the host's components.
        for f in Path(res["details"]["log_dir"]).glob("*.log"):
            assert pw not in f.read_text(errors="replace"), f"password in {f}"
        # The state marks it sensitive.
        state = host.sb.show_json(host.d)
        (r,) = state["values"]["root_module"]["resources"]
        assert r["sensitive_values"].get("password") is True, r["sensitive_values"]
        # The passwords file: 0600, holding exactly the user's password.
        pf = Path(res["details"]["password_file"])
        assert stat.S_IMODE(pf.stat().st_mode) == 0o600, oct(pf.stat().st_mode)
        assert json.loads(pf.read_text()) == {"sparkflow": pw}

    def test_04_one_group_on_loopback_only(self, host):
        res = host.res()
        d = res["details"]
        pgid = int(d["pgid"])
        pids = group_pids(pgid)
        for c in COMPONENTS:
            assert int(d[f"{c}_pid"]) in pids, (c, d, pids)
        socks = group_listening(pgid)
        assert ("0100007F", port_of(res["url"])) in socks, socks
        wild = [(a, p) for a, p in socks if a not in (LOOPBACK_V4, LOOPBACK_V6)]
        assert not wild, f"listening beyond loopback: {wild}"
        print(f"\nPSS of the group's {len(pids)} processes: {pss_kb(pids) / 1024:.0f} MiB")

    def test_05_dag_folder_is_a_copy(self, host):
        d = host.res()["details"]
        dags = Path(d["dags_folder"])
        assert (dags / "sparkflow_dags.py").is_file() and not (dags / "sparkflow_dags.py").is_symlink()
        assert (dags / "sparkflow_airflow").is_dir() and not (dags / "sparkflow_airflow").is_symlink()
        assert (dags / ".airflowignore").is_file()
        assert (dags / "specs").is_dir()
        assert dags == Path(d["work_dir"]) / "dags"

    def test_06_replan_no_changes(self, host):
        r = plan_exitcode(host.sb, host.d)
        assert r.rc == 0 and "No changes." in r.output, r.describe()

    def test_07_killed_scheduler_is_drift(self, host):
        sb, d = host.sb, host.d
        before = host.res()
        det = before["details"]
        pgid = int(det["pgid"])
        sched = int(det["scheduler_pid"])
        os.kill(sched, signal.SIGKILL)
        assert wait_for(lambda: not pid_alive(sched), 10), "scheduler did not die"
        r = plan_exitcode(sb, d)
        assert r.rc == 2, r.describe()
        assert "# sparkflow_airflow.af will be created" in r.output, r.output
        assert "Plan: 1 to add, 0 to change, 0 to destroy." in r.output, r.output
        # The refresh stopped what was left of the old host: nothing leaks.
        assert not group_pids(pgid), group_pids(pgid)
        assert wait_for(lambda: port_free(port_of(before["url"])), 10)

        t0 = time.monotonic()
        r = sb.run("apply", cwd=d, timeout=600)
        print(f"\nre-create (database migrated already) -> healthy: {time.monotonic() - t0:.1f} s")
        assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in r.output, r.describe()
        after = host.res()
        assert after["id"] != before["id"] and after["details"]["pgid"] != det["pgid"]
        status, health = get_json(after["url"] + "/api/v2/monitor/health")
        assert status == 200 and all(health[k]["status"] == "healthy" for k in health), health

    def test_08_destroy_leaves_nothing(self, host):
        sb, d = host.sb, host.d
        res = host.res()
        det = res["details"]
        pgid = int(det["pgid"])
        ports = {p for _, p in group_listening(pgid)}
        assert port_of(res["url"]) in ports
        r = sb.run("destroy", cwd=d, timeout=300)
        assert "Destroy complete! Resources: 1 destroyed." in r.output, r.describe()
        assert not group_pids(pgid), group_pids(pgid)
        assert all(port_free(p) for p in ports), ports
        # The work dir stays: logs and the database of past runs.
        wd = Path(det["work_dir"])
        assert (wd / "airflow.db").is_file() and (wd / "logs" / "scheduler.log").is_file()
        assert not (wd / "host.json").exists()
        assert not sb.state_has_resources(d)


# ---------------------------------------------------------------------------
# Failures: no real Airflow needed
# ---------------------------------------------------------------------------


def test_missing_airflow_is_a_clear_error(sandbox):
    only_primary(sandbox)
    d = sandbox.workdir("missing", airflow_tf('airflow_bin = "/nonexistent/bin/airflow"'))
    sandbox.init(d)
    r = sandbox.run("apply", cwd=d, timeout=120, ok=False)
    out = re.sub(r"\s+", " ", r.output)
    assert "Airflow not found" in out and "/nonexistent/bin/airflow" in out, r.output
    assert not sandbox.state_has_resources(d)


FAKE_AIRFLOW = """#!/bin/sh
# A stand-in `airflow`: the database migrates, every component fails.
case "$1" in
  db) echo "migrated"; exit 0 ;;
  api-server) echo "api-server: cannot bind, giving up (fake)"; exit 3 ;;
  *) sleep 60 ;;
esac
"""


def test_failing_start_reports_the_log_and_leaves_nothing(sandbox):
    only_primary(sandbox)
    fake = sandbox.root / "fake-airflow"
    fake.write_text(FAKE_AIRFLOW)
    fake.chmod(0o755)
    d = sandbox.workdir("failing", airflow_tf(f'airflow_bin = "{fake}"\n    work_dir = "home"'))
    sandbox.init(d)
    r = sandbox.run("apply", cwd=d, timeout=120, ok=False)
    out = r.output
    assert "Airflow did not start" in out, out
    assert "api-server" in out and "cannot bind, giving up (fake)" in out, out
    assert not sandbox.state_has_resources(d)
    # The other three components (sleeping) were stopped with the group.
    left = [p for p in os.listdir("/proc") if p.isdigit() and _cmdline_mentions(int(p), str(fake))]
    assert not left, left


def _cmdline_mentions(pid, needle):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return needle.encode() in f.read()
    except OSError:
        return False


# ---------------------------------------------------------------------------
# The example
# ---------------------------------------------------------------------------


def test_example_airflow_local(sandbox):
    """examples/airflow-local as written (only its `jobs` local pointed at
    this tree's dags/jobs, lake_dir at a small generated lake): formatted,
    valid, and its plan creates the quickstart's cluster and pipeline plus
    the Airflow the pipeline runs through, the `airflow` reference shown as
    a sensitive value.  test_airflow_pipeline.py applies it."""
    only_primary(sandbox)
    src = ROOT / "examples" / "airflow-local"
    d = sandbox.workdir("example")
    for f in src.glob("*.tf"):
        shutil.copy(f, d / f.name)
    r = sandbox.run("fmt", "-check", "-diff", cwd=d)
    assert r.stdout == "", r.describe()
    main = d / "main.tf"
    text, n = JOBS_LOCAL.subn(lambda m: f'{m.group(1)}"{JOBS}"', main.read_text())
    assert n == 1, f"the example's `jobs` local is not where the test expects it:\n{text}"
    main.write_text(text)
    lake = sandbox.root / "lake"
    generate(lake, "--transactions", "500", "--months", "2", "--seed", "5")
    sandbox.init(d)
    sandbox.run("validate", cwd=d)
    r = sandbox.run("plan", "-var", f"lake_dir={lake}", cwd=d, timeout=300)
    out = r.output
    for res in ("sparkflow_cluster.dev", "sparkflow_airflow.ops", "sparkflow_pipeline.finances"):
        assert f"# {res} will be created" in out, r.describe()
    assert "Plan: 3 to add, 0 to change, 0 to destroy." in out, r.describe()
    pipeline = out[out.index("# sparkflow_pipeline.finances will be created") :]
    pipeline = pipeline[: pipeline.index("\n    }\n")]
    assert re.search(r"^\s+\+ airflow\s+= \(sensitive value\)$", pipeline, re.MULTILINE), pipeline
    assert f'lake = "file://{lake}"' in " ".join(pipeline.split()), pipeline
    assert re.search(r'\+ name\s+= "household-finances"', pipeline), pipeline
    for o in ("airflow_url", "airflow_user", "dag_runs_url", "rows", "report", "tables"):
        assert re.search(rf"^\s+\+ {o}\s+=", out, re.MULTILINE), (o, out)
    assert re.search(r"^\s+\+ airflow_password\s+= \(sensitive value\)$", out, re.MULTILINE), out
    # Planning starts nothing.
    assert not sandbox.state_has_resources(d)
