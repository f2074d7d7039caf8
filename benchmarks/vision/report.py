"""results.md and vision.png of the vision benchmark, from its rows (``benchmarks/harness`` helpers).

Every table that ranks objectives shows the trivial baselines of the same run (raw pixels, random
init) and each objective's margin over raw pixels, so a ranking above the pixel floor can be told
from one below it.

>>> rows = [dict(part="accuracy", objective="raw-pixels", linear=0.84, knn=0.85),
...         dict(part="accuracy", objective="RPC", linear=0.86, knn=0.83)]
>>> margin(rows, "RPC", "accuracy")
'+2.0'
>>> margin(rows, "RPC", "accuracy", "linear_few")
'n/a'
"""

import json
import os

from benchmarks.harness import plots, tables
from benchmarks.harness.rows import mean, mean_std, select, write_json
from benchmarks.vision.objectives import BASELINES, SPECS

TITLE = "# Vision evidence: RPC vs peers on Fashion-MNIST (frozen-feature linear probe and kNN)"


def _get(args, name, default=None):
    return getattr(args, name, default) if not isinstance(args, dict) else args.get(name, default)


def margin(rows, name, part, metric="linear"):
    """``metric`` mean of ``name`` in ``part`` minus raw pixels' (accuracy part), in points."""
    raw = mean([r.get(metric) for r in select(rows, part="accuracy", objective="raw-pixels")])
    own = mean([r.get(metric) for r in select(rows, part=part, objective=name)])
    if raw != raw or own != own:
        return "n/a"
    return f"{100 * (own - raw):+.1f}"


def _hyper(h):
    return ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in sorted(h.items())) or "defaults"


def _few_header(args):
    k = _get(args, "few_labels", 0)
    return [f"linear, {k} labels/class", f"{k}/class vs raw pixels"] if k else []


def _few_cells(rows, rs, name, part, args):
    """The few-label probe's cells (mean ± std, margin over raw pixels) when the run measured it; "-" for
    an objective without rows in ``part``."""
    if not _get(args, "few_labels", 0):
        return []
    if not rs:
        return ["-", "-"]
    return [mean_std([r.get("linear_few") for r in rs]), margin(rows, name, part, "linear_few")]


def accuracy_section(rows, args):
    main = select(rows, part="accuracy")
    if not main:
        return []
    names = tables.ordered(main)
    body = []
    for n in names:
        rs = select(main, objective=n)
        bad = sum(bool(r.get("diverged") or r.get("collapsed")) for r in rs)
        tag = " (baseline)" if n in BASELINES else ""
        body.append(
            [
                n + tag,
                mean_std([r["linear"] for r in rs]),
                mean_std([r["knn"] for r in rs]),
                margin(rows, n, "accuracy"),
            ]
            + _few_cells(rows, rs, n, "accuracy", args)
            + [f"{bad}/{len(rs)}"]
        )
    samples = main[0].get("samples", _get(args, "samples"))
    return [
        f"## 1. Accuracy at each objective's defaults (batch {_get(args, 'batch_size')}, lr {_get(args, 'lr')}, "
        f"{main[0].get('optimizer', 'adam')}, seeds {sorted({r['seed'] for r in main})}; {samples} images seen "
        "per run)",
        "",
        "Baselines, same run and probes: `raw-pixels` = the probes on the 784 pixels; `random-init` = the "
        "untrained backbone (the pretraining runs' own starting point); `supervised` = the backbone trained "
        "with cross-entropy on the labels, same budget and augmentations (a ceiling).",
        "",
        tables.markdown(
            ["objective", "linear probe top-1", "kNN top-1", "linear vs raw pixels"]
            + _few_header(args)
            + ["diverged/collapsed runs"],
            body,
        ),
    ]


def tuning_section(rows, tuning, args=None):
    if not tuning:
        return []
    body = []
    for n, rec in tuning.items():
        rs = select(rows, part="tuned", objective=n)
        score = rec.get("score")
        body.append(
            [
                n,
                f"{rec['done']}/{rec['trials']}",
                _hyper(rec["selected"]),
                f"{100 * score:.1f}" if isinstance(score, float) and score == score else "n/a",
                mean_std([r["linear"] for r in rs]) if rs else "-",
                mean_std([r["knn"] for r in rs]) if rs else "-",
                margin(rows, n, "tuned") if rs else "-",
            ]
            + _few_cells(rows, rs, n, "tuned", args)
        )
    k = sorted({rec["trials"] for rec in tuning.values()})
    first = next(iter(tuning.values()))
    seeds = sorted({r["seed"] for r in select(rows, part="tuned")})
    return [
        "",
        f"## 2. Equal-budget tuning (k = {', '.join(map(str, k))} trials per objective, selected on "
        f"{first.get('val_size')} validation images carved from the training slice; the selection re-run with "
        f"seeds {seeds} on the test split)",
        "",
        "Knobs: RPC alpha, beta, gamma, temperature; the others temperature; all the learning rate "
        "(--lr x 1/3, 1, 3). Trial 1 is the default setting, the rest distinct random draws.",
        "",
        tables.markdown(
            [
                "objective",
                "trials done/k",
                "selected",
                "validation linear",
                "test linear top-1",
                "test kNN top-1",
                "linear vs raw pixels",
            ]
            + _few_header(args),
            body,
        ),
    ]


def stability_section(rows, summary):
    """One stability table per optimiser in the rows (``summary``: {optimizer: {objective: record}})."""
    out = []
    for opt in dict.fromkeys(r.get("optimizer", "adam") for r in select(rows, part="stability")):
        grid = [r for r in select(rows, part="stability") if r.get("optimizer", "adam") == opt]
        by_lrs = {}  # one table per learning-rate grid (e.g. a longer grid run for some objectives)
        for n in dict.fromkeys(r["objective"] for r in grid):
            by_lrs.setdefault(tuple(sorted({r["lr"] for r in grid if r["objective"] == n})), set()).add(n)
        for names in by_lrs.values():
            out += _stability_table([r for r in grid if r["objective"] in names], (summary or {}).get(opt, {}))
    return out


def _stability_table(grid, summary):
    lrs = sorted({r["lr"] for r in grid})
    body = []
    for n in tables.ordered(grid):
        rs = select(grid, objective=n)
        cells = []
        for lr in lrs:
            c = [r for r in rs if r["lr"] == lr]
            cells.append(f"{sum(r['diverged'] for r in c)}+{sum(r['collapsed'] for r in c)}/{len(c)}")
        bad = sum(r["diverged"] or r["collapsed"] for r in rs)
        largest = summary.get(n, {}).get("largest_lr", "n/a")
        body.append(
            [n]
            + cells
            + [
                f"{bad}/{len(rs)}",
                f"{100 * mean([r['knn'] for r in rs]):.1f}",
                "none" if largest is None else f"{largest:g}" if isinstance(largest, float) else str(largest),
            ]
        )
    opt = grid[0].get("optimizer", "adam")
    return [
        "",
        f"## 3. Stability grid ({opt}, batch {grid[0]['batch_size']}, seeds "
        f"{sorted({r['seed'] for r in grid})}, {grid[0].get('samples')} images seen per run): diverged (NaN/Inf) "
        "+ collapsed runs out of runs, per learning rate",
        "",
        tables.markdown(
            ["objective"] + [f"lr={lr:g}" for lr in lrs] + ["total bad", "mean kNN top-1", "largest lr that trains"],
            body,
        ),
    ]


def batch_section(rows):
    sweep = select(rows, part="batch")
    if not sweep:
        return []
    bss = sorted({r["batch_size"] for r in sweep})
    body = []
    for n in tables.ordered(sweep):
        means = [mean([r["linear"] for r in select(sweep, objective=n, batch_size=b)]) for b in bss]
        ok = [m for m in means if m == m]
        sens = f"{100 * (max(ok) - min(ok)):.1f}" if len(ok) == len(means) else "n/a (incomplete)"
        body.append([n] + [f"{100 * m:.1f}" if m == m else "-" for m in means] + [sens])
    return [
        "",
        f"## 4. Batch-size sweep ({sweep[0].get('optimizer', 'adam')}, seeds "
        f"{sorted({r['seed'] for r in sweep})}, {sweep[-1].get('samples')} images seen per run; linear-probe "
        "top-1, mean over seeds; sensitivity = max - min)",
        "",
        tables.markdown(["objective"] + [f"B={b}" for b in bss] + ["sensitivity"], body),
    ]


def write(rows, args, out, wall, extra=None):
    """results.md and vision.png in ``out`` (results.json is the caller's)."""
    extra = extra or {}
    os.makedirs(out, exist_ok=True)
    commands = extra.get("commands") or [_get(args, "command")]
    lines = [
        TITLE,
        "",
        "Command: `" + "` then `".join(commands) + "`  ",
        f"Machine: {_get(args, 'machine')}; wall {wall / 60:.1f} min  ",
        f"Data: Fashion-MNIST from `{_get(args, 'data_dir')}`: first {_get(args, 'train_size')} training images "
        f"(pretraining and probe fitting), first {_get(args, 'test_size')} test images (scores). Backbone "
        f"`{_get(args, 'backbone')}`, projection 256-64, a fixed number of images seen per run (same compute for "
        "every objective and batch size).  ",
        "Linear probe: L-BFGS logistic regression on standardised frozen backbone features; kNN: k=20, cosine, "
        "weighted vote. Top-1 in %, mean ± std over seeds (min-max)."
        + (
            f" Few labels: the same linear probe fit on {_get(args, 'few_labels')} labelled training images per "
            "class (mean over 5 class-balanced draws; SimCLR's semi-supervised protocol)."
            if _get(args, "few_labels", 0)
            else ""
        )
        + (" Backbone and head in bfloat16 autocast, objectives and probes in float32." if _get(args, "bf16") else ""),
        "",
    ]
    lines += accuracy_section(rows, args)
    lines += tuning_section(rows, extra.get("tuning"), args)
    lines += stability_section(rows, extra.get("stability"))
    lines += batch_section(rows)
    described = "; ".join(f"{n} = {SPECS[n].description} at {_hyper(SPECS[n].defaults)}" for n in SPECS)
    lines += [
        "",
        f"Objectives: {described}.",
        "Diverged: a non-finite loss or parameter; collapsed: kNN top-1 < 20% or near-constant normalised "
        "features (mean per-dimension std < 1e-3). Largest lr that trains: every seed at that and every "
        "smaller grid lr neither diverged nor collapsed.",
        "",
        "![vision](vision.png)",
    ]
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    plot(rows, os.path.join(out, "vision.png"))


def plot(rows, path):
    """Accuracy (defaults and tuned, with the baselines), batch sweep and stability panels."""
    fig, axes = plots.figure(3)
    main = select(rows, part="accuracy") + [
        dict(r, objective=r["objective"] + " (tuned)") for r in select(rows, part="tuned")
    ]
    names = tables.ordered(main) if main else []
    metrics = [("linear", "linear probe"), ("knn", "kNN (k=20)")]
    if any(r.get("linear_few") is not None for r in main):
        metrics.append(("linear_few", "linear, few labels"))
    plots.grouped_bars(axes[0], main, names, metrics, baselines=("raw-pixels",))
    finite = [100 * r["knn"] for r in main if r["knn"] == r["knn"]]
    axes[0].set(
        ylabel="test top-1 (%)",
        title="accuracy (mean ± std over seeds)",
        ylim=(max(0, min(finite) - 10) if finite else 0, 100),
    )
    axes[0].legend(loc="lower right", fontsize=7)
    sweep = select(rows, part="batch")
    for n in tables.ordered(sweep) if sweep else []:
        bss = sorted({r["batch_size"] for r in select(sweep, objective=n)})
        axes[1].plot(
            bss,
            [100 * mean([r["linear"] for r in select(sweep, objective=n, batch_size=b)]) for b in bss],
            marker="o",
            label=n,
        )
    axes[1].set_xscale("log", base=2)
    axes[1].set(xlabel="batch size", ylabel="linear-probe top-1 (%)", title="batch-size sweep (same images seen)")
    if sweep:
        axes[1].legend(fontsize=7)
    grid = select(rows, part="stability")
    lrs = sorted({r["lr"] for r in grid})
    gnames = tables.ordered(grid) if grid else []
    width = 0.8 / max(1, len(lrs))
    tallest = 1
    for j, lr in enumerate(lrs):
        bad = [sum(r["diverged"] or r["collapsed"] for r in select(grid, objective=n, lr=lr)) for n in gnames]
        tallest = max([tallest] + bad)
        axes[2].bar([i - 0.4 + width * (j + 0.5) for i in range(len(gnames))], bad, width, label=f"lr={lr:g}")
        # (several optimisers in one file share the panel: bars count both, the tables split them)
    axes[2].set_xticks(range(len(gnames)))
    axes[2].set_xticklabels(gnames, rotation=30, ha="right")
    total_bad = sum(r["diverged"] or r["collapsed"] for r in grid)
    axes[2].set_ylim(0, tallest * 1.3)  # headroom for the legend
    if grid and not total_bad:
        axes[2].text(
            0.5,
            0.5,
            f"no diverged or collapsed run\n({len(grid)} runs, lr {', '.join(f'{lr:g}' for lr in lrs)})",
            transform=axes[2].transAxes,
            ha="center",
            va="center",
        )
    opt = "/".join(dict.fromkeys(r.get("optimizer", "adam") for r in grid))
    axes[2].set(ylabel="diverged + collapsed runs", title=f"stability grid (lr x seed, {opt})")
    if grid:
        axes[2].legend(fontsize=7)
    plots.save(fig, path)


def _merge(old, new):
    """``new`` over ``old``, dicts merged key by key at every depth (e.g. stability[optimizer][objective])."""
    if isinstance(old, dict) and isinstance(new, dict):
        return dict(old, **{k: _merge(old.get(k), v) for k, v in new.items()})
    return new


def render(paths, out):
    """Merge saved runs (a later file's row replaces an earlier one's with the same key; records such as
    ``tuning`` merge per objective), write the merged results.json (the last file's args, every file's
    commands) and redraw the table and plot in ``out``."""
    rows, commands, wall, extra = [], [], 0.0, {}
    for path in paths:
        with open(path) as f:
            saved = json.load(f)
        for r in saved["results"]:
            r.setdefault("samples", saved["args"]["samples"])
        later = {r.get("key") for r in saved["results"]} - {None}
        rows = [r for r in rows if r.get("key") not in later] + saved["results"]
        commands += saved.get("commands") or [saved["args"]["command"]]
        wall += saved.get("wall", 0.0)
        for k, v in saved.items():
            if k not in ("args", "results", "wall", "commands"):
                extra[k] = _merge(extra.get(k), v)
    extra["commands"] = list(dict.fromkeys(commands))
    # after reading every input: ``out`` may hold one of them
    write_json(os.path.join(out, "results.json"), dict(args=saved["args"], results=rows, wall=wall, **extra))
    write(rows, saved["args"], out, wall, extra)
