"""duckdb_catalog.py -- the DuckDB catalog of a file:// lake (catalogs/duckdb.c).

The provider compiles this file in and runs it with the project's Python
(the one that has the `duckdb` package) after a run is published:

    python duckdb_catalog.py sync   --db DB --output DIR --pipeline NAME
    python duckdb_catalog.py remove --db DB --pipeline NAME

sync makes DB hold one view per table published at DIR (the output's
stable path: a symlink the lake switches at each publication), and nothing
else of ours.  A table is a directory holding Parquet files, or Hive-style
`key=value` partition directories; directories starting with '_' or '.'
are skipped.  Views read through DIR, so they follow every later
publication with nothing to do, and a view opened by a reader resolves the
link once per scan: one complete run per table, never a half-written one.

The database is written whole to a temporary file next to DB and renamed
over it (after fsync), so a reader that has DB open keeps its consistent
copy and the next reader opens the new one; a DuckDB session holding DB
never blocks a sync.  A DB made by another pipeline, or not by SparkFlow,
is never overwritten (sync fails) or deleted (remove leaves it, and says so).

Prints one JSON object on stdout: {"database", "tables": {name: location},
"skipped": [{"table", "reason"}]} on success (remove adds "left": why, when
DB is not this pipeline's and stays), {"error": text} (exit 1) on failure.
"""

import argparse
import json
import os
import re
import shutil
import sys

MARKER = "sparkflow_catalog"  # table: (key, value) rows saying who made the database
NAME_MAX = 64


def sql_name(segment):
    """The same mapping as catalogs/catalog_name.c: lower case, runs of other
    characters one '_', 'p_' before a leading digit, at most 64."""
    out = re.sub(r"[^a-z0-9]+", "_", segment.lower()).strip("_")
    if out[:1].isdigit():
        out = "p_" + out
    out = out[:NAME_MAX].rstrip("_")
    return out or "table"


def quote_literal(s):
    return "'" + s.replace("'", "''") + "'"


def skipped_name(name):
    return name.startswith("_") or name.startswith(".")


def find_tables(root):
    """[(relative dir, partitioned)] under root, in a stable order."""
    found = []

    def walk(rel):
        path = os.path.join(root, rel) if rel else root
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError:
            return
        files = [e for e in entries if e.is_file() and e.name.endswith(".parquet") and not skipped_name(e.name)]
        dirs = [e for e in entries if e.is_dir() and not skipped_name(e.name)]
        if rel and files:
            found.append((rel, False))
            return
        if rel and dirs and all("=" in d.name for d in dirs):
            found.append((rel, True))
            return
        for d in dirs:
            walk(os.path.join(rel, d.name) if rel else d.name)

    walk("")
    return found


def owner(con):
    """{key: value} of the marker table, or None when the database has none."""
    try:
        return dict(con.execute(f"select key, value from {MARKER}").fetchall())
    except Exception:
        return None


def check_owner(db, pipeline):
    """An error text when DB exists and is not this pipeline's catalog."""
    import duckdb

    if not os.path.exists(db):
        return None
    # A reader may hold DB open (and locked): read a copy.  Our databases are
    # written whole and never changed in place, so any copy is complete.
    copy = os.path.join(os.path.dirname(db), f".{os.path.basename(db)}.check-{os.getpid()}")
    try:
        shutil.copyfile(db, copy)
        con = duckdb.connect(copy, read_only=True)
        try:
            who = owner(con)
        finally:
            con.close()
    except Exception as e:
        return f"{db} exists and cannot be read as a DuckDB database ({e}); move it away or name another catalog"
    finally:
        for leftover in (copy, copy + ".wal"):
            if os.path.exists(leftover):
                os.unlink(leftover)
    if who is None:
        return f"{db} exists and was not made by SparkFlow; move it away or name another catalog database"
    if who.get("pipeline") != pipeline:
        return (
            f"{db} is the catalog of pipeline {who.get('pipeline')!r}; two pipelines in one lake need "
            "different catalog databases (set catalog.database)"
        )
    return None


def fsync_path(path, directory=False):
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def build(tmp, output, pipeline, tables):
    import duckdb

    made, skipped, names = {}, [], {}
    con = duckdb.connect(tmp)
    try:
        con.execute(f"create table {MARKER} (key varchar primary key, value varchar)")
        con.execute(f"insert into {MARKER} values ('pipeline', ?), ('output', ?)", [pipeline, output])
        for rel, partitioned in tables:
            name = sql_name(os.path.basename(rel))
            if name == MARKER:
                name = name + "_table"
            if name in names:
                raise RuntimeError(
                    f"tables {names[name]!r} and {rel!r} would both be named {name!r} in the catalog; "
                    "rename one of the output directories"
                )
            names[name] = rel
            location = os.path.join(output, rel)
            if partitioned:
                source = f"read_parquet({quote_literal(location + '/**/*.parquet')}, hive_partitioning = true, hive_types_autocast = false)"
            else:
                source = f"read_parquet({quote_literal(location + '/*.parquet')})"
            try:
                con.execute(f'create view "{name}" as select * from {source}')
            except duckdb.Error as e:
                skipped.append({"table": name, "reason": str(e).splitlines()[0]})
                continue
            made[name] = "file://" + location
        con.execute("checkpoint")
    finally:
        con.close()
    return made, skipped


def sync(args):
    err = check_owner(args.db, args.pipeline)
    if err:
        raise RuntimeError(err)
    if not os.path.isdir(args.output):
        raise RuntimeError(f"nothing is published at {args.output}")
    tables = find_tables(os.path.realpath(args.output))
    tmp = f"{os.path.join(os.path.dirname(args.db), '.' + os.path.basename(args.db))}.tmp-{os.getpid()}"
    for leftover in (tmp, tmp + ".wal"):
        if os.path.exists(leftover):
            os.unlink(leftover)
    try:
        made, skipped = build(tmp, args.output, args.pipeline, tables)
        if os.path.exists(tmp + ".wal"):
            raise RuntimeError(f"DuckDB left a write-ahead log at {tmp}.wal after checkpoint")
        os.chmod(tmp, 0o644)
        fsync_path(tmp)
        os.replace(tmp, args.db)
        fsync_path(os.path.dirname(args.db) or ".", directory=True)
    finally:
        for leftover in (tmp, tmp + ".wal"):
            if os.path.exists(leftover):
                os.unlink(leftover)
    stale_wal = args.db + ".wal"
    if os.path.exists(stale_wal):
        os.unlink(stale_wal)  # belonged to the file just replaced
    return {"database": args.db, "tables": made, "skipped": skipped}


def remove(args):
    if not os.path.exists(args.db):
        return {"database": args.db, "tables": {}, "skipped": []}
    err = check_owner(args.db, args.pipeline)
    if err:
        # Not this pipeline's catalog (a file of someone else's, or another
        # pipeline's, e.g. where a failed move pointed): nothing of ours is
        # there to remove, and the file is left as it is.
        return {"database": args.db, "tables": {}, "skipped": [], "left": err}
    os.unlink(args.db)
    if os.path.exists(args.db + ".wal"):
        os.unlink(args.db + ".wal")
    fsync_path(os.path.dirname(args.db) or ".", directory=True)
    return {"database": args.db, "tables": {}, "skipped": []}


def main(argv):
    p = argparse.ArgumentParser(prog="duckdb_catalog.py")
    p.add_argument("command", choices=["sync", "remove"])
    p.add_argument("--db", required=True)
    p.add_argument("--output")
    p.add_argument("--pipeline", required=True)
    args = p.parse_args(argv)
    try:
        if args.command == "sync" and not args.output:
            raise RuntimeError("sync needs --output")
        result = sync(args) if args.command == "sync" else remove(args)
    except ImportError as e:
        print(json.dumps({"error": f"the Python at {sys.executable} cannot import duckdb ({e})"}))
        return 1
    except Exception as e:  # every failure reaches the provider as text
        print(json.dumps({"error": str(e)}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
