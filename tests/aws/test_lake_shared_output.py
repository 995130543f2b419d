"""The s3:// lake when two runs publish one output (issue #14 item 5): two
pipelines configured with the same output, or two runs of one pipeline
racing (an apply and the run-now action).

The lake's operations run one at a time through build/sf-lake-call
(tests/tools/lake_cli.c), against moto behind the fault proxy, which
records what was sent (the pointer's PUT and its If-Match/If-None-Match
condition) and lets a test run the other run's publication at the exact
moment this one writes its pointer (proxy.before_forward).

Asserted: a pipeline never publishes over another pipeline's run (refused
before anything is copied, or, when the other one won the race, refused at
the pointer's conditional PUT); an overtaken run leaves no object behind
(its copy under runs/ is deleted, its staging area discarded: before, it
stayed under runs/ forever); the pointer always names one complete run and
its pipeline; a pointer written before pointers named their pipeline is
still read and replaced; a pointer PUT whose every answer is lost is read
back (published when it names the run; in doubt, the copy is kept), never
left naming a deleted copy.
"""

import json
import subprocess
import time

import pytest

from awsenv import Creds, provider_env
from tfharness import provider_binary

BUCKET = "sf-shared"
LAKE = f"s3://{BUCKET}/lake"
OUT = f"{LAKE}/shared"
POINTER = "lake/shared/_sparkflow/published.json"
REFUSED = "Output published by another pipeline"


@pytest.fixture
def lake(moto, proxy):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    env = provider_env(proxy.url, Creds(moto.key, moto.secret))
    tool = provider_binary().parent / "sf-lake-call"
    assert tool.exists(), f"{tool} not built (cmake --build build)"

    def call(*args: str) -> tuple[int, dict]:
        p = subprocess.run([str(tool), *args], env=env, capture_output=True, text=True, timeout=120)
        assert p.returncode in (0, 1), f"sf-lake-call {args}: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p.returncode, json.loads(p.stdout)

    return type("Lake", (), {"s3": s3, "call": staticmethod(call), "proxy": proxy})


def keys(s3, prefix: str) -> list[str]:
    r = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for o in r.get("Contents", []))


def staged(lake, run_id: str, content: str) -> str:
    """A run staged at OUT with two objects written into it (as Spark would)."""
    rc, out = lake.call("stage", OUT, run_id)
    assert rc == 0, out
    work = out["work_uri"]
    prefix = work.removeprefix(f"s3://{BUCKET}/")
    for part in ("t/part-0.parquet", "t/part-1.parquet"):
        lake.s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{part}", Body=f"{content} {part}".encode())
    return work


def pointer(lake) -> dict:
    return json.loads(lake.s3.get_object(Bucket=BUCKET, Key=POINTER)["Body"].read())


def complete(lake, run_id: str, pipeline: str, content: str) -> None:
    """The pointer names run_id of pipeline, and its prefix holds the run's
    two objects with the run's content; nothing else is under runs/."""
    p = pointer(lake)
    assert (p["run_id"], p["pipeline"]) == (run_id, pipeline), p
    run_keys = keys(lake.s3, "lake/shared/_sparkflow/runs/")
    assert run_keys == [f"lake/shared/_sparkflow/runs/{run_id}/t/part-{i}.parquet" for i in (0, 1)], run_keys
    for k in run_keys:
        body = lake.s3.get_object(Bucket=BUCKET, Key=k)["Body"].read().decode()
        assert body.startswith(content + " "), (k, body)


def pointer_puts(proxy, since: float) -> list:
    return [c for c in proxy.select("s3", "PutObject", since=since) if c.path.split("?")[0].endswith(POINTER)]


def refusal(out: dict, winner: str) -> dict:
    errs = [d for d in out["diagnostics"] if d["severity"] == "error"]
    assert len(errs) == 1, out
    e = errs[0]
    assert e["summary"] == REFUSED and e["path"] == "output", e
    assert f'pipeline "{winner}" publishes there' in e["detail"], e
    return e


def test_second_pipeline_refused_before_copying(lake):
    a = staged(lake, "a1", "alpha")
    rc, out = lake.call("publish", OUT, a, "a1", "sha256:aa", "alpha")
    assert rc == 0, out
    b = staged(lake, "b1", "beta")
    t0 = time.monotonic()
    rc, out = lake.call("publish", OUT, b, "b1", "sha256:bb", "beta")
    assert rc == 1
    refusal(out, "alpha")
    # Refused on the pointer alone: nothing copied, no pointer written.
    assert lake.proxy.select("s3", "CopyObject", since=t0) == []
    assert pointer_puts(lake.proxy, t0) == []
    rc, out = lake.call("discard", b)
    assert rc == 0, out
    complete(lake, "a1", "alpha", "alpha")
    assert keys(lake.s3, "lake/_sparkflow/tmp/") == []
    rc, out = lake.call("published", OUT)
    assert (out["run_id"], out["pipeline"], out["fingerprint"]) == ("a1", "alpha", "sha256:aa"), out


def race(lake, loser_args: tuple, winner_args: tuple) -> tuple[int, dict, dict]:
    """Publish loser_args; when its pointer PUT reaches the proxy, publish
    winner_args first (to completion).  Returns the loser's exit, answer
    and the winner's answer."""
    state = {}

    def hook(c):
        if state or c.service != "s3" or c.action != "PutObject" or not c.path.split("?")[0].endswith(POINTER):
            return
        state["winner"] = "running"  # the winner's own PUT passes through here too
        state["winner"] = lake.call(*winner_args)

    lake.proxy.before_forward = hook
    try:
        rc, out = lake.call(*loser_args)
    finally:
        lake.proxy.before_forward = None
    wrc, wout = state["winner"]
    assert wrc == 0, wout
    return rc, out, wout


def test_two_pipelines_racing_for_one_output(lake):
    a = staged(lake, "a1", "alpha")
    b = staged(lake, "b1", "beta")
    t0 = time.monotonic()
    rc, out, _ = race(
        lake, ("publish", OUT, b, "b1", "sha256:bb", "beta"), ("publish", OUT, a, "a1", "sha256:aa", "alpha")
    )
    assert rc == 1
    refusal(out, "alpha")
    # What was sent: both pointer PUTs were conditional on there being no
    # pointer; the winner's landed, the loser's got 412.
    puts = pointer_puts(lake.proxy, t0)
    assert [(c.conditions.get("If-None-Match"), c.status) for c in puts] == [("*", 200), ("*", 412)], [
        (c.conditions, c.status) for c in puts
    ]
    # The loser's copy is gone (no orphan under runs/); its staging goes
    # with the discard the run transaction makes after a failed publish.
    complete(lake, "a1", "alpha", "alpha")
    rc, out = lake.call("discard", b)
    assert rc == 0, out
    assert keys(lake.s3, "lake/_sparkflow/tmp/") == []
    assert keys(lake.s3, "lake/shared/") == sorted(
        [POINTER] + [f"lake/shared/_sparkflow/runs/a1/t/part-{i}.parquet" for i in (0, 1)]
    )


def test_overtaken_run_of_one_pipeline_leaves_nothing(lake):
    """Two runs of one pipeline (an apply and the run-now action): the one
    that read the older pointer loses instead of replacing the newer run and
    leaving it orphaned under runs/."""
    x = staged(lake, "x0", "first")
    assert lake.call("publish", OUT, x, "x0", "sha256:00", "alpha")[0] == 0
    etag = lake.s3.head_object(Bucket=BUCKET, Key=POINTER)["ETag"]
    r2 = staged(lake, "r2", "second")
    r3 = staged(lake, "r3", "third")
    t0 = time.monotonic()
    rc, out, _ = race(
        lake, ("publish", OUT, r3, "r3", "sha256:33", "alpha"), ("publish", OUT, r2, "r2", "sha256:22", "alpha")
    )
    assert rc == 1
    errs = [d for d in out["diagnostics"] if d["severity"] == "error"]
    assert [(e["summary"], e["path"]) for e in errs] == [("Run overtaken by another", "output")], out
    assert "run r2 was published" in errs[0]["detail"], errs[0]
    puts = pointer_puts(lake.proxy, t0)
    assert [(c.conditions.get("If-Match", "").strip('"'), c.status) for c in puts] == [
        (etag.strip('"'), 200),
        (etag.strip('"'), 412),
    ], [(c.conditions, c.status) for c in puts]
    assert lake.call("discard", r3)[0] == 0
    # r2 is published and whole; x0 (replaced by r2) and r3 (overtaken) are gone.
    complete(lake, "r2", "alpha", "second")
    assert keys(lake.s3, "lake/_sparkflow/tmp/") == []


def test_pointer_of_before_names_no_pipeline(lake):
    """A pointer written before pointers named their pipeline: read as
    nobody's, replaced by the next publication, which names its pipeline."""
    lake.s3.put_object(Bucket=BUCKET, Key="lake/shared/_sparkflow/runs/old/t/part-0.parquet", Body=b"old")
    old = {"run_id": "old", "fingerprint": "sha256:01", "prefix": "lake/shared/_sparkflow/runs/old/"}
    lake.s3.put_object(Bucket=BUCKET, Key=POINTER, Body=json.dumps(old).encode())
    rc, out = lake.call("published", OUT)
    assert rc == 0 and (out["run_id"], out["pipeline"]) == ("old", None), out
    b = staged(lake, "b1", "beta")
    rc, out = lake.call("publish", OUT, b, "b1", "sha256:bb", "beta")
    assert rc == 0, out
    complete(lake, "b1", "beta", "beta")


def test_pointer_written_but_every_answer_lost(lake):
    """The pointer's PUT lands, then its answer is lost, and so is every
    retry's (the proxy forwards each and resets the connection): the client
    gives up, yet the pointer names the new run.  The lake reads the pointer
    back and reports the run published, keeping its copy (before, it deleted
    the copy the published pointer names: an output naming nothing)."""
    x = staged(lake, "x0", "first")
    assert lake.call("publish", OUT, x, "x0", "sha256:00", "alpha")[0] == 0
    r1 = staged(lake, "r1", "second")
    lake.proxy.force("reset_after", "s3", "PutObject", times=50)
    t0 = time.monotonic()
    rc, out = lake.call("publish", OUT, r1, "r1", "sha256:11", "alpha")
    assert rc == 0, out
    assert [d for d in out["diagnostics"] if d["severity"] == "error"] == [], out
    # What was sent: every attempt reached moto; the first landed, the
    # retries (same If-Match) found the pointer changed.
    puts = pointer_puts(lake.proxy, t0)
    assert len(puts) >= 2 and all(c.fault == "reset_after" for c in puts), [(c.fault, c.status) for c in puts]
    assert len({c.conditions.get("If-Match") for c in puts}) == 1, [c.conditions for c in puts]
    assert lake.call("discard", r1)[0] == 0
    complete(lake, "r1", "alpha", "second")
    rc, out = lake.call("published", OUT)
    assert (out["run_id"], out["pipeline"]) == ("r1", "alpha"), out


def test_pointer_unreadable_after_a_failed_write_keeps_the_copy(lake):
    """As above, and the pointer cannot be read back either (S3 answers 500
    to every GET from then on): the lake cannot tell whether it published,
    so it fails the publication with the S3 error and keeps the run's copy,
    saying so.  Here the write had landed: the pointer names the run, whose
    objects are all there."""
    x = staged(lake, "x0", "first")
    assert lake.call("publish", OUT, x, "x0", "sha256:00", "alpha")[0] == 0
    r1 = staged(lake, "r1", "second")

    def hook(c):
        if c.service == "s3" and c.action == "PutObject" and c.path.split("?")[0].endswith(POINTER):
            lake.proxy.force("500", "s3", "GetObject", times=1000)

    lake.proxy.force("reset_after", "s3", "PutObject", times=50)
    lake.proxy.before_forward = hook
    try:
        rc, out = lake.call("publish", OUT, r1, "r1", "sha256:11", "alpha")
    finally:
        lake.proxy.before_forward = None
        lake.proxy.clear_forced()
    assert rc == 1, out
    errs = [d for d in out["diagnostics"] if d["severity"] == "error"]
    warns = [d for d in out["diagnostics"] if d["severity"] == "warning"]
    assert [e["summary"] for e in errs] == ["Cannot publish the run"], out
    assert [(w["summary"], w["path"]) for w in warns] == [("Unpublished copy kept", "output")], out
    assert "lake/shared/_sparkflow/runs/r1/" in warns[0]["detail"], warns[0]
    assert lake.call("discard", r1)[0] == 0
    # Nothing was deleted in doubt: the pointer names r1, whose copy is
    # whole; x0, which the pointer no longer names, waits for the sweep.
    p = pointer(lake)
    assert (p["run_id"], p["pipeline"]) == ("r1", "alpha"), p
    assert keys(lake.s3, "lake/shared/_sparkflow/runs/") == [
        f"lake/shared/_sparkflow/runs/{r}/t/part-{i}.parquet" for r in ("r1", "x0") for i in (0, 1)
    ]
    for i in (0, 1):
        key = f"lake/shared/_sparkflow/runs/r1/t/part-{i}.parquet"
        assert lake.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().startswith("second "), key
