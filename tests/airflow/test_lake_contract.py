"""The Python lake (dags/airflow/sparkflow_airflow/lake.py) against the shared
fixtures in tests/fixtures/lake/ (format: their README.md): the cases the C
lakes run too.  file:// cases in a temp dir, s3:// cases against moto's
in-process S3.  No Airflow needed: this runs in the main venv."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sparkflow_airflow.lake as lake_module
from airflow_env import FIXTURES
from sparkflow_airflow.lake import FileLake, LakeError, S3Lake, new_run_id, valid_run_id

CASES = FIXTURES / "lake"


def _cases(kind: str) -> list[Any]:
    return [pytest.param(p, id=p.stem) for p in sorted((CASES / kind).glob("*.json"))]


def _machine() -> dict[str, str]:
    try:
        pid_ns = os.readlink("/proc/self/ns/pid")
    except OSError:
        pid_ns = ""
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    return {"{host}": socket.gethostname(), "{boot_id}": boot, "{pid_ns}": pid_ns, "{pid}": str(os.getpid())}


def _subst(v: Any, repl: dict[str, str]) -> Any:
    if isinstance(v, str):
        for k, r in repl.items():
            v = v.replace(k, r)
        return v
    if isinstance(v, list):
        return [_subst(x, repl) for x in v]
    if isinstance(v, dict):
        return {k: _subst(x, repl) for k, x in v.items()}
    return v


def _listing_digest(lines: list[str]) -> str:
    md = hashlib.sha256()
    for line in lines:
        md.update(line.encode() + b"\n")
    return "sha256:" + md.hexdigest()


@pytest.mark.parametrize("path", _cases("file") + _cases("s3"))
def test_fixture_listings_match_their_fingerprints(path: Path) -> None:
    """The documented listing of a fingerprint case is what its expected value hashes."""
    for step in json.loads(path.read_text())["steps"]:
        if "listing" in step:
            assert _listing_digest(step["listing"]) == step["expect"]["fingerprint"]
            assert len(step["listing"]) == step["expect"]["count"]


# ---- running a case -------------------------------------------------------------------------------


def _call(lake: Any, step: dict[str, Any]) -> dict[str, Any]:
    op = step["op"]
    if op == "fingerprint":
        fp, count = lake.fingerprint(step["uri"])
        return {"fingerprint": fp, "count": count}
    if op == "stage":
        return {"work_uri": lake.stage(step["output"], step["run_id"])}
    if op == "publish":
        lake.publish(step["output"], step["work_uri"], step["run_id"], step["fingerprint"], step.get("pipeline"))
        return {}
    if op == "discard":
        lake.discard(step["work_uri"])
        return {}
    if op == "published":
        pub = lake.published(step["output"])
        if pub is None:
            return {"run_id": None}
        return {"run_id": pub.run_id, "fingerprint": pub.fingerprint, "pipeline": pub.pipeline}
    if op == "remove":
        lake.remove(step["output"])
        return {}
    raise AssertionError(f"unknown op {op}")


def _run_steps(lake: Any, steps: list[dict[str, Any]], fs: Any) -> None:
    for i, step in enumerate(steps):
        where = f"step {i} ({step['op']})"
        if step["op"] == "write":
            fs.write(step)
            continue
        if step["op"] == "delete":
            fs.delete(step["path"])
            continue
        expect = step["expect"]
        if "error" in expect:
            with pytest.raises(LakeError) as e:
                _call(lake, step)
            assert e.value.summary == expect["error"], f"{where}: {e.value}"
            for text in expect.get("mentions", []):
                assert text in e.value.detail, f"{where}: {text!r} not in {e.value.detail!r}"
        else:
            got = _call(lake, step)
            assert {k: got.get(k) for k in expect} == expect, where
        fs.check(step.get("check", {}), where)


class LocalTree:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.times: list[tuple[Path, dict[str, Any]]] = []

    def write(self, e: dict[str, Any]) -> None:
        p = self.root / e["path"]
        p.parent.mkdir(parents=True, exist_ok=True)
        if "symlink" in e:
            os.symlink(e["symlink"], p)
        elif e.get("dir"):
            p.mkdir(exist_ok=True)
        else:
            p.write_bytes(e["content"].encode())
        if "mtime_ns" in e or "age_s" in e:
            self.times.append((p, e))

    def settle_times(self) -> None:
        for p, e in self.times:
            ns = e["mtime_ns"] if "mtime_ns" in e else int((time.time() - e["age_s"]) * 1e9)
            os.utime(p, ns=(ns, ns), follow_symlinks=False)
        self.times.clear()

    def delete(self, rel: str) -> None:
        p = self.root / rel
        if p.is_dir() and not p.is_symlink():
            import shutil

            shutil.rmtree(p)
        else:
            p.unlink()

    def check(self, c: dict[str, Any], where: str) -> None:
        for rel, target in c.get("links", {}).items():
            assert os.readlink(self.root / rel) == target, f"{where}: link {rel}"
        for rel in c.get("present", []):
            assert os.path.lexists(self.root / rel), f"{where}: {rel} missing"
        for rel in c.get("absent", []):
            assert not os.path.lexists(self.root / rel), f"{where}: {rel} still there"
        for rel, text in c.get("files", {}).items():
            assert (self.root / rel).read_text() == text, f"{where}: {rel}"
        for rel, fields in c.get("json", {}).items():
            j = json.loads((self.root / rel).read_text())
            assert {k: j.get(k, "<absent>") for k in fields} == fields, f"{where}: {rel}"
        for rel, fields in c.get("json_absent", {}).items():
            j = json.loads((self.root / rel).read_text())
            assert not set(fields) & set(j), f"{where}: {rel}"


@pytest.mark.parametrize("path", _cases("file"))
def test_file_lake(path: Path, tmp_path: Path) -> None:
    repl = {"{root}": str(tmp_path), **_machine()}
    case = _subst(json.loads(path.read_text()), repl)
    tree = LocalTree(tmp_path)
    for e in case.get("tree", []):
        tree.write(e)
    tree.settle_times()
    _run_steps(FileLake(), case["steps"], tree)


class S3Tree:
    def __init__(self, client: Any) -> None:
        self.s3 = client

    def write(self, e: dict[str, Any]) -> None:
        self.s3.put_object(Bucket="lake", Key=e["path"], Body=e["content"].encode())

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket="lake", Key=key)

    def _get(self, key: str) -> bytes | None:
        try:
            body: bytes = self.s3.get_object(Bucket="lake", Key=key)["Body"].read()
            return body
        except self.s3.exceptions.NoSuchKey:
            return None

    def check(self, c: dict[str, Any], where: str) -> None:
        for key in c.get("present", []):
            assert self._get(key) is not None, f"{where}: {key} missing"
        for key in c.get("absent", []):
            assert self._get(key) is None, f"{where}: {key} still there"
        for key, text in c.get("files", {}).items():
            assert self._get(key) == text.encode(), f"{where}: {key}"
        for key, fields in c.get("json", {}).items():
            j = json.loads(self._get(key) or b"null")
            assert {k: j.get(k, "<absent>") for k in fields} == fields, f"{where}: {key}"
        for key, fields in c.get("json_absent", {}).items():
            j = json.loads(self._get(key) or b"null")
            assert not set(fields) & set(j), f"{where}: {key}"


@contextlib.contextmanager
def _mocked_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A boto3 S3 client on moto's in-process mock, with the bucket "lake"
    and no AWS setting of the environment in the way."""
    import boto3
    from moto import mock_aws

    for k in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="lake")
        yield s3


@pytest.mark.parametrize("path", _cases("s3"))
def test_s3_lake(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with _mocked_s3(monkeypatch) as s3:
        s3.create_bucket(Bucket="other")
        case = json.loads(path.read_text())
        for o in case.get("objects", []):
            s3.put_object(Bucket="lake", Key=o["key"], Body=o["body"].encode())
        _run_steps(S3Lake(s3), case["steps"], S3Tree(s3))


# ---- what the fixtures do not show ---------------------------------------------------------------


def test_run_ids_have_the_providers_format() -> None:
    assert new_run_id(0, b"\x01\xab\xff") == "19700101T000000Z-01abff"
    rid = new_run_id()
    assert valid_run_id(rid) and len(rid) == len("20260101T000000Z-000000")


def test_stage_owner_record_has_no_pid_by_default(tmp_path: Path) -> None:
    """An Airflow task does not outlive its run: its runs are swept only after 24 h."""
    FileLake().stage(f"file://{tmp_path}/out", "r1")
    rec = json.loads((tmp_path / "_sparkflow/out/.r1.owner").read_text())
    assert rec["pid"] == 0 and rec["start_ticks"] == 0
    FileLake(owner_with_pid=True).stage(f"file://{tmp_path}/out", "r2")
    rec = json.loads((tmp_path / "_sparkflow/out/.r2.owner").read_text())
    assert rec["pid"] == os.getpid() and rec["start_ticks"] > 0
    # A live owner's run survives the next stage's sweep; so does the pid-less one.
    FileLake().stage(f"file://{tmp_path}/out", "r3")
    assert (tmp_path / "_sparkflow/out/r1").is_dir() and (tmp_path / "_sparkflow/out/r2").is_dir()


def test_publish_refuses_data_put_at_the_output_meanwhile(tmp_path: Path) -> None:
    """A directory that appears at the output between stage and publish is left alone."""
    lake = FileLake()
    work = lake.stage(f"file://{tmp_path}/out", "r1")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "theirs").write_text("x")
    with pytest.raises(LakeError) as e:
        lake.publish(f"file://{tmp_path}/out", work, "r1", None)
    assert e.value.summary == "Output location holds data SparkFlow did not write"
    assert (tmp_path / "out" / "theirs").read_text() == "x"


# ---- s3: the pointer written on a condition (lakes/s3.c, sf_aws_s3_put_if) ----------------------


class _CopyHook:
    """A boto3 S3 client whose first copy() runs `hook` first: another
    publisher writing the pointer while this run is being copied."""

    def __init__(self, client: Any, hook: Any) -> None:
        self._client, self._hook = client, hook

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def copy(self, *args: Any, **kwargs: Any) -> Any:
        hook, self._hook = self._hook, None
        if hook:
            hook()
        return self._client.copy(*args, **kwargs)


POINTER = "lake/curated/_sparkflow/published.json"


def _text(v: str | bytes) -> str:
    return v.decode() if isinstance(v, bytes) else v


def _pointer(run_id: str, pipeline: str | None) -> bytes:
    rec = {
        "run_id": run_id,
        "prefix": f"lake/curated/_sparkflow/runs/{run_id}/",
        "published_at": "2026-01-01T00:00:00Z",
    }
    if pipeline:
        rec["pipeline"] = pipeline
    return json.dumps(rec).encode()


@pytest.mark.parametrize(
    "before, meanwhile, error",
    [
        # another pipeline published while a's run was copied: refused with its name
        (("r1", "a"), ("rb", "b"), "Output published by another pipeline"),
        (None, ("rb", "b"), "Output published by another pipeline"),
        # another run of the same pipeline: overtaken, not replaced
        (("r1", "a"), ("r9", "a"), "Run overtaken by another"),
        # the pointer already names this run (a retried PUT whose first attempt landed): published
        (("r1", "a"), ("r2", "a"), None),
    ],
    ids=["other-over-existing", "other-over-none", "same-pipeline", "own-retry"],
)
def test_s3_pointer_is_written_on_the_pointer_read(
    before: tuple[str, str] | None,
    meanwhile: tuple[str, str],
    error: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The PUT of published.json is sent with If-Match (the ETag read before the
    copy) or If-None-Match: * (no pointer then), as the C lake's; the run that
    loses leaves the winner's pointer, deletes its copy under runs/ and keeps
    its staging area (for discard)."""
    with _mocked_s3(monkeypatch) as s3:
        sent: list[dict[str, str]] = []

        def record(request: Any, **_: Any) -> None:
            if request.url.split("?")[0].endswith("/" + POINTER):
                sent.append({k: _text(v) for k, v in request.headers.items() if k.lower().startswith("if-")})

        s3.meta.events.register_first("before-send.s3.PutObject", record)
        etag = None
        if before:
            s3.put_object(Bucket="lake", Key=f"lake/curated/_sparkflow/runs/{before[0]}/part-0", Body=b"old")
            s3.put_object(Bucket="lake", Key=POINTER, Body=_pointer(*before))
            etag = s3.head_object(Bucket="lake", Key=POINTER)["ETag"]
        sent.clear()
        s3.put_object(Bucket="lake", Key="lake/_sparkflow/tmp/r2/part-0", Body=b"new")

        def other_publishes() -> None:
            s3.put_object(Bucket="lake", Key=POINTER, Body=_pointer(*meanwhile))
            sent.clear()  # only what the lake sends from here on

        lake = S3Lake(_CopyHook(s3, other_publishes))
        if error:
            with pytest.raises(LakeError) as e:
                lake.publish("s3://lake/lake/curated", "s3://lake/lake/_sparkflow/tmp/r2", "r2", None, "a")
            assert e.value.summary == error
            assert f"run {meanwhile[0]}" in e.value.detail and f'"{meanwhile[1]}"' in e.value.detail, e.value.detail
        else:
            lake.publish("s3://lake/lake/curated", "s3://lake/lake/_sparkflow/tmp/r2", "r2", None, "a")
        assert sent == ([{"If-Match": etag}] if etag else [{"If-None-Match": "*"}]), sent
        pointer = json.loads(s3.get_object(Bucket="lake", Key=POINTER)["Body"].read())
        assert (pointer["run_id"], pointer.get("pipeline")) == meanwhile
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="lake").get("Contents", [])}
        copy, staged = "lake/curated/_sparkflow/runs/r2/part-0", "lake/_sparkflow/tmp/r2/part-0"
        if error:
            assert copy not in keys and staged in keys, keys
        else:  # published: the copy stays, the staging area and the previous run go
            assert copy in keys and staged not in keys and "lake/curated/_sparkflow/runs/r1/part-0" not in keys, keys


def test_s3_publish_without_a_pipeline_is_not_checked_and_names_none() -> None:
    """A writer that names no pipeline (lake.h: NULL) records none, as before."""
    rec = json.loads(lake_module._run_record("r1", None, None, "p/"))
    assert "pipeline" not in rec and "fingerprint" not in rec and rec["prefix"] == "p/"
    rec = json.loads(lake_module._run_record("r1", None, None))
    assert rec["fingerprint"] is None and "pipeline" not in rec
    assert lake_module.record_pipeline({"run_id": "r1", "pipeline": ""}) is None
    assert lake_module.record_pipeline({"run_id": "r1", "pipeline": 3}) is None
    assert not lake_module.owned_by_other("a", None) and not lake_module.owned_by_other(None, "a")
    assert lake_module.owned_by_other("a", "b") and not lake_module.owned_by_other("a", "a")


class _PutFails:
    """A boto3 S3 client whose PUT of the pointer fails with a 500, after
    landing when `landed`; with `blind`, reading the pointer fails too."""

    def __init__(self, client: Any, landed: bool, blind: bool) -> None:
        self._client, self.landed, self.blind = client, landed, blind

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    @staticmethod
    def _error(op: str) -> Exception:
        from botocore.exceptions import ClientError

        return ClientError({"Error": {"Code": "InternalError"}, "ResponseMetadata": {"HTTPStatusCode": 500}}, op)

    def put_object(self, **kw: Any) -> Any:
        if kw["Key"] != POINTER:
            return self._client.put_object(**kw)
        if self.landed:
            self._client.put_object(**kw)
        raise self._error("PutObject")

    def get_object(self, **kw: Any) -> Any:
        if self.blind and kw["Key"] == POINTER:
            raise self._error("GetObject")
        return self._client.get_object(**kw)


@pytest.mark.parametrize(
    "landed, blind, published, copy_stays",
    [(True, False, True, True), (False, False, False, False), (False, True, False, True)],
    ids=["landed-answer-lost", "not-landed", "cannot-tell"],
)
def test_s3_pointer_put_that_failed_keeps_a_copy_the_pointer_may_name(
    landed: bool, blind: bool, published: bool, copy_stays: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PUT of the pointer that fails (not on its condition) is checked by
    reading the pointer again: a PUT that landed is published; one that did not
    fails and deletes its copy; when the pointer cannot be read the copy stays
    (it may be the published run; a later stage sweeps it if not)."""
    with _mocked_s3(monkeypatch) as s3:
        s3.put_object(Bucket="lake", Key="lake/_sparkflow/tmp/r2/part-0", Body=b"new")
        lake = S3Lake(s3)
        faulty = _PutFails(s3, landed, False)
        # The pointer is read before the copy: blindness starts at the PUT.
        orig_put = faulty.put_object

        def put_then_blind(**kw: Any) -> Any:
            faulty.blind = blind
            return orig_put(**kw)

        faulty.put_object = put_then_blind  # type: ignore[method-assign]
        lake.s3 = faulty
        args = ("s3://lake/lake/curated", "s3://lake/lake/_sparkflow/tmp/r2", "r2", None, "a")
        if published:
            lake.publish(*args)
        else:
            with pytest.raises(LakeError) as e:
                lake.publish(*args)
            assert e.value.summary == "Cannot publish the run", e.value
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="lake").get("Contents", [])}
        assert ("lake/curated/_sparkflow/runs/r2/part-0" in keys) == copy_stays, keys
        assert (POINTER in keys) == landed, keys
        if landed:  # the fields sf_lake_record_json writes, in its order (no fingerprint: none given)
            pointer = json.loads(s3.get_object(Bucket="lake", Key=POINTER)["Body"].read())
            assert list(pointer) == ["run_id", "pipeline", "prefix", "published_at"], pointer


# ---- the C lake and this one on one output ---------------------------------------------------------


def _lake_call() -> Path:
    build = os.environ.get("SF_PROVIDER_BUILD", "build")
    return (Path(build) if os.path.isabs(build) else FIXTURES.parents[1] / build) / "sf-lake-call"


@pytest.mark.skipif(
    not _lake_call().exists() and os.environ.get("CI") != "true", reason="sf-lake-call not built (cmake --build build)"
)
def test_c_and_python_lakes_hold_each_other_to_one_pipeline(tmp_path: Path) -> None:
    """Records one side writes, the other reads and checks: the C lake
    (tests/tools/lake_cli.c) refuses pipeline b over a run the DAG published
    for a and replaces it for a; this lake refuses b over the C lake's record.
    Both write the same fields in the same order."""
    import subprocess

    out = f"file://{tmp_path}/curated"

    def c(*args: str) -> tuple[int, dict[str, Any]]:
        p = subprocess.run([str(_lake_call()), *args], capture_output=True, text=True, timeout=60)
        assert p.returncode in (0, 1), p
        return p.returncode, json.loads(p.stdout)

    def fields(run: str) -> list[str]:
        return list(json.loads((tmp_path / "_sparkflow/curated" / run / "_sparkflow_run.json").read_text()))

    py = FileLake()
    work = py.stage(out, "20260101T000000Z-aaaa01")
    (Path(work[7:]) / "part-0").write_text("a1")
    py.publish(out, work, "20260101T000000Z-aaaa01", "sha256:01", "a")
    rc, got = c("published", out)
    assert (rc, got["run_id"], got["pipeline"]) == (0, "20260101T000000Z-aaaa01", "a"), got

    rc, got = c("stage", out, "20260102T000000Z-bbbb02")
    work_b = got["work_uri"]
    rc, got = c("publish", out, work_b, "20260102T000000Z-bbbb02", "sha256:02", "b")
    err = got["diagnostics"][0]
    assert rc == 1 and err["summary"] == "Output published by another pipeline", got
    assert 'pipeline "a" publishes there (run 20260101T000000Z-aaaa01)' in err["detail"], err
    assert c("discard", work_b)[0] == 0

    rc, got = c("stage", out, "20260103T000000Z-aaaa03")
    assert c("publish", out, got["work_uri"], "20260103T000000Z-aaaa03", "sha256:03", "a")[0] == 0
    pub = py.published(out)
    assert pub is not None and (pub.run_id, pub.fingerprint, pub.pipeline) == (
        "20260103T000000Z-aaaa03",
        "sha256:03",
        "a",
    )
    assert fields("20260103T000000Z-aaaa03") == ["run_id", "fingerprint", "pipeline", "published_at"]

    work = py.stage(out, "20260104T000000Z-bbbb04")
    with pytest.raises(LakeError) as e:
        py.publish(out, work, "20260104T000000Z-bbbb04", "sha256:04", "b")
    assert e.value.summary == err["summary"] and e.value.detail == err["detail"].replace(
        "20260101T000000Z-aaaa01", "20260103T000000Z-aaaa03"
    ).replace("20260102T000000Z-bbbb02", "20260104T000000Z-bbbb04")
    py.discard(work)
    work = py.stage(out, "20260105T000000Z-aaaa05")
    py.publish(out, work, "20260105T000000Z-aaaa05", "sha256:05", "a")
    assert fields("20260105T000000Z-aaaa05") == ["run_id", "fingerprint", "pipeline", "published_at"]
    assert c("published", out)[1]["run_id"] == "20260105T000000Z-aaaa05"
