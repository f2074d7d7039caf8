"""Cost of RPCLoss (dense and Gram paths) vs lightly's NTXentLoss and DCLLoss.

Forward + backward time and peak memory on the same inputs, in one process, runs interleaved
(each repetition visits every loss in a rotated order, so drift hits all of them alike). Peak
memory: on CUDA the allocator's peak; on the CPU the growth of the peak resident set size
(VmHWM) of a fresh child process doing one forward + backward, inputs excluded.

    python benchmarks/cost/run.py                         # the committed table (N up to 16384, Gram to 65536)
    python benchmarks/cost/run.py --sizes 256 1024 --gram-sizes --repeats 2 --out /tmp/x   # smoke

Writes <out>/results.md, results.json and cost.png (default out: benchmarks/cost/).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # run from a checkout without installing

import rpc_plugins as rp  # noqa: E402

REFERENCE = "NTXentLoss"


def make_losses(include_lightly=True):
    """name -> loss module; lightly's built-ins at their defaults, RPC at the package defaults."""
    losses = {}
    if include_lightly:
        from lightly.loss import DCLLoss, NTXentLoss

        losses["NTXentLoss"] = NTXentLoss(temperature=0.5)
        losses["DCLLoss"] = DCLLoss(temperature=0.1)
    losses["RPCLoss dense"] = rp.RPCLoss(method="dense")
    losses["RPCLoss gram"] = rp.RPCLoss(method="gram")
    return losses


def inputs(n, dim, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    out0 = torch.randn(n, dim, generator=g)
    out1 = out0 + 0.5 * torch.randn(n, dim, generator=g)
    return out0.to(device).requires_grad_(True), out1.to(device).requires_grad_(True)


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def forward_backward(loss_fn, out0, out1):
    out0.grad = out1.grad = None
    loss = loss_fn(out0, out1)
    loss.backward()
    return loss.item()


def time_once(loss_fn, out0, out1, device):
    sync(device)
    start = time.perf_counter()
    forward_backward(loss_fn, out0, out1)
    sync(device)
    return time.perf_counter() - start


def peak_memory_bytes(name, n, dim, device):
    """Peak extra memory of one forward + backward (fresh process on the CPU)."""
    if device.startswith("cuda"):
        loss_fn = make_losses(name in ("NTXentLoss", "DCLLoss"))[name]
        out0, out1 = inputs(n, dim, device)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        forward_backward(loss_fn, out0, out1)
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    cmd = [sys.executable, os.path.abspath(__file__), "--memory-probe", name, str(n), str(dim),
           "--threads", str(torch.get_num_threads())]
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return int(result.stdout.strip().splitlines()[-1])


def _status_bytes(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))


def memory_probe(name, n, dim, threads):
    """Print the peak RSS growth of one forward + backward in this (fresh) process.

    ru_maxrss survives exec on Linux (a child starts with its parent's peak), so this reads the
    process's own high-water mark VmHWM, reset to the current RSS via /proc/self/clear_refs.
    """
    torch.set_num_threads(threads)
    loss_fn = make_losses(name in ("NTXentLoss", "DCLLoss"))[name]
    forward_backward(loss_fn, *inputs(8, dim, "cpu"))  # load kernels and libraries first
    out0, out1 = inputs(n, dim, "cpu")
    base = _status_bytes("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
    except OSError:
        base = _status_bytes("VmHWM")
    forward_backward(loss_fn, out0, out1)
    print(_status_bytes("VmHWM") - base)


def machine_line(device):
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if device.startswith("cuda") else ""
    return (f"{cpu}, {os.cpu_count()} logical CPUs, torch {torch.__version__} with {torch.get_num_threads()} threads"
            f"{gpu}, Python {platform.python_version()}, device {device}")


def run(args):
    torch.set_num_threads(args.threads or torch.get_num_threads())
    all_losses = make_losses()
    rows = []
    sizes = [(n, list(all_losses)) for n in args.sizes] + [(n, ["RPCLoss gram"]) for n in args.gram_sizes]
    for n, names in sizes:
        out0, out1 = inputs(n, args.dim, args.device)
        times = {name: [] for name in names}
        for name in names:  # warm-up
            forward_backward(all_losses[name], out0, out1)
        for rep in range(args.repeats):
            order = names[rep % len(names):] + names[:rep % len(names)]
            for name in order:
                times[name].append(time_once(all_losses[name], out0, out1, args.device))
        for name in names:
            mem = None if args.skip_memory else peak_memory_bytes(name, n, args.dim, args.device)
            rows.append(dict(n=n, loss=name, time_s=statistics.median(times[name]), peak_bytes=mem))
            print(f"N={n:6d} {name:14s} {rows[-1]['time_s'] * 1e3:10.2f} ms"
                  f"{'' if mem is None else f'  {mem / 2**20:10.1f} MiB'}", flush=True)
        del out0, out1
    return rows


def ratio(row, ref, key):
    if ref is None or not row[key] or not ref[key]:
        return None
    return ref[key] / row[key]


def table(rows):
    lines = ["| N | loss | fwd+bwd ms | time vs NTXentLoss | peak MiB | memory vs NTXentLoss |",
             "|---:|---|---:|---:|---:|---:|"]
    for row in rows:
        ref = next((r for r in rows if r["n"] == row["n"] and r["loss"] == REFERENCE), None)
        t, m = ratio(row, ref, "time_s"), ratio(row, ref, "peak_bytes")
        mem = "n/a" if row["peak_bytes"] is None else f"{row['peak_bytes'] / 2**20:.1f}"
        lines.append(f"| {row['n']} | {row['loss']} | {row['time_s'] * 1e3:.2f} | "
                     f"{'-' if t is None else f'{t:.2f}x faster' if t >= 1 else f'{1 / t:.2f}x slower'} | {mem} | "
                     f"{'-' if m is None else f'{m:.1f}x less' if m >= 1 else f'{1 / m:.1f}x more'} |")
    return "\n".join(lines)


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name in dict.fromkeys(r["loss"] for r in rows):
        pts = [r for r in rows if r["loss"] == name]
        axes[0].loglog([r["n"] for r in pts], [r["time_s"] * 1e3 for r in pts], "o-", label=name)
        mem = [r for r in pts if r["peak_bytes"]]
        axes[1].loglog([r["n"] for r in mem], [r["peak_bytes"] / 2**20 for r in mem], "o-", label=name)
    axes[0].set(xlabel="batch size N (2N views)", ylabel="forward+backward ms", title="time")
    axes[1].set(xlabel="batch size N (2N views)", ylabel="peak extra MiB", title="peak memory")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[256, 1024, 4096, 16384])
    parser.add_argument("--gram-sizes", type=int, nargs="*", default=[65536], help="sizes run for the Gram path only")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--out", default=HERE)
    parser.add_argument("--memory-probe", nargs=3, metavar=("LOSS", "N", "DIM"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        name, n, dim = args.memory_probe
        return memory_probe(name, int(n), int(dim), args.threads or torch.get_num_threads())
    rows = run(args)
    command = "python benchmarks/cost/run.py " + " ".join(sys.argv[1:])
    text = "\n".join([
        "# Loss cost: RPCLoss (dense, Gram) vs lightly NTXentLoss and DCLLoss",
        "",
        f"Command: `{command.strip()}`  ",
        f"Machine: {machine_line(args.device)}  ",
        f"Embedding dim {args.dim}, float32, forward+backward, median of {args.repeats} interleaved runs "
        "after one warm-up; memory: peak growth during one forward+backward "
        + ("(CUDA allocator peak)." if args.device.startswith("cuda") else "(peak RSS, VmHWM, of a fresh process; inputs excluded)."),
        "",
        table(rows),
        "",
    ])
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(dict(command=command, machine=machine_line(args.device), rows=rows), f, indent=1)
    plot(rows, os.path.join(args.out, "cost.png"))
    print(text)


if __name__ == "__main__":
    main()
