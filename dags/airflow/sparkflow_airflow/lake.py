"""The lake's publication contract in Python, for the Airflow DAGs.

The provider (C: lakes/file*.c, lakes/s3.c, lakes/record.c) and the DAGs
built by sparkflow_dags.py publish into the same lakes, so both follow one
contract, tested against the same fixtures (tests/fixtures/lake/).  Read the
comments at the top of lakes/file.c, lakes/s3.c and lakes/record.c for the
why; in short:

file:// — an output file:///lake/curated is

    /lake/curated -> _sparkflow/curated/<run>          the published run (relative symlink)
    /lake/_sparkflow/curated/<run>/                    one run's outputs (the work URI)
    /lake/_sparkflow/curated/<run>/_sparkflow_run.json {"run_id", "fingerprint", "pipeline", "published_at"}
    /lake/_sparkflow/curated/.<run>.owner              who staged the run
    /lake/_sparkflow/curated/.lock                     flock(2) held by stage/publish/discard/remove
    /lake/.curated.sparkflow-publish                   the next link, for a moment

and publish is, under the lock: check that the published run's record does
not name another pipeline, fsync the run, write the record durably, make the
new link at the temp name, swap it in with renameat2(RENAME_EXCHANGE |
RENAME_NOREPLACE), check what came out, then (after GRACE_S) delete the
previous run.  The provider takes the same lock, so a DAG's publish and the
provider's are serialised on one machine.

s3:// — an output s3://bucket/lake/curated is

    lake/_sparkflow/tmp/<run>/...                 the staging area (the work URI)
    lake/curated/_sparkflow/runs/<run>/...        a published run
    lake/curated/_sparkflow/published.json        the pointer {"run_id", "fingerprint", "pipeline", "prefix",
                                                  "published_at"}

and publish reads the pointer (and its ETag), refuses when it names another
pipeline, copies the staged objects under runs/<run>/, writes the pointer
(the one PUT that makes the run visible) on the condition If-Match: <that
ETag> (If-None-Match: * when there was none), then deletes the staging area
and the previous run.  When the PUT's condition fails another run published
meanwhile: this run deletes its copy and fails — refused with that
pipeline's name, or "Run overtaken by another" for another run of the same
pipeline — unless the pointer names this very run (a retried PUT that had
landed).  Stage sweeps staging areas and copies under runs/ that no pointer
names once nothing was written to them for 24 h.

One output, one pipeline: a run record names the pipeline that published it
("pipeline": its `sparkflow_pipeline` name, the spec's `pipeline`).  A
record without the field (written before records named one, or by a writer
that passes no pipeline) names nobody and is replaced; a record naming
another pipeline refuses the publish ("Output published by another
pipeline", naming it); the same pipeline publishes again freely.  A publish
given no pipeline records none and checks nothing (as the C lakes with a
NULL pipeline).

Airflow runs a pipeline as several task processes, so unlike the provider no
process lives for the whole run: the owner record an Airflow run writes has
no pid (`"pid": 0`), which the contract reads as "liveness unknown": such a
run is swept only after 24 h, and the DAG discards its own staging area when
a stage fails.

This module needs only the standard library (and boto3 for s3://): the tests
import it without Airflow.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import importlib
import json
import os
import re
import secrets
import socket
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

SF_DIR = "_sparkflow"
RUN_RECORD = "_sparkflow_run.json"
LOCK_NAME = ".lock"
OWNER_SUFFIX = ".owner"
STALE_AFTER_S = 24 * 60 * 60
RUN_ID_MAX = 128
GRACE_S = 0.2
LOCK_POLL_S = 0.02
S3_POINTER = SF_DIR + "/published.json"

_RUN_CHARS = re.compile(r"[A-Za-z0-9._-]+")


class LakeError(Exception):
    """A lake operation refused or failed; `summary` is the C diagnostic's summary."""

    def __init__(self, summary: str, detail: str) -> None:
        super().__init__(f"{summary}: {detail}")
        self.summary = summary
        self.detail = detail


@dataclass
class Published:
    run_id: str
    fingerprint: str | None
    pipeline: str | None = None  # the pipeline that published it; None: the record names none


@dataclass
class Outcome:
    """What an operation said besides its result (the C side's warnings)."""

    warnings: list[str] = field(default_factory=list)


def valid_run_id(run_id: str | None) -> bool:
    """1..128 of [A-Za-z0-9._-], starting with a letter or digit (the file lake's rule)."""
    return (
        bool(run_id)
        and len(run_id or "") <= RUN_ID_MAX
        and bool(_RUN_CHARS.fullmatch(run_id or ""))
        and (run_id or ".")[0].isascii()
        and (run_id or ".")[0].isalnum()
    )


def new_run_id(now: float | None = None, rnd: bytes | None = None) -> str:
    """A run id as the provider makes them: UTC second, '-', 6 random hex digits."""
    t = time.gmtime(time.time() if now is None else now)
    return time.strftime("%Y%m%dT%H%M%SZ", t) + "-" + (rnd if rnd is not None else secrets.token_bytes(3)).hex()


# ---- run records: one output, one pipeline (lakes/record.c) ---------------------------------------


def record_pipeline(record: Any) -> str | None:
    """The pipeline a run record names: None when the field is absent, not a
    string or empty (a record written before records named one, or by a
    writer that does not set it): such a record names no pipeline."""
    v = record.get("pipeline") if isinstance(record, dict) else None
    return v if isinstance(v, str) and v else None


def owned_by_other(owner: str | None, pipeline: str | None) -> bool:
    """A record naming `owner` belongs to another pipeline than `pipeline`: both known and different."""
    return bool(owner) and bool(pipeline) and owner != pipeline


def refuse_other(output_uri: str, pipeline: str | None, owner: str | None, run_id: str | None) -> LakeError:
    """The refusal of a pipeline that would replace the run `owner` published
    (sf_lake_refuse_other's summary and detail)."""
    return LakeError(
        "Output published by another pipeline",
        f'Pipeline "{pipeline}" cannot publish to {output_uri}: pipeline "{owner}" publishes there (run '
        f"{run_id or 'unknown'}). Two pipelines with one output would replace each other's tables at every run. "
        f'Nothing of this run was published and its staging area is removed; pipeline "{owner}"\'s run stays '
        "published. Give one of the two pipelines another `output`.",
    )


def _run_record(run_id: str, fingerprint: str | None, pipeline: str | None, prefix: str | None = None) -> str:
    """A run record's JSON as sf_lake_record_json writes it: "pipeline" only
    when known, "fingerprint" null only in a record without "prefix"."""
    rec: dict[str, Any] = {"run_id": run_id}
    if fingerprint is not None or prefix is None:
        rec["fingerprint"] = fingerprint
    if pipeline:
        rec["pipeline"] = pipeline
    if prefix is not None:
        rec["prefix"] = prefix
    rec["published_at"] = _utc_stamp()
    return json.dumps(rec, indent="\t")


def _utc_stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _escape(name: bytes) -> bytes:
    return name.replace(b"\\", b"\\\\").replace(b"\t", b"\\t").replace(b"\n", b"\\n")


def lake_join(lake: str, rel: str) -> str:
    """lake + '/' + rel without doubled slashes (resources/pipeline.c's lake_join)."""
    return lake.rstrip("/") + "/" + rel.lstrip("/")


# ---- file:// ---------------------------------------------------------------------------------


def _normalise(p: str) -> str | None:
    segs = [s for s in p.split("/") if s]
    if any(s in (".", "..") for s in segs):
        return None
    return "/" + "/".join(segs)


def file_uri_path(uri: str, summary: str = "Invalid file URI") -> str:
    """The absolute path a file:// URI names (no percent-decoding, as Hadoop's Path)."""
    if not uri or uri[:5].lower() != "file:":
        raise LakeError(summary, f'"{uri}" is not a file:// URI.')
    p = uri[5:]
    if p.startswith("//"):
        host = p[2:].split("/", 1)[0]
        if host and host.lower() != "localhost":
            raise LakeError(summary, f'"{uri}" names the host "{host}"; a file:// URI takes an absolute path.')
        p = p[2 + len(host) :]
    if not p.startswith("/"):
        raise LakeError(summary, f'"{uri}" is a relative path; a file:// URI needs an absolute one.')
    path = _normalise(p)
    if path is None:
        raise LakeError(summary, f'"{uri}" contains "." or ".." segments.')
    return path


@dataclass
class _Layout:
    path: str  # /lake/curated: the published link
    parent: str  # /lake
    base: str  # curated
    sfdir: str  # /lake/_sparkflow
    store: str  # /lake/_sparkflow/curated
    tmp: str  # /lake/.curated.sparkflow-publish

    @classmethod
    def make(cls, parent: str, base: str) -> _Layout:
        def join(d: str, n: str) -> str:
            return "/" + n if d == "/" else d + "/" + n

        sfdir = join(parent, SF_DIR)
        return cls(
            join(parent, base), parent, base, sfdir, join(sfdir, base), join(parent, f".{base}.sparkflow-publish")
        )

    @classmethod
    def of_uri(cls, uri: str, summary: str) -> _Layout:
        path = file_uri_path(uri, summary)
        if path == "/":
            raise LakeError(summary, f'The output "{uri}" is the root directory; name a directory inside the lake.')
        if SF_DIR in path.split("/"):
            raise LakeError(
                summary, f'The output "{uri}" lies inside a {SF_DIR} directory, which SparkFlow keeps for itself.'
            )
        parent, base = path.rsplit("/", 1)
        return cls.make(parent or "/", base)

    def run_dir(self, run: str) -> str:
        return self.store + "/" + run

    def owner_path(self, run: str) -> str:
        return f"{self.store}/.{run}{OWNER_SUFFIX}"

    def target(self, run: str) -> str:
        return f"{SF_DIR}/{self.base}/{run}"


_MISSING, _OURS, _FOREIGN_LINK, _FOREIGN = "missing", "ours", "foreign_link", "foreign"


def _classify(o: _Layout) -> tuple[str, str | None]:
    try:
        st = os.lstat(o.path)
    except FileNotFoundError:
        return _MISSING, None
    if not stat.S_ISLNK(st.st_mode):
        return _FOREIGN, None
    target = os.readlink(o.path)
    prefix = f"{SF_DIR}/{o.base}/"
    run = target[len(prefix) :] if target.startswith(prefix) else None
    return (_OURS, run) if valid_run_id(run) else (_FOREIGN_LINK, None)


def _kind_of(path: str) -> str:
    try:
        st = os.lstat(path)
    except OSError:
        return "path"
    return "directory" if stat.S_ISDIR(st.st_mode) else "symbolic link" if stat.S_ISLNK(st.st_mode) else "file"


def _refuse_foreign(o: _Layout) -> LakeError:
    return LakeError(
        "Output location holds data SparkFlow did not write",
        f"{o.path} exists and is a {_kind_of(o.path)} that SparkFlow did not create. SparkFlow publishes an output "
        f"as a symbolic link into {o.sfdir}/ and will not overwrite or delete data it did not write. Move it away "
        f"(for example: mv '{o.path}' '{o.path}.before-sparkflow') or choose another output. Nothing was changed.",
    )


def _fsync_path(path: str, directory: bool) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)


def _write_durable(directory: str, name: str, text: str) -> None:
    path = directory + "/" + name
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    except OSError:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    try:
        os.rename(tmp, path)
    except OSError:
        os.unlink(tmp)
        raise
    _fsync_path(directory, True)


def _mkdir_p(path: str) -> None:
    if os.path.isdir(path):
        return
    if path != "/":
        _mkdir_p(os.path.dirname(path))
    try:
        os.mkdir(path, 0o755)
    except FileExistsError:
        pass
    if not os.path.isdir(path):
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", path)


def _own_dir(path: str, create: bool) -> None:
    """A real directory of SparkFlow's own (never a symlink); made when `create`."""
    if create:
        try:
            os.mkdir(path, 0o755)
        except FileExistsError:
            pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", path)


def delete_tree(path: str) -> None:
    """rm -rf that never follows a symlink nor enters another filesystem; missing is fine."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        _unlink_quiet(path)
        return
    dev = st.st_dev

    def walk(d: str) -> None:
        with os.scandir(d) as it:
            entries = list(it)
        for e in entries:
            est = e.stat(follow_symlinks=False)
            if stat.S_ISDIR(est.st_mode):
                if est.st_dev == dev:
                    walk(e.path)
            else:
                _unlink_quiet(e.path)
        try:
            os.rmdir(d)
        except FileNotFoundError:
            pass

    walk(path)


def _unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _sync_tree(root: str) -> None:
    """fsync every file and directory under root, children first (Spark does not)."""
    need_syncfs = False
    for d, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            p = os.path.join(d, name)
            if not stat.S_ISREG(os.lstat(p).st_mode):
                continue
            try:
                _fsync_path(p, False)
            except PermissionError:
                need_syncfs = True
        try:
            _fsync_path(d, True)
        except PermissionError:
            need_syncfs = True
    if need_syncfs:
        os.sync()


# renameat2(2): glibc >= 2.28 exports it; Python's os module does not.
_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_libc = ctypes.CDLL(None, use_errno=True)
_renameat2 = getattr(_libc, "renameat2", None)


def _rename_flags(src: str, dst: str, flags: int) -> int:
    """renameat2 with flags; falls back to rename(2) where flags are unsupported.
    Returns the flags actually used."""
    if _renameat2 is not None:
        rc = _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags)
        if rc == 0:
            return flags
        e = ctypes.get_errno()
        if e not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(e, os.strerror(e), dst)
    os.rename(src, dst)
    return 0


class _Lock:
    """The output's exclusive flock on <store>/.lock (the store created with `create`)."""

    def __init__(self, o: _Layout, create: bool, summary: str, timeout_s: float) -> None:
        self.o, self.create, self.summary, self.timeout_s = o, create, summary, timeout_s
        self.fd = -1
        self.no_store = False

    def __enter__(self) -> _Lock:
        deadline = time.monotonic() + self.timeout_s
        while not self._once(deadline):
            if time.monotonic() > deadline:
                raise LakeError(self.summary, f"timed out while preparing {self.o.store}.")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _once(self, deadline: float) -> bool:
        o = self.o
        if self.create:
            try:
                _mkdir_p(o.parent)
            except OSError as e:
                raise LakeError(self.summary, f"Cannot create {o.parent}: {e.strerror}.") from e
        for d in (o.sfdir, o.store):
            try:
                _own_dir(d, self.create)
            except FileNotFoundError:
                if self.create:
                    return False
                self.no_store = True
                return True
            except NotADirectoryError as e:
                raise LakeError(
                    self.summary,
                    f"{d} is not a directory. SparkFlow keeps its runs there and needs it to be a real directory "
                    "(not a file or a symbolic link); move it away and try again.",
                ) from e
        lock_path = o.store + "/" + LOCK_NAME
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        except FileNotFoundError:
            return False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise LakeError(
                        self.summary,
                        f"timed out waiting for another SparkFlow operation on {o.path} to finish (it holds {lock_path}).",
                    ) from None
                time.sleep(LOCK_POLL_S)
        # A remove() may have deleted the lock file while we waited.
        a, b = os.fstat(fd), _lstat_or_none(lock_path)
        if b is not None and (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino):
            self.fd = fd
            return True
        os.close(fd)
        return False


def _lstat_or_none(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


# ---- owner records ------------------------------------------------------------------------------


@dataclass
class Owner:
    host: str = ""
    boot_id: str = ""
    pid_ns: str = ""
    pid: int = 0
    start_ticks: int = 0


def _read_line(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.readline().rstrip("\n")
    except OSError:
        return ""


def _proc_start(pid: int) -> int:
    """Field 22 of /proc/<pid>/stat (clock ticks after boot); 0 when unreadable."""
    line = _read_line(f"/proc/{pid}/stat")
    _, sep, rest = line.rpartition(")")
    fields = rest.split()
    if not sep or len(fields) < 20:
        return 0
    try:
        return int(fields[19])
    except ValueError:
        return 0


def owner_self(with_pid: bool) -> Owner:
    """This process as an owner; without `with_pid` liveness is unknown (Airflow tasks)."""
    try:
        pid_ns = os.readlink("/proc/self/ns/pid")
    except OSError:
        pid_ns = ""
    me = Owner(socket.gethostname(), _read_line("/proc/sys/kernel/random/boot_id"), pid_ns)
    if with_pid:
        me.pid = os.getpid()
        me.start_ticks = _proc_start(me.pid)
    return me


def _owner_read(path: str) -> Owner | None:
    try:
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(j, dict):
        return None

    def s(k: str) -> str:
        v = j.get(k)
        return v if isinstance(v, str) else ""

    def n(k: str) -> int:
        v = j.get(k)
        return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0

    return Owner(s("host"), s("boot_id"), s("pid_ns"), n("pid"), n("start_ticks"))


def owner_alive(rec: Owner, me: Owner) -> bool | None:
    """Whether the process that wrote `rec` still runs: True, False, or None (cannot tell)."""
    if (
        not rec.host
        or not rec.boot_id
        or not rec.pid_ns
        or rec.pid <= 1
        or not rec.start_ticks
        or not me.boot_id
        or not me.pid_ns
        or (rec.host, rec.boot_id, rec.pid_ns) != (me.host, me.boot_id, me.pid_ns)
    ):
        return None
    start = _proc_start(rec.pid)
    if start == rec.start_ticks:
        return True
    if start:
        return False  # the pid now names another process
    try:
        os.kill(rec.pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass
    return None


def _run_abandoned(o: _Layout, run: str, dir_st: os.stat_result | None, me: Owner, now: float) -> bool:
    path = o.owner_path(run)
    rec = _owner_read(path)
    rec_st = _lstat_or_none(path) if rec else None
    verdict = owner_alive(rec, me) if rec and rec_st else None
    if verdict is not None:
        return not verdict
    age = rec_st if rec_st else dir_st
    return age is not None and now - age.st_mtime > STALE_AFTER_S


def _delete_run(o: _Layout, run: str) -> None:
    delete_tree(o.run_dir(run))
    _unlink_quiet(o.owner_path(run))


def _run_of_entry(name: str) -> str | None:
    if not name.startswith("."):
        return name
    if len(name) > len(OWNER_SUFFIX) + 1 and name.endswith(OWNER_SUFFIX):
        return name[1 : -len(OWNER_SUFFIX)]
    return None


def _sweep_stale(o: _Layout, keep: tuple[str | None, ...], log: Callable[[str], None]) -> None:
    """Under the lock: remove runs (and lone owner records) left by interrupted runs."""
    try:
        names = os.listdir(o.store)
    except OSError:
        return
    me, now = owner_self(True), time.time()
    for name in names:
        run = _run_of_entry(name)
        if not run or not valid_run_id(run) or run in keep:
            continue
        dir_st = _lstat_or_none(o.run_dir(run))
        candidate = stat.S_ISDIR(dir_st.st_mode) and not name.startswith(".") if dir_st else name.startswith(".")
        if candidate and _run_abandoned(o, run, dir_st, me, now):
            try:
                _delete_run(o, run)
                log(f"lake: removed abandoned run {o.run_dir(run)}")
            except OSError as e:
                log(f"lake: cannot remove abandoned run {o.run_dir(run)}: {e.strerror}")


# ---- file fingerprint ------------------------------------------------------------------------------


def spark_hidden_name(name: bytes) -> bool:
    """Spark's rule for files it does not read (HadoopFSUtils.shouldFilterOutPathName)."""
    return name.startswith(b".") or (name.startswith(b"_") and b"=" not in name) or name.endswith(b"._COPYING_")


def _file_listing(root: str) -> list[tuple[bytes, int, int]]:
    """(relpath, size, mtime_ns) of the files under root, following symlinks, loops skipped."""
    out: list[tuple[bytes, int, int]] = []
    broot = os.fsencode(root)
    st = os.stat(broot)
    if not stat.S_ISDIR(st.st_mode):
        if stat.S_ISREG(st.st_mode):
            out.append((os.path.basename(broot) or broot, st.st_size, st.st_mtime_ns))
        return out

    def walk(d: bytes, rel: bytes, ancestors: tuple[tuple[int, int], ...]) -> None:
        with os.scandir(d) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            if spark_hidden_name(e.name):
                continue
            try:
                est = os.stat(e.path)
            except OSError:
                if e.is_symlink():
                    continue  # a dangling link, or a loop of links
                raise
            r = rel + e.name
            if stat.S_ISDIR(est.st_mode):
                ident = (est.st_dev, est.st_ino)
                if ident not in ancestors:
                    walk(e.path, r + b"/", (*ancestors, ident))
            elif stat.S_ISREG(est.st_mode):
                out.append((r, est.st_size, est.st_mtime_ns))

    walk(broot, b"", ((st.st_dev, st.st_ino),))
    return out


def digest_listing(lines: Iterator[tuple[bytes, bytes]]) -> str:
    """sha256 over "<escaped relpath>\\t<rest>\\n" per entry, as "sha256:<hex>"."""
    md = hashlib.sha256()
    for rel, rest in lines:
        md.update(_escape(rel) + b"\t" + rest + b"\n")
    return "sha256:" + md.hexdigest()


# ---- the lakes -------------------------------------------------------------------------------------


class Lake(Protocol):
    scheme: str

    def fingerprint(self, input_uri: str) -> tuple[str, int]: ...
    def stage(self, output_uri: str, run_id: str) -> str: ...
    def publish(
        self, output_uri: str, work_uri: str, run_id: str, fingerprint: str | None, pipeline: str | None = None
    ) -> Outcome: ...
    def discard(self, work_uri: str) -> None: ...
    def published(self, output_uri: str) -> Published | None: ...
    def remove(self, output_uri: str) -> Outcome: ...


class FileLake:
    """The file:// lake (lakes/file.c)."""

    scheme = "file"

    def __init__(
        self,
        owner_with_pid: bool = False,
        lock_timeout_s: float = 600.0,
        log: Callable[[str], None] | None = None,
    ) -> None:
        # owner_with_pid: the staging process outlives the run (the provider); an
        # Airflow task does not, so by default its runs record no pid.
        self.owner_with_pid = owner_with_pid
        self.lock_timeout_s = lock_timeout_s
        self.log = log or (lambda _m: None)

    def _lock(self, o: _Layout, create: bool, summary: str) -> _Lock:
        return _Lock(o, create, summary, self.lock_timeout_s)

    def fingerprint(self, input_uri: str) -> tuple[str, int]:
        s = "Cannot fingerprint input"
        root = file_uri_path(input_uri, s)
        try:
            files = _file_listing(root)
        except (FileNotFoundError, NotADirectoryError) as e:
            if e.filename in (root, os.fsencode(root)):
                raise LakeError("Input not found", f"The input {input_uri} does not exist ({root}).") from e
            raise LakeError(s, f"Listing the input {input_uri} failed: {e}.") from e
        except OSError as e:
            raise LakeError(s, f"Listing the input {input_uri} failed: {e}.") from e
        files.sort(key=lambda f: f[0])
        return digest_listing((rel, b"%d\t%d" % (size, mt)) for rel, size, mt in files), len(files)

    def stage(self, output_uri: str, run_id: str) -> str:
        s = "Cannot stage outputs"
        _check_run_id(run_id, s)
        o = _Layout.of_uri(output_uri, s)
        with self._lock(o, True, s):
            state, cur = _classify(o)
            if state in (_FOREIGN, _FOREIGN_LINK):
                raise _refuse_foreign(o)
            _sweep_stale(o, (cur, run_id), self.log)
            run, rec = o.run_dir(run_id), o.owner_path(run_id)
            if _lstat_or_none(run) or _lstat_or_none(rec):
                raise LakeError(
                    s, f"Run {run_id} of {o.path} was staged before ({run} exists); every run needs a fresh run id."
                )
            me = owner_self(self.owner_with_pid)
            record = {
                "run_id": run_id,
                "host": me.host,
                "boot_id": me.boot_id,
                "pid_ns": me.pid_ns,
                "pid": me.pid,
                "start_ticks": me.start_ticks,
                "staged_at": int(time.time()),
            }
            # The record first: a run directory always has an owner to ask about.
            _write_durable(o.store, f".{run_id}{OWNER_SUFFIX}", json.dumps(record, indent="\t"))
            try:
                os.mkdir(run, 0o755)
            except OSError as e:
                _unlink_quiet(rec)
                raise LakeError(s, f"Cannot create the staging directory {run}: {e.strerror}.") from e
        self.log(f"lake: staged run {run_id} of {o.path} at {run}")
        return "file://" + run

    def publish(
        self, output_uri: str, work_uri: str, run_id: str, fingerprint: str | None, pipeline: str | None = None
    ) -> Outcome:
        """Publish the staged run, its record naming `pipeline` (None: none
        recorded, nothing checked); refused when the published run's record
        names another pipeline (checked under the output's lock)."""
        s = "Cannot publish outputs"
        _check_run_id(run_id, s)
        o = _Layout.of_uri(output_uri, s)
        run, rec = o.run_dir(run_id), o.owner_path(run_id)
        work = file_uri_path(work_uri, s)
        if work != run:
            raise LakeError(s, f"{work_uri} is not where SparkFlow staged run {run_id} of {o.path} ({run}).")
        outcome = Outcome()
        with self._lock(o, False, s) as lock:
            st = _lstat_or_none(run)
            if lock.no_store or not st or not stat.S_ISDIR(st.st_mode) or not _lstat_or_none(rec):
                raise LakeError(
                    s,
                    f"The staging area {run} of run {run_id} is gone or incomplete (was it removed while the run was "
                    f"going?). Nothing was published; the previous outputs of {o.path} are unchanged. Run again.",
                )
            state, old = _classify(o)
            if state in (_FOREIGN, _FOREIGN_LINK):
                raise _refuse_foreign(o)
            if old and pipeline:
                cur = _read_record(o.run_dir(old) + "/" + RUN_RECORD)
                if cur and owned_by_other(record_pipeline(cur), pipeline):
                    raise refuse_other(output_uri, pipeline, record_pipeline(cur), cur["run_id"])
            try:
                _sync_tree(run)
                _write_durable(run, RUN_RECORD, _run_record(run_id, fingerprint, pipeline))
                _fsync_path(o.store, True)
                _fsync_path(o.sfdir, True)
            except OSError as e:
                raise LakeError(
                    s, f"Preparing run {run_id} failed: {e}. The previous outputs of {o.path} are unchanged."
                ) from e
            if old == run_id:  # published already: record refreshed
                return outcome
            self._switch_link(o, o.target(run_id), o.target(old) if old else None, s)
            self.log(f"lake: published run {run_id} at {o.path}")
            if old:
                # A reader that resolved the old link just before the switch may be
                # about to open its files: give it a moment.
                time.sleep(GRACE_S)
                try:
                    _delete_run(o, old)
                except OSError as e:
                    outcome.warnings.append(
                        f"The new outputs of {o.path} are published, but the previous run {o.store}/{old} could "
                        f"not be removed: {e.strerror}."
                    )
        return outcome

    @staticmethod
    def _switch_link(o: _Layout, target: str, old_target: str | None, s: str) -> None:
        st = _lstat_or_none(o.tmp)
        if st:
            if not stat.S_ISLNK(st.st_mode):
                raise LakeError(s, f"{o.tmp} is in the way (SparkFlow uses that name for a moment while publishing).")
            os.unlink(o.tmp)  # left by an interrupted publish (we hold the lock)
        os.symlink(target, o.tmp)
        try:
            _fsync_path(o.parent, True)
            flags = _rename_flags(o.tmp, o.path, _RENAME_EXCHANGE if old_target else _RENAME_NOREPLACE)
        except OSError as e:
            _unlink_quiet(o.tmp)
            if e.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR):
                raise LakeError(
                    "Output location holds data SparkFlow did not write",
                    f"{o.path} appeared while the outputs were being published; SparkFlow left it as it is and "
                    "published nothing.",
                ) from e
            raise LakeError(s, f"Cannot rename {o.tmp} to {o.path}: {e.strerror}.") from e
        if flags == _RENAME_EXCHANGE:
            # The temp name now holds what was at the output: the link we saw, or
            # someone else's data that we put back.
            try:
                was: str | None = os.readlink(o.tmp)
            except OSError:
                was = None
            if was != old_target:
                _rename_flags(o.tmp, o.path, _RENAME_EXCHANGE)
                raise LakeError(
                    "Output location holds data SparkFlow did not write",
                    f"{o.path} changed while the outputs were being published; SparkFlow put it back as it was and "
                    "published nothing.",
                )
            os.unlink(o.tmp)
        try:
            _fsync_path(o.parent, True)
        except OSError:
            pass

    def discard(self, work_uri: str) -> None:
        s = "Cannot discard staging area"
        path = file_uri_path(work_uri, s)
        store = os.path.dirname(path)
        sfdir = os.path.dirname(store)
        run = os.path.basename(path)
        if sfdir in ("/", "") or os.path.basename(sfdir) != SF_DIR or not valid_run_id(run):
            raise LakeError(
                s,
                f"{work_uri} is not a SparkFlow staging area (.../{SF_DIR}/<output>/<run id>); SparkFlow only deletes what it staged.",
            )
        o = _Layout.make(os.path.dirname(sfdir) or "/", os.path.basename(store))
        with self._lock(o, False, s) as lock:
            if lock.no_store:
                return
            state, cur = _classify(o)
            if state == _OURS and cur == run:
                raise LakeError(
                    s, f"Run {run} is the published output of {o.path}; SparkFlow does not discard published outputs."
                )
            try:
                _delete_run(o, run)
            except OSError as e:
                raise LakeError(s, f"Cannot delete {path}: {e.strerror}.") from e
        self.log(f"lake: discarded {path}")

    def published(self, output_uri: str) -> Published | None:
        """The published run's record (through the link); None when nothing is published."""
        s = "Cannot read published outputs"
        o = _Layout.of_uri(output_uri, s)
        state, _ = _classify(o)
        if state != _OURS:
            return None
        try:  # through the link: whichever run it points at as we open
            with open(o.path + "/" + RUN_RECORD, encoding="utf-8") as f:
                j = json.load(f)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except ValueError:
            j = None
        except OSError as e:
            raise LakeError(s, f"Cannot read {o.path}/{RUN_RECORD}: {e.strerror}.") from e
        rid = j.get("run_id") if isinstance(j, dict) else None
        if not isinstance(rid, str) or not valid_run_id(rid):
            self.log(f"{o.path}/{RUN_RECORD} is not a record SparkFlow wrote; the outputs count as not published")
            return None
        fp = j.get("fingerprint") if isinstance(j, dict) else None
        return Published(rid, fp if isinstance(fp, str) else None, record_pipeline(j))

    def remove(self, output_uri: str) -> Outcome:
        s = "Cannot remove outputs"
        o = _Layout.of_uri(output_uri, s)
        outcome = Outcome()
        with self._lock(o, False, s) as lock:
            state, _ = _classify(o)
            if state == _OURS:
                _unlink_quiet(o.path)
                _fsync_path(o.parent, True)
            elif state != _MISSING:
                outcome.warnings.append(
                    f"{o.path} is a {_kind_of(o.path)} that SparkFlow did not create, so it was left as it is."
                )
            st = _lstat_or_none(o.tmp)
            if st and stat.S_ISLNK(st.st_mode):
                _unlink_quiet(o.tmp)
            if not lock.no_store:
                delete_tree(o.store)
        try:
            os.rmdir(o.sfdir)  # only when no other output keeps runs there
        except OSError:
            pass
        return outcome


def _read_record(path: str) -> dict[str, Any] | None:
    """The run record at `path`; None when there is none, it cannot be read or
    it is not a record SparkFlow wrote (such a run names no pipeline)."""
    try:
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(j, dict) or not isinstance(j.get("run_id"), str) or not valid_run_id(j["run_id"]):
        return None
    return j


def _check_run_id(run_id: str, summary: str) -> None:
    if not valid_run_id(run_id):
        raise LakeError(
            summary,
            f'Invalid run id "{run_id}": it must be 1 to {RUN_ID_MAX} letters, digits, ".", "_" or "-", '
            "starting with a letter or digit.",
        )


# ---- s3:// -----------------------------------------------------------------------------------------


def _s3_place(uri: str, need_key: bool, summary: str) -> tuple[str, str, str]:
    """(bucket, key without leading/trailing '/', parent key)."""
    if not uri or uri[:5].lower() != "s3://" or not uri[5:].split("/", 1)[0]:
        raise LakeError(summary, f'"{uri}" is not an s3:// URI with a bucket, e.g. s3://my-bucket/lake.')
    bucket, _, key = uri[5:].partition("/")
    key = key.lstrip("/").rstrip("/")
    if need_key and not key:
        raise LakeError(summary, f'"{uri}" is the whole bucket; name a folder inside the lake.')
    return bucket, key, key.rsplit("/", 1)[0] if "/" in key else ""


def _s3_join(a: str, b: str) -> str:
    return f"{a}/{b}" if a else b


def _s3_valid_run_id(run_id: str | None) -> bool:
    return (
        bool(run_id)
        and len(run_id or "") <= RUN_ID_MAX
        and not (run_id or ".").startswith(".")
        and bool(_RUN_CHARS.fullmatch(run_id or ""))
    )


def s3_spark_hidden(rel: str) -> bool:
    """A key Spark would not read: a folder marker, '._COPYING_', or a segment starting with '_' or '.' without '='."""
    if not rel or rel.endswith("/") or rel.endswith("._COPYING_"):
        return True
    return any(seg[:1] in ("_", ".") and "=" not in seg for seg in rel.split("/"))


class _PointerUnknown(LakeError):
    """Writing the pointer failed and whether it landed cannot be told."""


class S3Lake:
    """The s3:// lake (lakes/s3.c).  `client` is a boto3 S3 client."""

    scheme = "s3"

    def __init__(self, client: Any, log: Callable[[str], None] | None = None) -> None:
        self.s3 = client
        self.log = log or (lambda _m: None)

    def _list(self, bucket: str, prefix: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            out.extend(page.get("Contents", []))
        return out

    def _delete_prefix(self, bucket: str, prefix: str) -> int:
        keys = [o["Key"] for o in self._list(bucket, prefix)]
        for i in range(0, len(keys), 1000):
            self.s3.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[i : i + 1000]], "Quiet": True}
            )
        return len(keys)

    def fingerprint(self, input_uri: str) -> tuple[str, int]:
        bucket, key, _ = _s3_place(input_uri, False, "Cannot read the input")
        prefix = key + "/" if key else ""
        rows = []
        for obj in self._list(bucket, prefix):
            rel = obj["Key"][len(prefix) :]
            if not s3_spark_hidden(rel):
                rows.append((rel.encode(), b"%d\t" % obj["Size"] + _escape(obj.get("ETag", "").encode())))
        return digest_listing(iter(rows)), len(rows)

    def stage(self, output_uri: str, run_id: str) -> str:
        s = "Cannot stage the run"
        bucket, key, parent = _s3_place(output_uri, True, s)
        if SF_DIR in key.split("/"):
            raise LakeError(
                s, f'The output "{output_uri}" lies inside a {SF_DIR} folder, which SparkFlow keeps for itself.'
            )
        if not _s3_valid_run_id(run_id):
            raise LakeError(s, f'Invalid run id "{run_id}".')
        tmp = _s3_join(parent, SF_DIR + "/tmp")
        self._sweep_stale(bucket, tmp + "/", None)
        # Copies under runs/ that no pointer names (a publisher killed between
        # copy and pointer); an unreadable pointer is publish's to report.
        try:
            cur, _ = self._read_pointer(bucket, key)
        except Exception:
            pass
        else:
            self._sweep_stale(bucket, _s3_join(key, SF_DIR + "/runs/"), cur["run_id"] if cur else None)
        return f"s3://{bucket}/{tmp}/{run_id}"

    def _sweep_stale(self, bucket: str, prefix: str, keep: str | None) -> None:
        """Runs under `prefix` (<prefix><run>/...) nothing was written to for
        24 h (a killed run's) are removed; run `keep` (the published one) never."""
        newest: dict[str, float] = {}
        try:
            for obj in self._list(bucket, prefix):
                run, sep, _ = obj["Key"][len(prefix) :].partition("/")
                if sep:
                    newest[run] = max(newest.get(run, 0.0), obj["LastModified"].timestamp())
            for run, t in newest.items():
                if run != keep and time.time() - t > STALE_AFTER_S:
                    n = self._delete_prefix(bucket, f"{prefix}{run}/")
                    self.log(f"lake: removed {n} objects of an abandoned run at s3://{bucket}/{prefix}{run}/")
        except Exception as e:  # housekeeping only
            self.log(f"lake: cannot sweep s3://{bucket}/{prefix}: {e}")

    def _read_pointer(self, bucket: str, key: str) -> tuple[dict[str, Any] | None, str | None]:
        """published.json of an output and its ETag (one GET: the ETag is the
        body's), or (None, None) when there is none."""
        pkey = _s3_join(key, S3_POINTER)
        try:
            resp = self.s3.get_object(Bucket=bucket, Key=pkey)
        except self.s3.exceptions.NoSuchKey:
            return None, None
        body = resp["Body"].read()
        try:
            j = json.loads(body)
        except ValueError:
            j = None
        if not isinstance(j, dict) or not isinstance(j.get("run_id"), str) or not _s3_valid_run_id(j["run_id"]):
            raise LakeError("Unreadable publication record", f"s3://{bucket}/{pkey} is not a SparkFlow record.")
        return j, resp.get("ETag")

    def publish(
        self, output_uri: str, work_uri: str, run_id: str, fingerprint: str | None, pipeline: str | None = None
    ) -> Outcome:
        """Copy the staged run under runs/<run>/ and write the pointer naming
        `pipeline` (None: none recorded, nothing checked), conditional on the
        pointer read first (If-Match its ETag, If-None-Match: * when there was
        none): refused when the published run is another pipeline's, also when
        that one published while this run was copied; the run that loses
        deletes its copy."""
        s = "Cannot publish the run"
        bucket, key, _ = _s3_place(output_uri, True, s)
        wbucket, wkey, _ = _s3_place(work_uri, True, s)
        if bucket != wbucket or not _s3_valid_run_id(run_id):
            raise LakeError(s, f"The staging area {work_uri} does not belong to {output_uri}.")
        old, etag = self._read_pointer(bucket, key)
        if old and owned_by_other(record_pipeline(old), pipeline):
            raise refuse_other(output_uri, pipeline, record_pipeline(old), old["run_id"])
        src = wkey + "/"
        runs = _s3_join(key, SF_DIR + "/runs")
        dst = f"{runs}/{run_id}/"
        copied = 0
        keep = False  # the copy stays when the pointer names it, or may
        try:
            for obj in self._list(bucket, src):
                self.s3.copy({"Bucket": bucket, "Key": obj["Key"]}, bucket, dst + obj["Key"][len(src) :])
                copied += 1
            keep = self._put_pointer(bucket, key, output_uri, run_id, fingerprint, pipeline, dst, old, etag)
        except _PointerUnknown:
            keep = True
            raise
        finally:
            if not keep:
                self._drop_copy(bucket, dst)
        self.log(f"lake: published run {run_id} of {output_uri} ({copied} objects)")
        outcome = Outcome()
        try:
            self._delete_prefix(bucket, src)
        except Exception as e:
            outcome.warnings.append(f"Cannot remove the run's staging area: {e}")
        if old and old["run_id"] != run_id:
            try:
                self._delete_prefix(bucket, f"{runs}/{old['run_id']}/")
            except Exception as e:
                outcome.warnings.append(f"lake: cannot remove the previous run {runs}/{old['run_id']}/: {e}")
        return outcome

    def _put_pointer(
        self,
        bucket: str,
        key: str,
        output_uri: str,
        run_id: str,
        fingerprint: str | None,
        pipeline: str | None,
        dst: str,
        old: dict[str, Any] | None,
        etag: str | None,
    ) -> bool:
        """The conditional PUT of the pointer: True when the pointer names this
        run; raises when another run holds it.  When the PUT failed otherwise,
        the pointer is read again: a PUT that landed before its answer was
        lost is published (its copy must stay); when that cannot be told,
        _PointerUnknown (the copy stays for a later stage's sweep)."""
        s = "Cannot publish the run"
        cond = {"IfMatch": etag} if old and etag else {"IfNoneMatch": "*"}
        body = _run_record(run_id, fingerprint, pipeline, dst).encode()
        try:
            self.s3.put_object(
                Bucket=bucket, Key=_s3_join(key, S3_POINTER), Body=body, ContentType="application/json", **cond
            )
            return True
        except Exception as e:
            status = (getattr(e, "response", None) or {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status in (409, 412) or ("IfMatch" in cond and status == 404):
                return self._overtaken(bucket, key, output_uri, run_id, pipeline)
            try:
                now, _ = self._read_pointer(bucket, key)
            except Exception:
                raise _PointerUnknown(
                    s,
                    f"Writing the pointer of {output_uri} failed ({e}) and whether it landed cannot be told; the "
                    f"copy of run {run_id} stays under {dst} until a later run removes it.",
                ) from e
            if now and now["run_id"] == run_id:
                return True
            raise LakeError(s, f"Writing the pointer of {output_uri} failed: {e}.") from e

    def _overtaken(self, bucket: str, key: str, output_uri: str, run_id: str, pipeline: str | None) -> bool:
        """The pointer changed between our read and our write: True when it
        names this run (a retried PUT whose first attempt landed), otherwise
        the refusal (another pipeline's run) or "Run overtaken by another"."""
        now, _ = self._read_pointer(bucket, key)
        if now and now["run_id"] == run_id:
            return True
        if now and owned_by_other(record_pipeline(now), pipeline):
            raise refuse_other(output_uri, pipeline, record_pipeline(now), now["run_id"])
        who = pipeline or "(unnamed)"
        if now:
            raise LakeError(
                "Run overtaken by another",
                f'Run {run_id} of pipeline "{who}" was not published: run {now["run_id"]} was published at '
                f"{output_uri} while it was going, and SparkFlow does not replace a run it did not see. Nothing of "
                "this run was published. Run the pipeline again.",
            )
        raise LakeError(
            "Run overtaken by another",
            f'Run {run_id} of pipeline "{who}" was not published: the published run of {output_uri} was removed '
            "while it was going. Nothing of this run was published. Run the pipeline again.",
        )

    def _drop_copy(self, bucket: str, dst: str) -> None:
        """Delete a run's copy under runs/ (it lost the pointer, or was not
        copied whole); a failure only logs (a later stage sweeps it)."""
        try:
            n = self._delete_prefix(bucket, dst)
            self.log(f"lake: removed {n} objects of the unpublished copy s3://{bucket}/{dst}")
        except Exception as e:
            self.log(f"lake: cannot remove the unpublished copy s3://{bucket}/{dst}: {e}")

    def discard(self, work_uri: str) -> None:
        s = "Cannot discard the run"
        bucket, key, _ = _s3_place(work_uri, True, s)
        if SF_DIR + "/tmp/" not in key:
            raise LakeError(s, f'"{work_uri}" is not a SparkFlow staging area.')
        n = self._delete_prefix(bucket, key + "/")
        self.log(f"lake: discarded {n} staged objects of {work_uri}")

    def published(self, output_uri: str) -> Published | None:
        bucket, key, _ = _s3_place(output_uri, True, "Cannot read what the lake publishes")
        j, _ = self._read_pointer(bucket, key)
        if not j:
            return None
        fp = j.get("fingerprint")
        return Published(j["run_id"], fp if isinstance(fp, str) else None, record_pipeline(j))

    def remove(self, output_uri: str) -> Outcome:
        bucket, key, _ = _s3_place(output_uri, True, "Cannot remove the outputs")
        n = self._delete_prefix(bucket, _s3_join(key, SF_DIR + "/"))
        self.log(f"lake: removed {n} objects of {output_uri}")
        return Outcome()


def lake_for(uri: str, s3_client: Callable[[], Any] | None = None, log: Callable[[str], None] | None = None) -> Lake:
    """The lake for a URI by its scheme; `s3_client` makes the boto3 client for s3://."""
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    if scheme == "file":
        return FileLake(log=log)
    if scheme == "s3":
        if s3_client is None:
            boto3 = importlib.import_module("boto3")  # only s3:// lakes need it
            return S3Lake(boto3.client("s3"), log=log)
        return S3Lake(s3_client(), log=log)
    raise LakeError("Unsupported lake", f'"{uri}": SparkFlow lakes are file:// or s3:// URIs.')
