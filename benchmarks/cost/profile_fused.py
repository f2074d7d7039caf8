"""Profile one forward + backward of RPCLoss (fused path) with torch.profiler: where the time goes.

python benchmarks/cost/profile_fused.py --n 1048576 --dim 128      # prints the table; --out saves it
"""

import argparse
import os
import sys
import time

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
import rpc_plugins as rp  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1048576)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--method", default="gram")
    parser.add_argument("--rows", type=int, default=15)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    g = torch.Generator().manual_seed(0)
    out0 = torch.randn(args.n, args.dim, generator=g)
    out1 = (out0 + 0.5 * torch.randn(args.n, args.dim, generator=g)).requires_grad_(True)
    out0.requires_grad_(True)
    loss_fn = rp.RPCLoss(method=args.method)
    loss_fn(out0, out1).backward()  # warm-up
    out0.grad = out1.grad = None
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        loss_fn(out0, out1).backward()
        wall = time.perf_counter() - start
    start = time.perf_counter()
    a, b = out0.detach(), out1.detach()
    a.t() @ a, b.t() @ b
    floor = time.perf_counter() - start
    text = (
        f"N = {args.n}, d = {args.dim}, method {args.method}{' + C++ kernel' if args.kernel else ''}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads: forward+backward {wall:.3f} s under the profiler, "
        f"two Gram matrices {floor:.3f} s\n\n"
        + prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows)
    )
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
