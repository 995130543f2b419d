"""bench.py -- the long-life soak (issue #14 item 6); bench/bench_soak runs it.

One provider process (started with -debug) serves N plan/apply cycles of
the real Terraform CLI (soak.py says what a cycle is); its RSS, threads and
open descriptors are sampled after every cycle.  Reported: first, last and
max of each, the linear-fit slope per 100 cycles and the growth after the
warm-up, the CLI's time per command, and whether ASan/LSan (with a
sanitizer build) said anything when the provider was stopped.

Results: a table on stdout, every sample in bench/results/soak-<UTC
timestamp>.json, and with BENCH_JSON the summary for bench/run.  Exit 1
when the soak could not run to the end (a failed command, a provider that
died or did not exit on SIGTERM, a failed destroy); a bound it missed
(soak.verdict) is a MISS in the summary.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parents[1]
SF_ROOT = BENCH_DIR.parent


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


soak = _load("sf_soak", BENCH_DIR / "soak" / "soak.py")
report = _load("sf_report", BENCH_DIR / "lib" / "report.py")


def is_asan_build(binary: Path) -> bool:
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


def parse_args(argv):
    quick = os.environ.get("BENCH_QUICK") == "1"
    p = argparse.ArgumentParser(prog="bench_soak", description=__doc__.split("\n\n")[0])
    p.add_argument("--cycles", type=int, default=100 if quick else 1000, help="plan/apply cycles (default 1000)")
    p.add_argument("--warmup", type=int, default=20, help="cycles before the growth checks (default 20)")
    p.add_argument(
        "--pipeline",
        choices=("created", "planned"),
        default="created",
        help="created: the pipeline is created once (one Spark run) and updated every cycle; "
        "planned: only planned (no Spark run), the cluster alone is applied",
    )
    p.add_argument("--keep", action="store_true", default=os.environ.get("BENCH_KEEP") == "1")
    return p.parse_args(argv)


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def fmt_kb(kb) -> str:
    return "-" if kb is None else f"{kb / 1024:.1f} MiB"


def summary_rows(result: dict, problems: list[str]) -> list[dict]:
    a = result["analysis"]
    rss, fds = a.get("rss_kb", {}), a.get("fds", {})
    slope = rss.get("slope_per_100_after_warmup")
    rows = [
        report.row(
            f"soak: {a.get('cycles_done', 0)} plan/apply cycles, one provider process, no failure",
            "cycles",
            a.get("cycles_done", 0),
            None,
            f"{result['config']['cycles']}",
            not result["failure"] and a.get("cycles_done", 0) == result["config"]["cycles"],
        ),
        report.row(
            "soak: RSS slope after warm-up (linear fit)",
            "kB/100 cycles",
            slope,
            None,
            f"<= {soak.RSS_SLOPE_LIMIT_KB}",
            None if slope is None else slope <= soak.RSS_SLOPE_LIMIT_KB,
        ),
        report.row("soak: RSS first cycle", "kB", rss.get("first")),
        report.row("soak: RSS last cycle", "kB", rss.get("last")),
        report.row("soak: RSS max", "kB", rss.get("max")),
        report.row(
            "soak: open fds, max - min after warm-up",
            "fds",
            None if "max_after_warmup" not in fds else fds["max_after_warmup"] - fds["min_after_warmup"],
            None,
            "0",
            None if "max_after_warmup" not in fds else fds["max_after_warmup"] == fds["min_after_warmup"],
        ),
        report.row("soak: open fds last cycle", "fds", fds.get("last")),
        report.row(
            "soak: sanitizer reports at exit" + ("" if result["config"]["asan"] else " (not a sanitizer build)"),
            "reports",
            1 if result["sanitizer_reports"] else 0,
            None,
            "0",
            not result["sanitizer_reports"],
        ),
        report.row("soak: all checks", "problems", len(problems), None, "0", not problems),
    ]
    return rows


def main(argv=None) -> int:
    args = parse_args(argv if argv is not None else sys.argv[1:])
    provider = Path(os.environ.get("BENCH_PROVIDER", SF_ROOT / "build" / "terraform-provider-sparkflow"))
    terraform = Path(os.environ.get("BENCH_TERRAFORM", SF_ROOT / ".venv" / "bin" / "terraform"))
    asan = is_asan_build(provider)
    load_before = uptime()
    root = Path(tempfile.mkdtemp(prefix="sf-soak.", dir=os.environ.get("TMPDIR")))
    cfg = soak.SoakConfig(
        root=root,
        provider=provider,
        terraform=terraform,
        cycles=args.cycles,
        warmup=args.warmup,
        pipeline=args.pipeline,
        asan=asan,
        progress=lambda m: print(m, file=sys.stderr, flush=True),
    )
    print(
        f"soak: {args.cycles} cycles, provider {provider}{' (ASan build)' if asan else ''}, scratch {root}", flush=True
    )
    run = soak.Soak(cfg)
    result = run.run()
    problems = soak.verdict(result)
    result["problems"] = problems
    result["load_before"] = load_before
    result["load_after"] = uptime()
    result["command"] = " ".join(["bench/bench_soak", *(argv if argv is not None else sys.argv[1:])])
    result["git_commit"] = subprocess.run(
        ["git", "-C", str(SF_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()

    a = result["analysis"]
    t = []
    for key, label in (("rss_kb", "RSS"), ("fds", "open fds"), ("threads", "threads")):
        s = a.get(key, {})
        conv = fmt_kb if key == "rss_kb" else (lambda v: "-" if v is None else str(v))
        slope = s.get("slope_per_100_after_warmup")
        t.append(
            [
                label,
                conv(s.get("before_cycles")),
                conv(s.get("first")),
                conv(s.get("at_warmup")),
                conv(s.get("last")),
                conv(s.get("max")),
                "-" if slope is None else (f"{slope:.1f} kB" if key == "rss_kb" else f"{slope:.3f}"),
            ]
        )
    print()
    print(
        report.table(
            ["", "before the CLI", "cycle 1", f"cycle {args.warmup}", "last", "max", "slope/100 cycles after warm-up"],
            t,
        )
    )
    print(
        f"\nsetup {result['setup_s'] or 0:.1f}s, cycles {result['cycles_s']:.1f}s; CLI runs: "
        + ", ".join(f"{k} {v['n']}x (max {v['max_s']}s)" for k, v in result["cli_runs"].items())
    )
    print(f"load before: {load_before}\nload after:  {result['load_after']}")
    print("provider exit on SIGTERM:", result["provider_exit"])
    print("sanitizer reports:", "none" if not result["sanitizer_reports"] else "\n" + result["sanitizer_reports"])
    for p in problems:
        print("PROBLEM:", p)

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    os.makedirs(BENCH_DIR / "results", exist_ok=True)
    out = BENCH_DIR / "results" / f"soak-{stamp}.json"
    if out.exists():  # two soaks ended in the same second
        out = out.with_name(f"soak-{stamp}-{os.getpid()}.json")
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
    print("results: " + os.path.relpath(out, os.getcwd()))
    if os.environ.get("BENCH_JSON"):
        with open(os.environ["BENCH_JSON"], "w") as f:
            json.dump(
                {"name": "soak", "summary": summary_rows(result, problems), "details": {"results_file": str(out)}},
                f,
                indent=2,
            )
    if args.keep:
        print(f"kept {root}")
    else:
        run.cleanup()
    # Exit 1 when the soak could not run to the end; a bound it missed is a
    # MISS row (bench/run --strict turns it into a failure).
    incomplete = result["failure"] or result["destroy_problem"] or result["provider_exit"] != 0
    return 1 if incomplete else 0


if __name__ == "__main__":
    sys.exit(main())
