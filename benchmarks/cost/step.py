"""Training-step time of a timm ResNet-18 with RPC against lightly's NT-Xent, at B = 256 to 4096.

One model, ``rpc_timm.create_backbone("resnet18", small_input=True)`` (SimCLR's CIFAR stem) and SimCLR's
projection head (512 -> 512 -> 128), takes two views of B random 32 x 32 images; a step is the forward, the
loss, the backward and an SGD-with-momentum update. For each precision and B the two losses,
``rpc_plugins.RPCLoss()`` and ``lightly.loss.NTXentLoss(temperature=0.5)``, share the model and alternate in
blocks of ``--block`` steps (``--rounds`` rounds, the order swapped every round, so load drift hits both
alike) after ``--warmup`` steps each. Reported: median ms per step, the loss alone (forward + backward on
the step's B x 128 embeddings), the allocator's peak on CUDA, and RPC's overhead step(RPC) / step(NT-Xent) - 1.
A size that does not fit the device is recorded with its out-of-memory error, and the run goes on.

    python benchmarks/cost/step.py --device cuda --out DIR                     # B = 256, 1024, 4096; bf16, float32
    python benchmarks/cost/step.py --batches 4 --image 8 --warmup 1 --rounds 1 --block 1 --out /tmp/x  # smoke

Writes <out>/step.md and step.json.
"""

import argparse
import gc
import os
import shlex
import statistics
import sys
import time

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [ROOT, os.path.join(ROOT, "adapters")]  # run from a checkout without installing

import rpc_plugins as rp  # noqa: E402
from benchmarks.harness import machine  # noqa: E402
from benchmarks.harness.precision import mixed_precision  # noqa: E402
from benchmarks.harness.rows import write_json  # noqa: E402
from benchmarks.harness.tables import markdown  # noqa: E402

REFERENCE = "NT-Xent (lightly)"


def timer(device):
    """Seconds taken by ``fn()``: CUDA events on a GPU, a host clock on the CPU."""

    def cuda(fn):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        return start.elapsed_time(stop) / 1e3

    def cpu(fn):
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    return cuda if device.startswith("cuda") else cpu


def build(device, batch, image):
    import rpc_timm

    torch.manual_seed(0)
    backbone = rpc_timm.create_backbone("resnet18", small_input=True)
    head = nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, 128))
    model = nn.Sequential(backbone, head).to(device)
    g = torch.Generator(device=device).manual_seed(0)
    views = [torch.randn(batch, 3, image, image, generator=g, device=device) for _ in range(2)]
    return model, views


def measure(args, batch, precision):
    """Rows of both losses at one (B, precision)."""
    from lightly.loss import NTXentLoss

    losses = {REFERENCE: NTXentLoss(temperature=0.5), "RPC (rpc_plugins)": rp.RPCLoss()}
    model, (x0, x1) = build(args.device, batch, args.image)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    clock, cuda = timer(args.device), args.device.startswith("cuda")

    def steps(loss_fn, k):
        def run():
            for _ in range(k):
                with mixed_precision(args.device, precision == "bf16 autocast"):
                    loss = loss_fn(model(x0), model(x1))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

        return run

    peak = {}
    for name, fn in losses.items():
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        clock(steps(fn, args.warmup))
        peak[name] = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
    times = {name: [] for name in losses}
    names = list(losses)
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            times[name].append(clock(steps(losses[name], args.block)) / args.block)
    rows = []
    for name, fn in losses.items():
        e0, e1 = (torch.randn(batch, 128, device=args.device, requires_grad=True) for _ in range(2))
        alone = statistics.median(clock(lambda: fn(e0, e1).backward()) for _ in range(max(args.rounds, 1)))
        rows.append(
            dict(
                batch=batch,
                precision=precision,
                loss=name,
                step_ms=statistics.median(times[name]) * 1e3,
                step_ms_all=[round(t * 1e3, 3) for t in times[name]],
                loss_only_ms=alone * 1e3,
                peak_mib=peak[name],
            )
        )
    overhead = rows[1]["step_ms"] / rows[0]["step_ms"] - 1
    return [dict(row, rpc_overhead=overhead) for row in rows]


def table(rows):
    body = []
    for r in rows:
        if "skipped" in r:
            body.append([r["batch"], r["precision"], "both", f"not run: {r['skipped']}", "", "", ""])
            continue
        peak = "-" if r["peak_mib"] is None else f"{r['peak_mib']:.0f}"
        rel = "1" if r["loss"] == REFERENCE else f"{r['rpc_overhead']:+.1%}"
        body.append(
            [r["batch"], r["precision"], r["loss"], f"{r['step_ms']:.1f}", rel, f"{r['loss_only_ms']:.2f}", peak]
        )
    header = ["B", "precision", "loss", "step ms", "vs NT-Xent", "loss alone ms", "peak MiB"]
    return markdown(header, body, align="rllrrrr")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", type=int, nargs="*", default=[256, 1024, 4096])
    parser.add_argument("--precisions", nargs="*", default=["bf16 autocast", "float32"])
    parser.add_argument("--image", type=int, default=32, help="image side (pixels)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--block", type=int, default=3, help="steps per timed block")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", default=HERE)
    args = parser.parse_args()
    for p in args.precisions:
        if p not in ("bf16 autocast", "float32"):
            raise ValueError(f"--precisions: {p!r} is not 'bf16 autocast' or 'float32'")
    if args.threads:
        torch.set_num_threads(args.threads)
    command = "python benchmarks/cost/step.py " + shlex.join(sys.argv[1:])
    started, rows = time.time(), []
    host = machine.describe(device=args.device, load=True)
    for precision in args.precisions:
        for batch in args.batches:
            try:
                rows += measure(args, batch, precision)
            except torch.cuda.OutOfMemoryError as exc:  # float32 at B = 4096 may not fit: recorded, the run goes on
                rows.append(dict(batch=batch, precision=precision, skipped=str(exc).splitlines()[0][:160]))
                gc.collect()
                torch.cuda.empty_cache()
            write_json(os.path.join(args.out, "step.json"), dict(command=command, machine=host, rows=rows))
            print(rows[-1], flush=True)
    text = "\n".join(
        [
            "# Training step: timm ResNet-18 (CIFAR stem) + SimCLR head, RPC vs NT-Xent",
            "",
            f"Command: `{command}` ({time.time() - started:.0f} s)  ",
            f"Machine: {host}  ",
            f"Two views of B random {args.image} x {args.image} images, SGD with momentum; median of {args.rounds} "
            f"blocks of {args.block} steps per loss, alternating, after {args.warmup} warm-up steps each.",
            "",
            table(rows),
            "",
        ]
    )
    with open(os.path.join(args.out, "step.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
