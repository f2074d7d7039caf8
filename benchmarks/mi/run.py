"""MI estimation benchmark: correlated Gaussians and their cubic variant, true MI 2 -> 10 nats.

The protocol of Poole et al. (2019) / Song & Ermon (2020) as used by Tsai et al. (2021, Sec. 4.3):
x ~ N(0, I_20), y = rho x + sqrt(1 - rho^2) eps (cubic: y^3); the true MI steps 2, 4, 6, 8, 10 nats
and one critic per estimator keeps training across the levels. Every estimator gets the same
separable critic (g(x)^T h(y), 2 hidden layers of 256, 32-d embeddings), batch 128, Adam 1e-3 and
the same data stream. Statistics over the last ``--tail`` steps of each level.

    python benchmarks/mi/run.py                      # committed results (about 10 min on 2 CPU cores)
    python benchmarks/mi/run.py --steps 60 --tail 30 --out /tmp/mi   # smoke

Writes <out>/results.md, results.json and mi.png.
"""
import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

import torch  # noqa: E402

from rpc_plugins.mi import DEFAULT_HYPER, SeparableCritic, estimate, gaussian, rpc_estimate, training_loss  # noqa: E402

LEVELS = (2.0, 4.0, 6.0, 8.0, 10.0)
ESTIMATORS = ("infonce", "nwj", "js", "dv", "smile", "rpc")
RPC_FORMS = ("batch_mean", "per_sample", "dv")


def readouts(name):
    hyper = DEFAULT_HYPER.get(name, {})
    if name == "rpc":
        return {f"rpc[{form}]": (lambda s, form=form: rpc_estimate(s, form=form, **hyper)) for form in RPC_FORMS}
    return {name: lambda s: estimate(name, s, **hyper)}


def run_estimator(job):
    name, cubic, steps, batch, seed = job
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    critic = SeparableCritic(20, 20, hidden=256, embed=32)
    opt = torch.optim.Adam(critic.parameters(), lr=1e-3)
    hyper = DEFAULT_HYPER.get(name, {})
    reads = readouts(name)
    trace = {k: [] for k in reads}
    start = time.time()
    diverged_at = None
    for level in LEVELS:
        for _ in range(steps):
            if diverged_at is not None:  # a diverged critic stays diverged: NaN for the rest of the run
                for k in reads:
                    trace[k].append(float("nan"))
                continue
            x, y = gaussian.sample(batch, level, cubic=cubic, generator=g)
            scores = critic(x, y)
            try:
                loss = training_loss(name, scores, **hyper)  # raises on non-finite scores
            except ValueError:
                diverged_at = len(trace[next(iter(reads))])
                for k in reads:
                    trace[k].append(float("nan"))
                continue
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                for k, read in reads.items():
                    trace[k].append(float(read(scores.detach())))
    note = f", DIVERGED at step {diverged_at}" if diverged_at is not None else ""
    print(f"  {'cubic' if cubic else 'gaussian':8s} {name:8s} done in {time.time() - start:.0f} s{note}", flush=True)
    return ("cubic" if cubic else "gaussian"), trace


def level_stats(trace, steps, tail):
    out = []
    for i, level in enumerate(LEVELS):
        window = [v for v in trace[(i + 1) * steps - tail:(i + 1) * steps]]
        finite = [v for v in window if math.isfinite(v)]
        if not finite:
            out.append(dict(mi=level, mean=float("nan"), bias=float("nan"), var=float("nan"), mse=float("nan")))
            continue
        mean = sum(finite) / len(finite)
        var = sum((v - mean) ** 2 for v in finite) / len(finite)
        out.append(dict(mi=level, mean=mean, bias=mean - level, var=var, mse=(mean - level) ** 2 + var))
    return out


def table(stats, task):
    lines = [f"### {task}", "", "| estimator | " + " | ".join(f"MI {l:g}: mean / bias / var / MSE" for l in LEVELS) + " |",
             "|---|" + "---|" * len(LEVELS)]
    for name, rows in stats[task].items():
        lines.append(f"| {name} | " + " | ".join(
            f"{r['mean']:.2f} / {r['bias']:+.2f} / {r['var']:.3f} / {r['mse']:.2f}" for r in rows) + " |")
    return "\n".join(lines)


def plot(traces, steps, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(traces)
    names = list(traces[tasks[0]])
    fig, axes = plt.subplots(len(tasks), len(names), figsize=(2.6 * len(names), 2.6 * len(tasks)), squeeze=False)
    truth = [l for l in LEVELS for _ in range(steps)]
    for r, task in enumerate(tasks):
        for c, name in enumerate(names):
            ax = axes[r][c]
            values = traces[task][name]
            ax.plot(values, lw=0.4, alpha=0.5, color="tab:blue")
            k = max(1, steps // 20)
            smooth = [sum(values[max(0, i - k):i + 1]) / len(values[max(0, i - k):i + 1]) for i in range(len(values))]
            ax.plot(smooth, lw=1.0, color="tab:blue")
            ax.plot(truth, color="black", lw=1.0)
            ax.set_ylim(0, 14)
            ax.set_title(f"{name} ({task})", fontsize=8)
            ax.tick_params(labelsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1500, help="training steps per MI level")
    parser.add_argument("--tail", type=int, default=500, help="last steps of each level used for statistics")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--estimators", nargs="+", default=list(ESTIMATORS))
    parser.add_argument("--out", default=HERE)
    args = parser.parse_args()
    start = time.time()
    jobs = [(n, cubic, args.steps, args.batch, args.seed) for cubic in (False, True) for n in args.estimators]
    print(f"{len(jobs)} runs x {len(LEVELS) * args.steps} steps on {args.workers} processes", flush=True)
    with mp.get_context("spawn").Pool(args.workers) as pool:
        results = pool.map(run_estimator, jobs, chunksize=1)
    traces = {"gaussian": {}, "cubic": {}}
    for task, trace in results:
        traces[task].update(trace)
    stats = {task: {k: level_stats(v, args.steps, args.tail) for k, v in tr.items()} for task, tr in traces.items()}
    command = "python benchmarks/mi/run.py " + " ".join(sys.argv[1:])
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, {args.workers} worker processes x 1 thread"
    text = "\n".join([
        "# MI estimation: Gaussian and cubic tasks (d = 20), true MI 2 -> 10 nats", "",
        f"Command: `{command.strip()}`  ", f"Machine: {machine}  ",
        f"Separable critic (2 x 256 hidden, 32-d), batch {args.batch}, Adam 1e-3, {args.steps} steps per level "
        f"(one critic trained through all levels), statistics over the last {args.tail} steps of each level. "
        "RPC: alpha 1, beta 1e-4, gamma 1 (the authors' MI setting); rpc[batch_mean] is the authors' readout, "
        "rpc[per_sample] the per-sample mean of log r, rpc[dv] E_P[log r] - log E_Q[r]. "
        f"Wall time {time.time() - start:.0f} s.", "",
        table(stats, "gaussian"), "", table(stats, "cubic"), ""])
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(dict(command=command, machine=machine, stats=stats), f, indent=1)
    plot(traces, args.steps, os.path.join(args.out, "mi.png"))
    print(text)


if __name__ == "__main__":
    main()
