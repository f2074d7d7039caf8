"""Part e: MI estimation, the authors' full protocol for every estimator, on the GPU.

``benchmarks/mi/run.py --setting authors --device cuda`` (concat critic 2d -> 512 -> 512 -> 1 on all
128 x 128 pairs, 4000 steps per MI level 2, 4, ... 10 nats, statistics over each level's last 3000
steps): every estimator of that script (the authors' RPC with all its readouts and this package's
default readout, InfoNCE, SMILE, NWJ, JS, DV) runs as its own process on the one GPU, one wave per
(seed, task): Gaussian, then cubic, seed 0, then seed 1, ... A wave starts only when the time left
covers the previous wave's duration (+15%), so "as many seeds as fit" is decided by the run itself;
each finished wave's results are in this part's file at once, and ``--combine`` merges them.

    python benchmarks/device/mi.py --out e.json --dry-run
"""

import glob
import os
import sys
import time

import common
from results import PartFile, load
from subprocess_watch import run_watched

SCRIPT = os.path.join(common.ROOT, "benchmarks", "mi", "run.py")
ESTIMATORS = ["rpc_authors", "rpc", "infonce", "smile", "nwj", "js", "dv"]


def main():
    args = common.parse(__doc__)
    common.require_device(args.device)
    if args.dry_run:
        scale, estimators, max_seeds = (
            ["--hidden", "16", "--steps", "8", "--tail", "4", "--batch", "16"],
            ["rpc_authors", "rpc", "infonce"],
            1,
        )
    else:
        scale, estimators, max_seeds = [], ESTIMATORS, 10
    # "rpc" is read off the rpc_authors critic (one run serves both); the dry run stays in one process
    workers = 1 if args.dry_run else len(estimators) - 1
    out = os.path.join(args.work, "e_mi")
    os.makedirs(out, exist_ok=True)
    base = [
        sys.executable,
        SCRIPT,
        "--setting",
        "authors",
        "--device",
        args.device,
        "--workers",
        str(workers),
        "--progress",
        "4",
        "--out",
        out,
        "--estimators",
        *estimators,
        *scale,
    ]
    part = PartFile(
        args.out,
        "e",
        "MI estimation: the authors' full protocol, every estimator",
        args.dry_run,
        device=args.device,
        command=" ".join(["python benchmarks/mi/run.py", *base[2:]]).replace(out, "WORK/e_mi"),
        waves=[],
        protocol="reduced (dry run)" if args.dry_run else "full (4000 steps/level, tail 3000, 512 wide)",
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")  # 6 processes share the machine's cores
    last = None
    for seed in range(max_seeds):
        for task in ("gaussian", "cubic"):
            left = args.deadline - time.time()
            if last is not None and left < 1.15 * last:
                part.skip(f"seed {seed} {task}", f"{left:.0f} s left, the last wave took {last:.0f} s")
                return finish(part, out)
            tag = f"s{seed}_{task}"
            t0 = time.time()
            rc, tail = run_watched(
                base + ["--seeds", str(seed), "--tasks", task, "--tag", tag],
                os.path.join(args.work, f"e_mi_{tag}.log"),
                timeout=max(left - 5, 1),
                env=env,
            )
            last = time.time() - t0
            wave = dict(seed=seed, task=task, seconds=round(last, 1), rc=rc)
            path = os.path.join(out, f"results_{tag}.json")
            if rc == 0 and os.path.exists(path):
                saved = load(path)
                wave.update(stats=saved["stats"], machine=saved["machine"], run_seconds=saved["seconds"])
                print(f"e: seed {seed} {task} done in {last:.0f} s", flush=True)
            else:
                wave["log_tail"] = tail[-1500:]
                print(f"e: seed {seed} {task} failed or cut off (rc {rc}) after {last:.0f} s", flush=True)
            part.update(waves=part.data["waves"] + [wave])
            if rc != 0:
                return finish(part, out)
    finish(part, out)


def finish(part, out):
    """Merge every finished wave (seeds x tasks) with the MI script's own --combine."""
    done = sorted(glob.glob(os.path.join(out, "results_s*_*.json")))
    if done:
        rc, tail = run_watched(
            [sys.executable, SCRIPT, "--combine", *done, "--tag", "device", "--out", out],
            os.path.join(out, "combine.log"),
        )
        if rc == 0:
            combined = load(os.path.join(out, "results_device.json"))
            part.update(
                combined=dict(
                    stats=combined["stats"],
                    mode=combined["mode"],
                    steps_per_level=combined["steps_per_level"],
                    tail=combined["tail"],
                    hidden=combined["hidden"],
                    seeds={
                        t: sorted({w["seed"] for w in part.data["waves"] if w["task"] == t and "stats" in w})
                        for t in ("gaussian", "cubic")
                    },
                )
            )
        else:
            part.skip("combine", tail[-500:])
    part.done()


if __name__ == "__main__":
    main()
