"""MI estimation benchmark: correlated Gaussians and their cubic variant, true MI 2 -> 10 nats.

The protocol of Poole et al. (2019) / Song & Ermon (2020) as used by Tsai et al. (2021, Sec. 4.3):
x ~ N(0, I_d), y = rho x + sqrt(1 - rho^2) eps (cubic: y^3); the true MI steps 2, 4, 6, 8, 10 nats
and one critic per estimator is trained straight through the levels (``rpc_plugins.mi.train_critic``),
batch 128, Adam 1e-3, the same data stream for every estimator. Statistics over the last ``--tail``
steps of each level. Three settings share this harness:

* ``--setting separable``: separable critic g(x)^T h(y) (2 x 256 hidden, 32-d embeddings).
* ``--setting authors``: the authors' notebook, concat critic MLP([x, y]) 2d -> 512 -> 512 -> 1 on all
  B x B pairs, 4000 steps per level, statistics over each level's last 3000 steps (defaults). The
  first layer is evaluated as W_x x + W_y y (exactly the concat MLP, ``rpc_plugins.mi.ConcatCritic``).
* ``--setting oracle``: no critic is trained; each estimator reads its optimal critic built from the true log
  ratio of the fresh batches (``gaussian.log_ratio``), so a row's bias is its readout's own and its variance
  the sampling floor.

Estimators (``--estimators``): infonce nwj js dv smile (clip 5), ``rpc_authors`` (the authors' RPC: critic
output = f, alpha 1, beta 1e-4, gamma 1, every readout recorded as ``rpc[<form>]``; ``rpc[batch_mean]``
is their readout), ``rpc`` (this package's default RPC estimator, ``RPC_DEFAULT`` below: the same critic read
per sample), and lever
specs ``rpc:head=ratio|add:alpha=..:beta=..:gamma=..:scale=..`` that record every readout as ``<spec>[<form>]``.

    # the full protocol (a GPU job)
    python benchmarks/mi/run.py --setting authors --device cuda --seeds 0 1 2
    # the reduced CPU mode (same code path; smaller critic, fewer steps per level)
    python benchmarks/mi/run.py --setting authors --hidden 128 --steps 500 --tail 375
    # the separable setting (results.json)
    python benchmarks/mi/run.py --setting separable --steps 1500 --tail 500

    # merge saved runs (the union of their seeds and estimators) into results_<tag>.md/.json, no training
    python benchmarks/mi/run.py --combine benchmarks/mi/results_authors.json benchmarks/mi/results_seeds12.json \\
        --keys rpc --tag seeds

Writes <out>/results[_<tag>].md, .json and mi[_<tag>].png (tag defaults to "authors" for the authors' setting);
the statistics, tables, plot and merge are ``report.py``'s.

>>> parse_spec("rpc:head=ratio:beta=1e-6")
('rpc', {'head': 'ratio', 'alpha': 1.0, 'beta': 1e-06, 'gamma': 1.0})
"""

import argparse
import math
import multiprocessing as mp
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

import torch  # noqa: E402

from benchmarks.harness import machine  # noqa: E402
from benchmarks.mi.report import AUTHORS, LEVELS, aggregate, combine, level_stats, plot, save, table  # noqa: E402

from rpc_plugins.mi import (  # noqa: E402
    DEFAULT_KNOBS,
    RPC_FORMS,
    ConcatCritic,
    RPCRatioHead,
    SeparableCritic,
    estimate,
    gaussian,
    rpc_estimate,
    rpc_score_from_log_ratio,
    train_critic,
)

ESTIMATORS = ("rpc_authors", "rpc", "infonce", "smile", "nwj", "js", "dv")
# This package's RPC MI estimator: the authors' critic and relative parameters, read per sample,
# E_P[log r] (rpc_estimate's default form). When rpc_authors runs too, "rpc" is read off that same critic.
RPC_DEFAULT = dict(head="add", alpha=1.0, beta=1e-4, gamma=1.0, form="per_sample")


def parse_spec(spec):
    """'rpc:head=ratio:beta=1e-6' -> ('rpc', {'head': 'ratio', 'beta': 1e-6}); 'rpc' -> RPC_DEFAULT."""
    if spec == "rpc":
        return "rpc", dict(RPC_DEFAULT)
    if spec == "rpc_authors":
        return "rpc", dict(head="add", **DEFAULT_KNOBS["rpc"])
    name, *opts = spec.split(":")
    if name != "rpc":
        if opts:
            raise ValueError(f"only rpc takes options, got {spec!r}")
        return name, dict(DEFAULT_KNOBS.get(name, {}))
    cfg = dict(head="add", **DEFAULT_KNOBS["rpc"])
    for opt in opts:
        key, value = opt.split("=")
        if key not in ("head", "alpha", "beta", "gamma", "scale"):
            raise ValueError(f"unknown rpc option {key!r} in {spec!r}")
        cfg[key] = value if key == "head" else float(value)
    return "rpc", cfg


class Scaled(torch.nn.Module):
    """Lever ``scale=s``: the critic's output times a constant s (under Adam, a larger effective step for the
    output's scale, which RPC's critic needs: f* ~ r - 1 reaches 1/beta = 1e4 for the authors' beta)."""

    def __init__(self, critic, scale):
        super().__init__()
        self.critic, self.scale = critic, float(scale)

    def forward(self, x, y):
        return self.scale * self.critic(x, y)


def shares_authors_critic():
    """True when the default RPC estimator trains the same critic as the authors' RPC (one run serves both)."""
    return RPC_DEFAULT["head"] == "add" and all(RPC_DEFAULT[k] == v for k, v in DEFAULT_KNOBS["rpc"].items())


def make_critic(setting, dim, hidden):
    if setting == "authors":
        return ConcatCritic(dim, dim, hidden=hidden or 512)
    return SeparableCritic(dim, dim, hidden=hidden or 256, embed=32)


def level_batches(steps, batch, dim, cubic, seed, device):
    g = torch.Generator().manual_seed(seed)
    for level in LEVELS:
        for _ in range(steps):
            x, y = gaussian.sample(batch, level, dim=dim, cubic=cubic, generator=g)
            yield x.to(device), y.to(device)


def run_job(job):
    spec, cubic, a = job
    if a["device"] == "cpu":
        torch.set_num_threads(1)
    name, cfg = parse_spec(spec)
    torch.manual_seed(a["seed"])
    critic = make_critic(a["setting"], a["dim"], a["hidden"]) if a["setting"] != "oracle" else None
    if name == "rpc":
        hyper = {k: cfg[k] for k in ("alpha", "beta", "gamma")}
        if cfg.get("scale", 1.0) != 1.0 and critic is not None:
            critic = Scaled(critic, cfg["scale"])
        if cfg["head"] == "ratio" and critic is not None:
            critic = RPCRatioHead(critic, **hyper)
        elif cfg["head"] != "add":
            raise ValueError(f"head must be 'add' or 'ratio', got {cfg['head']!r}")
        if spec == "rpc":
            reads = {"rpc": lambda s: rpc_estimate(s, form=cfg["form"], **hyper)}
        else:
            label = "rpc" if spec == "rpc_authors" else spec
            reads = {
                f"{label}[{form}]": (lambda s, form=form: rpc_estimate(s, form=form, **hyper)) for form in RPC_FORMS
            }
            if spec == "rpc_authors" and shares_authors_critic():
                reads["rpc"] = lambda s: rpc_estimate(s, form=RPC_DEFAULT["form"], **hyper)
    else:
        hyper = cfg
        reads = {name: lambda s: estimate(name, s, **hyper)}
    task = "cubic" if cubic else "gaussian"
    if a["setting"] == "oracle":
        return run_oracle(spec, name, cfg, cubic, reads, a)
    critic = critic.to(a["device"])
    total = len(LEVELS) * a["steps"]
    start = time.time()
    every = max(1, total // a["progress"]) if a["progress"] else 0

    def progress(step, trace):
        if every and ((step + 1) % every == 0 or step + 1 == total):
            first = next(iter(trace))
            recent = [v for v in trace[first][-every:] if math.isfinite(v)]
            est = sum(recent) / len(recent) if recent else float("nan")
            el = time.time() - start
            print(
                f"  [{task} {spec} seed {a['seed']}] step {step + 1}/{total} level {LEVELS[step // a['steps']]:g} "
                f"{first} {est:.2f}  {el:.0f} s, eta {el / (step + 1) * (total - step - 1):.0f} s",
                flush=True,
            )

    batches = level_batches(a["steps"], a["batch"], a["dim"], cubic, a["seed"], a["device"])
    trace = train_critic(critic, name, batches, total, lr=1e-3, readouts=reads, on_step=progress, **hyper)
    first_nan = next((i for i, v in enumerate(next(iter(trace.values()))) if not math.isfinite(v)), None)
    note = f", DIVERGED at step {first_nan}" if first_nan is not None else ""
    print(f"  {task:8s} {spec} seed {a['seed']} done in {time.time() - start:.0f} s{note}", flush=True)
    return task, a["seed"], trace, time.time() - start


def run_oracle(spec, name, cfg, cubic, reads, a):
    """The readouts on each objective's optimal critic, computed from the true ratio: no training."""
    start = time.time()
    trace = {k: [] for k in reads}
    batches = level_batches(a["steps"], a["batch"], a["dim"], cubic, a["seed"], "cpu")
    for step, (x, y) in enumerate(batches):
        log_r = gaussian.log_ratio(x, y, LEVELS[step // a["steps"]], dim=a["dim"], cubic=cubic)
        if name == "rpc":
            scores = rpc_score_from_log_ratio(log_r, cfg["alpha"], cfg["beta"], cfg["gamma"])
        else:
            scores = log_r + 1.0 if name == "nwj" else log_r
        for k, read in reads.items():
            trace[k].append(float(read(scores)))
    print(f"  {'cubic' if cubic else 'gaussian':8s} {spec} oracle done in {time.time() - start:.0f} s", flush=True)
    return ("cubic" if cubic else "gaussian"), a["seed"], trace, time.time() - start


def run_jobs(jobs, workers):
    """``run_job`` over ``jobs``, on ``workers`` spawned processes when more than one (each job is one critic's
    whole run, minutes long: a process each keeps the cores busy)."""
    if workers <= 1:
        return [run_job(job) for job in jobs]
    with mp.get_context("spawn").Pool(workers) as pool:
        return pool.map(run_job, jobs, chunksize=1)


def description(args, mode, steps, tail, hidden, wall):
    """The protocol paragraph of a run's results.md."""
    critic = {
        "authors": f"concat critic MLP([x, y]) {2 * args.dim} -> {hidden} -> {hidden} -> 1 on all {args.batch} x {args.batch} pairs",
        "separable": f"separable critic (2 x {hidden} hidden, 32-d)",
        "oracle": "no training: every estimator reads its optimal critic built from the true log ratio "
        "(log r; NWJ 1 + log r; RPC f* = (r - alpha)/(beta r + gamma)), so bias is the readout's own "
        "and variance the sampling floor",
    }[args.setting]
    seeds_note = (
        f"{len(args.seeds)} seeds ({' '.join(map(str, args.seeds))}): each cell is the mean over seeds, "
        "± the sample sd of the per-seed level means"
        if len(args.seeds) > 1
        else f"seed {args.seeds[0]}"
    )
    training = (
        "fresh batches only, no training"
        if args.setting == "oracle"
        else "Adam 1e-3, one critic trained straight through 2, 4, 6, 8, 10 nats"
    )
    return (
        f"**Mode: {mode}.** Setting `{args.setting}`: {critic}, d = {args.dim}, batch {args.batch}, {training}, "
        f"{steps} steps per level, statistics over the "
        f"last {tail} steps of each level; {seeds_note}. "
        "RPC: alpha 1, beta 1e-4, gamma 1 unless the name says otherwise. `rpc[batch_mean]` is the authors' readout "
        "log r(mean_i f_ii) on the authors' critic (output = f); `rpc[per_sample]` mean_i log r(f_ii); `rpc[dv]` "
        "E_P[log r] - log E_Q[r]; `rpc[dv_clip]` the same with r clipped to [e^-5, e^5] in E_Q. "
        f"`rpc` is this package's default (critic head {RPC_DEFAULT['head']}, readout {RPC_DEFAULT['form']}). "
        "`head=ratio`: the critic's output u is a log ratio and f = (e^u - alpha)/(beta e^u + gamma) "
        "(`RPCRatioHead`). Goal: |bias| <= 0.5 and var <= 0.05 at every level. "
        f"Wall time {wall:.0f} s."
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setting", choices=("separable", "authors", "oracle"), default="separable")
    parser.add_argument("--steps", type=int, help="training steps per MI level (authors 4000, separable 1500)")
    parser.add_argument(
        "--tail", type=int, help="last steps of each level used for statistics (authors 3000, separable 500)"
    )
    parser.add_argument("--hidden", type=int, help="critic hidden width (authors 512, separable 256)")
    parser.add_argument("--dim", type=int, default=20)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--tasks", nargs="+", choices=("gaussian", "cubic"), default=["gaussian", "cubic"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--progress", type=int, default=10, help="progress lines per run (0: none)")
    parser.add_argument("--estimators", nargs="+", default=list(ESTIMATORS))
    parser.add_argument("--tag", help="file suffix: results_<tag>.json (default: 'authors' for --setting authors)")
    parser.add_argument("--out", default=HERE)
    parser.add_argument(
        "--combine",
        nargs="+",
        metavar="JSON",
        help="merge earlier results files of one setting and scale (seeds and estimators: union) "
        "into results_<tag>.md/.json, without training",
    )
    parser.add_argument(
        "--keys", nargs="+", metavar="PREFIX", help="with --combine: keep only rows whose name starts with one of these"
    )
    args = parser.parse_args(argv)
    command = ("python benchmarks/mi/run.py " + " ".join(sys.argv[1:] if argv is None else argv)).strip()
    if args.combine:
        return combine(args, command)
    full = dict(authors=(4000, 3000, 512), separable=(1500, 500, 256), oracle=(4000, 3000, 0))[args.setting]
    steps, tail, hidden = args.steps or full[0], args.tail or full[1], args.hidden or full[2]
    if tail > steps:
        parser.error("--tail must be <= --steps")
    for spec in args.estimators:
        parse_spec(spec)
    tag = args.tag if args.tag is not None else {"authors": "authors", "oracle": "oracle"}.get(args.setting, "")
    mode = "full protocol" if (steps, tail, hidden) == full else "reduced"
    start = time.time()
    common = dict(
        setting=args.setting,
        steps=steps,
        hidden=hidden,
        dim=args.dim,
        batch=args.batch,
        device=args.device,
        progress=args.progress,
    )
    specs = list(args.estimators)
    if "rpc" in specs and "rpc_authors" in specs and shares_authors_critic():
        specs.remove("rpc")  # read off the rpc_authors run
    jobs = [
        (spec, task == "cubic", dict(common, seed=seed)) for seed in args.seeds for task in args.tasks for spec in specs
    ]
    print(f"{len(jobs)} runs x {len(LEVELS) * steps} steps ({mode}) on {args.workers} processes", flush=True)
    traces = {s: {t: {} for t in args.tasks} for s in args.seeds}
    seconds = {}
    for (spec, _, _), (task, seed, trace, sec) in zip(jobs, run_jobs(jobs, args.workers)):
        traces[seed][task].update(trace)
        seconds[f"{task}/{spec}/seed{seed}"] = round(sec, 1)
    per_seed = {
        s: {t: {k: level_stats(v, steps, tail) for k, v in tr.items()} for t, tr in traces[s].items()}
        for s in args.seeds
    }
    stats = aggregate(per_seed)
    host = (
        machine.describe(device=args.device, threads=1 if args.device == "cpu" else None)
        + f"; {args.workers} worker processes"
        + (" of 1 thread each" if args.device == "cpu" else "")
    )
    authors = AUTHORS if args.setting in ("authors", "oracle") and args.dim == 20 and args.batch == 128 else None
    text = "\n".join(
        [
            f"# MI estimation ({args.setting} setting): Gaussian and cubic tasks (d = {args.dim}), true MI 2 -> 10 nats",
            "",
            f"Command: `{command}`  ",
            f"Machine: {host}  ",
            "",
            description(args, mode, steps, tail, hidden, time.time() - start),
            "",
            *[table(stats, t, authors) + "\n" for t in args.tasks],
        ]
    )
    if authors:
        text += (
            "\n*Italic rows*: the authors' committed per-level means (their notebook, 4000 steps per level, "
            "512-wide critic; reference/rpc.md) and their bias.\n"
        )
    save(
        args.out,
        tag,
        text,
        dict(
            command=command,
            machine=host,
            mode=mode,
            setting=args.setting,
            steps_per_level=steps,
            tail=tail,
            hidden=hidden,
            dim=args.dim,
            batch=args.batch,
            seeds=args.seeds,
            rpc_default=RPC_DEFAULT,
            seconds=seconds,
            stats=stats,
            stats_per_seed={str(s): v for s, v in per_seed.items()},
        ),
    )
    plot(
        traces[args.seeds[0]],
        steps,
        os.path.join(args.out, f"mi{f'_{tag}' if tag else ''}.png"),
        title=f"{args.setting} setting, {mode}: {steps} steps/level, hidden {hidden}, seed {args.seeds[0]}",
    )


if __name__ == "__main__":
    main()
