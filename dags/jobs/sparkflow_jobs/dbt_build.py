"""Running `dbt build` on the dashboard project (dags/dbt/) for the dbt stage.

The stage (build_dbt_models.py) runs in the Spark driver's Python, but dbt
lives in a venv of its own (.venv-dbt: dbt needs protobuf<7, the Spark venv
pins 7; requirements-dbt.txt), so dbt is always a subprocess, found by
`find_dbt`.  Everything dbt writes on the way (its scratch DuckDB database,
target/, logs/) goes to a temporary directory the caller owns; the only
files that reach the work dir are the models' Parquet (<work>/dbt/<model>/).
`outcome` turns dbt's target/run_results.json into the stage's metrics and,
when something failed, one line naming every failed test and model with
dbt's message.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .contract import JobError

JOBS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# dags/dbt, next to dags/jobs
DEFAULT_PROJECT = os.path.join(os.path.dirname(JOBS_DIR), "dbt")
# the checkout's .venv-dbt (scripts/dbt-venv), two folders above dags/jobs
REPO_DBT = os.path.join(os.path.dirname(os.path.dirname(JOBS_DIR)), ".venv-dbt", "bin", "dbt")

# The tables the project's sources read (models/sources.yml, meta.path),
# relative to the work dir, with the stage that writes each.
SOURCES = {
    "valid": "validate",
    "rejected": "validate",
    "transactions": "process",
    "marts/monthly_summary": "marts",
    "marts/spend_by_category": "marts",
    "marts/cash_flow": "marts",
    "marts/budget_vs_actual": "marts",
    "marts/top_merchants": "marts",
}

# Where the models land, relative to the work dir (macros/sparkflow_parquet.sql).
OUTPUT_DIR = "dbt"

TAIL_LINES = 40
MESSAGE_CHARS = 300


def find_dbt(explicit: str | None) -> str:
    """The dbt executable: `explicit` (the stage's --dbt), else $SPARKFLOW_DBT,
    else `dbt` next to this Python (dbt installed in the driver's venv), else
    the checkout's .venv-dbt/bin/dbt, else `dbt` on PATH.  Raises JobError
    naming every place looked at when none is an executable file."""
    tried = []
    candidates = []
    if explicit:
        candidates.append(("--dbt", explicit))
    else:
        env = os.environ.get("SPARKFLOW_DBT")
        if env:
            candidates.append(("$SPARKFLOW_DBT", env))
        candidates.append(("next to " + sys.executable, os.path.join(os.path.dirname(sys.executable), "dbt")))
        candidates.append(("the checkout's .venv-dbt", REPO_DBT))
        on_path = shutil.which("dbt")
        if on_path:
            candidates.append(("PATH", on_path))
    for where, path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        tried.append(f"{path} ({where})")
    hint = "" if explicit else "; scripts/bootstrap makes .venv-dbt (requirements-dbt.txt), or pass --dbt PATH"
    raise JobError("dbt not found: tried " + ", ".join(tried) + hint)


def missing_sources(work_dir: str) -> list[str]:
    """The source tables (SOURCES) without a Parquet file under `work_dir`,
    each as "<table> (<stage> stage)"."""
    missing = []
    for table, stage in SOURCES.items():
        if not _has_parquet(os.path.join(work_dir, table)):
            missing.append(f"{table} ({stage} stage)")
    return missing


def _has_parquet(path: str) -> bool:
    for _, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        if any(f.endswith(".parquet") and not f.startswith((".", "_")) for f in files):
            return True
    return False


@dataclass
class Build:
    """One `dbt build`: its exit code, the last lines it printed, and the
    parsed run_results.json (None when dbt wrote none)."""

    exit_code: int
    tail: list[str]
    results: Mapping[str, Any] | None


def run(
    dbt: str,
    project: str,
    work_dir: str,
    scratch: str,
    dbt_vars: Mapping[str, Any],
    threads: int,
) -> Build:
    """Run `dbt build` on `project` with the sources in `work_dir`, everything
    else dbt writes under `scratch` (an existing directory the caller
    removes).  dbt's output is copied line by line to this process's stdout
    (the stage's log).  Never raises for dbt's own failures: they are in the
    returned Build."""
    target = os.path.join(scratch, "target")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(
        {
            "SPARKFLOW_WORK_DIR": work_dir,
            "SPARKFLOW_DBT_DB": os.path.join(scratch, "scratch.duckdb"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    cmd = [
        dbt,
        "build",
        "--project-dir",
        project,
        "--profiles-dir",
        project,
        "--target-path",
        target,
        "--log-path",
        os.path.join(scratch, "logs"),
        "--threads",
        str(threads),
        "--vars",
        json.dumps(dict(dbt_vars), sort_keys=True),
        "--no-use-colors",
        "--no-version-check",
        "--no-partial-parse",
    ]
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    sys.stdout.flush()
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=scratch,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except OSError as e:
        raise JobError(f"cannot run {dbt}: {e.strerror or e}") from None
    assert proc.stdout is not None
    with proc:
        for line in proc.stdout:
            line = line.rstrip("\n")
            print(line, flush=True)
            tail.append(line)
    results = None
    path = os.path.join(target, "run_results.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            results = json.load(f)
    return Build(proc.returncode, list(tail), results)


@dataclass
class Outcome:
    """What a build did, as the stage reports it."""

    metrics: dict[str, int]
    failures: list[str] = field(default_factory=list)  # "test <name>: <message>", ...


def _one_line(text: object) -> str:
    s = re.sub(r"\s+", " ", str(text or "")).strip()
    return s if len(s) <= MESSAGE_CHARS else s[: MESSAGE_CHARS - 1] + "…"


def outcome(results: Mapping[str, Any]) -> Outcome:
    """Metrics and failures from a parsed run_results.json.

    metrics: dbt_models_built / _failed / _skipped and dbt_tests_passed /
    _failed (a failing test or one that could not run) / _warned / _skipped.
    failures: one entry per failed model, test or hook, in dbt's order."""
    m = dict.fromkeys(
        (
            "dbt_models_built",
            "dbt_models_failed",
            "dbt_models_skipped",
            "dbt_tests_passed",
            "dbt_tests_failed",
            "dbt_tests_warned",
            "dbt_tests_skipped",
        ),
        0,
    )
    failures = []
    for r in results.get("results", []):
        uid, status = str(r.get("unique_id", "")), str(r.get("status", ""))
        kind, _, rest = uid.partition(".")
        name = rest.split(".")[1] if rest.count(".") >= 1 else uid
        if kind == "model":
            key = {"success": "built", "error": "failed", "skipped": "skipped"}.get(status)
            if key:
                m[f"dbt_models_{key}"] += 1
        elif kind == "test":
            key = {"pass": "passed", "fail": "failed", "error": "failed", "warn": "warned", "skipped": "skipped"}.get(
                status
            )
            if key:
                m[f"dbt_tests_{key}"] += 1
        if status in ("error", "fail", "runtime error"):
            what = {"model": "model", "test": "test", "operation": "hook"}.get(kind, kind or "node")
            failures.append(f"{what} {name}: {_one_line(r.get('message'))}")
    return Outcome(m, failures)


def failure_message(build: Build, out: Outcome | None) -> str:
    """The stage's one-line error for a build that failed."""
    if out is not None and out.failures:
        shown = out.failures[:5]
        more = f"; and {len(out.failures) - 5} more" if len(out.failures) > 5 else ""
        skipped = ""
        if out.metrics["dbt_models_skipped"] or out.metrics["dbt_tests_skipped"]:
            skipped = (
                f" ({out.metrics['dbt_models_skipped']} models and {out.metrics['dbt_tests_skipped']} tests skipped)"
            )
        n = len(out.failures)
        return f"dbt build failed{skipped}: {n} failure{'s' if n != 1 else ''}: " + "; ".join(shown) + more
    errors = [_one_line(ln) for ln in build.tail if re.search(r"error|fail", ln, re.IGNORECASE)]
    detail = " | ".join(errors[-3:]) if errors else _one_line(" ".join(build.tail[-3:]))
    return f"dbt build failed (exit {build.exit_code}): {detail or 'no output'}"


def vars_for(income: Sequence[str], transfer: Sequence[str], extra: Mapping[str, Any]) -> dict[str, Any]:
    """The project vars of a build: the stage's categories, then `extra`
    (--dbt-vars) over them."""
    out: dict[str, Any] = {"income_categories": list(income), "transfer_categories": list(transfer)}
    out.update(extra)
    return out
