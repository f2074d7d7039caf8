"""Part c: cost rows on the GPU, through ``benchmarks/cost/run.py --device cuda`` (its own method).

RPC's fused path against lightly's NTXentLoss and DCLLoss: forward + backward time (median of 5
runs, each row in a fresh process) and the CUDA allocator's peak, float32 and bf16 autocast, from
N = 256 up to where each one no longer fits: the lightly losses build (2N)^2 score matrices, so a
row past their memory ends in CUDA's out-of-memory error, which the row records. The cost
script's rows land in this part's file as they finish.

    python benchmarks/device/cost.py --out c.json --dry-run
"""

import os
import sys

import common
from results import PartFile, load
from subprocess_watch import run_watched

GPU = dict(
    sizes=[256, 4096, 16384, 32768, 65536],
    losses=["NTXentLoss", "DCLLoss", "RPCLoss gram"],
    gram_sizes=[262144, 1048576, 16777216, 33554432],
    bf16_sizes=[4096, 32768, 1048576],
    bf16_losses=["NTXentLoss", "RPCLoss gram"],
    repeats=5,
)
DRY = dict(
    sizes=[32],
    losses=["NTXentLoss", "RPCLoss gram"],
    gram_sizes=[],
    bf16_sizes=[32],
    bf16_losses=["RPCLoss gram"],
    repeats=2,
)


def command(plan, device, out, time_budget):
    script = os.path.join(common.ROOT, "benchmarks", "cost", "run.py")
    return [
        "--sizes",
        *map(str, plan["sizes"]),
        "--losses",
        *plan["losses"],
        "--gram-sizes",
        *map(str, plan["gram_sizes"]),
        "--gram-losses",
        "RPCLoss gram",
        "--bf16",
        "--bf16-sizes",
        *map(str, plan["bf16_sizes"]),
        "--bf16-losses",
        *plan["bf16_losses"],
        "--repeats",
        str(plan["repeats"]),
        "--device",
        device,
        "--time-budget",
        f"{time_budget:.0f}",
        "--out",
        out,
    ], script


def main():
    args = common.parse(__doc__)
    common.require_device(args.device)
    plan = DRY if args.dry_run else GPU
    out = os.path.join(args.work, "c_cost")
    # a row started before the cost script's budget may run on; 25 s covers the largest lightly row
    flags, script = command(plan, args.device, out, max(args.budget - 25, 5))
    part = PartFile(
        args.out,
        "c",
        "Cost on the device: RPC (fused) vs lightly NTXentLoss / DCLLoss",
        args.dry_run,
        device=args.device,
        plan=plan,
        command="python benchmarks/cost/run.py " + " ".join(f"'{f}'" if " " in f else f for f in flags),
    )
    results = os.path.join(out, "results.json")

    def mirror():
        if os.path.exists(results):
            try:
                saved = load(results)
            except ValueError:  # caught mid-write: the next poll reads it
                return
            part.update(rows=saved["rows"], steps=saved["steps"], machine=saved["machine"])

    rc, tail = run_watched([sys.executable, script, *flags], os.path.join(args.work, "c_cost.log"), on_poll=mirror)
    mirror()
    if rc != 0:
        raise SystemExit(f"benchmarks/cost/run.py exited with {rc}: {tail[-500:]}")
    part.done(
        fits={
            name: max(
                [
                    r["n"]
                    for r in part.data["rows"]
                    if r["loss"] == name and "skipped" not in r and r["dtype"] == "float32"
                ],
                default=None,
            )
            for name in plan["losses"]
        }
    )


if __name__ == "__main__":
    main()
