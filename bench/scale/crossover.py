"""crossover.py -- from a bench_scale result, at what size EMR beats the local engine.

docs/guides/scaling.md states, with numbers, when a pipeline should move
from the local engine (this machine) to the EMR engine (N x m5.xlarge core
nodes).  Its figures come from here, so they can be re-made from any
bench/results/scale-*.json:

    .venv/bin/python bench/scale/crossover.py bench/results/scale-<time>.json

The model (every assumption is a named constant below):

  local   wall(R) = a + b * R, fitted through the two largest sizes of the
          run (the Spark side: one application, start-up paid once); b is
          the marginal cost of a row on this machine's 2 cores.
  EMR     wall(R) = START + STEPS * a_app + TEARDOWN + b * R * 2 / (4 * N * VCPU),
          i.e. the cluster's start, one Spark application per stage (a
          run_cluster { emr {} } run makes each stage an EMR step), the
          termination the apply waits for, and the same per-core work spread
          over N core nodes of 4 vCPUs, one vCPU doing VCPU of a core here.
  cost    EMR bills every node (primary + N core) per second from the
          request to the termination, one minute at least: (N + 1) *
          (EC2 + EMR price) * max(60 s, wall).  The local engine on the same
          instance type (one m5.xlarge, EC2 price only) is the cloud
          comparison; on a machine you own the run costs no bill.

Prices: AWS's published on-demand prices for us-east-1, as constants; check
them against https://aws.amazon.com/emr/pricing/ and
https://aws.amazon.com/ec2/pricing/on-demand/ before relying on them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EC2_M5_XLARGE_PER_H = 0.192  # USD, on-demand Linux, us-east-1
EMR_M5_XLARGE_PER_H = 0.048  # USD, the EMR price added per instance, us-east-1
MIN_BILLED_S = 60  # per-second billing, one-minute minimum
START_S = 420.0  # RunJobFlow -> first step running (assumed: "several minutes")
TEARDOWN_S = 60.0  # last step -> TERMINATED, billed and waited for (assumed)
STEPS = 3  # validate, process, marts: one EMR step (Spark application) each
VCPUS = 4  # m5.xlarge
LOCAL_CORES = 2  # what bench_scale's Spark side uses here
NODES = (2, 4, 8)
SIZES = (10_000_000, 100_000_000, 1_000_000_000)


def fit(results: list[dict[str, Any]]) -> tuple[float, float, float]:
    """(a, b, app start) of the Spark side: wall = a + b * rows read, through
    the two largest sizes; app start = a, the fixed cost of one application."""
    pts = sorted((r["read"], r["spark"]["wall_s"]["median"]) for r in results)
    if len(pts) < 2:
        raise SystemExit("crossover.py: the result needs at least two sizes")
    (r1, w1), (r2, w2) = pts[-2], pts[-1]
    b = (w2 - w1) / (r2 - r1)
    a = w1 - b * r1
    return a, b, max(a, 0.0)


def emr_wall(rows: float, n: int, a_app: float, b: float, vcpu: float) -> float:
    return START_S + STEPS * a_app + TEARDOWN_S + b * rows * LOCAL_CORES / (VCPUS * n * vcpu)


def emr_cost(wall_s: float, n: int) -> float:
    return (n + 1) * (EC2_M5_XLARGE_PER_H + EMR_M5_XLARGE_PER_H) * max(MIN_BILLED_S, wall_s) / 3600


def crossover_rows(n: int, a: float, b: float, a_app: float, vcpu: float) -> float | None:
    """Rows above which EMR's wall is shorter than the local one."""
    gain = b - b * LOCAL_CORES / (VCPUS * n * vcpu)  # seconds saved per row
    fixed = START_S + STEPS * a_app + TEARDOWN_S - a
    return fixed / gain if gain > 0 else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("result", type=Path, help="bench/results/scale-*.json")
    args = p.parse_args(argv)
    doc = json.loads(args.result.read_text())
    a, b, a_app = fit(doc["results"])
    print("| rows | Spark wall | DuckDB wall | ratio | Spark rows/s/core | Spark peak RSS | Spark CPU s |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in doc["results"]:
        s, d = r["spark"], r["duckdb"]
        sw, dw = s["wall_s"]["median"], d["wall_s"]["median"]
        print(
            f"| {r['rows']:,} | {sw:,.1f} s | {dw:,.1f} s | {sw / dw:.1f}× | {s['rows_per_s_per_core']:,.0f} "
            f"| {s['peak_rss_mb']['median'] / 1000:.1f} GB | {s['cpu_s']['median']:,.0f} |"
        )
    print()
    print(f"local fit: wall = {a:.1f} s + {b * 1e6:.2f} s per million rows ({1 / b / LOCAL_CORES:,.0f} rows/s/core)")
    print()
    print("| N core nodes | vCPU = core: EMR faster above | vCPU = half a core: above |")
    print("| --- | ---: | ---: |")
    for n in NODES:
        cells = []
        for vcpu in (1.0, 0.5):
            x = crossover_rows(n, a, b, a_app, vcpu)
            cells.append(f"{x / 1e6:,.0f} M rows" if x else "never")
        print(f"| {n} | {cells[0]} | {cells[1]} |")
    print()
    header = "| rows | local wall | local on 1 m5.xlarge (EC2 only) |"
    header += "".join(f" EMR {n} core: wall, cost |" for n in NODES)
    print(header)
    print("| ---: | ---: | ---: |" + " ---: |" * len(NODES))
    for rows in SIZES:
        local = a + b * rows
        on_ec2 = a + b * rows * LOCAL_CORES / VCPUS
        line = f"| {rows / 1e6:,.0f} M | {local / 60:,.1f} min | {on_ec2 / 60:,.1f} min, "
        line += f"${EC2_M5_XLARGE_PER_H * max(MIN_BILLED_S, on_ec2) / 3600:.3f} |"
        for n in NODES:
            w = emr_wall(rows, n, a_app, b, 1.0)
            line += f" {w / 60:,.1f} min, ${emr_cost(w, n):.2f} |"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
