"""cmd_timer.py -- wall time of whole commands, interleaved, with a check.

For commands that take seconds (terraform plan), Python's spawn overhead
(about a millisecond) is noise, so this is plain subprocess + perf_counter.
Runs are interleaved (A B A B ...) so drift on a shared machine hits both.

usage: cmd_timer.py SPEC_JSON RUNS WARMUP OUT_JSON
SPEC_JSON: {"env": {NAME: VALUE}, "unset": [NAME...], "commands": [{"label",
"cwd", "argv", "expect"}]}: every run must exit 0 and its stdout must contain
"expect" (else the run's output is shown and the script exits 1).
OUT_JSON gets {"seconds": {label: [...]}, "argv": {label: argv}, "runs": RUNS,
"warmup": WARMUP}."""

import json
import os
import subprocess
import sys
import time


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        spec = json.load(f)
    runs, warmup, out_path = int(argv[2]), int(argv[3]), argv[4]
    env = dict(os.environ)
    for name in spec.get("unset", []):
        env.pop(name, None)
    env.update(spec.get("env", {}))
    seconds = {c["label"]: [] for c in spec["commands"]}
    for i in range(-warmup, runs):
        for c in spec["commands"]:
            t0 = time.perf_counter()
            p = subprocess.run(
                c["argv"],
                cwd=c["cwd"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            dt = time.perf_counter() - t0
            out = p.stdout.decode(errors="replace")
            if p.returncode != 0 or c["expect"] not in out:
                print(
                    "cmd_timer: %s run %d failed (exit %d, expected %r):\n%s"
                    % (c["label"], i, p.returncode, c["expect"], out[-4000:]),
                    file=sys.stderr,
                )
                return 1
            if i >= 0:
                seconds[c["label"]].append(dt)
            print("  %-10s run %2d: %.3f s%s" % (c["label"], i, dt, " (warm-up)" if i < 0 else ""), file=sys.stderr)
    with open(out_path, "w") as f:
        json.dump(
            {
                "seconds": seconds,
                "argv": {c["label"]: c["argv"] for c in spec["commands"]},
                "runs": runs,
                "warmup": warmup,
            },
            f,
            indent=2,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
