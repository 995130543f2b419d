"""Build the class-data sharing archive of a Spark installation (cds.c).

A small Spark application runs with -XX:ArchiveClassesAtExit, so that the
JVM writes the classes it parsed (Spark, Scala, Netty, Parquet, Hadoop...)
into an archive that later drivers, executors and daemons map instead of
loading each class again from the jars: their start-up CPU halves.  The
provider runs this file in the background when a local cluster is created
and no valid archive exists; scripts/bootstrap runs it once for the
project's own pyspark.

    spark_cds.py --spark-home DIR --java-home DIR --dir DIR --jvm-opts OPTS

Writes DIR/spark.jsa and then DIR/spark.jsa.json, which names the Java and
the jars the archive was made from (cds.c checks it before using the
archive).  One build at a time per DIR (a lock file); exits 0 at once when
the archive is already valid or another build runs.  The application runs
in local mode (one JVM: driver and executor classes both), at a low
priority, on a few generated rows in a scratch directory it removes.
"""

from __future__ import annotations

import argparse
import fcntl
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

ARCHIVE = "spark.jsa"
STAMP = ARCHIVE + ".json"
STAMP_VERSION = 1


def facts(spark_home: str, java_home: str) -> dict:
    """What the archive depends on; cds.c computes the same from stat()."""
    java = os.path.realpath(os.path.join(java_home, "bin", "java"))
    jars = os.path.realpath(os.path.join(spark_home, "jars"))
    js, ds = os.stat(java), os.stat(jars)
    return {
        "version": STAMP_VERSION,
        "java": java,
        "java_mtime": int(js.st_mtime),
        "java_size": js.st_size,
        "jars": jars,
        "jars_mtime": int(ds.st_mtime),
    }


def valid(directory: str, want: dict) -> bool:
    try:
        with open(os.path.join(directory, STAMP), encoding="utf-8") as f:
            have = json.load(f)
        size = os.stat(os.path.join(directory, ARCHIVE)).st_size
    except (OSError, ValueError):
        return False
    return all(have.get(k) == v for k, v in want.items()) and have.get("archive_size") == size


def build(args: argparse.Namespace) -> int:
    os.makedirs(args.dir, exist_ok=True)
    lock = open(os.path.join(args.dir, ARCHIVE + ".lock"), "w")  # noqa: SIM115 (held until exit)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("another build of this archive runs", flush=True)
        return 0
    want = facts(args.spark_home, args.java_home)
    if valid(args.dir, want):
        print("archive already valid", flush=True)
        return 0
    for stale in glob.glob(os.path.join(args.dir, ARCHIVE + ".*.tmp")):
        os.unlink(stale)
    tmp = os.path.join(args.dir, f"{ARCHIVE}.{os.getpid()}.tmp")
    scratch = tempfile.mkdtemp(prefix="sparkflow-cds-")
    env = dict(os.environ)
    env.update(
        JAVA_HOME=args.java_home,
        SPARK_HOME=args.spark_home,
        PYSPARK_PYTHON=sys.executable,
        SPARK_LOCAL_IP="127.0.0.1",
    )
    cmd = [
        os.path.join(args.spark_home, "bin", "spark-submit"),
        "--master",
        "local[1]",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.driver.host=127.0.0.1",
        "--conf",
        f"spark.local.dir={scratch}",
        "--driver-java-options",
        f"{args.jvm_opts} -XX:ArchiveClassesAtExit={tmp} -Xlog:cds=off -Xlog:cds+dynamic=off",
        os.path.abspath(__file__),
        "--workload",
        scratch,
    ]
    try:
        rc = subprocess.call(cmd, env=env, cwd=scratch)
        if rc != 0 or not os.path.exists(tmp) or os.path.getsize(tmp) == 0:
            print(f"spark-submit exited with {rc}; no archive written", flush=True)
            return 1
        os.replace(tmp, os.path.join(args.dir, ARCHIVE))
        want["archive_size"] = os.path.getsize(os.path.join(args.dir, ARCHIVE))
        stamp_tmp = os.path.join(args.dir, f"{STAMP}.{os.getpid()}.tmp")
        with open(stamp_tmp, "w", encoding="utf-8") as f:
            json.dump(want, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(stamp_tmp, os.path.join(args.dir, STAMP))
        print(f"archive written: {want['archive_size']} bytes", flush=True)
        return 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if os.path.exists(tmp):
            os.unlink(tmp)


def workload(scratch: str) -> None:
    """Common Spark SQL work on a few rows: text and CSV, regexes, dates,
    joins, windows, aggregates, partitioned Parquet, local DataFrames."""
    from pyspark.sql import SparkSession, Window
    from pyspark.sql import functions as F

    spark = SparkSession.builder.appName("sparkflow-cds").getOrCreate()
    src = os.path.join(scratch, "in")
    os.makedirs(src)
    with open(os.path.join(src, "a.csv"), "w", encoding="utf-8") as f:
        f.write("date,description,amount\n")
        for i in range(200):
            f.write(f'2026-{1 + i % 12:02d}-{1 + i % 28:02d},"Shop {i % 7}  #{i}",{(i % 13) - 6}.{i % 100:02d}\n')
    lines = spark.read.text(src).where(~F.col("value").startswith("date"))
    rows = lines.select(
        F.from_csv("value", "date string, description string, amount string").alias("r"), F.input_file_name()
    ).select("r.*")
    tx = rows.select(
        F.to_date(F.try_to_timestamp(F.col("date"), F.lit("yyyy-MM-dd"))).alias("d"),
        F.upper(F.btrim(F.regexp_replace("description", r"\s+#\d+", ""))).alias("merchant"),
        F.col("amount").cast("decimal(14,2)").alias("amount"),
        F.sha(F.concat_ws("|", "date", "description", "amount")).alias("key"),
    ).withColumn("month", F.date_format("d", "yyyy-MM"))
    csv = spark.read.option("header", True).csv(src)
    tx = tx.join(csv.select(F.col("description").alias("merchant")).distinct(), "merchant", "left")
    w = Window.partitionBy("month").orderBy(F.col("amount").desc(), F.col("merchant"))
    ranked = tx.dropDuplicates(["key"]).withColumn("rank", F.row_number().over(w))
    ranked.write.mode("overwrite").partitionBy("month").parquet(os.path.join(scratch, "out"))
    back = spark.read.parquet(os.path.join(scratch, "out"))
    agg = back.groupBy("month", "merchant").agg(F.sum("amount").alias("s"), F.count(F.lit(1)).alias("n"))
    small = spark.createDataFrame([("SHOP 1", 10.0)], "merchant string, budget double")
    out = agg.join(F.broadcast(small), "merchant", "left").withColumn("p", F.try_divide("s", "budget")).collect()
    agg.unionByName(agg).coalesce(1).write.mode("overwrite").parquet(os.path.join(scratch, "agg"))
    print(f"workload: {len(out)} rows", flush=True)
    spark.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--spark-home")
    p.add_argument("--java-home")
    p.add_argument("--dir")
    # The local engine's lean options (engines/local/local.h); the provider
    # passes them, bootstrap relies on this default.
    p.add_argument("--jvm-opts", default="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
    p.add_argument("--workload", metavar="SCRATCH")
    args = p.parse_args()
    if args.workload:
        workload(args.workload)
        return 0
    if not (args.spark_home and args.java_home and args.dir):
        p.error("--spark-home, --java-home and --dir are required")
    try:
        os.nice(10)
    except OSError:
        pass
    return build(args)


if __name__ == "__main__":
    sys.exit(main())
