"""Plots shared by the benchmarks (matplotlib imported lazily, Agg backend).

>>> import os, tempfile
>>> rows = [{"objective": "RPC", "linear": 0.8, "knn": 0.7}, {"objective": "raw-pixels", "linear": 0.84, "knn": 0.85}]
>>> path = os.path.join(tempfile.mkdtemp(), "bars.png")
>>> fig, (ax,) = figure(1); _ = grouped_bars(ax, rows, ["RPC", "raw-pixels"], [("linear", "linear"), ("knn", "kNN")])
>>> save(fig, path); os.path.getsize(path) > 1000
True
>>> fig, axes = figure(3, width=2.0, height=1.5, rows=2); len(axes), fig.get_size_inches().tolist()
(6, [6.0, 3.0])
>>> save(fig, path)
"""


def figure(columns, width=5.3, height=4.5, rows=1):
    """(fig, axes): ``rows`` x ``columns`` panels of ``width`` x ``height`` inches each; axes is a flat list,
    row after row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)
    return fig, [ax for row in axes for ax in row]


def grouped_bars(ax, rows, names, metrics, key="objective", scale=100.0, baselines=()):
    """Bars of mean ± std over rows per name, one bar per metric; dashed lines at ``baselines`` names'
    first-metric means (e.g. the raw-pixels floor). Returns {name: {metric: mean}}."""
    import numpy as np

    pos = np.arange(len(names))
    width = 0.8 / max(1, len(metrics))
    means = {}
    for j, (metric, label) in enumerate(metrics):
        m, s = [], []
        for n in names:
            v = [
                scale * r[metric]
                for r in rows
                if r[key] == n and r.get(metric) == r.get(metric) and r.get(metric) is not None
            ]
            m.append(float(np.mean(v)) if v else 0.0)
            s.append(float(np.std(v)) if v else 0.0)
            means.setdefault(n, {})[metric] = m[-1]
        ax.bar(pos - 0.4 + width * (j + 0.5), m, width, yerr=s, capsize=3, label=label)
    for i, b in enumerate(baselines):
        if b in means:
            ax.axhline(means[b][metrics[0][0]], color=f"C{i + 3}", ls="--", lw=1, label=f"{b} ({metrics[0][1]})")
    ax.set_xticks(pos)
    ax.set_xticklabels(names, rotation=30, ha="right")
    return means


def save(fig, path, dpi=110):
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
