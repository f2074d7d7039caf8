"""Part d: training-step overhead of RPC against NT-Xent on a timm ResNet-18 (SimCLR layout).

One model (``rpc_timm.create_backbone("resnet18", small_input=True)`` + lightly's SimCLR projection
head, 128-d) takes two views of B random 32 x 32 images; one step is forward, the loss, backward
and an SGD-with-momentum update. For each B in 256, 1024, 4096 and each precision (bf16 autocast,
float32) the two losses, ``rpc_plugins.RPCLoss()`` and lightly's ``NTXentLoss(temperature=0.5)``,
share the model and alternate in blocks of 3 steps (5 rounds, the order swapped every round, so
drift hits both alike) after 3 warm-up steps each; a block is timed with CUDA events. Reported:
median ms per step, the loss alone (forward + backward on the step's embedding size), the CUDA
allocator's peak, and RPC's overhead, step(RPC) / step(NT-Xent) - 1. The goal (issue 22): within 5%.

    python benchmarks/device/step.py --out d.json --dry-run
"""

import gc
import statistics
import time

import common
import torch

import rpc_plugins as rp
from results import PartFile


class Timer:
    """Elapsed seconds of a block: CUDA events on a GPU, a synchronised host clock on the CPU."""

    def __init__(self, device):
        self.cuda = device.startswith("cuda")

    def __call__(self, fn):
        if self.cuda:
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            return start.elapsed_time(stop) / 1e3
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0


def make_losses():
    from lightly.loss import NTXentLoss

    return {"NT-Xent (lightly)": NTXentLoss(temperature=0.5), "RPC (rpc_plugins)": rp.RPCLoss()}


def build(device, batch, size):
    import rpc_lightly
    import rpc_timm

    torch.manual_seed(0)
    model = rpc_lightly.SimCLRModel(rpc_timm.create_backbone("resnet18", in_chans=3, small_input=True)).to(device)
    g = torch.Generator(device=device).manual_seed(0)
    views = [torch.randn(batch, 3, size, size, generator=g, device=device) for _ in range(2)]
    return model, views


def measure(device, batch, precision, plan):
    model, (x0, x1) = build(device, batch, plan["image"])
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    losses = make_losses()
    bf16 = precision == "bf16 autocast"
    timer = Timer(device)

    def steps(loss_fn, k):
        def run():
            for _ in range(k):
                with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
                    loss = loss_fn(model(x0), model(x1))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

        return run

    peak = {}
    for name, fn in losses.items():
        if device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        timer(steps(fn, plan["warmup"]))
        peak[name] = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
    times = {name: [] for name in losses}
    names = list(losses)
    for r in range(plan["rounds"]):
        for name in names if r % 2 == 0 else names[::-1]:
            times[name].append(timer(steps(losses[name], plan["block"])) / plan["block"])
    # the loss alone, on the embeddings this step feeds it (B x 128, two views)
    loss_only = {}
    for name, fn in losses.items():
        e0 = torch.randn(batch, 128, device=device, requires_grad=True)
        e1 = torch.randn(batch, 128, device=device, requires_grad=True)
        loss_only[name] = statistics.median(timer(lambda: fn(e0, e1).backward()) for _ in range(plan["loss_repeats"]))
    return [
        dict(
            batch=batch,
            precision=precision,
            loss=name,
            step_ms=statistics.median(times[name]) * 1e3,
            step_ms_all=[round(t * 1e3, 3) for t in times[name]],
            loss_only_ms=loss_only[name] * 1e3,
            peak_mib=peak[name],
        )
        for name in losses
    ]


def main():
    args = common.parse(__doc__)
    common.require_device(args.device)
    if args.dry_run:
        plan = dict(
            batches=[4], precisions=["float32", "bf16 autocast"], image=8, warmup=1, rounds=2, block=1, loss_repeats=2
        )
    else:
        plan = dict(
            batches=[256, 1024, 4096],
            precisions=["bf16 autocast", "float32"],
            image=32,
            warmup=3,
            rounds=5,
            block=3,
            loss_repeats=10,
        )
    part = PartFile(
        args.out,
        "d",
        "Training-step overhead: timm ResNet-18, RPC vs NT-Xent",
        args.dry_run,
        device=args.device,
        plan=plan,
        goal_overhead=0.05,
        cudnn_benchmark=bool(torch.backends.cudnn.benchmark),
    )
    for name, reason in (("lightly", common.import_reason("lightly.loss")), ("timm", common.import_reason("timm"))):
        if reason:
            part.skip(f"every row (needs {name})", reason)
            part.done()
            return
    for precision in plan["precisions"]:
        for batch in plan["batches"]:
            if time.time() > args.deadline - 10:
                part.skip(f"B={batch} {precision}", "part budget spent")
                continue
            try:
                rows = measure(args.device, batch, precision, plan)
            except torch.cuda.OutOfMemoryError as exc:  # float32 at B = 4096 may not fit: recorded, the part goes on
                rows = None
                part.skip(f"B={batch} {precision}", f"CUDA out of memory: {str(exc).splitlines()[0][:200]}")
            if rows is None:
                gc.collect()  # the failed step's tensors, held by the traceback until here
                torch.cuda.empty_cache()
                continue
            ntx, rpc = rows
            overhead = rpc["step_ms"] / ntx["step_ms"] - 1
            for row in rows:
                part.add(dict(row, rpc_overhead=overhead, goal_met=overhead <= 0.05))
            print(
                f"d: B={batch} {precision}: NT-Xent {ntx['step_ms']:.1f} ms, RPC {rpc['step_ms']:.1f} ms "
                f"({overhead:+.1%})",
                flush=True,
            )
            if args.device.startswith("cuda"):
                torch.cuda.empty_cache()
    part.done()


if __name__ == "__main__":
    main()
