"""Peak memory and time of one loss forward + backward against the global batch N, at CPU scale:
RPC (the all-reduce mode's work: the Gram path, no N x N matrix) vs open_clip's ClipLoss and SigLipLoss.

One process, the loss alone on given features (N x d image and text, float32, L2-normalised; logit_scale
and, for SigLIP, logit_bias as open_clip's models hand them). Each (loss, N) runs in a fresh child
process: the peak growth of the process's resident memory during one forward + backward (VmHWM reset
through /proc/self/clear_refs; inputs excluded, input gradients included), then the median time of
``--repeats`` more. A size whose memory, estimated from the loss's measured bytes per N^2 (ClipLoss,
SigLipLoss) at the largest N run so far, exceeds ``--memory-fraction`` of the available memory is not
run, and the row says so: where each loss stops is part of the result.

    python benchmarks/open_clip/cost.py                                   # the committed table
    python benchmarks/open_clip/cost.py --sizes 512 2048 --repeats 2 --out /tmp/cost.json   # smoke
    python benchmarks/open_clip/cost.py --device cuda --dim 512 --out benchmarks/open_clip/cuda/results.json
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path += [ROOT, os.path.join(ROOT, "adapters")]  # a checkout without installing (installed packages first)

from benchmarks.harness import memory  # noqa: E402

LOSSES = ("RPC", "ClipLoss", "SigLipLoss")


def make_loss(name):
    import open_clip

    from rpc_open_clip import ObjectiveClipLoss

    if name == "RPC":
        return ObjectiveClipLoss("rpc", method="gram")
    if name == "ClipLoss":
        return open_clip.ClipLoss()
    return open_clip.loss.SigLipLoss()


def child(name, n, dim, repeats, device="cpu"):
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    image = F.normalize(torch.randn(n, dim, generator=g), dim=1).to(device).requires_grad_(True)
    text = F.normalize(torch.randn(n, dim, generator=g), dim=1).to(device).requires_grad_(True)
    scale = torch.tensor(10.0, device=device, requires_grad=True)
    bias = torch.tensor(-10.0, device=device, requires_grad=True)
    cuda = device.startswith("cuda")
    loss_fn = make_loss(name)

    def once():
        for x in (image, text, scale, bias):
            x.grad = None
        loss = loss_fn(image, text, scale, bias) if name == "SigLipLoss" else loss_fn(image, text, scale)
        loss.backward()
        if cuda:
            torch.cuda.synchronize()

    if cuda:  # the allocator's peak over what the inputs hold
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    else:
        base = memory.reset_peak()
    once()
    peak = (torch.cuda.max_memory_allocated() if cuda else memory.status_bytes("VmHWM")) - base
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        once()
        times.append(time.perf_counter() - start)
    return dict(loss=name, N=n, d=dim, peak_bytes=peak, seconds=statistics.median(times) if times else None)


def available_bytes():
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))


def run_child(name, n, dim, repeats, device):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", name, str(n), str(dim), str(repeats), device]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        return dict(loss=name, N=n, d=dim, peak_bytes=None, seconds=None, status=f"failed (rc {proc.returncode})",
                    stderr=proc.stderr[-500:])  # fmt: skip
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row["status"] = "run"
    return row


def main(argv=None):
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        name, n, dim, repeats, device = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
        print(json.dumps(child(name, n, dim, repeats, device)))
        return
    from benchmarks.harness import machine
    from benchmarks.open_clip import common

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096, 16384, 65536, 262144, 1048576])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu (peak RSS) or cuda (the allocator's peak)")
    parser.add_argument("--memory-fraction", type=float, default=0.4)
    parser.add_argument("--out", default=common.RESULTS)
    args = parser.parse_args(argv)
    rows = []
    for name in LOSSES:
        per_pair, stopped = None, False
        for n in args.sizes:
            need = None if per_pair is None else per_pair * n * n
            avail = torch.cuda.mem_get_info()[0] if args.device.startswith("cuda") else available_bytes()
            if stopped or (need is not None and need > args.memory_fraction * avail):
                rows.append(dict(loss=name, N=n, d=args.dim, peak_bytes=None, seconds=None, needed_bytes=need,
                                 available_bytes=avail, status="not run: out of memory"))  # fmt: skip
                stopped = True
                print(f"{name} N={n}: not run (needs ~{need / 2**30:.1f} GiB, {avail / 2**30:.1f} available)")
                continue
            row = run_child(name, n, args.dim, args.repeats, args.device)
            rows.append(row)
            print(name, n, row.get("peak_bytes"), row.get("seconds"), row["status"], flush=True)
            if row["status"] != "run":
                stopped = True
            elif name != "RPC" and n >= 1024:
                per_pair = row["peak_bytes"] / (n * n)
    section = dict(
        command=common.command_line(),
        gpu_command="python benchmarks/open_clip/cost.py --device cuda --dim 512 --out benchmarks/open_clip/cuda/"
        "results.json  (not run: no GPU in this run)",
        scale="CPU scale" if args.device == "cpu" else f"device {args.device}",
        machine=machine.describe(machine.facts(device=args.device, threads=1, load=True)),
        args=vars(args),
        rows=rows,
    )
    common.write_section("cost", section, args.out)


if __name__ == "__main__":
    main()
