"""Power-cut semantics of publication on a file:// lake (issue #14 item 3),
checked on the system calls, not on hope.

A one-stage fixture pipeline on a cluster launched for the run is applied
twice with the real Terraform CLI, the second time under
`strace -f --seccomp-bpf -y` recording every fsync, rename, symlink and
unlink of the whole process tree (Terraform, the provider, Spark).  On the
record, for the run the second apply published:

  1. every regular file and directory of the run was fsynced before the
     switch, each directory after everything in it;
  2. the run record _sparkflow_run.json came into place by rename from a
     fsynced temp file, and the run directory was fsynced after that rename;
  3. the store directories (<lake>/_sparkflow/<output> and
     <lake>/_sparkflow) were fsynced before the new link was made;
  4. the new link was made at a temp name, the parent directory fsynced,
     the link renamed over <lake>/<output> (renameat2, RENAME_EXCHANGE: a
     run was published before), and the parent fsynced again;
  5. nothing of the previous run was deleted before the switch, and all of
     it was after.
"""

import os
import re
import shutil
from pathlib import Path

import pytest

from pipeline_support import FAST_CONF, FIXTURE_JOBS, RUN_TIMEOUT, config, events_lake, hcl

pytestmark = pytest.mark.once

# One system call per line, with -y paths: `1234 fsync(7</a/b>) = 0`.
CALL = re.compile(r"^(\d+) +(\w+)\((.*)\) += (-?\d+)")
PATH_IN_FD = re.compile(r"<([^>]*)>")
QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def parse(trace: Path) -> list[tuple[int, str, str, int]]:
    """(index, call, args, result) of every completed call, in order."""
    out = []
    for line in trace.read_text(errors="replace").splitlines():
        m = CALL.match(line)
        if m:
            out.append((len(out), m.group(2), m.group(3), int(m.group(4))))
    return out


def fsynced(calls) -> dict[str, int]:
    """path -> index of its last successful fsync/fdatasync."""
    got = {}
    for i, name, args, rc in calls:
        if name in ("fsync", "fdatasync") and rc == 0:
            m = PATH_IN_FD.search(args)
            if m:
                got[m.group(1)] = i
    return got


def renames(calls) -> list[tuple[int, str, str, str]]:
    """(index, from, to, flags) of every successful rename."""
    out = []
    for i, name, args, rc in calls:
        if name in ("rename", "renameat", "renameat2") and rc == 0:
            paths = QUOTED.findall(args)
            if len(paths) >= 2:
                flags = args.rsplit(",", 1)[-1].strip() if name == "renameat2" else ""
                out.append((i, paths[0], paths[1], flags))
    return out


def pipeline(lake: Path, trigger: str) -> str:
    return f"""resource "sparkflow_pipeline" "fx" {{
  name   = "fx"
  lake   = {hcl("file://" + str(lake))}
  input  = "raw/events"
  output = "lines"

  run_cluster {{
    local {{
      workers = 1
    }}
  }}

  triggers = {{ round = {hcl(trigger)} }}

  stage {{
    name       = "count"
    script     = {hcl(str(FIXTURE_JOBS / "line_count.py"))}
    spark_conf = {hcl(FAST_CONF)}
  }}
}}
"""


def test_publication_is_durable_in_order(sandbox, tmp_path):
    sb = sandbox
    strace = shutil.which("strace")
    assert strace, "strace is not installed: scripts/bootstrap installs it"
    lake = sb.root / "dlake"
    events_lake(lake)
    d = sb.workdir("main", config(pipeline(lake, "1")))
    sb.init(d)
    sb.run("apply", cwd=d, timeout=RUN_TIMEOUT)
    old_run = os.path.realpath(lake / "lines")

    (d / "main.tf").write_text(config(pipeline(lake, "2")))
    trace = tmp_path / "strace.txt"
    wrap = (
        strace,
        "-f",
        "--seccomp-bpf",
        "-y",
        "-qq",
        "-s",
        "4096",
        "-e",
        "trace=fsync,fdatasync,rename,renameat,renameat2,symlink,symlinkat,unlink,unlinkat,rmdir",
        "-o",
        str(trace),
    )
    if sb.asan:
        # LeakSanitizer cannot work under ptrace (it aborts at exit); the
        # sanitizers' other checks stay on.
        wrap = ("env", f"ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:log_path={sb.san}/asan", *wrap)
    sb.run("apply", cwd=d, timeout=RUN_TIMEOUT, wrap=wrap)
    new_run = os.path.realpath(lake / "lines")
    assert new_run != old_run and Path(new_run).is_dir(), (old_run, new_run)
    calls = parse(trace)
    synced = fsynced(calls)
    moved = renames(calls)
    output = str(lake / "lines")

    # 4. The switch: a temp link renamed over the output, parent fsynced
    # before and after.
    switch = [r for r in moved if r[2] == output]
    assert len(switch) == 1, moved
    i_switch, tmp_link, _, flags = switch[0]
    assert "RENAME_EXCHANGE" in flags, switch
    made = [i for i, name, args, rc in calls if name in ("symlink", "symlinkat") and rc == 0 and tmp_link in args]
    assert made and made[-1] < i_switch, (made, i_switch)
    parent = str(lake)
    parent_syncs = [
        i
        for i, name, args, rc in calls
        if name in ("fsync", "fdatasync") and rc == 0 and PATH_IN_FD.search(args)
        if PATH_IN_FD.search(args).group(1) == parent
    ]
    assert any(made[-1] < i < i_switch for i in parent_syncs), (parent_syncs, made, i_switch)
    assert any(i > i_switch for i in parent_syncs), (parent_syncs, i_switch)

    # 2. The run record: rename from a fsynced temp file, then the run
    # directory fsynced.
    record = os.path.join(new_run, "_sparkflow_run.json")
    rec = [r for r in moved if r[2] == record]
    assert len(rec) == 1, moved
    i_rec, tmp_rec, _, _ = rec[0]
    assert tmp_rec in synced and synced[tmp_rec] < i_rec, (tmp_rec, synced.get(tmp_rec), i_rec)
    synced[record] = synced[tmp_rec]  # fsynced under its temp name
    assert i_rec < synced[new_run] < i_switch, (i_rec, synced[new_run], i_switch)

    # 1. Every file and directory of the published run, fsynced before the
    # switch; a directory after everything in it.
    entries = []
    for root, _dirs, files in os.walk(new_run):
        entries += [os.path.join(root, f) for f in files] + [root]
    assert len(entries) > 3, entries
    for e in entries:
        assert e in synced and synced[e] < i_switch, (e, synced.get(e), i_switch)
    for root, dirs, files in os.walk(new_run):
        for child in [os.path.join(root, n) for n in files + dirs]:
            assert synced[child] < synced[root], (child, root)

    # 3. The store directories before the link was made.
    store = os.path.dirname(new_run)
    for dirpath in (store, os.path.dirname(store)):
        assert any(
            name in ("fsync", "fdatasync") and rc == 0 and f"<{dirpath}>" in args and i_rec < i < made[-1]
            for i, name, args, rc in calls
        ), dirpath

    # 5. The previous run: deleted after the switch only, and all of it.
    deletes = [
        (i, args)
        for i, name, args, rc in calls
        if name in ("unlink", "unlinkat", "rmdir") and rc == 0 and old_run in args
    ]
    assert deletes, "the previous run was not deleted"
    assert all(i > i_switch for i, _ in deletes), [d for d in deletes if d[0] < i_switch][:3]
    assert not os.path.exists(old_run)
