"""Vision evidence: RPC vs InfoNCE-family and MI-bound objectives on real Fashion-MNIST.

Relative Predictive Coding (Tsai et al., ICLR 2021, arXiv 2103.11275) claims RPC is stable, less
sensitive to the batch size and at least as accurate as InfoNCE. This script is the experiment only
(data, probes, rows, tables and plots come from ``benchmarks/harness``); its parts, at one compute
budget (the same number of training images seen by every run):

- accuracy: every objective at its defaults x seeds -> frozen linear-probe and kNN top-1, next to the
  trivial baselines measured in the same run with the same probes: ``raw-pixels`` (probes on the
  pixels), ``random-init`` (the untrained backbone, seeded like the runs) and ``supervised`` (the same
  backbone trained with labels, same budget: a ceiling);
- tuning: equal budget, k trials per objective over its own knobs (RPC: alpha, beta, gamma, T;
  the others: T; all: lr), selected on a validation split carved from the training set, then the
  selected setting re-run with every seed on the test split; recorded under ``tuning`` in results.json;
- stability: objective x lr x seed with ``--stability-optimizer`` (SGD or LARS at large lr) ->
  diverged / collapsed runs and, per objective, the largest lr up to which every run still trains;
- batch: objective x batch size -> sensitivity = max - min linear-probe top-1.

``--sweep-at tuned`` runs the stability and batch parts at each objective's tuned setting.

    python benchmarks/vision/run.py --quick --out /tmp/vision      # CPU smoke (a few minutes)
    python benchmarks/vision/run.py --device cuda --out OUT        # all parts at the defaults (GPU)

The GPU commands that produce the committed evidence are in benchmarks/vision/README.md. results.json
is rewritten after every run and a restarted command skips every run already in it (``--fresh``
starts over); ``--render a.json [b.json ...]`` redraws results.md and vision.png from saved runs.

>>> args = parse_args(["--quick"]); args.samples, args.tune_trials <= min_grid(args)
(3000, True)
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [ROOT, os.path.join(ROOT, "adapters")]  # run from a checkout without installing

import torch  # noqa: E402

from benchmarks.harness import data as hdata  # noqa: E402
from benchmarks.harness import machine, probes, tuning  # noqa: E402
from benchmarks.harness.optim import OPTIMIZERS  # noqa: E402
from benchmarks.harness.rows import ResultsFile, run_key, select  # noqa: E402
from benchmarks.vision import report, train  # noqa: E402
from benchmarks.vision.objectives import BASELINES, SPECS, available, make_loss, make_objectives  # noqa: E402,F401

DEFAULT_DATA = hdata.DEFAULT_FASHION_MNIST
PARTS = ("accuracy", "tuning", "stability", "batch")
COLLAPSE_KNN = 0.2  # collapsed: kNN top-1 below this, or near-constant features (spread < 1e-3)
_WARNED = set()  # objectives already reported as lacking a tuning record


# ------------------------------------------------------------------------------------------ plan
def lr_space(args):
    """The learning rates every objective's tuning draws from: --lr x {1/3, 1, 3}."""
    return [args.lr / 3, args.lr, 3 * args.lr]


def min_grid(args):
    """The smallest search grid of the tuned objectives (k may not exceed it: equal k for all)."""
    sizes = [len(lr_space(args))]
    for n in args.tune_objectives:
        for values in SPECS[n].space.values():
            sizes[-1] *= len(values)
        sizes.append(len(lr_space(args)))
    return min(sizes[:-1]) if len(sizes) > 1 else sizes[0]


def item(part, objective, *, hyper=None, batch_size, lr, seed, samples, optimizer, split="test", **extra):
    """One planned run; ``run`` names its training configuration, ``key`` the row (part + run)."""
    hyper = dict(SPECS[objective].defaults if objective in SPECS else {}, **(hyper or {}))  # explicit = default
    config = dict(
        objective=objective,
        hyper=hyper,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        samples=samples,
        optimizer=optimizer,
        split=split,
    )
    run = run_key(**config)
    return dict(part=part, **config, run=run, key=f"{part}|{run}", **extra)


def trial_configs(args, name):
    space = dict(SPECS[name].space, lr=lr_space(args))
    return tuning.trials(
        space, dict(SPECS[name].defaults, lr=args.lr), args.tune_trials, seed=args.tune_seed, name=name
    )


def trial_item(args, name, config):
    """A tuning trial: pretrain on the training slice minus the validation images, score on those."""
    hyper = {k: v for k, v in config.items() if k != "lr"}
    return item(
        "trial",
        name,
        hyper=hyper,
        batch_size=args.batch_size,
        lr=config["lr"],
        seed=args.tune_seed,
        samples=args.samples,
        optimizer=args.optimizer,
        split="val",
    )


# ------------------------------------------------------------------------------------------ runs
def run_one(it, splits, args):
    """Train (or not, for the baselines) and probe one planned run; returns its row."""
    x_fit, y_fit = splits[it["split"]][0], splits[it["split"]][1]
    t0 = time.time()
    common = dict(
        batch_size=it["batch_size"],
        lr=it["lr"],
        samples=it["samples"],
        seed=it["seed"],
        device=args.device,
        backbone_name=args.backbone,
        optimizer=it["optimizer"],
        bf16=args.bf16,
    )
    name = it["objective"]
    if name == "raw-pixels":
        out = dict(backbone=None, losses=[], diverged=False)
    elif name == "random-init":
        out = train.random_init(it["seed"], args.device, args.backbone)
    elif name == "supervised":
        out = train.supervised(x_fit, y_fit, **common)
    else:
        out = train.pretrain(lambda: make_loss(name, it["hyper"]), x_fit, **common)
    if out["diverged"]:
        scores = probes.nan_scores(args.few_labels)
    else:
        scores = probes.probe_encoder(
            out["backbone"], splits[it["split"]], args.device, few_labels=args.few_labels, bf16=args.bf16
        )
    losses = out["losses"]
    collapsed = (not out["diverged"]) and (not scores["knn"] >= COLLAPSE_KNN or scores["spread"] < 1e-3)
    return dict(
        it,
        **scores,
        diverged=out["diverged"],
        collapsed=collapsed,
        final_loss=losses[-1] if losses else None,
        steps=len(losses),
        seconds=round(time.time() - t0, 2),
        losses=losses[:: max(1, len(losses) // 100)],
    )


class Runner:
    """Runs planned items in order, reusing rows already in results.json, printing progress."""

    def __init__(self, store, splits, args, total):
        self.store, self.splits, self.args = store, splits, args
        self.total, self.done, self.start = total, 0, time.time()
        self.stopped = False

    def __call__(self, it):
        self.done += 1
        row = self.store.find(it["key"])
        if row is not None:
            return row
        same = self.store.find_run(it["run"])  # the same training in another part: reuse, don't retrain
        if same is None:
            if self.args.time_budget and time.time() - self.start > self.args.time_budget:
                if not self.stopped:
                    print(f"time budget {self.args.time_budget:.0f} s spent: stopping before {it['key']}", flush=True)
                self.stopped = True
                return None
            same = run_one(it, self.splits, self.args)
        row = dict(same, part=it["part"], key=it["key"], **{k: v for k, v in it.items() if k not in same})
        self.store.add(row, time.time() - self.start)
        elapsed = time.time() - self.start
        print(
            f"[{self.done}/{self.total} {elapsed:6.0f}s] {it['part']} {it['objective']} {it['hyper'] or ''} "
            f"B={it['batch_size']} lr={it['lr']:g} {it['optimizer']} seed={it['seed']} {it['split']}: "
            f"linear {row['linear']:.3f} knn {row['knn']:.3f} div {row['diverged']} col {row['collapsed']} "
            f"{row['seconds']} s",
            flush=True,
        )
        return row


def tuning_record(store, args):
    """{objective: {"trials": k, "selected": {...}, "score", "done"}} from the trial rows saved so far."""
    out = {}
    for name in args.tune_objectives:
        rows = [store.find(trial_item(args, name, c)["key"]) for c in trial_configs(args, name)]
        scored = [{"config": dict(r["hyper"], lr=r["lr"]), "score": r["linear"]} for r in rows if r]
        if scored:
            out[name] = dict(
                tuning.record(scored, args.tune_trials),
                metric="validation linear-probe top-1",
                seed=args.tune_seed,
                val_size=args.val_size,
            )
    return out


def stability_record(rows):
    """{objective: {"optimizer", "lrs", "largest_lr", "first_failing_lr"}}: the largest lr up to which
    every seed at every smaller grid lr neither diverged nor collapsed (None: fails at the smallest)."""
    out = {}
    for name in dict.fromkeys(r["objective"] for r in rows):
        rs = [r for r in rows if r["objective"] == name]
        lrs, largest, failing = sorted({r["lr"] for r in rs}), None, None
        for lr in lrs:
            if any(r["diverged"] or r["collapsed"] for r in rs if r["lr"] == lr):
                failing = lr
                break
            largest = lr
        out[name] = dict(optimizer=rs[0]["optimizer"], lrs=lrs, largest_lr=largest, first_failing_lr=failing)
    return out


def plan_static(args, names):
    """The accuracy part (baselines + defaults) as items; tuning/stability/batch are planned as they go."""
    base = dict(batch_size=args.batch_size, lr=args.lr, samples=args.samples, optimizer=args.optimizer)
    plan = []
    for s in args.seeds:  # the baselines come with every run, whatever its parts
        for b in args.baselines:
            plan.append(item("accuracy", b, seed=s, **base))
    if "accuracy" in args.parts:
        plan += [item("accuracy", n, seed=s, **base) for s in args.seeds for n in names]
    return plan


def count_runs(args, names):
    n = len(plan_static(args, names))
    if "tuning" in args.parts:
        n += len(args.tune_objectives) * (args.tune_trials + len(args.seeds))
    if "stability" in args.parts:
        n += len(names) * len(args.lrs) * len(args.grid_seeds)
    if "batch" in args.parts:
        n += len(names) * len(args.batch_sizes) * len(args.sweep_seeds)
    return n


def at(args, store, name):
    """(hyper, lr) for the stability and batch parts: the defaults, or the tuned selection."""
    selected = (store.extra.get("tuning", {}).get(name) or {}).get("selected")
    if args.sweep_at == "tuned" and selected:
        hyper = {k: v for k, v in selected.items() if k != "lr"}
        return hyper, selected["lr"]
    if args.sweep_at == "tuned" and name not in _WARNED:
        _WARNED.add(name)
        print(
            f"--sweep-at tuned: no finished tuning record for {name} in results.json; its defaults are used", flush=True
        )
    return {}, args.lr


def experiment(args, store, splits, names):
    runner = Runner(store, splits, args, count_runs(args, names))
    wall = lambda: time.time() - runner.start  # noqa: E731
    for it in plan_static(args, names):
        runner(it)
    if "tuning" in args.parts:
        for name in args.tune_objectives:
            for config in trial_configs(args, name):
                runner(trial_item(args, name, config))
            store.extra["tuning"] = tuning_record(store, args)
            store.save(wall())
            rec = store.extra["tuning"].get(name)
            if not rec or rec["done"] < args.tune_trials:
                continue  # stopped by the time budget: no re-run of an unfinished selection
            selected = dict(rec["selected"])
            lr = selected.pop("lr")
            for s in args.seeds:
                runner(
                    item(
                        "tuned",
                        name,
                        hyper=selected,
                        batch_size=args.batch_size,
                        lr=lr,
                        seed=s,
                        samples=args.samples,
                        optimizer=args.optimizer,
                    )
                )
    if "stability" in args.parts:
        for lr in args.lrs:
            for s in args.grid_seeds:
                for n in names:
                    hyper, _ = at(args, store, n)
                    runner(
                        item(
                            "stability",
                            n,
                            hyper=hyper,
                            batch_size=args.batch_size,
                            lr=lr,
                            seed=s,
                            samples=args.samples,
                            optimizer=args.stability_optimizer,
                        )
                    )
        grid = select(store.rows, part="stability")
        store.extra["stability"] = {
            opt: stability_record(select(grid, optimizer=opt)) for opt in dict.fromkeys(r["optimizer"] for r in grid)
        }
        store.save(wall())
    if "batch" in args.parts:
        for b in args.batch_sizes:
            for s in args.sweep_seeds:
                for n in names:
                    hyper, lr = at(args, store, n)
                    runner(
                        item(
                            "batch",
                            n,
                            hyper=hyper,
                            batch_size=b,
                            lr=lr,
                            seed=s,
                            samples=args.sweep_samples,
                            optimizer=args.optimizer,
                        )
                    )
    return wall()


# ------------------------------------------------------------------------------------------ main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=DEFAULT_DATA)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default=HERE)
    p.add_argument("--quick", action="store_true", help="small CPU smoke: fewer images, seeds, sizes, trials")
    p.add_argument(
        "--objectives", nargs="+", default=["RPC", "NT-Xent", "DCL", "MIO", "NWJ", "JS", "DV", "RPC-cifar10-preset"]
    )
    p.add_argument(
        "--baselines",
        nargs="*",
        default=list(BASELINES),
        choices=list(BASELINES),
        help="trivial baselines measured with the same probes in the accuracy part",
    )
    p.add_argument(
        "--bf16",
        action="store_true",
        help="bfloat16 autocast for backbone + head (training and embedding); losses stay float32",
    )
    p.add_argument(
        "--few-labels",
        type=int,
        default=100,
        help="also a linear probe on this many labels per class (mean of 5 draws; 0: off)",
    )
    p.add_argument("--backbone", default="cnn", help="'cnn' or a timm model name (via rpc_timm), e.g. resnet18")
    p.add_argument("--train-size", type=int, default=60000)
    p.add_argument("--test-size", type=int, default=10000)
    p.add_argument(
        "--val-size",
        type=int,
        default=10000,
        help="validation images carved from the training slice (tuning only; 0: no tuning)",
    )
    p.add_argument(
        "--samples",
        type=int,
        default=120000,
        help="training images seen per run (compute budget) in the accuracy, tuning and stability parts",
    )
    p.add_argument("--sweep-samples", type=int, default=60000, help="training images seen per batch-sweep run")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--optimizer", default="adam", choices=OPTIMIZERS, help="accuracy, tuning and batch parts")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument(
        "--tune-objectives",
        nargs="*",
        default=None,
        help="objectives the tuning part searches (default: every objective but the paper preset)",
    )
    p.add_argument("--tune-trials", type=int, default=8, help="k: trials per objective, the same for all")
    p.add_argument("--tune-seed", type=int, default=0)
    p.add_argument("--batch-sizes", type=int, nargs="*", default=[32, 64, 128, 256, 512])
    p.add_argument("--sweep-seeds", type=int, nargs="+", default=[0])
    p.add_argument("--lrs", type=float, nargs="*", default=[1e-3, 1e-2, 1e-1])
    p.add_argument("--stability-optimizer", default="adam", choices=OPTIMIZERS)
    p.add_argument("--grid-seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument(
        "--sweep-at",
        default="default",
        choices=["default", "tuned"],
        help="stability and batch parts at the defaults or at the tuned selection",
    )
    p.add_argument("--parts", nargs="+", default=["accuracy", "stability", "batch"], choices=list(PARTS))
    p.add_argument("--fresh", action="store_true", help="ignore an existing <out>/results.json (default: resume)")
    p.add_argument("--time-budget", type=float, default=0, help="seconds; start no new run after this (0: none)")
    p.add_argument(
        "--render",
        nargs="*",
        default=[],
        help="only redraw results.md + vision.png from these results.json files (merged)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.train_size, args.test_size = min(args.train_size, 2000), min(args.test_size, 1000)
        args.val_size = min(args.val_size, 500)
        args.samples = args.sweep_samples = 3000
        args.seeds, args.batch_sizes, args.sweep_seeds = [0], [64, 256], [0]
        args.lrs, args.grid_seeds, args.tune_trials = [1e-3, 1e-1], [0], 2
        args.few_labels = min(args.few_labels, 10)
    if args.tune_objectives is None:
        args.tune_objectives = [n for n in args.objectives if SPECS.get(n) and SPECS[n].space]
    if "tuning" in args.parts:
        if not args.val_size:
            raise ValueError("the tuning part needs a validation split (--val-size > 0)")
        if not 1 <= args.tune_trials <= min_grid(args):
            raise ValueError(
                f"--tune-trials {args.tune_trials} must be in [1, {min_grid(args)}] (the smallest "
                "search grid) so that every objective gets the same number of trials"
            )
    args.command = "python benchmarks/vision/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.render:
        report.render(args.render, args.out)
        print(open(os.path.join(args.out, "results.md")).read())
        return
    if args.device == "cpu":
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    elif not torch.cuda.is_available():
        raise ValueError(f"--device {args.device} requested but CUDA is not available")
    args.machine = machine.describe(device=args.device)
    try:
        import lightly

        args.machine += f", lightly {lightly.__version__}"
    except Exception:
        args.machine += ", lightly absent (NT-Xent = rpc_plugins infonce, DCL skipped)"
    data = tuple(t.to(args.device) for t in hdata.load_fashion_mnist(args.data_dir, args.train_size, args.test_size))
    splits = hdata.splits(data, args.val_size if "tuning" in args.parts else 0)  # validation: tuning only
    names = available(args.objectives)
    args.tune_objectives = [n for n in args.tune_objectives if n in names]
    store = ResultsFile(os.path.join(args.out, "results.json"), vars(args), fresh=args.fresh)
    if store.rows:
        print(f"resuming: {len(store.rows)} rows already in {store.path}", flush=True)
    commands = store.extra.setdefault("commands", [])
    if args.command not in commands:  # one results.json may gather several commands' parts
        commands.append(args.command)
    wall = experiment(args, store, splits, names)
    store.save(wall)
    report.write(store.rows, args, args.out, store.wall_before + wall, store.extra)
    print(open(os.path.join(args.out, "results.md")).read())


if __name__ == "__main__":
    main()
