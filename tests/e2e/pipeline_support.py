"""pipeline_support — what the sparkflow_pipeline end-to-end tests need on
top of tfharness: sample lakes from the real generator, the quickstart
configuration, configurations of fixture pipelines, and readers for what a
run leaves behind (the published link, the run record, the stage logs, the
Spark processes).

Nothing here fakes the provider or Spark: the helpers only read the lake,
the plan and state Terraform prints, and /proc.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

from tfharness import ROOT, VENV, Proc, owned_processes

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
FIXTURE_JOBS = FIXTURES / "jobs"
JOBS = ROOT / "dags" / "jobs"
GENERATOR = ROOT / "dags" / "sample_data" / "generate.py"
QUICKSTART = ROOT / "examples" / "quickstart" / "main.tf"
PYTHON = VENV / "bin" / "python"

PROVIDER_BLOCK = """\
terraform {
  required_providers {
    sparkflow = {
      source = "sparkflow/sparkflow"
    }
  }
}

provider "sparkflow" {}
"""

# Spark settings for the fixture pipelines: small and quick to start (the
# quickstart runs as shipped).  spark.cores.max=1 lets two applications
# share the quickstart's two one-core workers at the same time.  No
# extraJavaOptions: the engine's own (lean options and Spark's class archive,
# engines/local/submit.c) apply, as they do for a user's stage that sets none.
FAST_CONF = {
    "spark.cores.max": "1",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "1",
}

# How long one apply that runs Spark may take before the harness stops it.
RUN_TIMEOUT = float(os.environ.get("SF_E2E_RUN_TIMEOUT", "1800"))

# ---------------------------------------------------------------------------
# Sample data (dags/sample_data/generate.py, run as a user would)
# ---------------------------------------------------------------------------


def generate(lake: Path, *args: str) -> str:
    """Run the generator on `lake`; returns its stdout.  Fails the test with
    the generator's own message when it fails."""
    p = subprocess.run(
        [str(PYTHON), str(GENERATOR), "--out", str(lake), *args], capture_output=True, text=True, timeout=300
    )
    assert p.returncode == 0, f"generate.py {' '.join(args)} failed:\n{p.stdout}\n{p.stderr}"
    return p.stdout


def append(lake: Path, rows: int) -> dict:
    """generate.py --append: adds one export; returns {"file", "delta"}."""
    out = generate(lake, "--append", str(rows))
    return json.loads(out.strip().splitlines()[-1])


def manifest(lake: Path) -> dict:
    return json.loads((lake / "manifest.json").read_text(encoding="utf-8"))


def expected_metrics(m: dict) -> dict:
    """The manifest's expected metrics of the three jobs merged into one map,
    as the pipeline's `metrics` attribute merges the stages' metrics."""
    out = {}
    for job in ("validate", "process", "marts"):
        for k, v in m["expected"][job].items():
            assert k not in out, f"metric {k} reported by two jobs: the merged map would hide one"
            out[k] = v
    return out


def sum_deltas(m: dict, first: int) -> dict:
    """The merged delta of manifest["appends"][first:]."""
    out = {}
    for a in m["appends"][first:]:
        for job in ("validate", "process", "marts"):
            for k, v in a["delta"][job].items():
                out[k] = out.get(k, 0) + v
    return out


def metrics_equal(got: dict, want: dict) -> list[str]:
    """Differences between two metric maps (numbers compared exactly, except
    money totals that are floats on both sides: within half a cent)."""
    diffs = []
    for k in sorted(set(got) | set(want)):
        if k not in got:
            diffs.append(f"{k}: missing (want {want[k]})")
        elif k not in want:
            diffs.append(f"{k}: unexpected (got {got[k]})")
        else:
            g, w = got[k], want[k]
            same = abs(g - w) < 0.005 if isinstance(w, float) or isinstance(g, float) and g != int(g) else g == w
            if not same:
                diffs.append(f"{k}: got {g}, want {w}")
    return diffs


def assert_metrics(got: dict, want: dict, what: str = "metrics") -> None:
    diffs = metrics_equal(got, want)
    assert not diffs, f"{what} differ from the manifest:\n  " + "\n  ".join(diffs)


# ---------------------------------------------------------------------------
# Configurations
# ---------------------------------------------------------------------------

JOBS_LOCAL = re.compile(r'^(\s*jobs\s*=\s*)"\$\{abspath\(path\.module\)\}/\.\./\.\./dags/jobs"\s*$', re.MULTILINE)


def events_lake(lake: Path) -> Path:
    """A lake for the line_count fixture: raw/events/a.txt (30 lines) and
    b.txt (20), and an empty reference/ (50 lines in all)."""
    for name, n in {"a.txt": 30, "b.txt": 20}.items():
        p = lake / "raw" / "events" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("".join(f"event {i} of {name}\n" for i in range(n)))
    (lake / "reference").mkdir()
    return lake


def line_count_config(lake: Path, cluster: str, round_: str, args=()) -> str:
    """A kept local cluster (one worker) named `cluster` and the line_count
    fixture as pipeline "fx" over events_lake(lake), re-run by bumping
    `round_` (its triggers); `args`: the stage's test switches."""
    args_line = f"    args       = {hcl(list(args))}\n" if args else ""
    return config(
        f"""resource "sparkflow_cluster" "dev" {{
  name = {hcl(cluster)}
  local {{
    workers = 1
  }}
}}

resource "sparkflow_pipeline" "fx" {{
  cluster_id = sparkflow_cluster.dev.id
  name       = "fx"
  lake       = {hcl("file://" + str(lake))}
  input      = "raw/events"
  output     = "lines"
  triggers   = {{ round = {hcl(round_)} }}

  stage {{
    name       = "count"
    script     = {hcl(str(FIXTURE_JOBS / "line_count.py"))}
{args_line}    spark_conf = {hcl(FAST_CONF)}
  }}
}}
"""
    )


def quickstart_config(jobs_dir: Path) -> str:
    """examples/quickstart/main.tf with its `jobs` local pointing at
    jobs_dir (a copy the test may edit); everything else as shipped."""
    text = QUICKSTART.read_text()
    new, n = JOBS_LOCAL.subn(lambda m: f'{m.group(1)}"{jobs_dir}"', text)
    assert n == 1, f"the quickstart's `jobs` local is not where the test expects it:\n{text}"
    return new


def copy_jobs(dst: Path) -> Path:
    shutil.copytree(JOBS, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dst


def hcl(value) -> str:
    """A Python value as an HCL expression (strings, numbers, bools, lists, maps)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(hcl(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {hcl(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def pipeline_block(
    res: str,
    *,
    name: str,
    cluster_id: str,
    lake: Path,
    input: str,
    output: str,
    stages: list[dict],
    reference: str | None = None,
    **attrs,
) -> str:
    """One sparkflow_pipeline resource.  stages: [{"name", "script", "args"?,
    "spark_conf"?}]; attrs: more top-level attributes (triggers, ...)."""
    lines = [
        f'resource "sparkflow_pipeline" "{res}" {{',
        f"  cluster_id = {hcl(cluster_id)}",
        f"  name       = {hcl(name)}",
        f"  lake       = {hcl('file://' + str(lake))}",
        f"  input      = {hcl(input)}",
        f"  output     = {hcl(output)}",
    ]
    if reference is not None:
        lines.append(f"  reference  = {hcl(reference)}")
    for k, v in attrs.items():
        lines.append(f"  {k} = {hcl(v)}")
    for st in stages:
        lines.append("  stage {")
        for k in ("name", "script", "args", "spark_conf"):
            if k in st:
                lines.append(f"    {k} = {hcl(str(st[k]) if k == 'script' else st[k])}")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def config(*blocks: str) -> str:
    return PROVIDER_BLOCK + "\n" + "\n".join(blocks)


# ---------------------------------------------------------------------------
# Plans and state
# ---------------------------------------------------------------------------


def plan_change(sb, d: Path, plan_file: str, address: str) -> dict:
    """The planned change of one resource, from `terraform show -json <plan>`."""
    plan = sb.show_json(d, plan_file)
    for rc in plan.get("resource_changes", []):
        if rc["address"] == address:
            return rc["change"]
    raise AssertionError(f"{address} not in the plan: {[r['address'] for r in plan.get('resource_changes', [])]}")


def outputs(sb, d: Path) -> dict:
    """`terraform output -json` as {name: value}."""
    r = sb.run("output", "-json", cwd=d, timeout=120)
    return {k: v["value"] for k, v in json.loads(r.stdout).items()}


def plan_exitcode(sb, d: Path, *extra: str):
    """`plan -detailed-exitcode`: 0 no changes, 2 changes (1 is a failure)."""
    r = sb.run("plan", "-detailed-exitcode", *extra, cwd=d, ok=None)
    assert r.rc in (0, 2), r.describe()
    return r


def stage_logs(cluster: dict, pipeline: str, run_id: str | None = None) -> Path:
    """Where the local engine keeps a pipeline's stage logs (one folder per
    run under the cluster's work dir; engines/local/run.c)."""
    d = Path(cluster["details"]["work_dir"]) / "runs" / pipeline
    return d / run_id if run_id else d


def run_dirs(cluster: dict, pipeline: str) -> set[str]:
    d = stage_logs(cluster, pipeline)
    return {p.name for p in d.iterdir()} if d.is_dir() else set()


# ---------------------------------------------------------------------------
# The lake
# ---------------------------------------------------------------------------


def file_digest(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def tree(root: Path, skip: set[str] = frozenset()) -> dict[str, tuple]:
    """Everything under root (not following links), each entry with its
    kind, link target or size + mtime + content digest.  `skip`: top-level
    names left out."""
    out = {}
    if not root.exists():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        if rel_dir == Path("."):
            dirnames[:] = [n for n in dirnames if n not in skip]
            filenames = [n for n in filenames if n not in skip]
        for n in list(dirnames):
            p = Path(dirpath) / n
            rel = str(rel_dir / n)
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
                dirnames.remove(n)
            else:
                out[rel] = ("dir",)
        for n in filenames:
            p = Path(dirpath) / n
            rel = str(rel_dir / n)
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            else:
                st = p.stat()
                out[rel] = ("file", st.st_size, st.st_mtime_ns, file_digest(p))
    return out


def published(lake: Path, output: str) -> dict:
    """What is published at <lake>/<output>: the link, the run it names, the
    run record and every file of the run.  Asserts the documented layout
    (engines/lake_file.c): a relative symlink to _sparkflow/<output>/<run>."""
    link = lake / output
    assert link.is_symlink(), f"{link} is not a symlink (exists: {link.exists()})"
    target = os.readlink(link)
    m = re.fullmatch(rf"_sparkflow/{re.escape(output)}/([^/]+)/?", target)
    assert m, f"{link} -> {target!r}, expected _sparkflow/{output}/<run_id>"
    run_dir = lake / "_sparkflow" / output / m.group(1)
    assert run_dir.is_dir(), f"{link} -> {target}, which is not a directory"
    record = json.loads((run_dir / "_sparkflow_run.json").read_text())
    return {"run_id": m.group(1), "target": target, "run_dir": run_dir, "record": record, "files": tree(run_dir)}


def store_entries(lake: Path, output: str) -> set[str]:
    d = lake / "_sparkflow" / output
    return {p.name for p in d.iterdir()} if d.is_dir() else set()


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

SPARK_APP_MARKERS = (
    "org.apache.spark.deploy.SparkSubmit",
    "org.apache.spark.executor.CoarseGrainedExecutorBackend",
    "pyspark.daemon",
    "pyspark.worker",
    "pyspark/daemon.py",
    "pyspark/worker.py",
)


def app_processes(sb) -> list[Proc]:
    """Processes of this sandbox that are not the cluster's daemons nor
    Terraform/the provider: Spark drivers, executors, Python workers, job
    scripts — what a finished or stopped run must not leave behind."""
    out = []
    for p in owned_processes(str(sb.root)):
        if p.role:
            continue
        exe = os.path.basename(p.argv[0])
        if (
            exe.startswith("terraform-provider-sparkflow")
            or p.argv[0] == sb.client.path
            or exe in ("terraform", "tofu")
        ):
            continue
        out.append(p)
    return out


def describe(procs: list[Proc]) -> str:
    return "; ".join(f"{p.pid} {' '.join(p.argv)[:300]}" for p in procs) or "none"


def is_driver(p: Proc) -> bool:
    return "org.apache.spark.deploy.SparkSubmit" in p.argv


def is_executor(p: Proc) -> bool:
    return "org.apache.spark.executor.CoarseGrainedExecutorBackend" in p.argv


def interrupt(proc, sig=signal.SIGINT) -> None:
    """Ctrl-C: the signal goes to Terraform's whole process group (the
    provider included), as a terminal delivers it."""
    try:
        os.killpg(proc.pid, sig)
    except OSError:
        pass


def wait_exit(proc, timeout: float) -> int | None:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def check_background(sb, proc, out_path: Path) -> str:
    """The output of a command started with sb.popen, checked for provider
    bugs the way sb.run checks every command."""
    text = out_path.read_text(errors="replace")
    plog = sb.provider_log(proc.sf_log_base)
    sb.check_output(text, f"$ (background) exit {proc.returncode}\n{text}", plog)
    return text


def load_generator():
    """dags/sample_data/generate.py as a module (its count_lines is the
    independent implementation of how the validate job splits a file)."""
    spec = importlib.util.spec_from_file_location("sparkflow_generate", GENERATOR)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
