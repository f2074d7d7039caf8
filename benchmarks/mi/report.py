"""The MI benchmark's report: per-level statistics, their tables and plot, and the merge of saved runs.

``run.py`` trains the critics and records every step's estimate; here a level's estimates become its mean,
bias, variance and MSE (over the level's last ``tail`` steps), averaged over seeds, set against the goal
(|bias| <= 0.5 and var <= 0.05 at every level) and the authors' committed means.

>>> trace = [level for level in (2.0, 4.5, 6.0, 8.0, 10.0) for _ in range(10)]  # level 2 estimated 0.5 high
>>> [r["bias"] for r in level_stats(trace, steps=10, tail=5)]
[0.0, 0.5, 0.0, 0.0, 0.0]
"""

import json
import math
import os

from benchmarks.harness import plots
from benchmarks.harness.rows import write_json
from benchmarks.harness.tables import markdown

LEVELS = (2.0, 4.0, 6.0, 8.0, 10.0)  # the true MI of the data's consecutive stages, nats
# The authors' committed per-level means (reference/rpc.md), steps 1000-4000 of each 4000-step level.
AUTHORS = {
    "gaussian": {
        "infonce": (1.83, 3.29, 4.17, 4.61, 4.78),
        "nwj": (1.91, 3.81, 5.41, 6.61, 6.84),
        "js": (1.88, 3.77, 5.63, 7.46, 9.22),
        "smile": (1.88, 3.93, 6.17, 8.50, 10.91),
        "rpc[batch_mean]": (3.26, 5.62, 7.27, 8.40, 9.25),
    },
    "cubic": {"rpc[batch_mean]": (2.43, 4.51, 6.02, 7.16, 8.04)},
}


def level_stats(trace, steps, tail):
    """Per level: mean, bias, variance and MSE of the last ``tail`` of its ``steps`` estimates (NaN: diverged)."""
    out = []
    for i, level in enumerate(LEVELS):
        window = trace[(i + 1) * steps - tail : (i + 1) * steps]
        finite = [v for v in window if math.isfinite(v)]
        if len(finite) < len(window):  # a diverged critic: no statistics
            out.append(dict(mi=level, mean=float("nan"), bias=float("nan"), var=float("nan"), mse=float("nan")))
            continue
        mean = sum(finite) / len(finite)
        var = sum((v - mean) ** 2 for v in finite) / len(finite)
        out.append(dict(mi=level, mean=mean, bias=mean - level, var=var, mse=(mean - level) ** 2 + var))
    return out


def aggregate(per_seed):
    """Mean over seeds of each per-level statistic, plus the spread (sample sd) of the mean across seeds."""
    seeds = list(per_seed)
    out = {}
    for task in per_seed[seeds[0]]:
        out[task] = {}
        for est in per_seed[seeds[0]][task]:
            rows = []
            for i, level in enumerate(LEVELS):
                vals = [per_seed[s][task][est][i] for s in seeds]
                row = {k: sum(v[k] for v in vals) / len(vals) for k in ("mean", "bias", "var", "mse")}
                row["mi"] = level
                if len(seeds) > 1:
                    m = row["mean"]
                    row["mean_sd"] = math.sqrt(sum((v["mean"] - m) ** 2 for v in vals) / (len(vals) - 1))
                rows.append(row)
            out[task][est] = rows
    return out


def goal_met(rows):
    """The goal at every level: |bias| <= 0.5 and var <= 0.05."""
    return all(abs(r["bias"]) <= 0.5 and r["var"] <= 0.05 for r in rows)


def table(stats, task, authors=None):
    """The ``task``'s section: per estimator, each level's mean (± the seed sd) / bias / var, the MSE and the goal;
    under an estimator in ``authors``, their committed means (italic)."""
    authors = authors or {}
    header = ["estimator", *(f"MI {l:g}: mean / bias / var" for l in LEVELS), "MSE (mean over levels)", "goal"]

    def cell(r):
        sd = f" ± {r['mean_sd']:.2f}" if "mean_sd" in r else ""
        return f"{r['mean']:.2f}{sd} / {r['bias']:+.2f} / {r['var']:.3f}"

    body = []
    for name, rows in stats[task].items():
        mse = sum(r["mse"] for r in rows) / len(rows)
        body.append([name, *map(cell, rows), f"{mse:.2f}", "met" if goal_met(rows) else "not met"])
        if name in authors.get(task, {}):
            body.append(
                [
                    f"*{name}, authors' committed*",
                    *(f"*{m:.2f} / {m - l:+.2f}*" for m, l in zip(authors[task][name], LEVELS)),
                    "",
                    "",
                ]
            )
    return f"### {task}\n\n" + markdown(header, body, align="l" * len(header))


def plot(traces, steps, path, title=""):
    """One panel per (task, estimator): the per-step estimate, its running mean and the true MI."""
    tasks = list(traces)
    names = list(traces[tasks[0]])
    fig, axes = plots.figure(len(names), width=2.6, height=2.6, rows=len(tasks))
    truth = [l for l in LEVELS for _ in range(steps)]
    k = max(1, steps // 20)
    for ax, (task, name) in zip(axes, ((t, n) for t in tasks for n in names)):
        values = traces[task].get(name, [])
        ax.plot(values, lw=0.4, alpha=0.5, color="tab:blue")
        smooth = [sum(values[max(0, i - k) : i + 1]) / len(values[max(0, i - k) : i + 1]) for i in range(len(values))]
        ax.plot(smooth, lw=1.0, color="tab:blue")
        ax.plot(truth, color="black", lw=1.0)
        ax.set_ylim(0, 14)
        ax.set_title(f"{name} ({task})", fontsize=7)
        ax.tick_params(labelsize=6)
    if title:
        fig.suptitle(title, fontsize=8)
    plots.save(fig, path)


def combine(args, command):
    """Merge earlier results files of one setting and scale: each estimator averaged over the seeds that ran it."""
    runs = []
    for path in args.combine:
        with open(path) as f:
            runs.append(json.load(f))
    keys = ("setting", "steps_per_level", "tail", "hidden", "dim", "batch")
    for r in runs[1:]:
        if any(r[k] != runs[0][k] for k in keys):
            raise SystemExit(f"--combine: files differ in {[k for k in keys if r[k] != runs[0][k]]}")
    per_seed = {}
    for r in runs:
        for seed, tasks in r["stats_per_seed"].items():
            for task, ests in tasks.items():
                per_seed.setdefault(seed, {}).setdefault(task, {}).update(ests)
    ests = {
        (t, e)
        for s in per_seed.values()
        for t, es in s.items()
        for e in es
        if not args.keys or any(e.startswith(k) for k in args.keys)
    }
    stats = {}
    for task, est in sorted(ests, key=lambda te: (te[0] != "gaussian", te[1])):
        have = {s: {task: {est: per_seed[s][task][est]}} for s in sorted(per_seed) if est in per_seed[s].get(task, {})}
        row = aggregate(have)[task][est]
        for r in row:
            r["seeds"] = len(have)
        stats.setdefault(task, {})[est] = row
    r0 = runs[0]
    text = "\n".join(
        [
            f"# MI estimation ({r0['setting']} setting, combined): d = {r0['dim']}, batch {r0['batch']}, true MI 2 -> 10 nats",
            "",
            f"Command: `{command}`  ",
            "Combined from: " + ", ".join(f"`{r['command']}`" for r in runs),
            "",
            f"**Mode: {r0['mode']}** ({r0['steps_per_level']} steps per level, statistics over the last {r0['tail']}, "
            f"critic width {r0['hidden']}). Each cell: mean over the seeds that ran the estimator "
            "(± the sample sd of the per-seed level means when more than one); seeds per row: "
            + ", ".join(f"{e} {stats[t][e][0]['seeds']}" for t in stats for e in stats[t] if t == next(iter(stats)))
            + ".",
            "",
            *[table(stats, t) + "\n" for t in stats],
        ]
    )
    save(
        args.out,
        args.tag or "combined",
        text,
        dict(
            command=command,
            combined=[r["command"] for r in runs],
            **{k: r0[k] for k in keys + ("mode",)},
            stats=stats,
            stats_per_seed=per_seed,
        ),
    )


def save(out, tag, text, data):
    """``out``/results[_<tag>].md holding ``text`` and .json holding ``data``."""
    suffix = f"_{tag}" if tag else ""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"results{suffix}.md"), "w") as f:
        f.write(text)
    write_json(os.path.join(out, f"results{suffix}.json"), data)
    print(text)
