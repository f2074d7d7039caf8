"""The device run's driver: parts a-f in order, each in its own process under its own time limit.

``run.sh`` (which installs the carried wheels first) calls this. Every part writes its JSON into the
output folder as rows arrive; when a part ends, or is ended at its limit, this driver completes its
file (status, exit code, seconds, the tail of its log) and appends a line to ``progress.log``, so a
run cut off at any point keeps every part that finished and the rows of the one that was running.
The output folder holds at most 8 files (what the device tool returns): env.json, progress.log and
one JSON per part; scratch files (logs, the benchmark scripts' own outputs) go to ``--work``.

Budgets (seconds, GPU run): see ``PARTS``; the whole run is held to ``--total`` (465 s by default;
with run.sh's wheel install it stays inside the 8 minutes of the issue), and part f gets what is left.

    python benchmarks/device/run.py --dry-run --out /tmp/device_dry
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
for path in (os.path.dirname(os.path.dirname(HERE)), HERE):  # the checkout (benchmarks.harness), this folder
    if path not in sys.path:
        sys.path.insert(0, path)

from results import load, write_json  # noqa: E402
from subprocess_watch import end_group  # noqa: E402

# (part, script, results file, GPU budget in seconds; None: what is left)
PARTS = (
    ("a", "correctness.py", "a_correctness.json", 45),
    ("b", "nosync.py", "b_nosync.json", 30),
    ("c", "cost.py", "c_cost.json", 110),
    ("d", "step.py", "d_step.json", 45),
    ("e", "mi.py", "e_mi.json", 190),
    ("f", "vision.py", "f_vision.json", None),
)
DRY_BUDGET = 240  # per part in the dry run: a guard against a hang, not a plan
GRACE = 8  # seconds between the end of a part's budget and its forced end


def log_line(out, text):
    line = f"[{time.strftime('%H:%M:%S', time.gmtime())} UTC] {text}"
    print(line, flush=True)
    with open(os.path.join(out, "progress.log"), "a") as f:
        f.write(line + "\n")


def run_part(cmd, log_path, limit, env):
    """(exit code or None if ended at the limit, seconds); the part and its children end together."""
    start = time.time()
    with open(log_path, "w") as log:
        child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            rc = child.wait(timeout=max(limit, 1))
        except subprocess.TimeoutExpired:
            rc = None
        end_group(child, wait=5)  # at the limit, and any straggler of a part that exited: the GPU is the next part's
    return rc, time.time() - start


def complete(path, part, title, rc, seconds, log_path):
    """The part's file with how it ended; a stub that says why when the part wrote nothing."""
    try:
        data = load(path)
    except (OSError, ValueError):
        data = dict(part=part, title=title, rows=[], skipped=[])
    with open(log_path, errors="replace") as f:
        tail = f.read()[-3000:]
    if rc == 0 and data.get("status") == "ok":
        status = "ok"
    elif rc is None:
        status = "cut off at its time limit (rows so far kept)"
    else:
        status = f"failed (exit code {rc})"
    data.update(status=status, exit_code=rc, wall_s=round(seconds, 1), log_tail=tail)
    write_json(path, data)
    return data


def summary(data):
    rows, skipped = len(data.get("rows") or []), len(data.get("skipped") or [])
    extra = ""
    if data.get("part") == "e":
        extra = f", waves {len(data.get('waves') or [])}"
    if data.get("part") == "f":
        extra = f", runs {len((data.get('vision') or {}).get('results') or [])}"
    return f"{data['status']}: {rows} rows, {skipped} skipped{extra}"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--total", type=float, default=465.0, help="seconds for the whole run (GPU)")
    p.add_argument("--parts", default="abcdef", help="which parts to run, e.g. 'ab'")
    args = p.parse_args()
    start = time.time()
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.work, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    flag = ["--dry-run"] if args.dry_run else []
    mode = "dry run (CPU, tiny sizes)" if args.dry_run else f"GPU run, {args.total:.0f} s in all"
    log_line(args.out, f"device run: {mode}; output {args.out}")
    env_log = os.path.join(args.work, "env.log")
    rc, _ = run_part(
        [
            sys.executable,
            os.path.join(HERE, "envinfo.py"),
            "--out",
            os.path.join(args.out, "env.json"),
            "--work",
            args.work,
            *flag,
        ],
        env_log,
        60,
        env,
    )
    with open(env_log, errors="replace") as f:
        log_line(args.out, f.read().strip().splitlines()[-1] if rc == 0 else f"env: failed ({rc})")
    for part, script, name, budget in PARTS:
        if part not in args.parts:
            continue
        path = os.path.join(args.out, name)
        left = args.total - (time.time() - start)
        if args.dry_run:
            allotted = DRY_BUDGET
        else:
            allotted = min(budget, left - GRACE) if budget else left - GRACE
        if allotted < 5:
            write_json(path, dict(part=part, status="not run: the run's time was spent", rows=[], skipped=[]))
            log_line(args.out, f"part {part}: not run ({left:.0f} s left)")
            continue
        log_path = os.path.join(args.work, f"{part}.log")
        cmd = [
            sys.executable,
            os.path.join(HERE, script),
            "--out",
            path,
            "--budget",
            f"{allotted:.0f}",
            "--work",
            args.work,
            *flag,
        ]
        log_line(args.out, f"part {part} ({script}) starts, {allotted:.0f} s allotted")
        rc, seconds = run_part(cmd, log_path, allotted + GRACE, env)
        data = complete(path, part, script, rc, seconds, log_path)
        log_line(args.out, f"part {part} ({script}) {summary(data)} in {seconds:.0f} s")
    log_line(args.out, f"device run done in {time.time() - start:.0f} s")
    print(
        json.dumps(
            {
                p[0]: load(os.path.join(args.out, p[2])).get("status")
                for p in PARTS
                if os.path.exists(os.path.join(args.out, p[2]))
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
