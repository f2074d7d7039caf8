"""Cost of RPCLoss (fused linear-time and dense paths) vs lightly's NTXentLoss and DCLLoss.

Each (loss, N) is measured in a fresh child process, alone: one warm-up at a small N, then
``--repeats`` repetitions that alternate the loss's forward + backward with the floor, the two
d x d Gram matrices A^T A and B^T B of the same inputs (the least work any exact linear-time RPC
must do), so load drift on a shared machine hits both alike. Reported: median times, their ratio,
and peak memory growth during one forward + backward (input gradients included, inputs excluded):
on the CPU the process's peak RSS (VmHWM, reset via /proc/self/clear_refs), on CUDA the
allocator's peak. A row is skipped (and says so) when the machine's available memory is below its
estimated need.

    python benchmarks/cost/run.py                                   # the committed CPU table
    python benchmarks/cost/run.py --device cuda --bf16 --train-step # GPU rows, bf16 autocast, step time
    python benchmarks/cost/run.py --sizes 64 --gram-sizes 512 --repeats 2 --out /tmp/x   # smoke

Writes <out>/results.md, results.json and cost.png (default out: benchmarks/cost/).
"""

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # run from a checkout without installing

import rpc_plugins as rp  # noqa: E402
from benchmarks.harness import machine, memory, plots  # noqa: E402
from benchmarks.harness.rows import write_json  # noqa: E402
from benchmarks.harness.tables import markdown  # noqa: E402

REFERENCE = "NTXentLoss"
LIGHTLY = ("NTXentLoss", "DCLLoss")
# peak bytes per (2N)^2 score entry, measured at N = 4096 (results of the earlier 16-core run)
QUADRATIC_BYTES = {"NTXentLoss": 16.5, "DCLLoss": 11.5, "RPCLoss dense": 12.0}


def make_loss(name):
    """lightly's built-ins at their defaults, RPC at the package defaults."""
    if name in LIGHTLY:
        from lightly.loss import DCLLoss, NTXentLoss

        return NTXentLoss(temperature=0.5) if name == "NTXentLoss" else DCLLoss(temperature=0.1)
    return rp.RPCLoss(method="dense" if name == "RPCLoss dense" else "gram")


def inputs(n, dim, device, seed=0):
    """Two correlated views; drawn on the GPU itself for a CUDA run (N x D numbers in seconds, not minutes)."""
    where = device if device.startswith("cuda") else "cpu"
    g = torch.Generator(device=where).manual_seed(seed)
    out0 = torch.randn(n, dim, generator=g, device=where)
    out1 = out0 + 0.5 * torch.randn(n, dim, generator=g, device=where)
    return out0.to(device).requires_grad_(True), out1.to(device).requires_grad_(True)


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def forward_backward(loss_fn, out0, out1, bf16=False):
    out0.grad = out1.grad = None
    if bf16:
        with torch.autocast(out0.device.type, dtype=torch.bfloat16):
            loss = loss_fn(out0.bfloat16(), out1.bfloat16())
    else:
        loss = loss_fn(out0, out1)
    loss.backward()
    return loss


def gram_floor(out0, out1):
    a, b = out0.detach(), out1.detach()
    return a.t() @ a, b.t() @ b


def gradient_write(out0, out1):
    """Allocating and writing two N x d tensors: what returning the input gradients costs any loss."""
    return torch.empty_like(out0).fill_(1.0), torch.empty_like(out1).fill_(1.0)


def timed(fn, device):
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def measure(name, n, dim, device, repeats, bf16):
    """In this (fresh) process: peak growth of one forward + backward, then interleaved timings."""
    loss_fn = make_loss(name)
    forward_backward(loss_fn, *inputs(8, dim, device), bf16=bf16)  # load kernels and libraries first
    out0, out1 = inputs(n, dim, device)
    gram_floor(out0, out1)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        first = timed(lambda: forward_backward(loss_fn, out0, out1, bf16), device)
        peak = torch.cuda.max_memory_allocated() - base
    else:
        base = memory.reset_peak()
        first = timed(lambda: forward_backward(loss_fn, out0, out1, bf16), device)
        peak = memory.status_bytes("VmHWM") - base
    times, floors, writes = [], [], []
    for _ in range(max(repeats - 1, 0)):
        floors.append(timed(lambda: gram_floor(out0, out1), device))
        writes.append(timed(lambda: gradient_write(out0, out1), device))
        times.append(timed(lambda: forward_backward(loss_fn, out0, out1, bf16), device))
    floors.append(timed(lambda: gram_floor(out0, out1), device))
    writes.append(timed(lambda: gradient_write(out0, out1), device))
    times = times or [first]
    return dict(
        time_s=statistics.median(times),
        gram_s=statistics.median(floors),
        grad_write_s=statistics.median(writes),
        peak_bytes=peak,
    )


def train_step_times(name, n, device, repeats, bf16):
    """Step time of a small CNN + projection head trained with the loss (RPC vs NT-Xent at small N)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 32, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(32, 64, 3, stride=2, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(64, 128),
    ).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = make_loss(name)
    x0, x1 = torch.randn(n, 3, 32, 32, device=device), torch.randn(n, 3, 32, 32, device=device)

    def step():
        with torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(model(x0), model(x1))
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    return statistics.median([timed(step, device) for _ in range(repeats)])


def available_bytes():
    try:
        with open("/proc/meminfo") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        return None


def needed_bytes(name, n, dim):
    return QUADRATIC_BYTES.get(name, 0.0) * (2 * n) ** 2 + 8 * n * dim * 4 + 2**28


def run_child(args, name, n, mode="loss", bf16=False):
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        mode,
        name,
        str(n),
        "--dim",
        str(args.dim),
        "--device",
        args.device,
        "--repeats",
        str(args.repeats),
        "--threads",
        str(args.threads),
    ]
    if bf16:
        cmd.append("--bf16-row")
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        return dict(skipped=f"child failed: {result.stderr.strip().splitlines()[-1:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(args, on_row=lambda rows, steps: None):
    """Every planned row, each in a fresh child; ``on_row(rows, steps)`` after each (partial results)."""
    rows, steps = [], []

    def add(target, row, run):
        row.update(run())
        target.append(row)
        on_row(rows, steps)
        print(json.dumps(row), flush=True)

    losses, gram_losses = args.losses, args.gram_losses
    plan = [(n, name) for n in args.sizes for name in losses if f"{name}@{n}" not in args.skip] + [
        (n, name) for n in args.gram_sizes for name in gram_losses if f"{name}@{n}" not in args.skip
    ]
    for n, name in plan:
        need, avail = needed_bytes(name, n, args.dim), available_bytes()
        if not args.device.startswith("cuda") and avail is not None and need > 0.9 * avail:
            rows.append(
                dict(
                    n=n,
                    loss=name,
                    dtype="float32",
                    skipped=f"needs about {need / 2**30:.1f} GiB, {avail / 2**30:.1f} GiB available",
                )
            )
            print(json.dumps(rows[-1]), flush=True)
        else:
            add(rows, dict(n=n, loss=name, dtype="float32"), lambda: run_child(args, name, n))
    if args.bf16:
        for n in args.bf16_sizes:
            for name in args.bf16_losses:
                add(rows, dict(n=n, loss=name, dtype="bf16 autocast"), lambda: run_child(args, name, n, bf16=True))
    if args.train_step:
        for n in args.train_step_sizes:
            for name in ("NTXentLoss", "RPCLoss gram"):
                add(steps, dict(n=n, loss=name), lambda: run_child(args, name, n, mode="step"))
    return rows, steps


def _fmt_ratio(value, better, worse):
    if value is None or value <= 0:  # no measurable peak (tiny rows on the CPU): no ratio
        return "-"
    return f"{value:.1f}x {better}" if value >= 1 else f"{1 / value:.1f}x {worse}"


def table(rows):
    header = [
        "N",
        "loss",
        "dtype",
        "fwd+bwd ms",
        "Gram floor ms",
        "vs floor",
        "gradient write ms",
        "time vs NTXentLoss",
        "peak MiB",
        "memory vs NTXentLoss",
    ]
    body = []
    for row in rows:
        if "skipped" in row:
            body.append([row["n"], row["loss"], row["dtype"], f"not run: {row['skipped']}"] + [""] * 6)
            continue
        ref = next(
            (
                r
                for r in rows
                if r["n"] == row["n"] and r["loss"] == REFERENCE and r["dtype"] == row["dtype"] and "skipped" not in r
            ),
            None,
        )
        t = ref["time_s"] / row["time_s"] if ref else None
        m = ref["peak_bytes"] / max(row["peak_bytes"], 1) if ref else None
        body.append(
            [
                row["n"],
                row["loss"],
                row["dtype"],
                f"{row['time_s'] * 1e3:.1f}",
                f"{row['gram_s'] * 1e3:.1f}",
                f"{row['time_s'] / row['gram_s']:.2f}x",
                f"{row['grad_write_s'] * 1e3:.1f}" if "grad_write_s" in row else "-",  # older results lack it
                _fmt_ratio(t, "faster", "slower") if row["loss"] != REFERENCE else "1",
                f"{row['peak_bytes'] / 2**20:.1f}",
                _fmt_ratio(m, "less", "more") if row["loss"] != REFERENCE else "1",
            ]
        )
    return markdown(header, body, align="rllrrrrrrr")


def step_table(steps):
    body = []
    for row in steps:
        ref = next((r for r in steps if r["n"] == row["n"] and r["loss"] == REFERENCE), None)
        rel = f"{row['step_s'] / ref['step_s'] * 100 - 100:+.1f}%" if ref and "step_s" in row else "-"
        body.append([row["n"], row["loss"], f"{row.get('step_s', float('nan')) * 1e3:.1f}", rel])
    return markdown(["N", "loss", "step ms", "vs NTXentLoss"], body, align="rlrr")


def plot(rows, path):
    fig, axes = plots.figure(2, width=5.5, height=4)
    done = [r for r in rows if "skipped" not in r and r["dtype"] == "float32"]
    for name in dict.fromkeys(r["loss"] for r in done):
        pts = [r for r in done if r["loss"] == name]
        axes[0].loglog([r["n"] for r in pts], [r["time_s"] * 1e3 for r in pts], "o-", label=name)
        axes[1].loglog([r["n"] for r in pts], [max(r["peak_bytes"], 1) / 2**20 for r in pts], "o-", label=name)
    floor = sorted({r["n"]: r["gram_s"] for r in done}.items())
    axes[0].loglog([n for n, _ in floor], [t * 1e3 for _, t in floor], "k:", label="two Gram matrices (floor)")
    axes[0].set(xlabel="batch size N (2N views)", ylabel="forward+backward ms", title="time")
    axes[1].set(xlabel="batch size N (2N views)", ylabel="peak extra MiB", title="peak memory (input grads included)")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    plots.save(fig, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[256, 1024, 4096, 16384])
    parser.add_argument(
        "--losses",
        nargs="*",
        default=["NTXentLoss", "DCLLoss", "RPCLoss dense", "RPCLoss gram"],
        help="losses run at --sizes",
    )
    parser.add_argument("--skip", nargs="*", default=[], help='rows not to run, e.g. "DCLLoss@16384"')
    parser.add_argument(
        "--gram-sizes",
        type=int,
        nargs="*",
        default=[65536, 262144, 1048576],
        help="sizes run for the fused RPC path only",
    )
    parser.add_argument("--gram-losses", nargs="*", default=["RPCLoss gram"], help="the losses run at --gram-sizes")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--bf16", action="store_true", help="add bf16-autocast rows (GPU mode)")
    parser.add_argument("--bf16-sizes", type=int, nargs="*", default=[4096, 16384])
    parser.add_argument(
        "--bf16-losses", nargs="*", default=["NTXentLoss", "RPCLoss gram"], help="the losses run at --bf16-sizes"
    )
    parser.add_argument("--train-step", action="store_true", help="add RPC vs NT-Xent training-step times")
    parser.add_argument("--train-step-sizes", type=int, nargs="*", default=[256, 1024])
    parser.add_argument("--out", default=HERE)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "LOSS", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--bf16-row", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(args.threads)
    if args.child:
        mode, name, n = args.child
        if mode == "step":
            result = dict(step_s=train_step_times(name, int(n), args.device, args.repeats, args.bf16_row))
        else:
            result = measure(name, int(n), args.dim, args.device, args.repeats, args.bf16_row)
        print(json.dumps(result))
        return
    started = time.time()
    command = "python benchmarks/cost/run.py " + shlex.join(sys.argv[1:])
    os.makedirs(args.out, exist_ok=True)

    def save(rows, steps, partial=True, host=None):
        host = host or machine.describe(device=args.device, threads=args.threads, load=True)  # the load as rows arrive
        write_json(
            os.path.join(args.out, "results.json"),
            dict(command=command, machine=host, rows=rows, steps=steps, **({"partial": True} if partial else {})),
        )

    rows, steps = run(args, on_row=save)
    host = machine.describe(device=args.device, threads=args.threads, load=True)  # one reading for json and md
    parts = [
        "# Loss cost: RPCLoss (fused linear-time, dense) vs lightly NTXentLoss and DCLLoss",
        "",
        f"Command: `{command.strip()}` ({time.time() - started:.0f} s)  ",
        f"Machine: {host}  ",
        f"Embedding dim {args.dim}, forward+backward with input gradients; each row in a fresh process, alone; "
        f"median of {args.repeats} runs alternating with the Gram floor (A^T A and B^T B of the same inputs, "
        "the least an exact linear-time RPC must compute); memory: peak growth during one forward+backward, "
        "input gradients included, inputs excluded; gradient write: allocating and writing two N x d tensors, "
        "what returning the input gradients costs any loss (page faults of fresh memory included) "
        + ("(CUDA allocator peak)." if args.device.startswith("cuda") else "(peak RSS, VmHWM)."),
        "",
        table(rows),
        "",
    ]
    if steps:
        parts += ["Training step (small CNN + 128-d head, two views):", "", step_table(steps), ""]
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write("\n".join(parts))
    save(rows, steps, partial=False, host=host)
    plot(rows, os.path.join(args.out, "cost.png"))
    print("\n".join(parts))


if __name__ == "__main__":
    main()
