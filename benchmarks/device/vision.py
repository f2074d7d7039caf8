"""Part f: the ResNet-18 vision evidence run on Fashion-MNIST, in the time the run has left.

``benchmarks/vision/run.py --device cuda --backbone resnet18 --bf16 --parts accuracy``: the trivial
baselines (raw pixels, random init, supervised) and RPC and NT-Xent at their defaults, 120,000
images seen per run (two epochs), seed 0 first; then seeds 1 and 2 of the two objectives while time
remains. The vision script rewrites its results.json after every run and its ``--time-budget``
starts no run after the budget, so each finished run is in this part's file. Fashion-MNIST comes
from the carried ``.device/fashion-mnist`` (``prepare.sh``) or Debian's
/usr/share/datasets/fashion-mnist; without either the part is skipped and says so.

    python benchmarks/device/vision.py --out f.json --dry-run
"""

import os
import sys
import time

import common
from results import PartFile, load
from subprocess_watch import run_watched

SCRIPT = os.path.join(common.ROOT, "benchmarks", "vision", "run.py")
DATA = (os.path.join(common.ROOT, ".device", "fashion-mnist"), "/usr/share/datasets/fashion-mnist")
RUN_S = 40  # the longest single ResNet-18 run expected (supervised or an objective, 120,000 images)


def main():
    args = common.parse(__doc__)
    common.require_device(args.device)
    data = next((d for d in DATA if os.path.exists(os.path.join(d, "train-images-idx3-ubyte.gz"))), None)
    out = os.path.join(args.work, "f_vision")
    if args.dry_run:
        scale = [
            "--train-size",
            "160",
            "--test-size",
            "80",
            "--samples",
            "64",
            "--batch-size",
            "32",
            "--few-labels",
            "2",
        ]
    else:
        scale = ["--samples", "120000"]
    base = [
        sys.executable,
        SCRIPT,
        "--device",
        args.device,
        "--data-dir",
        str(data),
        "--out",
        out,
        "--backbone",
        "resnet18",
        "--bf16",
        "--parts",
        "accuracy",
        "--objectives",
        "RPC",
        "NT-Xent",
        *scale,
    ]
    waves = [["--seeds", "0"], ["--seeds", "0", "1", "2", "--baselines"]]
    if args.dry_run:
        waves = waves[:1]
    part = PartFile(
        args.out,
        "f",
        "Vision: ResNet-18 on Fashion-MNIST (linear probe, kNN)",
        args.dry_run,
        device=args.device,
        data_dir=data,
        commands=[
            " ".join(["python benchmarks/vision/run.py", *base[2:], *w]).replace(out, "WORK/f_vision") for w in waves
        ],
    )
    if data is None:
        part.skip("every run", f"Fashion-MNIST not found in {' or '.join(DATA)} (run benchmarks/device/prepare.sh)")
        return part.done()
    results = os.path.join(out, "results.json")

    def mirror():
        if os.path.exists(results):
            try:
                part.update(vision=load(results))
            except ValueError:
                pass

    for i, wave in enumerate(waves):
        left = args.deadline - time.time()
        if left < RUN_S + 10:
            part.skip(" ".join(wave), f"{left:.0f} s left")
            break
        budget = max(left - RUN_S - 10, 1)  # a run started just before the budget still ends in time
        rc, tail = run_watched(
            base + wave + ["--time-budget", f"{budget:.0f}"],
            os.path.join(args.work, f"f_vision_{i}.log"),
            on_poll=mirror,
            env=dict(os.environ),
        )
        mirror()
        if rc != 0:
            part.update(log_tail=tail[-1500:])
            raise SystemExit(f"benchmarks/vision/run.py exited with {rc}")
    part.done(runs=len((part.data.get("vision") or {}).get("results", [])))


if __name__ == "__main__":
    main()
