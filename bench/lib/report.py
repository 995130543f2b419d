"""report.py -- statistics, tables and JSON for SparkFlow's benchmarks.

Standard library only.  Three commands:

  report.py startup SAMPLES_TSV SERVE_JSON SPARKFLOW_BIN REFERENCE_BIN [BASELINE_BIN]
      SAMPLES_TSV from handshake_timer (label, run, ms, VmHWM, VmRSS, RssAnon,
      RssFile in kB, CPU ms),
      SERVE_JSON from `pluginprobe serve`.  Prints the start-up table and
      writes the result object to $BENCH_JSON if set.  With BASELINE_BIN
      (label "baseline": BENCH_BASELINE), its figures are in the table and
      in informational summary rows, next to the reference's.
  report.py plan SAMPLES_JSON
      SAMPLES_JSON from cmd_timer.py.  Prints the plan table, writes $BENCH_JSON.
  report.py merge OUT_JSON COMMAND RUN_DIR
      Merges RUN_DIR/<name>.json and RUN_DIR/<name>.status of every bench that
      ran into OUT_JSON with host facts, and prints the summary table.

A bench result object is {"name", "summary": [ROW...], "details": {...}};
a ROW is {"metric", "unit", "sparkflow", "reference", "ratio", "target",
"pass"} where reference/ratio/target/pass may be null (informational rows).
Memory is reported in MB = 10^6 bytes (VmHWM's kB are KiB)."""

import datetime
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys

LABEL_SF, LABEL_REF, LABEL_FLOOR, LABEL_BASE = "sparkflow", "reference", "floor", "baseline"


def stats(xs):
    xs = [float(x) for x in xs]
    if not xs:
        return None
    return {
        "n": len(xs),
        "median": statistics.median(xs),
        "min": min(xs),
        "max": max(xs),
        "mean": statistics.fmean(xs),
        "stdev": statistics.stdev(xs) if len(xs) > 1 else 0.0,
        "samples": xs,
    }


def kb_to_mb(kb):
    return kb * 1024 / 1e6


def ratio(a, b):
    return a / b if a is not None and b else None


def row(metric, unit, sf, ref=None, target=None, ok=None):
    return {
        "metric": metric,
        "unit": unit,
        "sparkflow": sf,
        "reference": ref,
        "ratio": ratio(sf, ref),
        "target": target,
        "pass": ok,
    }


def fmt(x, unit=""):
    if x is None:
        return "-"
    if unit == "x":
        return "%.3f×" % x
    if abs(x) >= 100:
        return "%.0f" % x
    if abs(x) >= 10:
        return "%.1f" % x
    return "%.2f" % x


def verdict(ok):
    return "-" if ok is None else ("PASS" if ok else "MISS")


def table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    for r in rows:
        out.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)))
    return "\n".join(out)


def file_facts(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return {"path": os.path.abspath(path), "bytes": os.path.getsize(path), "sha256": h.hexdigest()}


def write_result(result):
    out = os.environ.get("BENCH_JSON")
    if out:
        with open(out, "w") as f:
            json.dump(result, f, indent=2)


# ---- startup ------------------------------------------------------------------


def cmd_startup(samples_tsv, serve_json, sf_bin, ref_bin, base_bin=None):
    ms, hwm, anon, filed, cpu = {}, {}, {}, {}, {}
    with open(samples_tsv) as f:
        for line in f:
            label, _run, t, h, _r, a, fb, c = line.rstrip("\n").split("\t")
            ms.setdefault(label, []).append(float(t))
            if float(c) >= 0:
                cpu.setdefault(label, []).append(float(c))
            if int(h) >= 0:
                hwm.setdefault(label, []).append(int(h))
                anon.setdefault(label, []).append(int(a))
                filed.setdefault(label, []).append(int(fb))
    with open(serve_json) as f:
        serve = json.load(f)

    st = {k: stats(v) for k, v in ms.items()}
    cp = {k: stats(v) for k, v in cpu.items()}

    def mb(d):
        return {k: stats([kb_to_mb(x) for x in v]) for k, v in d.items()}

    hs, hs_anon, hs_file = mb(hwm), mb(anon), mb(filed)
    sv = mb({k: v["hwm_kb"] for k, v in serve.items()})
    sv_anon = mb({k: v["rss_anon_kb"] for k, v in serve.items()})
    sv_file = mb({k: v["rss_file_kb"] for k, v in serve.items()})
    rpc = {k: stats(v["first_rpc_ms"]) for k, v in serve.items()}

    def med(d, k):
        return d[k]["median"] if d.get(k) else None

    sf_ms, ref_ms = med(st, LABEL_SF), med(st, LABEL_REF)
    r_ms = ratio(sf_ms, ref_ms)
    summary = [
        row(
            "start -> handshake (median)",
            "ms",
            sf_ms,
            ref_ms,
            "<= 5 ms and <= 0.25x",
            sf_ms is not None and r_ms is not None and sf_ms <= 5.0 and r_ms <= 0.25,
        ),
        row(
            "peak RSS after handshake (median)",
            "MB",
            med(hs, LABEL_SF),
            med(hs, LABEL_REF),
            "<= 10 MB",
            med(hs, LABEL_SF) is not None and med(hs, LABEL_SF) <= 10.0,
        ),
        row(
            "peak RSS after GetProviderSchema (median)",
            "MB",
            med(sv, LABEL_SF),
            med(sv, LABEL_REF),
            "<= 10 MB",
            med(sv, LABEL_SF) is not None and med(sv, LABEL_SF) <= 10.0,
        ),
        row("CPU time until handshake (median)", "ms", med(cp, LABEL_SF), med(cp, LABEL_REF)),
        row("first RPC: mTLS connect + schema (median)", "ms", med(rpc, LABEL_SF), med(rpc, LABEL_REF)),
        row("spawn floor: /bin/true to EOF (median)", "ms", med(st, LABEL_FLOOR)),
    ]
    if base_bin:
        summary += [
            row("baseline: start -> handshake (median)", "ms", med(st, LABEL_BASE), ref_ms),
            row("baseline: peak RSS after handshake (median)", "MB", med(hs, LABEL_BASE), med(hs, LABEL_REF)),
            row("baseline: peak RSS after GetProviderSchema (median)", "MB", med(sv, LABEL_BASE), med(sv, LABEL_REF)),
            row("baseline: CPU time until handshake (median)", "ms", med(cp, LABEL_BASE), med(cp, LABEL_REF)),
        ]
    details = {
        "handshake_ms": st,
        "cpu_until_handshake_ms": cp,
        "rss_after_handshake_mb": hs,
        "rss_after_schema_mb": sv,
        "rss_anon_after_handshake_mb": hs_anon,
        "rss_file_after_handshake_mb": hs_file,
        "rss_anon_after_schema_mb": sv_anon,
        "rss_file_after_schema_mb": sv_file,
        "first_rpc_ms": rpc,
        "schema_bytes": {k: v["schema_bytes"] for k, v in serve.items()},
        "shutdown_clean": {k: v["shutdown_clean"] for k, v in serve.items()},
        "binaries": {
            LABEL_SF: file_facts(sf_bin),
            LABEL_REF: file_facts(ref_bin),
            **({LABEL_BASE: file_facts(base_bin)} if base_bin else {}),
        },
        "reference": "bench/go/nullprovider: null_resource on terraform-plugin-framework "
        "v1.19.0 / terraform-plugin-go v0.31.0 (as hashicorp/terraform-provider-null "
        "v3.3.1), protocol 5",
    }
    rows = []
    for metric, d, unit in (
        ("start -> handshake", st, "ms"),
        ("CPU time until handshake", cp, "ms"),
        ("peak RSS after handshake", hs, "MB"),
        ("  of which anonymous (now)", hs_anon, "MB"),
        ("  of which file-backed (now)", hs_file, "MB"),
        ("peak RSS after GetProviderSchema", sv, "MB"),
        ("  of which anonymous (now)", sv_anon, "MB"),
        ("  of which file-backed (now)", sv_file, "MB"),
        ("first RPC (mTLS connect + schema)", rpc, "ms"),
    ):
        for label in (LABEL_SF, LABEL_BASE, LABEL_REF, LABEL_FLOOR):
            s = d.get(label)
            if s:
                rows.append([metric, label, unit, s["n"], fmt(s["median"]), fmt(s["min"]), fmt(s["max"])])
    print(table(["metric", "provider", "unit", "n", "median", "min", "max"], rows))
    print("ratio sparkflow/reference, start -> handshake median: %s (target <= 0.25×)" % fmt(r_ms, "x"))
    if base_bin:
        print("ratio baseline/reference, start -> handshake median: %s" % fmt(ratio(med(st, LABEL_BASE), ref_ms), "x"))
    write_result({"name": "startup", "summary": summary, "details": details})


# ---- plan ---------------------------------------------------------------------


def cmd_plan(samples_json):
    with open(samples_json) as f:
        data = json.load(f)
    st = {k: stats(v) for k, v in data["seconds"].items()}
    sf = st[LABEL_SF]["median"] if st.get(LABEL_SF) else None
    ref = st[LABEL_REF]["median"] if st.get(LABEL_REF) else None
    r = ratio(sf, ref)
    n = data.get("instances", 200)
    summary = [row("terraform plan, %d instances (median)" % n, "s", sf, ref, "<= 1.0x", r is not None and r <= 1.0)]
    rows = [[label, s["n"], fmt(s["median"]), fmt(s["min"]), fmt(s["max"])] for label, s in st.items()]
    print(table(["provider", "n", "median s", "min s", "max s"], rows))
    print("ratio sparkflow/reference, plan median: %s (target <= 1.0×)" % fmt(r, "x"))
    details = dict(data)
    details["seconds"] = st
    write_result({"name": "plan", "summary": summary, "details": details})


# ---- merge --------------------------------------------------------------------


def host_facts():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/loadavg") as f:
            load = f.read().split()[:3]
    except OSError:
        load = []
    return {
        "hostname": platform.node(),
        "kernel": platform.release(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "loadavg_at_end": load,
    }


def git_facts(root):
    def git(*args):
        try:
            return subprocess.run(["git", "-C", root, *args], capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def cmd_merge(out_json, command, run_dir):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    benches = {}
    for name in sorted(os.listdir(run_dir)):
        if not name.endswith(".status"):
            continue
        bench = name[: -len(".status")]
        with open(os.path.join(run_dir, name)) as f:
            rc, secs = f.read().split()
        entry = {"exit_code": int(rc), "seconds": float(secs)}
        res = os.path.join(run_dir, bench + ".json")
        if os.path.exists(res):
            with open(res) as f:
                entry["result"] = json.load(f)
        benches[bench] = entry
    host = host_facts()
    try:
        with open(os.path.join(run_dir, "loadavg.start")) as f:
            host["loadavg_at_start"] = f.read().split()
    except OSError:
        pass
    doc = {
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": command,
        "git": git_facts(root),
        "host": host,
        "benchmarks": benches,
    }
    with open(out_json, "w") as f:
        json.dump(doc, f, indent=2)

    rows = []
    for bench, e in benches.items():
        summary = e.get("result", {}).get("summary", [])
        if e["exit_code"] != 0:
            rows.append([bench, "(failed, exit %d)" % e["exit_code"], "", "", "", "", "", "ERROR"])
        for r in summary:
            unit = r.get("unit", "")
            rows.append(
                [
                    bench,
                    r["metric"],
                    unit,
                    fmt(r.get("sparkflow")),
                    fmt(r.get("reference")),
                    fmt(r.get("ratio"), "x"),
                    r.get("target") or "",
                    verdict(r.get("pass")),
                ]
            )
        if e["exit_code"] == 0 and not summary:
            rows.append([bench, "(no summary)", "", "", "", "", "", "-"])
    print(table(["bench", "metric", "unit", "sparkflow", "reference", "ratio", "target", "result"], rows))
    misses = sum(1 for e in benches.values() for r in e.get("result", {}).get("summary", []) if r.get("pass") is False)
    errors = sum(1 for e in benches.values() if e["exit_code"] != 0)
    print(
        "\n%d benchmark(s), %d error(s), %d target(s) missed; load average %s -> %s; results: %s"
        % (
            len(benches),
            errors,
            misses,
            " ".join(host.get("loadavg_at_start", ["?"])[:1]),
            " ".join(host["loadavg_at_end"][:1]),
            os.path.relpath(out_json),
        )
    )
    return 3 if errors else (4 if misses else 0)


def main(argv):
    if len(argv) in (6, 7) and argv[1] == "startup":
        cmd_startup(*argv[2:])
        return 0
    if len(argv) == 3 and argv[1] == "plan":
        cmd_plan(argv[2])
        return 0
    if len(argv) == 5 and argv[1] == "merge":
        return cmd_merge(*argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
